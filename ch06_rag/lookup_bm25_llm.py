"""6.1.2 分别基于BM25与LLM终端进行目标查找 — find the company a mention means, by BM25 and by the LLM alone.

BM25: jieba (the 4,366 short names and core names as user words) + CJK bigrams, ranked by ``rank_bm25`` (the
book's library) and by ``bm25s``; the script checks that both give the same top-10 for every mention and times
them. LLM only: the mention and a short candidate list (the right company plus random others) go into one prompt,
the model answers a number. Accuracy of each is printed on ``data/ch06/mentions.jsonl``.

    python ch06_rag/lookup_bm25_llm.py                          # demo model, 40 LLM questions
    python ch06_rag/lookup_bm25_llm.py --llm-limit 0            # BM25 only (fast)
    python ch06_rag/lookup_bm25_llm.py --model /path/to/chatglm3-6b --llm-limit 660
    python ch06_rag/lookup_bm25_llm.py --base-url http://127.0.0.1:8000/v1
"""
from __future__ import annotations

import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import GenerationArgs, ModelArgs, ServerArgs, UserError, arg, run


@dataclass
class Config(ModelArgs, GenerationArgs, ServerArgs):
    mentions: str | None = arg(None, "mention test set JSONL (default data/ch06/mentions.jsonl)")
    companies: str | None = arg(None, "candidate list CSV (default data/finreports/companies.csv)")
    llm_limit: int = arg(40, "ask the LLM about the first N mentions (0 = skip the LLM)")
    choices: int = arg(10, "candidates in the LLM prompt (the right one + random others)")
    top_k: int = arg(10, "compare the two BM25 libraries on this many results")


def main(cfg: Config) -> dict:
    from ch06_rag.company_lookup import (CompanyLookup, choice_candidates, llm_choose, load_companies,
                                         load_mentions, normalize_mention, score_predictions)

    if cfg.llm_limit < 0 or cfg.choices < 2:
        raise UserError("--llm-limit must be >= 0 and --choices >= 2")
    records = load_mentions(cfg.mentions)
    companies = load_companies(cfg.companies)
    results: dict = {}

    t0 = time.perf_counter()
    fast = CompanyLookup(companies, backend="bm25s")
    t1 = time.perf_counter()
    book = CompanyLookup(companies, backend="rank_bm25", tokenizer=fast.tokenizer)
    t2 = time.perf_counter()
    queries = [normalize_mention(r["mention"]) for r in records]
    tops = {}
    for name, lk in (("bm25s", fast), ("rank_bm25", book)):
        start = time.perf_counter()
        tops[name] = [[i for i, _ in lk.index.search(q, cfg.top_k)] for q in queries]
        tops[name + "_s"] = time.perf_counter() - start
    same = sum(a == b for a, b in zip(tops["bm25s"], tops["rank_bm25"]))
    print(f"BM25 over {len(companies)} companies: build bm25s {t1 - t0:.2f} s (incl. jieba dictionary), "
          f"rank_bm25 {t2 - t1:.2f} s; {len(queries)} queries: bm25s {tops['bm25s_s']:.2f} s, "
          f"rank_bm25 {tops['rank_bm25_s']:.2f} s")
    print(f"identical top-{cfg.top_k} for {same}/{len(queries)} mentions")
    results.update(identical_top_k=same, n_mentions=len(records), bm25s_query_s=tops["bm25s_s"],
                   rank_bm25_query_s=tops["rank_bm25_s"])

    # BM25 top-1 with no threshold (always answers) and with the default threshold (may say "no match")
    matches = [fast.lookup(r["mention"]) for r in records]
    top1 = [m.best.code if m.best else "" for m in matches]
    thr = [m.company.code if m.company else "" for m in matches]
    results["bm25_top1"] = score_predictions(records, top1)
    results["bm25_threshold"] = score_predictions(records, thr)
    print(f"BM25 top-1 (always answers):        accuracy {results['bm25_top1']['accuracy']:.1%} "
          f"(listed companies {results['bm25_top1']['accuracy_listed']:.1%})")
    print(f"BM25 + threshold {fast.threshold:.2f} (may say no match): accuracy "
          f"{results['bm25_threshold']['accuracy']:.1%}")
    by_kind: dict[str, list[bool]] = {}
    for r, p in zip(records, thr):
        by_kind.setdefault(r["kind"], []).append(p == r["gold_code"])
    print("  by kind: " + ", ".join(f"{k} {sum(v) / len(v):.0%}" for k, v in sorted(by_kind.items())))
    results["bm25_by_kind"] = {k: sum(v) / len(v) for k, v in by_kind.items()}

    if cfg.llm_limit:
        from ch06_rag.llm import ask_fn, llm_from_cfg

        llm, note = llm_from_cfg(cfg, temperature=0.0, max_tokens=min(cfg.max_new_tokens, 16), quiet=True)
        ask = ask_fn(llm)
        if note:
            print(note)
        rng = random.Random(0)
        subset = records[: cfg.llm_limit]
        preds, start = [], time.perf_counter()
        for r in subset:
            cands = choice_candidates(fast, r["gold_code"], cfg.choices, rng)
            chosen = llm_choose(ask, r["mention"], cands)
            preds.append(chosen.code if chosen else "")
        elapsed = time.perf_counter() - start
        results["llm_choice"] = score_predictions(subset, preds)
        bm25_same = score_predictions(subset, thr[: len(subset)])
        results["llm_seconds_per_mention"] = elapsed / len(subset)
        print(f"LLM only, {cfg.choices} candidates in the prompt, {len(subset)} mentions: accuracy "
              f"{results['llm_choice']['accuracy']:.1%} ({elapsed / len(subset):.2f} s/mention); "
              f"BM25 + threshold on the same mentions: {bm25_same['accuracy']:.1%} (over all "
              f"{len(companies)} companies)")
    return results


if __name__ == "__main__":
    run(main, Config, __doc__)
