"""6.2.1 / 6.2.2 Reading documents: txt, md, html, docx, pdf and the annual reports' "alltxt" form.

Every loader returns LangChain ``Document`` objects (``page_content`` + ``metadata`` with ``source`` = file name and
``page`` = 1-based page for PDFs and reports, else 1), so LangChain splitters, retrievers and chains take them as is.

* text files: the encoding is detected (UTF-8 with or without BOM, else ``charset_normalizer``; GBK/GB2312 are read
  as GB18030, their superset);
* ``.pdf``: ``pdfplumber``, one Document per page;
* alltxt (``.txt`` / ``.txt.gz`` whose lines are ``{"page", "allrow", "type", "inside"}``): one Document per page;
  ``text`` rows as they are, ``excel`` rows (a Python-list *string*, parsed by ``ast.literal_eval`` on that string
  only — never ``eval``) joined with `` | ``; page headers/footers (``页眉``/``页脚``) dropped;
* a report file name ``<date>__<full name>__<code>__<short name>__<year>年__年度报告`` adds ``company``,
  ``full_name``, ``code`` and ``year`` to the metadata;
* :func:`load_folder` skips and *reports* empty, corrupt or unsupported files instead of stopping.

API (ch12/ch13 and the appendix import it)::

    from ch06_rag.loaders import load_file, load_folder, read_alltxt, parse_excel_row, report_meta
    docs = load_file("report.pdf")                       # [Document(page_content=..., metadata={source, page, ...})]
    result = load_folder("data/finreports/reports")     # result.documents, result.skipped [(path, reason)]
"""
from __future__ import annotations

import ast
import gzip
import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Iterator

TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".text")
HTML_SUFFIXES = (".html", ".htm")
SUPPORTED = TEXT_SUFFIXES + HTML_SUFFIXES + (".docx", ".pdf", ".txt.gz", ".jsonl")
MAX_EXCEL_ROW_CHARS = 20_000      # a longer "row" is not a table row; keep it as text instead of parsing it
_REPORT_NAME = re.compile(r"(?P<date>\d{4}-\d{2}-\d{2})__(?P<full_name>[^_]+)__(?P<code>\d{6})__"
                          r"(?P<short_name>[^_]+)__(?P<year>\d{4})年__(?P<kind>[^._]+)")


class LoaderError(ValueError):
    """A file that cannot be read (empty, corrupt, unknown encoding, unsupported type); the message says why."""


def _document(text: str, metadata: dict):
    from langchain_core.documents import Document

    return Document(page_content=text, metadata=metadata)


# ------------------------------------------------------------------------------------------------ names
def report_meta(name: str | Path) -> dict:
    """Company facts from a challenge report file name (empty dict for other names)."""
    m = _REPORT_NAME.search(Path(name).name)
    if not m:
        return {}
    return {"company": m["short_name"], "full_name": m["full_name"], "code": m["code"], "year": int(m["year"]),
            "report_date": m["date"]}


def suffix_of(path: Path) -> str:
    name = path.name.lower()
    return ".txt.gz" if name.endswith(".txt.gz") else path.suffix.lower()


def stem_of(path: Path) -> str:
    """File name without ``.pdf`` / ``.txt`` / ``.txt.gz`` (the same report in two forms has one stem)."""
    name = path.name
    return name[: -len(".txt.gz")] if name.lower().endswith(".txt.gz") else path.stem


# ------------------------------------------------------------------------------------------------ text
def detect_encoding(data: bytes) -> str:
    """``utf-8-sig`` / ``utf-8`` when the bytes decode, else charset_normalizer's best guess (GBK family ->
    ``gb18030``). Raises :class:`LoaderError` for bytes that are not text."""
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    if b"\x00" in data[:4096]:
        raise LoaderError("binary file (NUL bytes), not text")
    from charset_normalizer import from_bytes

    best = from_bytes(data[:200_000]).best()
    if best is None:
        raise LoaderError("unknown encoding, not text")
    enc = best.encoding.lower().replace("-", "_")
    if enc in ("gbk", "gb2312", "gb18030", "cp936", "hz"):
        return "gb18030"
    return best.encoding


