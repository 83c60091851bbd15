"""The pieces of ``ch03_gradio/openai_api.py`` (3.4.1): batching engine, request schemas, FastAPI app, embeddings,
and the chat clients the web demos use (in-process model or the server's address)."""
