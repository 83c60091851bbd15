"""13.1.3 / 13.2 benchmark — build speed of the field database (1, 2 workers, Ray), question speed and scores.

Prints one table:

* reports/s of ``build_db.build()`` with the local engine at each ``--workers`` count and with ``--engine ray``
  (a local Ray on this machine with ``--ray-cpus`` CPUs; Ray's start-up is timed separately), each run into a fresh
  temporary DB. The reports are the bundled alltxt reports, each linked under ``--copies`` distinct official file
  names (other stock codes, same content), so a run has e.g. 3 × 10 = 30 reports; the projected time for
  ``--total-reports`` (the challenge's 11,588 reports) at that rate;
* questions/s of solution 1 (rules + SQL, no model) on the bundled question set;
* the challenge score of each solution on the bundled set: solution 1 on all questions (open 3-1 questions answered
  with the best passage: no model), solutions 2 and 3 on ``--llm-limit`` questions spread over the types, on the
  model of ``--model`` / ``--base-url`` (the demo model by default: its SQL and tool calls are stand-ins).

    python ch13_finreport_qa/bench_db.py                           # 30 reports, workers 1 and 2, Ray, scores
    python ch13_finreport_qa/bench_db.py --copies 4 --no-ray --llm-limit 0      # quick: no Ray, no model
    python ch13_finreport_qa/bench_db.py --workers 1 2 4 8 --copies 40 --ray-cpus 8
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import GenerationArgs, ModelArgs, ServerArgs, UserError, arg, run

CHALLENGE_REPORTS = 11588


@dataclass
class Config(ModelArgs, GenerationArgs, ServerArgs):
    copies: int = arg(10, "link each bundled report under this many distinct official file names")
    workers: list[int] = arg([1, 2], "local process-pool sizes to time")
    ray: bool = arg(True, "also time the Ray engine (a local Ray; --no-ray to skip)")
    ray_cpus: int = arg(2, "CPUs of the local Ray")
    total_reports: int = arg(CHALLENGE_REPORTS, "project the build time for this many reports")
    questions: str = arg("", "question set JSONL (default: the bundled data/ch13/questions.jsonl)")
    llm_limit: int = arg(3, "solutions 2 and 3 answer this many questions on the model (0 = skip them)")
    max_new_tokens: int = arg(128, "at most this many new tokens per LLM call (solutions 2 and 3)")
    temperature: float = arg(0.0, "sampling temperature (0 = greedy)")


def replicate_reports(src_files: list[Path], copies: int, dst: Path) -> list[Path]:
    """Link (or copy) each report under ``copies`` official-style names that differ in the stock code:
    ``2020-01-23__浙江海翔药业股份有限公司__002099__海翔药业__2019年__年度报告.txt.gz`` ->
    ``…__900001__海翔药业1__2019年__年度报告.txt.gz``. The year is kept (the extractor picks the statement column by
    it), so every copy is extracted exactly like the original."""
    from ch12_finreport_extract.alltxt import parse_report_name, report_stem

    dst.mkdir(parents=True, exist_ok=True)
    out, n = [], 0
    for src in src_files:
        meta = parse_report_name(src.name)
        if meta is None:
            raise UserError(f"{src.name}: not an official report file name")
        suffix = src.name[len(report_stem(src)):]
        for k in range(copies):
            n += 1
            name = f"{meta.date}__{meta.company}__{900000 + n:06d}__{meta.short_name}{k}__{meta.year}年__{meta.kind}"
            target = dst / (name + suffix)
            try:
                target.symlink_to(src.resolve())
            except OSError:            # no symlinks (e.g. Windows without the privilege): copy
                shutil.copyfile(src, target)
            out.append(target)
    return out


def cpu_seconds() -> float | None:
    """CPU time (user + system) of this process and its finished child processes (None where unavailable).
    On a busy machine wall-clock rates fall, CPU seconds per report much less: both are printed."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def time_build(reports: Path, db: Path, workers: int, engine: str = "local") -> dict:
    """One ``build_db.build()`` run into a fresh DB; ``{"done", "failed", "seconds", "reports_per_s",
    "cpu_s"}`` (``cpu_s``: this process + its pool workers; None for Ray, whose workers are not our children)."""
    from ch13_finreport_qa.build_db import Config as BuildConfig, build

    if db.exists():
        raise UserError(f"{db} exists: a timing run needs a fresh database")
    cpu0 = cpu_seconds()
    stats = build(BuildConfig(reports=str(reports), db=str(db), workers=workers, engine=engine), progress=False)
    cpu1 = cpu_seconds()
    stats["reports_per_s"] = stats["done"] / stats["seconds"] if stats["seconds"] else 0.0
    stats["cpu_s"] = cpu1 - cpu0 if cpu0 is not None and engine == "local" else None
    return stats