def read_text(path: str | Path) -> str:
    """The text of a text file in whatever encoding it was saved."""
    data = Path(path).read_bytes()
    if not data.strip():
        raise LoaderError("empty file")
    enc = detect_encoding(data)
    return data.decode(enc, errors="replace")


class _HTMLText(HTMLParser):
    """Visible text of an HTML page: scripts/styles dropped, block elements become line breaks."""

    BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "table",
              "title", "pre", "blockquote"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "noscript", "template"):
            self._skip += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append(" | ")

    def handle_endtag(self, tag):
        if tag in ("script", "style", "noscript", "template") and self._skip:
            self._skip -= 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _HTMLText()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()).strip(" |") for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


def read_docx(path: str | Path) -> str:
    """Paragraphs and table rows (cells joined with `` | ``) of a .docx file, in document order."""
    import docx
    from docx.document import Document as _Doc  # noqa: F401  (type only)
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        d = docx.Document(str(path))
    except Exception as exc:  # python-docx raises several types for a broken zip/xml
        raise LoaderError(f"not a readable .docx ({exc.__class__.__name__})") from None
    lines = []
    for child in d.element.body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            lines.append(Paragraph(child, d).text)
        elif tag == "tbl":
            for row in Table(child, d).rows:
                lines.append(" | ".join(c.text.strip() for c in row.cells))
    return "\n".join(line for line in lines if line.strip())


# ------------------------------------------------------------------------------------------------ pdf
def read_pdf(path: str | Path, pages: list[int] | None = None) -> list[tuple[int, str]]:
    """``[(page_number, text), ...]`` by pdfplumber (1-based pages; ``pages`` limits which)."""
    import pdfplumber

    out = []
    try:
        with pdfplumber.open(str(path)) as pdf:
            wanted = set(pages) if pages else None
            for i, page in enumerate(pdf.pages, 1):
                if wanted is not None and i not in wanted:
                    continue
                out.append((i, page.extract_text() or ""))
    except LoaderError:
        raise
    except Exception as exc:  # pdfminer raises PDFSyntaxError, PSEOF, ValueError... for broken files
        raise LoaderError(f"not a readable PDF ({exc.__class__.__name__}: {str(exc)[:80]})") from None
    return out


# ------------------------------------------------------------------------------------------------ alltxt
def parse_excel_row(inside: str) -> list[str]:
    """Cells of an alltxt ``excel`` row (``"['电子信箱', 'stock@x.com', '', None]"`` -> ``['电子信箱', 'stock@x.com',
    '', '']``). Only a *string* goes to ``ast.literal_eval`` (literals only, nothing runs); anything that is not a
    list of literals comes back as one cell with the raw text."""
    text = (inside or "").strip()
    if not (text.startswith("[") and text.endswith("]")) or len(text) > MAX_EXCEL_ROW_CHARS:
        return [text] if text else []
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return [text]
    if not isinstance(value, (list, tuple)):
        return [text]
    return ["" if c is None else " ".join(str(c).split()) for c in value]


def _open_text(path: Path):
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def is_alltxt(path: str | Path) -> bool:
    """True if the first non-empty line is a JSON object with the alltxt keys."""
    path = Path(path)
    try:
        with _open_text(path) as f:
            for line in f:
                if line.strip():
                    row = json.loads(line)
                    return isinstance(row, dict) and {"page", "type", "inside"} <= set(row)
    except (OSError, ValueError, EOFError, UnicodeDecodeError):
        return False
    return False


def read_alltxt(path: str | Path) -> list[dict]:
    """The rows of an alltxt file (``.txt`` or ``.txt.gz``); malformed lines are skipped."""
    rows = []
    try:
        with _open_text(Path(path)) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(row, dict) and "inside" in row:
                    rows.append(row)
    except (OSError, EOFError) as exc:
        raise LoaderError(f"cannot read ({exc.__class__.__name__}: {exc})") from None
    return rows


