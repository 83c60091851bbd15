"""13.2.2 NL→SQL 的安全闸 — check model-written SQL before it touches the database.

Two walls, each enough on its own for the cases below:

1. :func:`check_sql` parses the text with ``sqlglot`` (SQLite dialect) and accepts exactly **one read-only SELECT**
   (UNION of SELECTs and CTEs allowed) over the known tables only — no second statement, no PRAGMA/ATTACH/DDL/DML,
   no schema-qualified or ``sqlite_*`` tables, no dangerous functions (``load_extension``, ``readfile``, …);
2. the statement then runs on :func:`ch13_finreport_qa.db.connect_readonly` (``mode=ro`` + an authorizer that denies
   everything but reads + a VM-step budget) with a row limit.

Every refusal is logged with its reason (``logging`` name ``ch13.sql``).
"""
from __future__ import annotations

import logging
import re

ALLOWED_TABLES = {"companies", "fields", "indicators"}
DENIED_FUNCTIONS = {"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer", "zeroblob", "randomblob",
                    "sqlite_compileoption_get", "sqlite_compileoption_used", "sqlite_offset", "sqlite_source_id"}
MAX_SQL_CHARS = 2000
log = logging.getLogger("ch13.sql")


class SQLRefused(ValueError):
    """The SQL is not one safe SELECT over the known tables (the message says why)."""


def extract_sql(text: str) -> str:
    """The SQL in a model reply: a ```sql fenced block, else from the first SELECT/WITH to the end."""
    text = text or ""
    fence = re.search(r"```(?:sql|sqlite)?\s*\n?(.*?)```", text, re.S | re.I)
    if fence:
        return fence.group(1).strip()
    m = re.search(r"\b(SELECT|WITH)\b.*", text, re.S | re.I)
    return m.group(0).strip() if m else text.strip()


def check_sql(sql: str) -> str:
    """The SQL if it is one safe SELECT over :data:`ALLOWED_TABLES`; :class:`SQLRefused` otherwise."""
    import sqlglot
    from sqlglot import exp

    logging.getLogger("sqlglot").setLevel(logging.ERROR)  # 「unsupported syntax」之类的解析提示不是给读者看的
    sql = (sql or "").strip().rstrip(";").strip()
    try:
        if not sql:
            raise SQLRefused("empty SQL")
        if len(sql) > MAX_SQL_CHARS:
            raise SQLRefused(f"SQL longer than {MAX_SQL_CHARS} characters")
        try:
            statements = [s for s in sqlglot.parse(sql, read="sqlite") if s is not None]
        except sqlglot.errors.SqlglotError as err:  # ParseError, TokenError, …
            raise SQLRefused(f"not valid SQL: {str(err).splitlines()[0][:200]}") from None
        if len(statements) != 1:
            raise SQLRefused(f"{len(statements)} statements; exactly one SELECT is allowed")
        stmt = statements[0]
        if not isinstance(stmt, (exp.Select, exp.Union, exp.Intersect, exp.Except)):
            raise SQLRefused(f"{stmt.key.upper()} is not allowed; only SELECT")
        for node in stmt.walk():
            if isinstance(node, (exp.Insert, exp.Update, exp.Delete, exp.Create, exp.Drop, exp.Alter, exp.Command,
                                 exp.Pragma, exp.Attach, exp.Detach, exp.Into)):
                raise SQLRefused(f"{node.key.upper()} inside the query is not allowed")
        ctes = {c.alias_or_name.lower() for c in stmt.find_all(exp.CTE)}
        for table in stmt.find_all(exp.Table):
            name = table.name.lower()
            if table.args.get("db") or table.args.get("catalog"):
                raise SQLRefused(f"schema-qualified table {table.sql()} is not allowed")
            if name not in ALLOWED_TABLES and name not in ctes:
                raise SQLRefused(f"unknown table {table.name!r}; allowed: {', '.join(sorted(ALLOWED_TABLES))}")
        for func in stmt.find_all(exp.Func):
            names = {str(func.name or "").lower(), func.sql(dialect="sqlite").split("(")[0].strip().lower()}
            bad = [n for n in names if n in DENIED_FUNCTIONS or n.startswith("sqlite_")]
            if bad:
                raise SQLRefused(f"function {bad[0]}() is not allowed")
        return sql
    except SQLRefused as err:
        log.warning("refused SQL (%s): %s", err, sql[:300].replace("\n", " "))
        raise


def run_checked(con, sql: str, max_rows: int = 50) -> tuple[list[str], list[tuple]]:
    """Check, then run on a read-only connection: (column names, rows). Database refusals (the authorizer, the step
    budget) become :class:`SQLRefused` too."""
    import sqlite3

    sql = check_sql(sql)
    try:
        con._steps = 0   # a fresh VM-step budget for this statement (db.ReadOnlyConnection)
        cur = con.execute(sql)
        rows = cur.fetchmany(max_rows)
        cols = [d[0] for d in cur.description or []]
    except sqlite3.DatabaseError as err:
        log.warning("database refused SQL (%s): %s", err, sql[:300].replace("\n", " "))
        raise SQLRefused(f"the database refused it: {err}") from None
    return cols, [tuple(r) for r in rows]
