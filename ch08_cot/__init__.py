"""Chapter 8: chain-of-thought prompting with ChatGLM3 (zero-shot, few-shot, self-consistency, evaluation)."""