def alltxt_pages(rows: list[dict]) -> list[tuple[int, str]]:
    """``[(page, text)]``: text rows and table rows (cells joined with `` | ``) of each page, headers/footers
    dropped."""
    pages: dict[int, list[str]] = {}
    for row in rows:
        kind = row.get("type")
        if kind in ("页眉", "页脚"):
            continue
        try:
            page = int(row.get("page") or 0)
        except (TypeError, ValueError):
            continue
        if kind == "excel":
            cells = [c for c in parse_excel_row(str(row.get("inside", ""))) if c]
            line = " | ".join(cells)
        else:
            line = str(row.get("inside", "")).strip()
        if line:
            pages.setdefault(page, []).append(line)
    return [(p, "\n".join(lines)) for p, lines in sorted(pages.items())]


# ------------------------------------------------------------------------------------------------ one file
def load_file(path: str | Path, pdf_pages: list[int] | None = None) -> list:
    """Documents of one file (see the module docstring). Raises :class:`LoaderError` when it cannot be read."""
    path = Path(path)
    if not path.is_file():
        raise LoaderError("not a file")
    if path.stat().st_size == 0:
        raise LoaderError("empty file")
    suffix = suffix_of(path)
    meta = {"source": path.name, **report_meta(path.name)}
    if suffix == ".pdf":
        pages = read_pdf(path, pdf_pages)
        docs = [_document(t, {**meta, "page": p}) for p, t in pages if t.strip()]
        if not docs:
            raise LoaderError("PDF has no extractable text (scanned images?)")
        return docs
    if suffix in (".txt.gz", ".jsonl") or (suffix == ".txt" and is_alltxt(path)):
        pages = alltxt_pages(read_alltxt(path))
        if not pages:
            raise LoaderError("no text rows")
        return [_document(t, {**meta, "page": p, "format": "alltxt"}) for p, t in pages]
    if suffix in TEXT_SUFFIXES:
        text = read_text(path)
    elif suffix in HTML_SUFFIXES:
        text = html_to_text(read_text(path))
    elif suffix == ".docx":
        text = read_docx(path)
    else:
        raise LoaderError(f"unsupported file type {suffix or '(none)'}; supported: {', '.join(SUPPORTED)}")
    if not text.strip():
        raise LoaderError("no text")
    return [_document(text, {**meta, "page": 1})]


# ------------------------------------------------------------------------------------------------ a folder
@dataclass
class LoadResult:
    documents: list = field(default_factory=list)
    files: list[str] = field(default_factory=list)           # files that gave documents
    skipped: list[tuple[str, str]] = field(default_factory=list)   # (file, reason)


def iter_files(folder: Path, recursive: bool = True) -> Iterator[Path]:
    pattern = "**/*" if recursive else "*"
    for p in sorted(folder.glob(pattern)):
        if p.is_file() and not p.name.startswith("."):
            yield p


def load_folder(folder: str | Path, recursive: bool = True, prefer: str = "alltxt",
                pdf_pages: list[int] | None = None, verbose: bool = False) -> LoadResult:
    """Every supported file under ``folder``. When a report exists as PDF *and* alltxt (same stem), only the
    ``prefer`` form is read (``"alltxt"``: fast, same text; ``"pdf"``). Unreadable files land in ``skipped``."""
    folder = Path(folder)
    if not folder.is_dir():
        from common.cli import UserError
        raise UserError(f"--docs folder not found: {folder}. To fix: pass a folder with .txt/.md/.html/.docx/.pdf "
                        f"files, e.g. --docs data/finreports/reports")
    files = list(iter_files(folder, recursive))
    forms: dict[str, set[str]] = {}
    for p in files:
        forms.setdefault(stem_of(p), set()).add("pdf" if suffix_of(p) == ".pdf" else "txt")
    result = LoadResult()
    for p in files:
        kind = "pdf" if suffix_of(p) == ".pdf" else "txt"
        if len(forms[stem_of(p)]) > 1 and kind != ("pdf" if prefer == "pdf" else "txt"):
            result.skipped.append((p.name, f"same report also present as {'PDF' if kind == 'txt' else 'alltxt'}"))
            continue
        if suffix_of(p) not in SUPPORTED:
            result.skipped.append((p.name, f"unsupported type {suffix_of(p) or '(none)'}"))
            continue
        try:
            docs = load_file(p, pdf_pages)
        except LoaderError as exc:
            result.skipped.append((p.name, str(exc)))
            if verbose:
                print(f"  skipped {p.name}: {exc}")
            continue
        result.documents.extend(docs)
        result.files.append(p.name)
    return result
