"""One way for chapter 6 to call the model: a LangChain runnable (``ChatGLM3LLM`` / a fake model) or any
``str -> str`` callable becomes ``ask(prompt) -> str``.

    from ch06_rag.llm import llm_from_cfg, ask_fn
    llm, note = llm_from_cfg(cfg)      # ChatGLM3LLM in-process or via --base-url; note = the demo-model line or None
    ask = ask_fn(llm)
    ask("你好")
"""
from __future__ import annotations

from typing import Any, Callable


def ask_fn(llm: Any) -> Callable[[str], str]:
    """``prompt -> text`` for a LangChain LLM/chat model (``invoke``) or a plain callable."""
    if hasattr(llm, "invoke"):
        def ask(prompt: str) -> str:
            out = llm.invoke(prompt)
            return out if isinstance(out, str) else str(getattr(out, "content", out))
        return ask
    if callable(llm):
        return lambda prompt: str(llm(prompt))
    raise TypeError(f"not a model: {type(llm).__name__}")


def llm_from_cfg(cfg: Any, **overrides: Any):
    """(``ChatGLM3LLM`` for the script's flags, the one demo-model line or None). Greedy unless the flags say
    otherwise: lookups and grounded answers should not be sampled."""
    from common.langchain_chatglm3 import demo_line, llm_from_config

    llm = llm_from_config(cfg, **overrides)
    return llm, demo_line(llm, "LLM outputs")
