"""6.1.3 建立工业级标准化输出：LLM终端与BM25结合 — normalised company output with a "no match" threshold.

Three ways to turn a mention into a canonical company (or "no match"), scored on ``data/ch06/mentions.jsonl``:

* **BM25**: the mention itself, BM25 top-1, accepted if its confidence reaches ``--threshold``;
* **LLM**: the model rewrites the mention and its output must *be* a canonical name or code (exact match);
* **LLM+BM25**: the model rewrites the mention, BM25 maps the rewrite onto the canonical list, the threshold decides
  (the raw mention is looked up as well; the more confident of the two wins).

Prints accuracy (the right company, or "no match" for companies not in the list) and no-match precision/recall,
and a threshold sweep for BM25 so you can see the trade-off.

    python ch06_rag/normalise.py                          # demo model, first 40 mentions for the LLM rows
    python ch06_rag/normalise.py --llm-limit 0            # BM25 only, with the sweep
    python ch06_rag/normalise.py --model /path/to/chatglm3-6b --llm-limit 660
    python ch06_rag/normalise.py --mention 海翔那家药企      # one mention, all three ways
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import GenerationArgs, ModelArgs, ServerArgs, UserError, arg, run


@dataclass
class Config(ModelArgs, GenerationArgs, ServerArgs):
    mention: str | None = arg(None, "look up this one mention instead of scoring the test set")
    mentions: str | None = arg(None, "mention test set JSONL (default data/ch06/mentions.jsonl)")
    companies: str | None = arg(None, "candidate list CSV (default data/finreports/companies.csv)")
    threshold: float = arg(0.35, "confidence below this -> \"no match\" (0..1)")
    llm_limit: int = arg(40, "LLM and LLM+BM25 rows use the first N mentions (0 = BM25 only)")


def main(cfg: Config) -> dict:
    from ch06_rag.company_lookup import (CompanyLookup, llm_bm25_lookup, llm_exact, llm_normalise, load_companies,
                                         load_mentions, score_predictions)

    if not 0.0 <= cfg.threshold <= 1.0:
        raise UserError(f"--threshold must be in [0, 1], got {cfg.threshold}")
    lookup = CompanyLookup(load_companies(cfg.companies), threshold=cfg.threshold)
    ask = None
    if cfg.mention is not None or cfg.llm_limit:
        from ch06_rag.llm import ask_fn, llm_from_cfg

        llm, note = llm_from_cfg(cfg, temperature=0.0, max_tokens=min(cfg.max_new_tokens, 32), quiet=True)
        ask = ask_fn(llm)
        if note:
            print(note)

    if cfg.mention is not None:
        if not cfg.mention.strip():
            raise UserError("--mention is empty. To fix: --mention 海翔那家药企")
        bm = lookup.lookup(cfg.mention)
        lb, cleaned = llm_bm25_lookup(lookup, ask, cfg.mention)
        exact = llm_exact(lookup, cleaned)
        print(f"mention: {cfg.mention}\n  BM25:      {bm.name} (confidence {bm.score:.2f}; best candidate "
              f"{bm.best.short_name if bm.best else '-'})\n  LLM:       {cleaned!r} -> "
              f"{exact.short_name if exact else 'no match'}\n  LLM+BM25:  {lb.name} (confidence {lb.score:.2f})")
        return {"bm25": bm.name, "llm_output": cleaned, "llm": exact.short_name if exact else "no match",
                "llm_bm25": lb.name}

    records = load_mentions(cfg.mentions)
    matches = [lookup.lookup(r["mention"], threshold=0.0) for r in records]
    print(f"{'threshold':>9} | {'accuracy':>8} | {'listed':>6} | {'no-match precision':>18} | {'no-match recall':>15}")
    sweep = {}
    for th in (0.0, 0.2, 0.3, 0.35, 0.4, 0.5, 0.6, 0.8):
        preds = [m.best.code if m.best and m.score >= th else "" for m in matches]
        s = score_predictions(records, preds)
        sweep[th] = s
        mark = "  <- --threshold" if abs(th - cfg.threshold) < 1e-9 else ""
        print(f"{th:>9.2f} | {s['accuracy']:>8.1%} | {s['accuracy_listed']:>6.1%} | "
              f"{s['no_match_precision']:>18.1%} | {s['no_match_recall']:>15.1%}{mark}")
    results: dict = {"sweep": sweep}
    bm25_preds = [m.best.code if m.best and m.score >= cfg.threshold else "" for m in matches]
    results["bm25"] = score_predictions(records, bm25_preds)

    if cfg.llm_limit:
        subset = records[: cfg.llm_limit]
        llm_preds, both_preds, start = [], [], time.perf_counter()
        examples = []
        for r in subset:
            match, cleaned = llm_bm25_lookup(lookup, ask, r["mention"])
            exact = llm_exact(lookup, cleaned)
            llm_preds.append(exact.code if exact else "")
            both_preds.append(match.company.code if match.company else "")
            if len(examples) < 5:
                examples.append((r["mention"], cleaned, match.name))
        per = (time.perf_counter() - start) / len(subset)
        rows = {"BM25": score_predictions(subset, bm25_preds[: len(subset)]),
                "LLM": score_predictions(subset, llm_preds), "LLM+BM25": score_predictions(subset, both_preds)}
        print(f"\nfirst {len(subset)} mentions ({per:.2f} s/mention with the LLM):")
        print(f"{'method':>9} | {'accuracy':>8} | {'no-match precision':>18} | {'no-match recall':>15}")
        for name, s in rows.items():
            print(f"{name:>9} | {s['accuracy']:>8.1%} | {s['no_match_precision']:>18.1%} | "
                  f"{s['no_match_recall']:>15.1%}")
        for mention, cleaned, final in examples:
            print(f"  {mention!r} -> LLM {cleaned!r} -> {final}")
        results.update(subset=rows, llm_seconds_per_mention=per)
    return results


if __name__ == "__main__":
    run(main, Config, __doc__)