def time_ray(reports: Path, db: Path, cpus: int) -> dict:
    """The Ray engine on a local Ray with ``cpus`` CPUs; Ray is started here so its start-up is timed apart."""
    try:
        import ray
    except ModuleNotFoundError:
        raise UserError("the Ray row needs Ray. To fix: pip install ray (or run with --no-ray)") from None
    start = time.perf_counter()
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    startup = time.perf_counter() - start
    try:
        stats = time_build(reports, db, cpus, engine="ray")   # build() reuses the running Ray, leaves it running
    finally:
        ray.shutdown()
    return {**stats, "startup_s": startup}


def time_questions(db: Path, questions: list[dict]) -> dict:
    """Solution 1 (no model) over every question: seconds, questions/s, and the challenge score."""
    from ch13_finreport_qa.evaluate import score_solution
    from ch13_finreport_qa.scoring import Similarity
    from ch13_finreport_qa.solutions import FinReportQA

    qa = FinReportQA(db)
    qa.answer(questions[0]["question"], 1)   # warm-up: the first question loads jieba / the company table
    cpu0 = time.process_time()
    result = score_solution(qa, questions, 1, Similarity(None))
    result["cpu_s"] = time.process_time() - cpu0
    result["questions_per_s"] = result["n"] / result["seconds"] if result["seconds"] else 0.0
    return result


def score_llm_solutions(cfg: Config, db: Path, questions: list[dict]) -> dict:
    """Solutions 2 and 3 on ``cfg.llm_limit`` questions (spread over the types) on the configured model."""
    from ch13_finreport_qa.ask import Config as AskConfig, make_qa
    from ch13_finreport_qa.evaluate import score_solution, spread
    from ch13_finreport_qa.scoring import Similarity

    subset = spread(questions, cfg.llm_limit)
    out = {}
    for solution in (2, 3):
        ask_cfg = AskConfig(**{k: v for k, v in vars(cfg).items() if k in AskConfig.__dataclass_fields__},
                            db=str(db), solution=solution)
        qa = make_qa(ask_cfg, need_llm=True)
        out[str(solution)] = score_solution(qa, subset, solution, Similarity(None))
    return out


