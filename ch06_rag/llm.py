"""One way for chapter 6 to call the model: a LangChain runnable (``ChatGLM3LLM`` / a fake model) or any
``str -> str`` callable becomes ``ask(prompt) -> str``.

    from ch06_rag.llm import llm_from_cfg, ask_fn
    llm, note = llm_from_cfg(cfg)      # ChatGLM3LLM in-process or via --base-url; note = the demo-model line or None
    ask = ask_fn(llm)
    ask("你好")
"""
from __future__ import annotations

from typing import Any

from common.langchain_chatglm3 import ask_fn  # noqa: F401  (re-exported: chapter 6 scripts import it from here)


def llm_from_cfg(cfg: Any, **overrides: Any):
    """(``ChatGLM3LLM`` for the script's flags, the one demo-model line or None). Greedy unless the flags say
    otherwise: lookups and grounded answers should not be sampled."""
    from common.langchain_chatglm3 import demo_line, llm_from_config

    llm = llm_from_config(cfg, **overrides)
    return llm, demo_line(llm, "LLM outputs")
