"""13.1.2 大规模上市公司财务报表目标字段抽取函数 / 13.1.3 目标字段数据库的建立 — every report into one SQLite DB.

Each report (PDF or alltxt; a report present in both forms is read once, from the alltxt) goes through the
chapter-12 extractor (:func:`process_report`: tables + rules, and with ``--use-llm`` the LLM for what the rules miss),
its indicators are computed (``indicators.py``), and the one writer stores it in a single transaction. The job is
**resumable**: reports already ``done`` in the DB are skipped, so a rerun after a kill does only what is missing; a
report that fails is recorded with its error and skipped (rerun with ``--retry-failed``).

    python ch13_finreport_qa/build_db.py                                 # the bundled reports -> outputs/ch13/finreports.db
    python ch13_finreport_qa/build_db.py --reports /data/alltxt --db reports.db --workers 8
    python ch13_finreport_qa/build_db.py --reports /data/alltxt --engine ray --ray-address auto   # a Ray cluster
    python ch13_finreport_qa/build_db.py --use-llm --base-url http://127.0.0.1:8000/v1   # LLM fallback via a server

Engines: ``local`` = a process pool of ``--workers`` (1 = in this process), ``ray`` = the same per-report function
as Ray tasks (``ray.init(address=--ray-address)``; without an address a local Ray with ``--workers`` CPUs).
"""
from __future__ import annotations

import sys
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import GenerationArgs, ModelArgs, ServerArgs, UserError, arg, run
from common.paths import DATA_DIR, output_dir

DEFAULT_REPORTS = DATA_DIR / "finreports" / "reports"
REPORT_SUFFIXES = (".pdf", ".PDF", ".txt", ".txt.gz", ".jsonl", ".jsonl.gz")


def default_db() -> Path:
    return output_dir("ch13") / "finreports.db"


@dataclass
class Config(ModelArgs, GenerationArgs, ServerArgs):
    reports: str = arg("", "folder of reports (PDF / alltxt with the official file names; default: the bundled ones)")
    db: str = arg("", "SQLite database to build or complete (default: outputs/ch13/finreports.db)")
    workers: int = arg(1, "parallel workers (processes, or Ray CPUs for a local Ray)")
    engine: str = arg("local", "local process pool or Ray tasks", choices=("local", "ray"))
    ray_address: str = arg("", "Ray cluster address for --engine ray (e.g. auto, ray://head:10001); "
                               "empty: start a local Ray")
    retry_failed: bool = arg(False, "also redo reports recorded as failed")
    limit: int = arg(0, "process at most N reports this run (0 = all)")
    use_llm: bool = arg(False, "ask the LLM (--model in-process, or --base-url) for fields the rules miss; "
                               "slow without a GPU")
    max_new_tokens: int = arg(64, "at most this many new tokens per LLM field answer")


def find_reports(folder: str | Path) -> list[Path]:
    """Report files under ``folder``, one per report (the alltxt form when both exist), sorted by name."""
    from ch12_finreport_extract.alltxt import is_alltxt, report_stem

    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"--reports folder not found: {folder}. To fix: pass a folder of annual reports "
                        "(PDF or alltxt, official file names), e.g. --reports data/finreports/reports")
    best: dict[str, Path] = {}
    for p in sorted(folder.rglob("*")):
        if not p.is_file() or not p.name.endswith(REPORT_SUFFIXES):
            continue
        stem = report_stem(p)
        if stem not in best or (is_alltxt(p) and not is_alltxt(best[stem])):
            best[stem] = p
    return [best[k] for k in sorted(best)]


_LLM = None


def _worker_llm(llm_spec: dict | None):
    """The LLM of this worker process (built once per process from a picklable spec)."""
    global _LLM
    if llm_spec is None:
        return None
    if _LLM is None:
        from ch12_finreport_extract.extract_report import make_llm

        _LLM = make_llm(Config(**llm_spec))
    return _LLM


