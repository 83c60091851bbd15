"""Shared runtime of the ChatGLM3 book companion: model resolution, loading, tokenizer, chat."""
