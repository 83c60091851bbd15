"""Chapter 4: ChatGLM3 meets LangChain — the LLM endpoint, prompts, a professional QA bot, a knowledge graph."""