def format_table(rows: list[tuple[str, str, str]]) -> str:
    lines = ["| measurement | result | note |", "|---|---:|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


def _hours(n: int, rate: float) -> str:
    if rate <= 0:
        return "–"
    s = n / rate
    return f"{s / 3600:.1f} h" if s >= 3600 else f"{s / 60:.0f} min"


def main(cfg: Config) -> dict:
    from ch13_finreport_qa.build_db import DEFAULT_REPORTS, find_reports
    from ch13_finreport_qa.evaluate import format_table as score_table
    from ch13_finreport_qa.questions import load_questions

    if cfg.copies < 1 or not cfg.workers or min(cfg.workers) < 1 or cfg.ray_cpus < 1:
        raise UserError("--copies, --workers and --ray-cpus must be at least 1")
    questions = load_questions(cfg.questions or None)
    originals = find_reports(DEFAULT_REPORTS)
    # import the per-report code once before timing (a forked pool worker inherits it), so the 1-worker row does not
    # pay the first imports that the others get for free
    import ch12_finreport_extract.extract_report  # noqa: F401
    import ch13_finreport_qa.indicators  # noqa: F401
    rows: list[tuple[str, str, str]] = []
    results: dict = {"builds": {}}
    with tempfile.TemporaryDirectory(prefix="ch13_bench_") as tmp:
        tmp = Path(tmp)
        files = replicate_reports(originals, cfg.copies, tmp / "reports")
        n = len(files)
        load = f"load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "load unknown"
        print(f"{n} reports: {len(originals)} bundled alltxt reports × {cfg.copies} names; each run into a fresh DB; "
              f"{os.cpu_count()} CPUs, {load}")
        runs = [(f"local, {w} worker{'s' if w > 1 else ''}", w, "local") for w in cfg.workers]
        if cfg.ray:
            runs.append((f"Ray (local, {cfg.ray_cpus} CPUs)", cfg.ray_cpus, "ray"))
        for i, (label, workers, engine) in enumerate(runs):
            db = tmp / f"bench{i}.db"
            stats = (time_ray(tmp / "reports", db, workers) if engine == "ray"
                     else time_build(tmp / "reports", db, workers))
            results["builds"][label] = stats
            note = f"{stats['done']}/{n} stored, {stats['failed']} failed, {stats['seconds']:.1f} s"
            if stats["cpu_s"] is not None:
                note += f", {stats['cpu_s'] / max(stats['done'], 1):.2f} CPU s/report"
            if "startup_s" in stats:
                note += f" (+ {stats['startup_s']:.1f} s Ray start-up, not counted)"
            rows.append((f"build_db {label}: reports/s", f"{stats['reports_per_s']:.2f}", note))
            idle = ""
            if stats["cpu_s"]:
                per_core = stats["done"] / stats["cpu_s"]
                idle = f"; from CPU time: {_hours(cfg.total_reports, per_core)} on one idle core"
            rows.append((f"  projected for {cfg.total_reports:,} reports", _hours(cfg.total_reports,
                                                                                 stats["reports_per_s"]),
                         f"{label}, at the measured wall-clock rate{idle}"))
            print(f"  {label}: {stats['reports_per_s']:.2f} reports/s", flush=True)
        qa_db = tmp / "bundled.db"
        time_build(DEFAULT_REPORTS, qa_db, 1)
        q = time_questions(qa_db, questions)
        results["solution1"] = q
        rows.append(("solution 1: questions/s", f"{q['questions_per_s']:.1f}",
                     f"{q['n']} bundled questions, no model (3-1: best passage), {q['seconds']:.1f} s, "
                     f"{q['cpu_s']:.1f} CPU s"))
        scores = {"1": q}
        if cfg.llm_limit > 0:
            scores.update(score_llm_solutions(cfg, qa_db, questions))
        for sol, r in scores.items():
            errors = sum(str(x["answer"]).startswith("error:") for x in r["records"])
            rows.append((f"solution {sol}: score (0-100)", f"{r['final']:.1f}",
                         f"{r['n']} questions, {r['seconds'] / max(r['n'], 1):.2f} s/question"
                         + (f", {errors} ended in an error (see the answers)" if errors else "")))
        results["scores"] = scores
    load = f", load average {os.getloadavg()[0]:.1f} at the end" if hasattr(os, "getloadavg") else ""
    print(f"{os.cpu_count()} CPUs{load}")
    print(format_table(rows))
    print("\nper question type (challenge metric; similarity: char-bigram Dice fallback):")
    print(score_table(scores))
    return {**results, "rows": rows, "reports": n}


if __name__ == "__main__":
    run(main, Config, __doc__)
