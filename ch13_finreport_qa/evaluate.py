"""13.2 评测 — score the three solutions on the bundled question set with the challenge's metric.

    python ch13_finreport_qa/evaluate.py                         # solution 1 on all 120, solutions 2/3 on 14
    python ch13_finreport_qa/evaluate.py --solutions 1 --questions my_questions.jsonl
    python ch13_finreport_qa/evaluate.py --model /path/to/chatglm3-6b --llm-limit 0 --similarity-model /path/to/text2vec-base-chinese

Prints the score per question type and the weighted final score (0–100) of each solution; every answer with its
score goes to ``outputs/ch13/evaluate_solution<N>.jsonl``. The bundled questions (``data/ch13/questions.jsonl``)
come from ``make_questions.py``: values read from the reports, reference answers in the challenge's style.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import GenerationArgs, ModelArgs, ServerArgs, arg, run
from ch13_finreport_qa.questions import load_questions



@dataclass
class Config(ModelArgs, GenerationArgs, ServerArgs):
    questions: str = arg("", "question set JSONL (default: the bundled data/ch13/questions.jsonl)")
    db: str = arg("", "field database (default: outputs/ch13/finreports.db, built if missing)")
    solutions: list = arg([1, 2, 3], "which solutions to score", choices=(1, 2, 3))
    llm_limit: int = arg(14, "solutions 2 and 3 answer only N questions spread over the types (0 = all; each needs "
                             "several model calls)")
    use_llm: bool = arg(True, "solution 1: the LLM phrases open (3-1) answers (--no-use-llm: the best passage)")
    similarity_model: str = arg("", "local sentence-transformers folder for the similarity part "
                                    "(default: character-bigram Dice)")
    max_new_tokens: int = arg(128, "at most this many new tokens per LLM call")
    temperature: float = arg(0.0, "sampling temperature (0 = greedy)")


def spread(questions: list[dict], limit: int) -> list[dict]:
    """``limit`` questions taking turns over the types (deterministic)."""
    if not limit or limit >= len(questions):
        return questions
    by_type: dict[str, list[dict]] = {}
    for q in questions:
        by_type.setdefault(q.get("type", "1"), []).append(q)
    picked, i = [], 0
    while len(picked) < limit:
        for qs in by_type.values():
            if i < len(qs) and len(picked) < limit:
                picked.append(qs[i])
        i += 1
    return picked


def score_solution(qa, questions: list[dict], solution: int, sim) -> dict:
    """{"per_type": {type: mean}, "final", "records", "seconds"} of one solution."""
    from ch13_finreport_qa.scoring import final_score, score_answer

    records, sums = [], {}
    start = time.perf_counter()
    for q in questions:
        try:
            answer = qa.answer(q["question"], solution)["answer"]
        except Exception as exc:  # 一题出错记 0 分，继续
            answer = f"error: {type(exc).__name__}: {exc}"
        score = score_answer(q, answer, sim) if q.get("type") else 0.0
        sums.setdefault(q.get("type", "?"), []).append(score)
        records.append({"id": q.get("id"), "type": q.get("type"), "question": q["question"], "answer": answer,
                        "score": round(score, 4)})
    per_type = {k: sum(v) / len(v) for k, v in sums.items()}
    return {"per_type": per_type, "final": final_score(per_type), "records": records, "n": len(questions),
            "seconds": time.perf_counter() - start}


def format_table(results: dict) -> str:
    kinds = ("1", "1-2", "2-1", "2-2", "3-1", "3-2")
    lines = ["| solution | questions | " + " | ".join(f"type {k}" for k in kinds) + " | final (0-100) | s / question |",
             "|---|---:|" + "---:|" * len(kinds) + "---:|---:|"]
    for sol, r in results.items():
        cells = " | ".join(f"{r['per_type'][k]:.3f}" if k in r["per_type"] else "–" for k in kinds)
        lines.append(f"| {sol} | {r['n']} | {cells} | {r['final']:.1f} | {r['seconds'] / max(r['n'], 1):.2f} |")
    return "\n".join(lines)


def main(cfg: Config) -> dict:
    from common.paths import output_dir, write_jsonl
    from ch13_finreport_qa.ask import Config as AskConfig, make_qa
    from ch13_finreport_qa.scoring import Similarity

    questions = load_questions(cfg.questions or None)
    sim = Similarity(cfg.similarity_model or None)
    results = {}
    for solution in cfg.solutions:
        ask_cfg = AskConfig(**{k: v for k, v in vars(cfg).items() if k in AskConfig.__dataclass_fields__},
                            solution=solution)
        qa = make_qa(ask_cfg, need_llm=solution in (2, 3) or cfg.use_llm, passages_on_demo=solution == 1)
        subset = questions if solution == 1 else spread(questions, cfg.llm_limit)
        r = score_solution(qa, subset, solution, sim)
        write_jsonl(output_dir("ch13") / f"evaluate_solution{solution}.jsonl", r["records"])
        results[f"{solution}"] = r
    print(f"similarity: {sim.name}")
    print(format_table(results))
    print("answers with their scores: outputs/ch13/evaluate_solution<N>.jsonl")
    return {"results": results}


if __name__ == "__main__":
    run(main, Config, __doc__)
