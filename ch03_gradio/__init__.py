"""Chapter 3: gradio basics, a video colouriser, cats-vs-dogs training UI, ChatGLM3 web demos and API server."""