def process_report(path: str, llm_spec: dict | None = None) -> dict:
    """The per-report function (a process-pool job or a Ray task): extract + indicators, never raises.
    Returns ``{"path", "record", "indicators", "seconds"}`` or ``{"path", "error"}``."""
    from ch12_finreport_extract.extract_report import extract_report
    from ch13_finreport_qa.indicators import compute_all

    start = time.perf_counter()
    try:
        record = extract_report(path, llm=_worker_llm(llm_spec))
        if not record.get("stock_code") or not record.get("year"):
            raise ValueError("the file name does not follow date__全称__code__简称__年__年度报告")
        if not any(m != "filename" for m in record.get("methods", {}).values()):
            raise ValueError("no field could be extracted (empty or corrupt file, or not an annual report)")
        numeric = {k: v for k, v in record["fields"].items() if isinstance(v, (int, float))}
        indicators = compute_all(numeric, record.get("previous_year", {}))
        return {"path": path, "record": record, "indicators": indicators, "seconds": time.perf_counter() - start}
    except Exception as exc:  # 坏报告：记录下来、跳过，不拖垮整个任务
        return {"path": path, "error": f"{type(exc).__name__}: {exc}".strip()[:500],
                "trace": traceback.format_exc(limit=3)}


def _run_local(paths: list[str], workers: int, llm_spec):
    if workers <= 1:
        for p in paths:
            yield process_report(p, llm_spec)
        return
    from concurrent.futures import ProcessPoolExecutor, as_completed

    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(process_report, p, llm_spec) for p in paths]
        for fut in as_completed(futures):
            yield fut.result()


def _run_ray(paths: list[str], workers: int, address: str, llm_spec):
    try:
        import ray
    except ModuleNotFoundError:
        raise UserError("--engine ray needs Ray. To fix: pip install ray (or pip install -e \".[apps]\")") from None
    started_here = not ray.is_initialized()
    if started_here:
        kwargs = {"address": address} if address else {"num_cpus": max(workers, 1), "include_dashboard": False}
        ray.init(ignore_reinit_error=True, log_to_driver=False, logging_level="ERROR", **kwargs)
    try:
        task = ray.remote(process_report)
        pending = [task.remote(p, llm_spec) for p in paths]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            yield ray.get(done[0])
    finally:
        if started_here:
            ray.shutdown()


def build(cfg: Config, progress: bool = True) -> dict:
    """Build/complete the DB; returns counts and timings (used by bench_db.py and the tests)."""
    from tqdm import tqdm

    from ch13_finreport_qa.db import Writer

    db = Path(cfg.db) if cfg.db else default_db()
    files = find_reports(cfg.reports or DEFAULT_REPORTS)
    if not files:
        raise UserError(f"no report files (.pdf/.txt/.txt.gz) in {cfg.reports or DEFAULT_REPORTS}")
    writer = Writer(db)
    try:
        skip = writer.done_paths()
        if not cfg.retry_failed:
            skip |= {r[0] for r in writer.con.execute("SELECT path FROM reports WHERE status = 'failed'")}
        todo = [str(p) for p in files if str(p) not in skip]
        if cfg.limit:
            todo = todo[: cfg.limit]
        llm_spec = None
        if cfg.use_llm:
            llm_spec = {k: v for k, v in asdict(cfg).items() if k in {f for f in asdict(Config())}}
        start = time.perf_counter()
        stats = {"done": 0, "failed": 0, "fields": 0, "skipped": len(files) - len(todo) if not cfg.limit
                 else len(skip & {str(p) for p in files})}
        runner = (_run_ray(todo, cfg.workers, cfg.ray_address, llm_spec) if cfg.engine == "ray"
                  else _run_local(todo, cfg.workers, llm_spec))
        with tqdm(total=len(todo), desc="reports", unit="report", file=sys.stderr, disable=not progress) as bar:
            for result in runner:
                if "error" in result:
                    writer.write_failure(result["path"], result["error"])
                    stats["failed"] += 1
                    bar.write(f"failed: {Path(result['path']).name}: {result['error']}")
                else:
                    stats["fields"] += writer.write_report(result["path"], result["record"], result["indicators"],
                                                           result["seconds"])
                    stats["done"] += 1
                bar.update(1)
        stats["seconds"] = time.perf_counter() - start
        stats["db"] = str(db)
        return stats
    finally:
        writer.close()


def main(cfg: Config) -> dict:
    from ch13_finreport_qa.db import summary

    if cfg.workers < 1:
        raise UserError("--workers must be at least 1")
    stats = build(cfg)
    total = summary(stats["db"])
    print(f"this run: {stats['done']} reports stored, {stats['failed']} failed, {stats['skipped']} already in the DB "
          f"({stats['seconds']:.1f} s)")
    print(f"database {stats['db']}: {total['companies']} companies, {total['reports_done']} reports, "
          f"{total['fields']} field values, {total['indicators']} indicators, {total['reports_failed']} failed reports")
    return {**stats, "summary": total}


if __name__ == "__main__":
    run(main, Config, __doc__)
