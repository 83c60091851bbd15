"""8.2.2 基于ChatGLM3的思维链实战 — accuracy of direct / zero-shot CoT / few-shot CoT / self-consistency.

Asks every problem of a set (default: the bundled 120 seeded problems, ``data/ch08/problems.jsonl``) in each way and
prints accuracy and tokens spent per question; per-problem results go to ``outputs/ch08/evaluate_cot.jsonl``.

    python ch08_cot/evaluate_cot.py                             # demo model, first 10 problems (--limit)
    python ch08_cot/evaluate_cot.py --limit 0 --model /path/to/chatglm3-6b --device cuda --precision fp16
    python ch08_cot/evaluate_cot.py --base-url http://127.0.0.1:8000/v1 --methods direct zero_shot --k 5
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import GenerationArgs, ModelArgs, ServerArgs, UserError, arg, run

from ch08_cot.cot import METHODS


@dataclass
class Config(ModelArgs, GenerationArgs, ServerArgs):
    problems: str = arg("", "problems JSONL (default: the bundled data/ch08/problems.jsonl)")
    limit: int = arg(10, "ask only the first N problems (0 = all; the demo model needs ~1 s per call)")
    methods: list = arg(list(METHODS), "which methods to compare", choices=METHODS)
    k: int = arg(5, "samples per question for self-consistency")
    sc_temperature: float = arg(0.7, "sampling temperature of the self-consistency samples")
    max_new_tokens: int = arg(160, "at most this many new tokens per answer")
    out: str = arg("", "per-problem results JSONL (default: outputs/ch08/evaluate_cot.jsonl)")


def evaluate(chat_model, problems: list[dict], methods=METHODS, k: int = 5, sc_temperature: float = 0.7,
             progress=None) -> tuple[dict, list[dict]]:
    """(summary per method, one record per problem and method) for ``chat_model`` on ``problems``."""
    from ch08_cot.answer import same_number
    from ch08_cot.cot import solve

    summary = {m: {"correct": 0, "n": 0, "tokens": 0, "seconds": 0.0, "no_answer": 0} for m in methods}
    records = []
    for problem in problems:
        for method in methods:
            start = time.perf_counter()
            sol = solve(chat_model, problem["question"], method, k=k, temperature=sc_temperature)
            seconds = time.perf_counter() - start
            ok = same_number(sol.answer, float(problem["answer"]))
            s = summary[method]
            s["n"] += 1
            s["correct"] += ok
            s["tokens"] += sol.tokens
            s["seconds"] += seconds
            s["no_answer"] += sol.answer is None
            records.append({"id": problem.get("id"), "method": method, "question": problem["question"],
                            "gold": problem["answer"], "answer": sol.answer, "correct": ok, "votes": sol.votes,
                            "tokens": sol.tokens, "texts": sol.texts})
        if progress:
            progress.update(1)
    for s in summary.values():
        n = max(s["n"], 1)
        s.update(accuracy=s["correct"] / n, tokens_per_question=s["tokens"] / n, seconds_per_question=s["seconds"] / n)
    return summary, records


def format_table(summary: dict) -> str:
    lines = ["| method | accuracy | no answer | tokens / question | s / question |", "|---|---:|---:|---:|---:|"]
    for method, s in summary.items():
        lines.append(f"| {method} | {s['accuracy']:.1%} ({s['correct']}/{s['n']}) | {s['no_answer']} | "
                     f"{s['tokens_per_question']:.0f} | {s['seconds_per_question']:.2f} |")
    return "\n".join(lines)


def main(cfg: Config) -> dict:
    from tqdm import tqdm

    from common.langchain_chatglm3 import chat_model_from_config, demo_line
    from common.paths import output_dir, write_jsonl
    from ch08_cot.problems import load_problems

    if cfg.k < 1:
        raise UserError("--k must be at least 1")
    problems = load_problems(cfg.problems or None, cfg.limit or None)
    chat_model = chat_model_from_config(cfg, quiet=True)  # demo_line below is the one notice
    line = demo_line(chat_model, "answers and accuracies")
    if line:
        print(line)
    with tqdm(total=len(problems), desc="problems", unit="q", file=sys.stderr) as bar:
        summary, records = evaluate(chat_model, problems, cfg.methods, cfg.k, cfg.sc_temperature, bar)
    out = write_jsonl(Path(cfg.out) if cfg.out else output_dir("ch08") / "evaluate_cot.jsonl", records)
    print(format_table(summary))
    print(f"{len(problems)} problems x {len(cfg.methods)} methods; per-problem answers in {out}")
    return {"summary": summary, "records": records, "out": str(out)}


if __name__ == "__main__":
    run(main, Config, __doc__)
