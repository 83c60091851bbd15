"""13.2 基于自然语言的上市公司财务报表智能问答 — ask the field database a question (three solutions).

    python ch13_finreport_qa/ask.py "海翔药业2019年的营业收入是多少元？"             # solution 1: rules + SQL
    python ch13_finreport_qa/ask.py --solution 2 "2019年净利润最高的公司是哪家？"    # the LLM writes SQL (guarded)
    python ch13_finreport_qa/ask.py --solution 3 "安靠智电2019年的毛利率是多少？"    # the LLM calls DB tools
    python ch13_finreport_qa/ask.py --questions data/ch13/questions.jsonl --out answers.jsonl   # batch
    python ch13_finreport_qa/ask.py --solution 2 --model /path/to/chatglm3-6b "..."

The database comes from ``build_db.py`` (built on the first run if the default one is missing). Solution 1 needs no
model except for open questions (3-1); solutions 2 and 3 need one (the demo model by default: it runs the whole
pipeline, but its SQL and tool calls are usually wrong — they are refused or answered "no data", never executed
unchecked).
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import GenerationArgs, ModelArgs, ServerArgs, UserError, arg, run


@dataclass
class Config(ModelArgs, GenerationArgs, ServerArgs):
    question: str = arg("", "the question (positional)", positional=True)
    db: str = arg("", "field database from build_db.py (default: outputs/ch13/finreports.db, built if missing)")
    solution: int = arg(1, "1 rules + SQL, 2 NL->SQL by the LLM, 3 LLM with DB tools", choices=(1, 2, 3))
    questions: str = arg("", "batch mode: a JSONL file with one {\"id\", \"question\"} per line")
    out: str = arg("", "batch mode: answers JSONL (default: outputs/ch13/answers_solution<N>.jsonl)")
    use_llm: bool = arg(True, "solution 1: let the LLM phrase open (3-1) answers from retrieved passages "
                              "(--no-use-llm: the best passage itself)")
    max_new_tokens: int = arg(128, "at most this many new tokens per LLM call")
    temperature: float = arg(0.0, "sampling temperature (0 = greedy: SQL and tool calls should not be random)")


def ensure_db(path: str) -> Path:
    """The DB path; the default one is built from the bundled reports when it does not exist yet."""
    from ch13_finreport_qa.build_db import Config as BuildConfig, build, default_db

    db = Path(path) if path else default_db()
    if not db.is_file():
        if path:
            raise UserError(f"no database at {db}. To fix: python ch13_finreport_qa/build_db.py --db {db}")
        print(f"building {db} from the bundled reports first (python ch13_finreport_qa/build_db.py)")
        build(BuildConfig(db=str(db)), progress=False)
    return db


def make_qa(cfg: Config, need_llm: bool, passages_on_demo: bool = False):
    """FinReportQA with an LLM prompt->text function and, for solution 3, a chapter-11 agent backend.
    ``passages_on_demo``: on the demo model, answer open questions with the best passage instead of the model's
    (stand-in) phrasing — solution 1 uses the model for nothing else."""
    from ch13_finreport_qa.solutions import FinReportQA

    db = ensure_db(cfg.db)
    llm = backend = None
    if need_llm:
        from common.langchain_chatglm3 import ask_fn, chat_model_from_config, demo_line

        chat = chat_model_from_config(cfg, quiet=True)
        if passages_on_demo and chat.uses_demo_model():
            print("[demo model] open questions are answered with the report's best passage (the demo model cannot "
                  "summarise one); pass --model /path/to/chatglm3-6b (or --base-url) for a phrased answer.")
            return FinReportQA(ensure_db(cfg.db))
        line = demo_line(chat, "SQL, tool calls and phrasing")
        if line:
            print(line)

        llm = ask_fn(chat)

        if cfg.solution == 3:
            from ch11_tools.agent import backend_from_args
            backend = backend_from_args(cfg, quiet=True)
    return FinReportQA(db, llm=llm, agent_backend=backend)


def main(cfg: Config) -> dict:
    if not cfg.question and not cfg.questions:
        raise UserError('no question. To fix: python ch13_finreport_qa/ask.py "海翔药业2019年的营业收入是多少元？" '
                        "(or --questions FILE.jsonl)")
    qa = make_qa(cfg, need_llm=cfg.solution in (2, 3) or cfg.use_llm, passages_on_demo=cfg.solution == 1)
    if cfg.question:
        result = qa.answer(cfg.question, cfg.solution)
        for key in ("type", "sql", "refused", "calls"):
            if result.get(key) not in (None, [], ""):
                print(f"[{key}] {result[key]}")
        print(result["answer"])
        return result
    from common.paths import output_dir
    from ch13_finreport_qa.questions import load_questions

    questions = load_questions(cfg.questions)
    out = Path(cfg.out) if cfg.out else output_dir("ch13") / f"answers_solution{cfg.solution}.jsonl"
    answers = []
    with open(out, "w", encoding="utf-8") as f:
        for q in questions:
            try:
                answer = qa.answer(q["question"], cfg.solution)["answer"]
            except Exception as exc:  # 一道题出错不影响整批：记录下来继续
                answer = f"error: {type(exc).__name__}: {exc}"
            answers.append({"id": q.get("id"), "question": q["question"], "answer": answer})
            f.write(json.dumps(answers[-1], ensure_ascii=False) + "\n")
    print(f"{len(answers)} answers written to {out}")
    return {"answers": answers, "out": str(out)}


if __name__ == "__main__":
    run(main, Config, __doc__)
