"""4.2.2 数据准备与基础算法分析 — the FAQ knowledge base, jieba + BM25 retrieval, top-1 accuracy on paraphrased
questions that are not in the FAQ, and the measured "not in my knowledge base" threshold. No model needed.

    python ch04_langchain/faq_search.py                               # stats, an example, accuracy, threshold table
    python ch04_langchain/faq_search.py --query "显卡只有6G能跑吗"      # the top-k entries for your question
    python ch04_langchain/faq_search.py --no-glossary                  # plain BM25, without the domain glossary
    python ch04_langchain/faq_search.py --faq my_faq.jsonl --eval my_eval.jsonl
"""
from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import arg, run


@dataclass
class Config:
    faq: str | None = arg(None, "FAQ JSONL with id/question/answer per line (default: data/ch04/faq.jsonl)")
    eval: str | None = arg(None, "evaluation JSONL with question/answer_id (null = not in the KB) "
                                 "(default: data/ch04/faq_eval.jsonl)")
    query: str = arg("显卡只有6G能跑ChatGLM3吗", "a question to search for")
    k: int = arg(3, "how many entries to show")
    threshold: float | None = arg(None, "coverage threshold (default: the measured one in faq.py)")
    glossary: bool = arg(True, "normalise colloquial words with the domain glossary before BM25")


def main(cfg: Config) -> dict:
    from ch04_langchain.faq import (DEFAULT_THRESHOLD, EVAL_PATH, FAQ_PATH, FaqIndex, evaluate, load_eval,
                                    load_faq, sweep_thresholds, tokenize)

    entries = load_faq(cfg.faq or FAQ_PATH)
    items = load_eval(cfg.eval or EVAL_PATH)
    threshold = DEFAULT_THRESHOLD if cfg.threshold is None else cfg.threshold
    print(f"FAQ: {len(entries)} entries in {len(Counter(e.get('category') for e in entries))} categories: "
          + ", ".join(f"{c} {n}" for c, n in Counter(e.get("category") for e in entries).items()))
    print(f"eval: {sum(i['answer_id'] is not None for i in items)} paraphrased questions + "
          f"{sum(i['answer_id'] is None for i in items)} questions outside the knowledge base")
    index = FaqIndex(entries, glossary=cfg.glossary)
    print(f"\nquery : {cfg.query}\nwords : {tokenize(cfg.query, cfg.glossary)}")
    hits = index.search(cfg.query, cfg.k)
    for rank, h in enumerate(hits, 1):
        print(f"  [{rank}] bm25={h.score:6.2f} coverage={h.coverage:.2f}  #{h.entry['id']} {h.entry['question']}")
    if hits and hits[0].coverage < threshold:
        print(f"  -> coverage {hits[0].coverage:.2f} < threshold {threshold}: 'not in my knowledge base'")

    print("\nthreshold sweep (coverage of the best entry; below it the bot refuses):")
    print(f"  {'threshold':>9} {'top-1':>6} {'answered right':>14} {'refused right':>13} {'overall':>7}")
    table = sweep_thresholds(index, items)
    for r in table[:11]:
        print(f"  {r['threshold']:>9.2f} {r['top1_accuracy']:>6.1%} {r['answered_correctly']:>14.1%} "
              f"{r['refused_correctly']:>13.1%} {r['overall']:>7.1%}")
    best = max(table, key=lambda r: (r["overall"], -r["threshold"]))
    result = evaluate(index, items, threshold)
    print(f"\ntop-1 retrieval accuracy on {result['in_kb']} paraphrased questions: {result['top1_accuracy']:.1%}"
          f"  (glossary {'on' if cfg.glossary else 'off'})")
    print(f"threshold {threshold}: {result['answered_correctly']:.1%} answered with the right entry, "
          f"{result['refused_correctly']:.1%} of out-of-KB questions refused, overall {result['overall']:.1%}; "
          f"best on this set: {best['threshold']} ({best['overall']:.1%})")
    if result["misses"]:
        print("misses (asked -> found):")
        for asked, found in result["misses"][:5]:
            print(f"  {asked} -> {found}")
    return {"entries": len(entries), "top1_accuracy": result["top1_accuracy"], "threshold": threshold,
            "evaluation": result, "best_threshold": best["threshold"], "hits": [h.entry["id"] for h in hits]}


if __name__ == "__main__":
    run(main, Config, __doc__)
