"""The challenge's "alltxt" format and the official report file names (12.1.2).

An alltxt file holds one JSON object per line: ``{"page": int, "allrow": int, "type": "text" | "excel" | "页眉" |
"页脚", "inside": str}``; an ``excel`` row's ``inside`` is the text of a Python list of the row's cells, e.g.
``"['电子信箱', 'stock@example.com', '', '']"``. It is parsed here with :func:`ast.literal_eval` on a checked string
(a list of strings, nothing else) — never ``eval``. Files may be stored gzip-compressed (``.txt.gz``); every reader
here opens both forms.
"""
from __future__ import annotations

import ast
import gzip
import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

ROW_TYPES = ("text", "excel", "页眉", "页脚")
ALLTXT_SUFFIXES = (".txt", ".txt.gz", ".jsonl", ".jsonl.gz")
# 官方文件名：发布日期__公司全称__证券代码__证券简称__年份年__年度报告
_NAME_RE = re.compile(r"^(?P<date>\d{4}-\d{2}-\d{2})__(?P<company>[^_]+)__(?P<code>[0-9A-Z]{6})__(?P<short>[^_]+)"
                      r"__(?P<year>\d{4})年__(?P<kind>[^_.]+)")


class AlltxtError(ValueError):
    """A line of an alltxt file is not in the challenge's format."""


@dataclass(frozen=True)
class ReportName:
    """The facts in an official report file name."""

    date: str
    company: str
    code: str
    short_name: str
    year: int
    kind: str          # 年度报告

    @property
    def stem(self) -> str:
        return f"{self.date}__{self.company}__{self.code}__{self.short_name}__{self.year}年__{self.kind}"


def parse_report_name(path: str | os.PathLike) -> ReportName | None:
    """``ReportName`` for an official file name (any extension), ``None`` when the name does not follow it."""
    m = _NAME_RE.match(Path(path).name)
    if not m:
        return None
    return ReportName(m["date"], m["company"], m["code"], m["short"], int(m["year"]), m["kind"])


def report_stem(path: str | os.PathLike) -> str:
    """File name without ``.pdf`` / ``.txt`` / ``.txt.gz`` (the key that pairs a PDF with its alltxt)."""
    name = Path(path).name
    for suffix in (".txt.gz", ".jsonl.gz", ".pdf", ".PDF", ".txt", ".jsonl", ".json"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def is_alltxt(path: str | os.PathLike) -> bool:
    return str(path).endswith(ALLTXT_SUFFIXES)


def open_text(path: str | os.PathLike) -> io.TextIOBase:
    """Open a text file for reading, transparently gunzipping ``*.gz``."""
    if str(path).endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


_LIST_RE = re.compile(r"^\[.*\]$", re.S)


def parse_excel_row(inside: str) -> list[str]:
    """The cells of an ``excel`` row: ``"['a', 'b', '']"`` -> ``['a', 'b', '']``.

    A literal parser on a string that must be a list of strings (``None`` cells become ``''``): no code runs."""
    text = inside.strip()
    if not _LIST_RE.match(text):
        raise AlltxtError(f"excel row is not a list: {inside[:60]!r}")
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
        raise AlltxtError(f"excel row is not a literal list of strings: {inside[:60]!r} ({exc})") from None
    if not isinstance(value, list) or not all(isinstance(c, (str, type(None))) for c in value):
        raise AlltxtError(f"excel row must be a list of strings: {inside[:60]!r}")
    return ["" if c is None else c for c in value]


def format_excel_row(cells: Iterable[str | None]) -> str:
    """The inverse of :func:`parse_excel_row`, written as the challenge's files write it (``repr`` of a list)."""
    return repr(["" if c is None else str(c) for c in cells])


def check_row(row: dict, line_no: int = 0) -> dict:
    """Validate one alltxt row (keys, types); an ``excel`` row must hold a parseable list."""
    if not isinstance(row, dict):
        raise AlltxtError(f"line {line_no}: not a JSON object")
    for key, kind in (("page", int), ("allrow", int), ("type", str), ("inside", str)):
        if not isinstance(row.get(key), kind):
            raise AlltxtError(f"line {line_no}: key {key!r} missing or not {kind.__name__}")
    if row["type"] not in ROW_TYPES:
        raise AlltxtError(f"line {line_no}: type {row['type']!r} not one of {ROW_TYPES}")
    if row["type"] == "excel":
        parse_excel_row(row["inside"])
    return row


def iter_alltxt(path: str | os.PathLike, strict: bool = False) -> Iterator[dict]:
    """Rows of an alltxt file (``.txt`` or ``.txt.gz``); bad lines raise (``strict``) or are skipped."""
    with open_text(path) as fh:
        for n, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
                if strict:
                    check_row(row, n)
                elif not isinstance(row, dict) or "inside" not in row or "page" not in row:
                    continue
            except json.JSONDecodeError as exc:
                if strict:
                    raise AlltxtError(f"{Path(path).name} line {n}: not JSON ({exc})") from None
                continue
            yield row


def read_alltxt(path: str | os.PathLike, strict: bool = False) -> list[dict]:
    """All rows of an alltxt file, in file order."""
    return list(iter_alltxt(path, strict=strict))


def write_alltxt(rows: Iterable[dict], path: str | os.PathLike) -> Path:
    """Write rows as the challenge does (``json.dumps(..., ensure_ascii=False)``, one per line; gzip for ``.gz``).

    Written to a temporary name and renamed, so a killed job never leaves a half file under the final name."""
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    opener = (lambda p: gzip.open(p, "wt", encoding="utf-8")) if path.name.endswith(".gz") else \
        (lambda p: open(p, "w", encoding="utf-8"))
    with opener(tmp) as fh:
        for row in rows:
            fh.write(json.dumps({k: row[k] for k in ("page", "allrow", "type", "inside")}, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
    return path


def cells_of(row: dict) -> list[str]:
    """Cells of an excel row (``[]`` when it cannot be parsed); a text row is one cell."""
    if row.get("type") == "excel":
        try:
            return parse_excel_row(row["inside"])
        except AlltxtError:
            return []
    return [row.get("inside", "")]


def read_records(path: str | os.PathLike, key: str = "file") -> dict[str, dict]:
    """A batch job's JSON-lines record file (failures.jsonl, manifest.jsonl) as ``{record[key]: record}``; a
    damaged line (a job killed while writing) is skipped, later lines win."""
    out: dict[str, dict] = {}
    path = Path(path)
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
                out[rec[key]] = rec
            except (json.JSONDecodeError, KeyError, TypeError):
                continue
    return out
