"""12.1.2 超大规模年报数据库的建立 (c) — an SQLite index of annual reports from their official file names.

    python ch12_finreport_extract/build_report_db.py                               # bundled reports + the 11,588-name index
    python ch12_finreport_extract/build_report_db.py --folders reports/ alltxt/ --db reports.db
    python ch12_finreport_extract/build_report_db.py --query "SELECT year, COUNT(*) FROM reports GROUP BY year"

Every file named ``date__全称__code__简称__年__年度报告.(pdf|txt|txt.gz)`` under ``--folders`` becomes one row
(``stem`` is the key that pairs a PDF with its alltxt), with its paths and sizes; ``--index`` adds the names of
reports not downloaded yet (paths empty). Files whose name does not follow the rule go to the ``skipped`` table.
Rows are upserted in batches, so a killed run simply runs again. Chapter 13 opens this database to find a
company's report for a year.
"""
from __future__ import annotations

import csv
import os
import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import UserError, arg, run
from common.paths import DATA_DIR, output_dir

from ch12_finreport_extract.alltxt import is_alltxt, parse_report_name, report_stem

SCHEMA = """
CREATE TABLE IF NOT EXISTS reports (
    stem TEXT PRIMARY KEY,          -- 2020-01-23__浙江海翔药业股份有限公司__002099__海翔药业__2019年__年度报告
    report_date TEXT NOT NULL,      -- publication date
    company TEXT NOT NULL,          -- 公司全称
    stock_code TEXT NOT NULL,
    short_name TEXT NOT NULL,       -- 证券简称
    year INTEGER NOT NULL,          -- report year
    kind TEXT NOT NULL,             -- 年度报告
    pdf_path TEXT,
    pdf_bytes INTEGER,
    alltxt_path TEXT,
    alltxt_bytes INTEGER,
    updated TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS reports_code_year ON reports(stock_code, year);
CREATE INDEX IF NOT EXISTS reports_short_year ON reports(short_name, year);
CREATE INDEX IF NOT EXISTS reports_company ON reports(company);
CREATE TABLE IF NOT EXISTS skipped (path TEXT PRIMARY KEY, reason TEXT NOT NULL);
"""

UPSERT = """
INSERT INTO reports (stem, report_date, company, stock_code, short_name, year, kind, pdf_path, pdf_bytes, alltxt_path,
                     alltxt_bytes, updated)
VALUES (:stem, :report_date, :company, :stock_code, :short_name, :year, :kind, :pdf_path, :pdf_bytes, :alltxt_path,
        :alltxt_bytes, :updated)
ON CONFLICT(stem) DO UPDATE SET
    pdf_path = COALESCE(excluded.pdf_path, reports.pdf_path),
    pdf_bytes = COALESCE(excluded.pdf_bytes, reports.pdf_bytes),
    alltxt_path = COALESCE(excluded.alltxt_path, reports.alltxt_path),
    alltxt_bytes = COALESCE(excluded.alltxt_bytes, reports.alltxt_bytes),
    updated = excluded.updated
"""


def connect(db: str | os.PathLike) -> sqlite3.Connection:
    con = sqlite3.connect(str(db))
    con.executescript(SCHEMA)
    return con


def _record(stem: str, path: Path | None = None) -> dict | None:
    meta = parse_report_name(stem)
    if meta is None:
        return None
    rec = {"stem": report_stem(stem), "report_date": meta.date, "company": meta.company, "stock_code": meta.code,
           "short_name": meta.short_name, "year": meta.year, "kind": meta.kind, "pdf_path": None, "pdf_bytes": None,
           "alltxt_path": None, "alltxt_bytes": None, "updated": time.strftime("%Y-%m-%dT%H:%M:%S")}
    if path is not None:
        key = "pdf" if path.suffix.lower() == ".pdf" else "alltxt"
        rec[f"{key}_path"] = str(path)
        rec[f"{key}_bytes"] = path.stat().st_size
    return rec


