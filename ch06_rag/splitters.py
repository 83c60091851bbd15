"""6.2.3 Splitting documents into chunks (LangChain ``langchain-text-splitters``), Chinese-aware.

* :func:`chinese_splitter`: ``RecursiveCharacterTextSplitter`` that tries paragraph, line, then sentence ends
  (``。！？；`` and their ASCII forms), then commas, then characters; the punctuation stays at the *end* of the
  sentence it closes; ``chunk_size``/``chunk_overlap`` in characters.
* :func:`token_splitter`: the same separators, lengths measured in ChatGLM3 tokens
  (``RecursiveCharacterTextSplitter.from_huggingface_tokenizer``), so a chunk is guaranteed to fit a token budget.
* :func:`split_documents`: chunks keep the page's metadata and get a stable ``chunk_id`` (``source#p<page>#<n>``).
* :func:`chunk_stats` / :func:`save_histogram`: count, length percentiles and a length histogram PNG.

API::

    from ch06_rag.splitters import chinese_splitter, token_splitter, split_documents, chunk_stats
    chunks = split_documents(docs, chinese_splitter(300, 50))
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

CHINESE_SEPARATORS = ["\n\n", "\n", "。", "！", "？", "；", "!", "?", ";", "，", ",", " ", ""]


def chinese_splitter(chunk_size: int = 300, chunk_overlap: int = 50):
    """Recursive character splitter for Chinese (lengths in characters)."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    _check(chunk_size, chunk_overlap)
    return RecursiveCharacterTextSplitter(separators=CHINESE_SEPARATORS, keep_separator="end",
                                          chunk_size=chunk_size, chunk_overlap=chunk_overlap,
                                          add_start_index=True, strip_whitespace=True)


def token_splitter(tokenizer, chunk_size: int = 200, chunk_overlap: int = 30):
    """Recursive splitter whose lengths are ChatGLM3 tokens (``tokenizer`` = ``common.chatglm3.load_tokenizer()``)."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    _check(chunk_size, chunk_overlap)
    return RecursiveCharacterTextSplitter.from_huggingface_tokenizer(
        tokenizer, separators=CHINESE_SEPARATORS, keep_separator="end", chunk_size=chunk_size,
        chunk_overlap=chunk_overlap, add_start_index=True, strip_whitespace=True)


def _check(chunk_size: int, chunk_overlap: int) -> None:
    from common.cli import UserError

    if chunk_size <= 0 or chunk_overlap < 0 or chunk_overlap >= chunk_size:
        raise UserError(f"need 0 <= chunk overlap < chunk size, got size {chunk_size}, overlap {chunk_overlap}. "
                        f"To fix: e.g. --chunk-size 300 --chunk-overlap 50")


def split_documents(docs: Sequence, splitter) -> list:
    """Split every Document; each chunk keeps its page's metadata plus ``chunk_id`` and ``start_index``."""
    chunks = splitter.split_documents(list(docs))
    counters: dict[tuple, int] = {}
    for c in chunks:
        key = (c.metadata.get("source", ""), c.metadata.get("page", 1))
        n = counters.get(key, 0)
        counters[key] = n + 1
        c.metadata["chunk_id"] = f"{key[0]}#p{key[1]}#{n}"
    return chunks


def chunk_stats(chunks: Sequence, length: Callable[[str], int] = len) -> dict:
    """Number of chunks and length percentiles (``length`` = characters by default, or a token counter)."""
    import numpy as np

    lengths = np.array([length(c.page_content if hasattr(c, "page_content") else c) for c in chunks], dtype=float)
    if lengths.size == 0:
        return {"count": 0, "lengths": []}
    return {"count": int(lengths.size), "min": int(lengths.min()), "mean": float(lengths.mean()),
            "median": float(np.median(lengths)), "p90": float(np.percentile(lengths, 90)),
            "max": int(lengths.max()), "lengths": lengths.astype(int).tolist()}


def save_histogram(lengths_by_name: dict[str, Sequence[int]], path: str | Path, unit: str = "characters") -> Path:
    """One histogram per splitter (overlaid) saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for name, lengths in lengths_by_name.items():
        ax.hist(lengths, bins=40, alpha=0.55, label=f"{name} ({len(lengths)} chunks)")
    ax.set_xlabel(f"chunk length ({unit})")
    ax.set_ylabel("chunks")
    ax.set_title("Chunk length histogram")
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
