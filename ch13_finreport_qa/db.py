"""13.1.3 大规模上市公司财务报表目标字段数据库 — the SQLite schema, the one writer, and a read-only connection.

Tables (one row per company-year-field, so a new field never needs a schema change)::

    companies(code PK, short_name, full_name)
    reports(path PK, code, year, status 'done'|'failed', error, n_fields, seconds, finished_at)
    fields(code, year, field, value_num, value_text, unit, page, method, PK(code, year, field))
    indicators(code, year, name, value, unit, formula, inputs, PK(code, year, name))

Values of the previous-year column of a report are stored under ``year - 1`` with ``method = 'previous_year'``
unless that year's own report supplied them. One process writes (``Writer``: one transaction per report, so a
killed run loses nothing that was committed); any number of readers open it with :func:`connect_readonly`:
``mode=ro`` plus an authorizer that allows reads only — the connection chapter 13's NL→SQL answers run on.
"""
from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS companies (code TEXT PRIMARY KEY, short_name TEXT, full_name TEXT);
CREATE TABLE IF NOT EXISTS reports (path TEXT PRIMARY KEY, code TEXT, year INTEGER, status TEXT, error TEXT,
                                    n_fields INTEGER, seconds REAL, finished_at TEXT);
CREATE TABLE IF NOT EXISTS fields (code TEXT, year INTEGER, field TEXT, value_num REAL, value_text TEXT, unit TEXT,
                                   page INTEGER, method TEXT, PRIMARY KEY (code, year, field));
CREATE TABLE IF NOT EXISTS indicators (code TEXT, year INTEGER, name TEXT, value REAL, unit TEXT, formula TEXT,
                                       inputs TEXT, PRIMARY KEY (code, year, name));
CREATE INDEX IF NOT EXISTS fields_by_field ON fields (field, year);
"""
# 给 NL→SQL 提示词看的表结构说明（与 SCHEMA 同步）
SCHEMA_FOR_PROMPT = """companies(code 证券代码, short_name 证券简称, full_name 企业名称)
fields(code, year 年份, field 字段名, value_num 数值（金额为元，人数为人）, value_text 文本值, unit 单位, page 页码, method 抽取方法)
indicators(code, year, name 指标名, value 指标值, unit 单位（%或空）, formula 公式, inputs 输入(JSON))"""
TABLES = ("companies", "reports", "fields", "indicators")


def connect(path: str | Path) -> sqlite3.Connection:
    """The writer's connection (creates the schema)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(str(path), timeout=30)
    con.execute("PRAGMA journal_mode=WAL")   # readers never block the one writer
    con.executescript(SCHEMA)
    return con


_ALLOWED = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION}


def _authorizer(action, arg1, arg2, dbname, source):
    if action in _ALLOWED:
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


class ReadOnlyConnection(sqlite3.Connection):
    """A connection whose statements run under a VM-step budget (reset per statement by :meth:`budgeted`)."""

    max_steps = 2_000_000
    _steps = 0

    def budgeted(self, sql: str, params=(), max_rows: int = 200) -> list:
        """Run one statement with a fresh step budget; at most ``max_rows`` rows."""
        self._steps = 0
        return self.execute(sql, params).fetchmany(max_rows)


def connect_readonly(path: str | Path, max_steps: int = 2_000_000) -> ReadOnlyConnection:
    """A connection that can only read: the file is opened ``mode=ro`` and an authorizer denies every action but
    SELECT/READ/FUNCTION (no PRAGMA, ATTACH, writes, temp tables); a statement stops after ``max_steps`` VM steps."""
    path = Path(path)
    if not path.is_file():
        from common.cli import UserError
        raise UserError(f"no database at {path}. To fix: python ch13_finreport_qa/build_db.py --db {path}")
    con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30, check_same_thread=False,
                          factory=ReadOnlyConnection)
    con.row_factory = sqlite3.Row
    con.max_steps = max_steps

    def progress():
        con._steps += 1000
        return 1 if con._steps > con.max_steps else 0   # non-zero aborts the statement ("interrupted")

    con.set_progress_handler(progress, 1000)
    con.set_authorizer(_authorizer)
    return con


