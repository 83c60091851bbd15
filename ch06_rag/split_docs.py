"""6.2.3 基于LangChain的文本分块 — Chinese-aware recursive splitting vs the ChatGLM3-token splitter, with statistics.

Splits the documents with LangChain's ``RecursiveCharacterTextSplitter`` twice: lengths in characters (separators
paragraph > line > 。！？； > ，> character, punctuation kept at the end of its sentence) and lengths in ChatGLM3
tokens (``from_huggingface_tokenizer``). Prints count and length percentiles of each, two neighbouring chunks to
show the overlap, and saves a length histogram PNG under outputs/ch06/.

    python ch06_rag/split_docs.py                                        # the bundled annual reports
    python ch06_rag/split_docs.py --docs data/ch06/sample_docs --chunk-size 80 --chunk-overlap 20
    python ch06_rag/split_docs.py --model /path/to/chatglm3-6b            # token lengths on the real tokenizer
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import ModelArgs, arg, run


@dataclass
class Config(ModelArgs):
    docs: str | None = arg(None, "folder to split (default data/finreports/reports)")
    chunk_size: int = arg(300, "characters per chunk (character splitter)")
    chunk_overlap: int = arg(50, "characters shared by neighbouring chunks")
    token_chunk_size: int = arg(200, "ChatGLM3 tokens per chunk (token splitter)")
    token_chunk_overlap: int = arg(30, "tokens shared by neighbouring chunks")
    max_pages: int = arg(0, "split only the first N pages (0 = all)")


def main(cfg: Config) -> dict:
    from common.chatglm3 import load_tokenizer
    from common.paths import DATA_DIR, output_dir
    from ch06_rag.loaders import load_folder
    from ch06_rag.splitters import chinese_splitter, chunk_stats, save_histogram, split_documents, token_splitter

    folder = Path(cfg.docs) if cfg.docs else DATA_DIR / "finreports" / "reports"
    loaded = load_folder(folder)
    docs = loaded.documents[: cfg.max_pages] if cfg.max_pages else loaded.documents
    tok = load_tokenizer(cfg.model)
    n_tokens = lambda text: len(tok.tokenize(text))  # noqa: E731
    by_chars = split_documents(docs, chinese_splitter(cfg.chunk_size, cfg.chunk_overlap))
    by_tokens = split_documents(docs, token_splitter(tok, cfg.token_chunk_size, cfg.token_chunk_overlap))
    stats = {"characters": chunk_stats(by_chars), "tokens": chunk_stats(by_tokens, n_tokens)}
    print(f"{len(docs)} pages from {len(loaded.files)} files in {folder}")
    print(f"{'splitter':>22} | {'chunks':>6} | {'min':>4} | {'median':>6} | {'p90':>5} | {'max':>4}")
    for name, s in (("characters", stats["characters"]), ("ChatGLM3 tokens", stats["tokens"])):
        if s["count"]:
            print(f"{name:>22} | {s['count']:>6} | {s['min']:>4} | {s['median']:>6.0f} | "
                  f"{s['p90']:>5.0f} | {s['max']:>4}")
    # two neighbours on the same page: the end of one is the start of the next (overlap)
    for a, b in zip(by_chars, by_chars[1:]):
        if a.metadata["chunk_id"].rsplit("#", 1)[0] == b.metadata["chunk_id"].rsplit("#", 1)[0]:
            print(f"\nneighbours {a.metadata['chunk_id']} / {b.metadata['chunk_id']}:\n  ...{a.page_content[-60:]!r}"
                  f"\n  {b.page_content[:60]!r}...")
            break
    png = save_histogram({"characters": stats["characters"].get("lengths", []),
                          "ChatGLM3 tokens": stats["tokens"].get("lengths", [])},
                         output_dir("ch06") / "chunk_lengths.png", unit="characters / tokens")
    print(f"histogram: {png}")
    return {"stats": {k: {kk: vv for kk, vv in v.items() if kk != "lengths"} for k, v in stats.items()},
            "png": str(png), "chunks": len(by_chars)}


if __name__ == "__main__":
    run(main, Config, __doc__)
