"""Benchmark: BM25 with bm25s vs rank_bm25 at 10k and 100k chunks; retrieval quality; QA time per question.

1. Corpus: the chunks of the bundled annual reports (jieba-tokenised once), repeated to 10,000 and 100,000 chunks;
   each copy is perturbed at token level (number tokens replaced by random numbers, ~10 % of tokens dropped), so no
   two documents are identical. Queries: the bundled test questions plus random 6-token queries drawn from chunks.
   For each size and library: index build time, peak Python memory of a second, traced build (tracemalloc: what
   the index build allocates, numpy included), queries/s, and a check that
   the top-10 of *every* query is identical between the two libraries.
2. hit@1 / hit@5 / MRR of BM25, dense (ChatGLM3Embeddings on the model; cached) and hybrid on the bundled set.
3. Question answering end to end (retrieve + prompt + generate) on the model: seconds per question.

    python ch06_rag/bench_retrieval.py                        # 10k + 100k, 100 queries, demo model
    python ch06_rag/bench_retrieval.py --sizes 10000 --queries 50 --no-dense --qa-questions 0   # quick
"""
from __future__ import annotations

import random
import re
import sys
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import GenerationArgs, ModelArgs, ServerArgs, UserError, arg, run

_NUMBER = re.compile(r"^\d[\d.,%]*$")


def scale_corpus(base: list[list[str]], size: int, seed: int = 0) -> list[list[str]]:
    """``size`` token lists: the base documents first, then perturbed copies (numbers re-drawn, ~10 % dropped)."""
    rng = random.Random(seed)
    out = [list(t) for t in base[:size]]
    while len(out) < size:
        doc = base[len(out) % len(base)]
        copy = [str(rng.randint(1, 999_999)) if _NUMBER.match(t) else t for t in doc if rng.random() > 0.1]
        out.append(copy)
    return out


@dataclass
class Config(ModelArgs, GenerationArgs, ServerArgs):
    sizes: list[int] = arg([10_000, 100_000], "corpus sizes (chunks)")
    queries: int = arg(100, "queries per size (the bundled questions first, then random 6-token queries)")
    dense: bool = arg(True, "also score dense and hybrid retrieval (embeds every chunk once; cached)")
    embed_max_tokens: int = arg(512, "tokens of each chunk the dense retriever embeds")
    qa_questions: int = arg(5, "answer this many bundled questions end to end and time them (0 = skip)")


def main(cfg: Config) -> dict:
    import numpy as np

    from ch06_rag.bm25 import BM25Index
    from ch06_rag.retrieve import build_corpus, load_questions

    if any(s < 1 for s in cfg.sizes) or cfg.queries < 1:
        raise UserError("--sizes and --queries must be positive")
    corpus, _ = build_corpus()
    questions = load_questions()
    start = time.perf_counter()
    base = [corpus.tokenizer(t) for t in corpus.texts]
    tok_s = time.perf_counter() - start
    print(f"jieba: {len(base)} chunks tokenised in {tok_s:.1f} s ({sum(map(len, corpus.texts)) / tok_s / 1000:.0f}k "
          f"characters/s); copies reuse these tokens")
    rng = random.Random(1)
    qtokens = [corpus.tokenizer(q["question"]) for q in questions][: cfg.queries]
    while len(qtokens) < cfg.queries:
        doc = [t for t in rng.choice(base) if len(t) > 1]
        if len(doc) >= 6:
            qtokens.append(rng.sample(doc, 6))
    results: dict = {"tokenise_s": tok_s, "bm25": {}}
    print(f"\n{'chunks':>8} | {'library':>9} | {'build s':>7} | {'peak MB':>7} | {'queries/s':>9} | identical top-10")
    for size in cfg.sizes:
        docs = scale_corpus(base, size)
        row: dict = {}
        tops = {}
        for backend in ("bm25s", "rank_bm25"):
            t0 = time.perf_counter()
            index = BM25Index(docs, backend=backend)
            build = time.perf_counter() - t0
            t0 = time.perf_counter()
            tops[backend] = [[i for i, _ in index.search(q, 10)] for q in qtokens]
            qps = len(qtokens) / (time.perf_counter() - t0)
            del index
            tracemalloc.start()                 # a second build, traced (tracing slows it, so it is not timed)
            index = BM25Index(docs, backend=backend)
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
            del index
            row[backend] = {"build_s": build, "peak_mb": peak, "qps": qps}
        same = sum(a == b for a, b in zip(tops["bm25s"], tops["rank_bm25"]))
        row["identical_top10"] = same
        row["speedup"] = row["bm25s"]["qps"] / row["rank_bm25"]["qps"]
        for backend in ("bm25s", "rank_bm25"):
            r = row[backend]
            print(f"{size:>8} | {backend:>9} | {r['build_s']:>7.2f} | {r['peak_mb']:>7.0f} | {r['qps']:>9.1f} | "
                  f"{same}/{len(qtokens)}")
        print(f"{'':>8}   bm25s answers {row['speedup']:.0f}x more queries per second")
        results["bm25"][size] = row

    # ---- retrieval quality on the bundled set
    from ch06_rag.retrieve import BM25Retriever, DenseRetriever, HybridRetriever, evaluate

    retrievers = {"bm25": BM25Retriever(corpus)}
    if cfg.dense:
        from common.langchain_chatglm3 import embeddings_from_config
        from common.paths import output_dir

        t0 = time.perf_counter()
        dense = DenseRetriever(corpus, embeddings_from_config(cfg, max_tokens=cfg.embed_max_tokens, quiet=True),
                               cache_dir=output_dir("ch06", "embeddings"),
                               cache_key=f"{cfg.base_url or cfg.model or 'demo'}|{cfg.embed_max_tokens}")
        results["embed_s"] = time.perf_counter() - t0
        retrievers.update(dense=dense, hybrid=HybridRetriever([retrievers["bm25"], dense]))
    print(f"\nretrieval quality, {len(questions)} questions, {len(corpus)} chunks:")
    print(f"{'method':>7} | {'hit@1':>6} | {'hit@5':>6} | {'MRR':>5}")
    results["quality"] = {}
    for name, r in retrievers.items():
        s = evaluate(r, questions)
        results["quality"][name] = {k: v for k, v in s.items() if k != "ranks"}
        print(f"{name:>7} | {s['hit@1']:>6.1%} | {s['hit@5']:>6.1%} | {s['mrr']:>5.3f}")

    # ---- QA end to end
    if cfg.qa_questions:
        from ch06_rag.llm import ask_fn, llm_from_cfg
        from ch06_rag.qa import answer_question

        llm, note = llm_from_cfg(cfg, temperature=0.0, quiet=True)
        if note:
            print(note)
        ask = ask_fn(llm)
        ask("你好")                                          # load the model before timing
        times, cited = [], 0
        for q in questions[: cfg.qa_questions]:
            t0 = time.perf_counter()
            r = answer_question(q["question"], retrievers["bm25"], ask)
            times.append(time.perf_counter() - t0)
            cited += bool(r.cited)
        results["qa_s_per_question"] = float(np.mean(times))
        print(f"\nQA end to end (BM25 top-4 -> prompt -> model): {np.mean(times):.2f} s/question over {len(times)} "
              f"questions (median {np.median(times):.2f} s); answers citing a passage: {cited}/{len(times)}")
    return results


if __name__ == "__main__":
    run(main, Config, __doc__)