class Writer:
    """The single writer: one transaction per report."""

    def __init__(self, path: str | Path):
        self.con = connect(path)

    def done_paths(self) -> set[str]:
        return {r[0] for r in self.con.execute("SELECT path FROM reports WHERE status = 'done'")}

    def write_report(self, path: str, record: dict, indicators: dict, seconds: float) -> int:
        """Store one extracted report (the chapter-12 record) and its indicators; returns the number of fields."""
        code, year = record["stock_code"], int(record["year"])
        fields, prev = record.get("fields", {}), record.get("previous_year", {})
        sources, methods = record.get("sources", {}), record.get("methods", {})
        with self.con:  # 一个报告一个事务：中途被杀也不会留下半份报告
            self.con.execute("INSERT OR REPLACE INTO companies VALUES (?, ?, ?)",
                             (code, record.get("short_name"), record.get("company")))
            self.con.execute("DELETE FROM fields WHERE code = ? AND year = ? AND method != 'previous_year'",
                             (code, year))
            for name, value in fields.items():
                num, text = (float(value), None) if isinstance(value, (int, float)) else (None, str(value))
                self.con.execute("INSERT OR REPLACE INTO fields VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                 (code, year, name, num, text, _unit(name, value), sources.get(name),
                                  methods.get(name, "table")))
            for name, value in prev.items():  # 上年数：只在上年报告没有提供时写入
                if isinstance(value, (int, float)):
                    self.con.execute("INSERT OR IGNORE INTO fields VALUES (?, ?, ?, ?, NULL, ?, ?, 'previous_year')",
                                     (code, year - 1, name, float(value), _unit(name, value), sources.get(name)))
            self.con.execute("DELETE FROM indicators WHERE code = ? AND year = ?", (code, year))
            for ind in indicators.values():
                self.con.execute("INSERT INTO indicators VALUES (?, ?, ?, ?, ?, ?, ?)",
                                 (code, year, ind.name, ind.value, "%" if ind.percent else "", ind.formula,
                                  json.dumps(ind.inputs, ensure_ascii=False)))
            self.con.execute("INSERT OR REPLACE INTO reports VALUES (?, ?, ?, 'done', NULL, ?, ?, ?)",
                             (path, code, year, len(fields), seconds, time.strftime("%Y-%m-%d %H:%M:%S")))
        return len(fields)

    def write_failure(self, path: str, error: str, code: str | None = None, year: int | None = None) -> None:
        with self.con:
            self.con.execute("INSERT OR REPLACE INTO reports VALUES (?, ?, ?, 'failed', ?, 0, 0, ?)",
                             (path, code, year, error[:500], time.strftime("%Y-%m-%d %H:%M:%S")))

    def close(self) -> None:
        self.con.close()


def _unit(name: str, value) -> str:
    from ch12_finreport_extract.fields import FIELDS_BY_NAME

    if not isinstance(value, (int, float)):
        return ""
    f = FIELDS_BY_NAME.get(name)
    if f is not None and f.kind == "count":
        return "人"
    if name in ("基本每股收益", "稀释每股收益"):
        return "元/股"
    return "元"


def summary(path: str | Path) -> dict:
    con = connect_readonly(path)
    try:
        count = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731
        return {"companies": count("SELECT COUNT(*) FROM companies"),
                "reports_done": count("SELECT COUNT(*) FROM reports WHERE status = 'done'"),
                "reports_failed": count("SELECT COUNT(*) FROM reports WHERE status = 'failed'"),
                "fields": count("SELECT COUNT(*) FROM fields"), "indicators": count("SELECT COUNT(*) FROM indicators")}
    finally:
        con.close()
