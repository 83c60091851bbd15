"""The LLM objects every chapter-5 script uses, built from the script's flags in one place.

``--base-url`` set -> the adapter talks to that OpenAI-compatible server (the chapter-3 server, vLLM);
otherwise the model runs in-process (``--model`` / ``CHATGLM3_MODEL`` / the built-in demo model).
The classes are LangChain's own ``LLM`` / ``BaseChatModel`` / ``Embeddings`` subclasses from
``common.langchain_chatglm3``; this module only maps flags to their constructor arguments.
"""
from __future__ import annotations

from typing import Any


def make_llm(cfg: Any, **overrides: Any):
    """A ``ChatGLM3LLM`` (the book's "LLM终端": text in, text out) for the parsed flags."""
    from common.langchain_chatglm3 import llm_from_config

    _seed(cfg)
    return llm_from_config(cfg, **{"quiet": True, **overrides})


def make_chat_model(cfg: Any, **overrides: Any):
    """A ``ChatGLM3ChatModel`` (messages in, ``AIMessage`` out) for the parsed flags."""
    from common.langchain_chatglm3 import chat_model_from_config

    _seed(cfg)
    return chat_model_from_config(cfg, **{"quiet": True, **overrides})


def _seed(cfg: Any) -> None:
    _quiet_deprecations()
    if getattr(cfg, "seed", None) is not None:
        import torch
        torch.manual_seed(cfg.seed)


def _quiet_deprecations() -> None:
    """The classic chains (LLMChain, LLMMathChain, ConversationChain...) warn that they are deprecated on every
    use; chapter 5 shows them on purpose (the README says what replaces each), so the scripts hide that warning.
    langchain-core installs its own filter when imported, hence this runs after the import."""
    import os
    import warnings

    from langchain_core._api.deprecation import LangChainDeprecationWarning

    if not os.environ.get("CHATGLM3_VERBOSE"):
        warnings.filterwarnings("ignore", category=LangChainDeprecationWarning)


def print_stand_in(model: Any, what: str = "texts") -> str | None:
    """Print (once) the line saying the output below only stands in for the real model's, when it does."""
    from common.langchain_chatglm3 import demo_line

    line = demo_line(model, what) if hasattr(model, "uses_demo_model") else None
    if line:
        print(line)
    return line


def make_embeddings(cfg: Any, embedding_model: str | None = None):
    """Embeddings for the flags: a local sentence-transformers folder when given, else ``ChatGLM3Embeddings``
    (mean-pooled ChatGLM3 hidden states, in-process or through the server's ``/v1/embeddings``)."""
    from pathlib import Path

    from common.cli import UserError

    if embedding_model:
        folder = Path(embedding_model).expanduser()
        if not folder.is_dir():
            raise UserError(f"--embedding-model {embedding_model} is not a folder. To fix: pass a local "
                            "sentence-transformers model folder (nothing is downloaded), or leave it out to use "
                            "ChatGLM3Embeddings")
        try:
            import sentence_transformers  # noqa: F401
        except ImportError:
            raise UserError("--embedding-model needs sentence-transformers. To fix: pip install "
                            "sentence-transformers") from None
        from langchain_community.embeddings import HuggingFaceEmbeddings

        return HuggingFaceEmbeddings(model_name=str(folder), model_kwargs={"device": "cpu"},
                                     encode_kwargs={"normalize_embeddings": True})
    from common.langchain_chatglm3 import embeddings_from_config

    return embeddings_from_config(cfg, quiet=True)
