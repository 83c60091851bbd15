"""6.2.4 找到最近似问题的文本段落 — BM25, dense and hybrid retrieval scored on the bundled annual-report questions.

The 68 questions of ``data/ch06/retrieval_qa.jsonl`` each know the report page(s) that answer them. For every
method the script prints hit@1, hit@5 (a chunk from a gold page among the first 1 / 5) and MRR, then shows the top
passages of one question. Dense retrieval embeds every chunk with ``ChatGLM3Embeddings`` (mean-pooled hidden
states of the model; cached under outputs/ch06/embeddings) or with a local sentence-transformers folder
(``--st-model``); hybrid fuses BM25 and dense by reciprocal rank.

    python ch06_rag/nearest_passages.py                         # BM25 + dense (demo model) + hybrid
    python ch06_rag/nearest_passages.py --methods bm25          # BM25 only, seconds
    python ch06_rag/nearest_passages.py --st-model path/to/bge-small-zh     # a real sentence-embedding model
    python ch06_rag/nearest_passages.py --base-url http://127.0.0.1:8000/v1   # the server's /v1/embeddings
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import ModelArgs, ServerArgs, UserError, arg, run


@dataclass
class Config(ModelArgs, ServerArgs):
    docs: str | None = arg(None, "folder of reports (default data/finreports/reports)")
    questions: str | None = arg(None, "test set JSONL (default data/ch06/retrieval_qa.jsonl)")
    methods: list[str] = arg(["bm25", "dense", "hybrid"], "methods to score", choices=("bm25", "dense", "hybrid"))
    st_model: str | None = arg(None, "local sentence-transformers model folder for dense retrieval (instead of "
                                     "ChatGLM3Embeddings)")
    embed_max_tokens: int = arg(64, "embed only the first N tokens of each chunk (the demo model's vectors are "
                                    "noise anyway; use 512 with a real model)")
    chunk_size: int = arg(300, "chunk size in characters")
    chunk_overlap: int = arg(50, "chunk overlap in characters")
    show: str = arg("海翔药业的法定代表人是谁？", "print the top passages of this question")


def main(cfg: Config) -> dict:
    from common.paths import output_dir
    from ch06_rag.retrieve import (BM25Retriever, DenseRetriever, HybridRetriever, SentenceTransformerEmbeddings,
                                   build_corpus, evaluate, load_questions)

    questions = load_questions(cfg.questions)
    questions_known = {q["company"] for q in questions}
    corpus, loaded = build_corpus(cfg.docs, cfg.chunk_size, cfg.chunk_overlap)
    if not questions_known & {c.metadata.get("company") for c in corpus.chunks}:
        raise UserError("none of the test questions' reports is in --docs. To fix: point --docs at the reports "
                        "the questions were written for (data/finreports/reports)")
    retrievers = {"bm25": BM25Retriever(corpus)}
    timings = {}
    if {"dense", "hybrid"} & set(cfg.methods):
        start = time.perf_counter()
        if cfg.st_model:
            emb, key = SentenceTransformerEmbeddings(cfg.st_model), "st:" + str(Path(cfg.st_model).resolve())
        else:
            from common.langchain_chatglm3 import embeddings_from_config

            emb = embeddings_from_config(cfg, max_tokens=cfg.embed_max_tokens, quiet=True)
            key = f"{cfg.base_url or cfg.model or 'demo'}|{cfg.embed_max_tokens}"
            from common.resolve import is_demo_model, resolve_model_path

            if not cfg.base_url and is_demo_model(resolve_model_path(cfg.model)):
                print("[demo model] dense vectors come from the 7M-parameter demo model: expect poor dense "
                      "retrieval; pass --st-model or --model for real embeddings.")
        retrievers["dense"] = DenseRetriever(corpus, emb, cache_dir=output_dir("ch06", "embeddings"), cache_key=key)
        retrievers["hybrid"] = HybridRetriever([retrievers["bm25"], retrievers["dense"]])
        timings["embed_s"] = time.perf_counter() - start
        print(f"embedded {len(corpus)} chunks in {timings['embed_s']:.1f} s (cached for the next run)")
    results: dict = {"chunks": len(corpus), "questions": len(questions), **timings}
    print(f"\n{len(questions)} questions, {len(corpus)} chunks of {cfg.chunk_size} characters")
    print(f"{'method':>7} | {'hit@1':>6} | {'hit@5':>6} | {'MRR':>5} | {'ms/query':>8}")
    for name in cfg.methods:
        start = time.perf_counter()
        scores = evaluate(retrievers[name], questions)
        ms = (time.perf_counter() - start) * 1000 / max(1, len(questions))
        results[name] = {**scores, "ms_per_query": ms}
        print(f"{name:>7} | {scores['hit@1']:>6.1%} | {scores['hit@5']:>6.1%} | {scores['mrr']:>5.3f} | {ms:>8.1f}")
    if cfg.show:
        best = cfg.methods[-1]
        print(f"\ntop passages ({best}) for: {cfg.show}")
        for rank, h in enumerate(retrievers[best].search(cfg.show, 3), 1):
            print(f"  {rank}. {h.doc.metadata.get('company', h.source)} p.{h.page} ({h.score:.3f}): "
                  f"{' '.join(h.doc.page_content.split())[:80]}…")
    return results


if __name__ == "__main__":
    run(main, Config, __doc__)