def index_folders(con: sqlite3.Connection, folders: list[Path], batch: int = 500) -> dict:
    """Upsert every report file under ``folders``; returns counts."""
    added = skipped = 0
    pending: list[dict] = []
    for folder in folders:
        if not folder.exists():
            raise UserError(f"--folders {folder} does not exist")
        files = [folder] if folder.is_file() else sorted(folder.rglob("*"))
        for path in files:
            if not path.is_file() or not (path.suffix.lower() == ".pdf" or is_alltxt(path)):
                continue
            rec = _record(path.name, path.resolve())
            if rec is None:
                con.execute("INSERT OR REPLACE INTO skipped VALUES (?, ?)",
                            (str(path), "name does not follow date__全称__code__简称__年__年度报告"))
                skipped += 1
                continue
            pending.append(rec)
            if len(pending) >= batch:
                con.executemany(UPSERT, pending)
                con.commit()
                added += len(pending)
                pending = []
    if pending:
        con.executemany(UPSERT, pending)
        added += len(pending)
    con.commit()
    return {"files": added, "skipped": skipped}


def index_names(con: sqlite3.Connection, index_csv: Path) -> int:
    """Rows for every name of an index CSV (a ``file_stem`` column, or one name per line)."""
    recs = []
    with open(index_csv, encoding="utf-8") as fh:
        first = fh.readline()
        fh.seek(0)
        if "file_stem" in first:
            names = [row["file_stem"] for row in csv.DictReader(fh)]
        else:
            names = [line.strip() for line in fh if line.strip()]
    for name in names:
        rec = _record(name)
        if rec:
            recs.append(rec)
    con.executemany(UPSERT, recs)
    con.commit()
    return len(recs)


def find_report(con: sqlite3.Connection, company: str, year: int) -> list[dict]:
    """Reports of ``company`` (short name, full name or code) for ``year``."""
    con.row_factory = sqlite3.Row
    rows = con.execute("SELECT * FROM reports WHERE year = ? AND (short_name = ? OR company = ? OR stock_code = ?)",
                       (year, company, company, company)).fetchall()
    return [dict(r) for r in rows]


@dataclass
class Config:
    folders: list[str] = arg([str((DATA_DIR / "finreports" / "reports").relative_to(DATA_DIR.parent))],
                             "folders (or files) with PDFs and alltxt files")
    index: str | None = arg(str((DATA_DIR / "finreports" / "report_index.csv").relative_to(DATA_DIR.parent)),
                            "CSV of report names (column file_stem) to list reports not downloaded yet; '' = none")
    db: str | None = arg(None, "SQLite file (default: outputs/ch12/reports.db)")
    query: str | None = arg(None, "run this read-only SQL query after indexing and print the rows")


def main(cfg: Config) -> dict:
    root = DATA_DIR.parent
    db = Path(cfg.db) if cfg.db else output_dir("ch12") / "reports.db"
    con = connect(db)
    folders = [Path(f) if Path(f).is_absolute() or Path(f).exists() else root / f for f in cfg.folders]
    counts = index_folders(con, folders)
    names = 0
    if cfg.index:
        index = Path(cfg.index) if Path(cfg.index).is_absolute() or Path(cfg.index).exists() else root / cfg.index
        if index.is_file():
            names = index_names(con, index)
        else:
            print(f"[note] no index file {index}; only the files on disk are listed")
    total, with_pdf, with_txt = con.execute(
        "SELECT COUNT(*), COUNT(pdf_path), COUNT(alltxt_path) FROM reports").fetchone()
    years = dict(con.execute("SELECT year, COUNT(*) FROM reports GROUP BY year ORDER BY year").fetchall())
    print(f"{db}: {total} reports ({with_pdf} with PDF, {with_txt} with alltxt), by year {years}; "
          f"{counts['files']} files indexed now, {names} names from the index, {counts['skipped']} skipped")
    result = {"db": str(db), "reports": total, "with_pdf": with_pdf, "with_alltxt": with_txt, "years": years,
              **counts, "index_names": names}
    if cfg.query:
        ro = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            cur = ro.execute(cfg.query)
        except sqlite3.Error as exc:
            raise UserError(f"--query failed: {exc}") from None
        rows = cur.fetchall()
        print(" | ".join(d[0] for d in cur.description))
        for r in rows[:50]:
            print(" | ".join(str(v) for v in r))
        result["rows"] = rows
    con.close()
    return result


if __name__ == "__main__":
    run(main, Config, __doc__)
