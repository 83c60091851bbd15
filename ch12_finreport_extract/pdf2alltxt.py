"""12.1.2 超大规模年报数据库的建立 (b) — PDF -> the challenge's alltxt JSON lines, over a whole folder.

    python ch12_finreport_extract/pdf2alltxt.py                                  # the bundled PDF(s) -> outputs/ch12/alltxt/
    python ch12_finreport_extract/pdf2alltxt.py --src reports/ --dst alltxt/ --workers 8
    python ch12_finreport_extract/pdf2alltxt.py --src one.pdf --pages 77 90       # a page range (1-based, inclusive)
    python ch12_finreport_extract/pdf2alltxt.py --engine plumber                  # the straightforward pdfplumber way

Each output row is ``{"page", "allrow", "type", "inside"}`` with ``type`` ∈ text / excel / 页眉 / 页脚, table rows as
``excel`` rows (``inside`` = the Python-list text of the cells), in reading order (text lines and tables by their
vertical position). Headers and footers are told apart from body text over the whole document: the top line of a
page is a header when the same text (digits ignored) tops many pages; the bottom line is a footer when it is a page
number or repeats likewise.

Two engines give the same rows: ``fast`` (default) reads characters and ruling lines with PDFium (pypdfium2, C++)
and finds tables with pdfplumber's own table algorithm (edges -> intersections -> cells -> tables); ``plumber``
does everything with pdfplumber (pdfminer.six, pure Python) — ``bench_pdf.py`` compares them. Done files are skipped
(resume after a kill), a corrupt / encrypted / empty PDF is written to ``failures.jsonl`` and skipped, and
``--workers N`` converts N files at a time.
"""
from __future__ import annotations

import json
import os
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import UserError, arg, run
from common.paths import DATA_DIR, output_dir

from ch12_finreport_extract.alltxt import format_excel_row, read_records, report_stem, write_alltxt

ENGINES = ("fast", "plumber")
HEADER_ZONE, FOOTER_ZONE = 0.12, 0.12       # 页眉/页脚只在页面上下 12% 的范围内找
_PAGE_NO_RE = re.compile(r"^(?:第\s*)?[-－—]?\s*\d{1,4}\s*[-－—]?(?:\s*页)?(?:\s*[/共]\s*\d{1,4}\s*页?)?$")


class PdfError(Exception):
    """The PDF cannot be converted (corrupt, encrypted, no pages, no text layer)."""


# ============================================================================================ page sources
@dataclass
class PageData:
    """What the row builder needs from one page: characters and ruling-line edges in pdfplumber's coordinates
    (origin top-left), plus the page size."""

    number: int                 # 1-based
    width: float
    height: float
    chars: list[dict]
    tables: list                # [(bbox (x0, top, x1, bottom), rows: list[list[str|None]])]


def _char(text: str, x0: float, x1: float, top: float, bottom: float) -> dict:
    return {"text": text, "x0": x0, "x1": x1, "top": top, "bottom": bottom, "doctop": top, "upright": True,
            "width": x1 - x0, "height": bottom - top, "size": bottom - top, "direction": 1}


class _CharsPage:
    """The attribute pdfplumber's ``Table.extract`` reads from a page."""

    def __init__(self, chars: list[dict]):
        self.chars = chars


def _tables_from_edges(edges: list[dict], chars: list[dict]) -> list:
    """pdfplumber's ``lines`` table strategy on edges we collected ourselves: its edge merging, intersections and
    grouping of cells into tables, with two steps done faster here (same results): finding the cells between
    intersections (:func:`_cells`) and reading the text of each cell (:func:`_extract`)."""
    from pdfplumber import table as T
    from pdfplumber import utils
    edges = utils.filter_edges(edges, min_length=1)
    edges = T.merge_edges(edges, snap_x_tolerance=3, snap_y_tolerance=3, join_x_tolerance=3, join_y_tolerance=3)
    edges = utils.filter_edges(edges, min_length=3)
    if not edges:
        return []
    cells = _cells(T.edges_to_intersections(edges, 3, 3))
    out = []
    page = _CharsPage(chars)
    for cell_group in T.cells_to_tables(cells):
        table = T.Table(page, cell_group)
        out.append((table.bbox, _extract(table, chars)))
    return out


def _cells(intersections: dict) -> list[tuple]:
    """The smallest cell to the lower right of every intersection, as pdfplumber's ``intersections_to_cells``
    defines it, with the edge sets of each point computed once (its version re-hashes edge dicts per check)."""
    vsets = {p: {id(e) for e in d["v"]} for p, d in intersections.items()}
    hsets = {p: {id(e) for e in d["h"]} for p, d in intersections.items()}
    by_x: dict = {}
    by_y: dict = {}
    for p in sorted(intersections):
        by_x.setdefault(p[0], []).append(p)
        by_y.setdefault(p[1], []).append(p)
    cells = []
    for p in sorted(intersections):
        below = [q for q in by_x[p[0]] if q[1] > p[1]]
        right = [q for q in by_y[p[1]] if q[0] > p[0]]
        found = None
        for b in below:
            if not vsets[p] & vsets[b]:
                continue
            for r in right:
                if not hsets[p] & hsets[r]:
                    continue
                corner = (r[0], b[1])
                if corner in intersections and vsets[corner] & vsets[r] and hsets[corner] & hsets[b]:
                    found = (p[0], p[1], corner[0], corner[1])
                    break
            if found:
                break
        if found:
            cells.append(found)
    return cells


def _extract(table, chars: list[dict]) -> list[list[str | None]]:
    """Cell texts of a table (as pdfplumber's ``Table.extract``: a character belongs to the cell holding its
    centre), using a sorted index instead of testing every character against every row."""
    import bisect
    centres = sorted(((c["top"] + c["bottom"]) / 2, (c["x0"] + c["x1"]) / 2, i) for i, c in enumerate(chars))
    keys = [c[0] for c in centres]
    out = []
    for row in table.rows:
        x0, top, x1, bottom = row.bbox
        lo, hi = bisect.bisect_left(keys, top), bisect.bisect_left(keys, bottom)
        row_chars = [(hm, i) for _, hm, i in centres[lo:hi] if x0 <= hm < x1]
        cells = []
        for cell in row.cells:
            if cell is None:
                cells.append(None)
                continue
            cx0, ctop, cx1, cbottom = cell
            picked = [chars[i] for hm, i in row_chars if cx0 <= hm < cx1 and
                      ctop <= (chars[i]["top"] + chars[i]["bottom"]) / 2 < cbottom]
            cells.append(_join_chars(picked) if picked else "")
        out.append(cells)
    return out


def _join_chars(chars: list[dict], y_tol: float = 3) -> str:
    """Text of a cell: lines by ``top`` (within 3 pt), characters in x order joined as printed — blanks that are
    in the PDF are kept (one), none are invented from gaps (so 「2019 年」 stays 「2019年」, as in the challenge's
    alltxt); lines joined without a separator."""
    return "".join(line for _, line in _lines(chars, y_tol))


def _lines(chars: list[dict], y_tol: float = 3, geometry: bool = False) -> list[tuple]:
    """(top, text) of each text line of ``chars`` (``geometry``: (top, bottom, x0, x1, text))."""
    lines: list[list[dict]] = []
    for c in sorted(chars, key=lambda c: c["top"]):
        if lines and abs(c["top"] - lines[-1][0]["top"]) <= y_tol:
            lines[-1].append(c)
        else:
            lines.append([c])
    out = []
    for line in lines:
        text = "".join(c["text"] for c in sorted(line, key=lambda c: c["x0"]))
        text = re.sub(r"\s+", " ", text).strip()
        if text and geometry:
            out.append((min(c["top"] for c in line), max(c["bottom"] for c in line),
                        min(c["x0"] for c in line), max(c["x1"] for c in line), text))
        elif text:
            out.append((line[0]["top"], text))
    return out


_STARTS_ITEM_RE = re.compile(r"^(?:[（(]?[一二三四五六七八九十\d]+[)）、.．]|第[一二三四五六七八九十]+[节章]|[□√■●◆•\-－]|"
                             r"[（(][a-zA-Z][)）]|注[:：\d])")


def _paragraphs(lines: list[tuple], width: float) -> list[tuple[float, str]]:
    """Join the lines of a paragraph, as the challenge's alltxt does: a line that runs to the right margin is
    continued by the next one (unless that starts a new item such as 「（二）」 or 「2、」)."""
    if not lines:
        return []
    right = max(l[3] for l in lines)
    out: list[list] = []
    prev = None
    for top, bottom, x0, x1, text in lines:
        height = bottom - top
        if (prev is not None and prev[3] >= right - max(12.0, 0.02 * width) and top - prev[1] < 1.2 * height
                and not _STARTS_ITEM_RE.match(text)):
            out[-1][1] += text
        else:
            out.append([top, text])
        prev = (top, bottom, x0, x1)
    return [(t, x) for t, x in out]




def _pdfium_chars(raw, textpage, height: float) -> list[dict]:
    """Characters of a page straight from PDFium's C API (its Python wrappers cost more than the work)."""
    import ctypes
    rect = raw.FS_RECTF()
    is_generated, get_unicode, get_box = raw.FPDFText_IsGenerated, raw.FPDFText_GetUnicode, raw.FPDFText_GetLooseCharBox
    chars = []
    for i in range(raw.FPDFText_CountChars(textpage)):
        if is_generated(textpage, i) == 1:              # PDFium 自己补的空格和换行
            continue
        code = get_unicode(textpage, i)
        if code in (0, 10, 13, 0xFFFE, 0xFFFF) or not get_box(textpage, i, ctypes.byref(rect)):
            continue
        chars.append(_char(chr(code), rect.left, rect.right, height - rect.top, height - rect.bottom))
    return chars


def _pdfium_rule_boxes(raw, page, form=None, depth: int = 0) -> list[tuple[float, float, float, float]]:
    """Bounds of the path objects that can be ruling lines: thin paths and stroked shapes. A filled box with no
    outline is a cell's background (Word-made PDFs paint one per text line) and would split rows, so it is left out."""
    import ctypes
    count = raw.FPDFFormObj_CountObjects(form) if form else raw.FPDFPage_CountObjects(page)
    get = (lambda i: raw.FPDFFormObj_GetObject(form, i)) if form else (lambda i: raw.FPDFPage_GetObject(page, i))
    l, b, r, t = ctypes.c_float(), ctypes.c_float(), ctypes.c_float(), ctypes.c_float()
    fill, stroke = ctypes.c_int(), ctypes.c_int()
    out = []
    for i in range(max(count, 0)):
        obj = get(i)
        kind = raw.FPDFPageObj_GetType(obj)
        if kind == raw.FPDF_PAGEOBJ_FORM and depth < 2:
            out.extend(_pdfium_rule_boxes(raw, page, obj, depth + 1))
            continue
        if kind != raw.FPDF_PAGEOBJ_PATH or not raw.FPDFPageObj_GetBounds(obj, ctypes.byref(l), ctypes.byref(b),
                                                                           ctypes.byref(r), ctypes.byref(t)):
            continue
        if min(r.value - l.value, t.value - b.value) >= 2:
            raw.FPDFPath_GetDrawMode(obj, ctypes.byref(fill), ctypes.byref(stroke))
            if not stroke.value:
                continue
        out.append((l.value, b.value, r.value, t.value))
    return out


def iter_pages_fast(path: str | os.PathLike, pages: tuple[int, int] | None = None,
                    page_list: list[int] | None = None) -> Iterable[PageData]:
    """Pages read with PDFium: characters (text, loose boxes) and the bounds of path objects as rect edges.
    ``page_list`` (1-based page numbers) converts only those pages."""
    import pypdfium2.raw as raw
    from pdfplumber import utils
    doc = _open_pdfium(path)
    try:
        first, last = _page_range(pages, len(doc))
        indexes = [p - 1 for p in page_list if 1 <= p <= len(doc)] if page_list else range(first - 1, last)
        for index in indexes:
            page = doc[index]
            width, height = page.get_size()
            tp = page.get_textpage()
            chars = _pdfium_chars(raw, tp.raw, height)
            edges = []
            for left, bottom, right, top in _pdfium_rule_boxes(raw, page.raw):
                rect = {"x0": left, "x1": right, "top": height - top, "bottom": height - bottom, "y0": bottom,
                        "y1": top, "doctop": height - top, "width": right - left, "height": top - bottom,
                        "object_type": "rect"}
                edges.extend(utils.obj_to_edges(rect))
            tables = _tables_from_edges(edges, chars) if edges else []
            tp.close()
            page.close()
            yield PageData(index + 1, width, height, chars, tables)
    finally:
        doc.close()


def iter_pages_plumber(path: str | os.PathLike, pages: tuple[int, int] | None = None) -> Iterable[PageData]:
    """The straightforward conversion: pdfplumber for everything (``find_tables`` + ``Table.extract``), with the same
    rule for ruling lines (cell background fills are not lines)."""
    import pdfplumber
    try:
        pdf = pdfplumber.open(path)
    except Exception as exc:  # pdfminer raises many types for broken files
        raise PdfError(f"cannot open: {type(exc).__name__}: {exc}") from None
    with pdf:
        first, last = _page_range(pages, len(pdf.pages))
        for index in range(first - 1, last):
            page = pdf.pages[index]
            # 与 fast 相同的规则：只填色、不描边的方块是单元格底色，不当表格线
            ruled = page.filter(lambda o: not (o.get("object_type") == "rect" and o.get("fill") and not o.get("stroke")
                                               and min(o["width"], o["height"]) >= 2))
            tables = [(t.bbox, t.extract()) for t in ruled.find_tables()]
            yield PageData(index + 1, float(page.width), float(page.height), page.chars, tables)
            page.close()


def _open_pdfium(path):
    import pypdfium2 as pdfium
    try:
        doc = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        text = str(exc)
        if "password" in text.lower():
            raise PdfError("encrypted (needs a password)") from None
        raise PdfError(f"cannot open: {text}") from None
    if len(doc) == 0:
        doc.close()
        raise PdfError("no pages")
    return doc


def _page_range(pages: tuple[int, int] | None, n: int) -> tuple[int, int]:
    if not pages:
        return 1, n
    first, last = int(pages[0]), int(pages[1])
    if first < 1 or last < first:
        raise UserError(f"--pages {first} {last}: give FIRST LAST with 1 <= FIRST <= LAST")
    return first, min(last, n)


ITERATORS = {"fast": iter_pages_fast, "plumber": iter_pages_plumber}


# ============================================================================================ rows
def _inside(char: dict, bboxes: list) -> bool:
    cx, cy = (char["x0"] + char["x1"]) / 2, (char["top"] + char["bottom"]) / 2
    return any(x0 <= cx < x1 and top <= cy < bottom for x0, top, x1, bottom in bboxes)


def _cell_text(cell) -> str:
    return re.sub(r"\s*\n\s*", "", cell) if cell else ""


def page_items(page: PageData) -> list[tuple[float, str, str]]:
    """(top, kind, text) of one page in reading order: text lines outside tables and table rows."""
    bboxes = [bbox for bbox, _ in page.tables]
    outside = [c for c in page.chars if not _inside(c, bboxes)] if bboxes else page.chars
    # 正文行去掉空格（挑战赛的 alltxt 也是这样：text 行里没有空格，表格单元格里保留）
    items: list[tuple[float, str, str]] = [(float(top), "text", re.sub(r"\s+", "", text)) for top, text in
                                           _paragraphs(_lines(outside, geometry=True), page.width)]
    for bbox, rows in page.tables:
        top = float(bbox[1])
        for k, row in enumerate(rows):
            cells = [_cell_text(c) for c in row]
            if any(cells):
                items.append((top + k * 1e-3, "excel", format_excel_row(cells)))
    items.sort(key=lambda it: it[0])
    return items


def _shape(text: str) -> str:
    return re.sub(r"\d+", "#", re.sub(r"\s+", "", text))


def pages_to_rows(pages: Iterable[PageData]) -> list[dict]:
    """alltxt rows for a document: items per page, then header/footer marking over the whole document."""
    per_page = []
    for page in pages:
        per_page.append((page, page_items(page)))
    n = len(per_page)
    tops, bottoms = Counter(), Counter()
    for page, items in per_page:
        texts = [it for it in items if it[1] == "text"]
        if texts and texts[0][0] < page.height * HEADER_ZONE:
            tops[_shape(texts[0][2])] += 1
        if texts and texts[-1][0] > page.height * (1 - FOOTER_ZONE):
            bottoms[_shape(texts[-1][2])] += 1
    repeat = max(2, int(0.2 * n)) if n >= 5 else 2
    rows: list[dict] = []
    for page, items in per_page:
        text_idx = [i for i, it in enumerate(items) if it[1] == "text"]
        header_i = footer_i = None
        if text_idx:
            first, last = items[text_idx[0]], items[text_idx[-1]]
            if first[0] < page.height * HEADER_ZONE and (tops[_shape(first[2])] >= repeat and n > 1):
                header_i = text_idx[0]
            if last[0] > page.height * (1 - FOOTER_ZONE) and (
                    _PAGE_NO_RE.match(last[2].strip()) or (bottoms[_shape(last[2])] >= repeat and n > 1)):
                footer_i = text_idx[-1]
        for i, (_, kind, text) in enumerate(items):
            typ = "页眉" if i == header_i else "页脚" if i == footer_i else kind
            rows.append({"page": page.number, "allrow": len(rows), "type": typ, "inside": text})
    return rows


def pdf_to_rows(path: str | os.PathLike, pages: tuple[int, int] | None = None, engine: str = "fast",
                page_list: list[int] | None = None) -> list[dict]:
    """alltxt rows of one PDF (``pages``: 1-based inclusive range; ``page_list``: only these pages, fast engine).
    Raises :class:`PdfError` for a PDF that cannot be converted, including one without any text (a scan)."""
    if engine not in ITERATORS:
        raise UserError(f"--engine {engine!r}: choose one of {ENGINES}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(2, "no such PDF", str(path))
    if path.stat().st_size == 0:
        raise PdfError("empty file (0 bytes)")
    pages_iter = iter_pages_fast(path, pages, page_list) if page_list else ITERATORS[engine](path, pages)
    rows = pages_to_rows(pages_iter)
    if not any(r["inside"] for r in rows):
        raise PdfError("no text layer (a scanned PDF needs OCR first)")
    return rows


def page_lines(path: str | os.PathLike) -> list[list[str]]:
    """The text lines of every page (PDFium's plain text, blanks removed): a cheap first pass (~3 ms a page)."""
    doc = _open_pdfium(path)
    try:
        out = []
        for index in range(len(doc)):
            page = doc[index]
            tp = page.get_textpage()
            text = tp.get_text_range()
            tp.close()
            page.close()
            out.append([re.sub(r"\s+", "", line) for line in text.splitlines() if line.strip()])
        return out
    finally:
        doc.close()


def locate_pages(path: str | os.PathLike) -> list[int] | None:
    """The pages extraction needs (公司简介, 员工情况, 研发投入, the three consolidated statements), found from the
    plain text of every page; ``None`` when a section is not found (then convert the whole PDF)."""
    from ch12_finreport_extract.tables import SECTION_PATTERNS, _TOC_RE
    lines = page_lines(path)
    n = len(lines)
    found: dict[str, int] = {}
    for name, pattern in SECTION_PATTERNS.items():
        rx = re.compile(pattern)
        for i, page in enumerate(lines):
            if any(len(l) <= 40 and rx.search(l) and not _TOC_RE.search(l) for l in page):
                if name.startswith("合并") and len(re.findall(r"\d{1,3}(?:,\d{3})+", "".join(page))) < 2:
                    continue
                found[name] = i + 1
                break
    if len(found) < len(SECTION_PATTERNS):
        return None
    wanted = set()
    wanted.update(range(found["公司简介和主要财务指标"], found["公司简介和主要财务指标"] + 3))
    wanted.update(range(found["员工情况"], found["员工情况"] + 2))
    start = min(found[k] for k in ("合并资产负债表", "合并利润表", "合并现金流量表"))
    end = max(found[k] for k in ("合并资产负债表", "合并利润表", "合并现金流量表")) + 3
    wanted.update(range(start, end + 1))
    for i, page in enumerate(lines):
        if any(("研发人员数量" in l or "研发人员的数量" in l) for l in page):
            wanted.add(i + 1)
            break
    return sorted(p for p in wanted if 1 <= p <= n)


# ============================================================================================ folders
def _convert_one(args: tuple[str, str, str, tuple | None]) -> dict:
    src, dst, engine, pages = args
    t0 = time.perf_counter()
    try:
        rows = pdf_to_rows(src, pages=pages, engine=engine)
    except PdfError as exc:
        return {"file": Path(src).name, "ok": False, "error": str(exc)}
    except Exception as exc:  # a batch job records and goes on; the message says what broke
        return {"file": Path(src).name, "ok": False, "error": f"{type(exc).__name__}: {exc}"}
    write_alltxt(rows, dst)
    return {"file": Path(src).name, "ok": True, "rows": len(rows), "pages": max(r["page"] for r in rows),
            "seconds": round(time.perf_counter() - t0, 3)}


def read_failures(path: Path) -> dict[str, dict]:
    return read_records(path, "file")


def convert_folder(src: str | os.PathLike, dst: str | os.PathLike, workers: int = 1, engine: str = "fast",
                   gzip_out: bool = False, retry_failed: bool = False, pages: tuple[int, int] | None = None,
                   limit: int | None = None, progress: bool = True) -> dict:
    """Convert every PDF under ``src`` (or the one file ``src``) into ``dst/<stem>.txt[.gz]``.

    Resumable: a PDF whose output exists is skipped, and so is one already in ``dst/failures.jsonl`` (unless
    ``retry_failed``). Outputs are written under a temporary name and renamed, so a kill leaves no half file."""
    src, dst = Path(src), Path(dst)
    if not src.exists():
        raise UserError(f"--src {src} does not exist. To fix: point it at a PDF or a folder of PDFs")
    files = sorted([src] if src.is_file() else [p for p in src.rglob("*") if p.suffix.lower() == ".pdf"])
    if not files:
        raise UserError(f"no .pdf files under {src}")
    dst.mkdir(parents=True, exist_ok=True)
    failures_file = dst / "failures.jsonl"
    failed = read_failures(failures_file)
    suffix = ".txt.gz" if gzip_out else ".txt"
    todo, skipped_done, skipped_failed = [], 0, 0
    for f in files:
        out = dst / (report_stem(f) + suffix)
        if out.exists():
            skipped_done += 1
        elif f.name in failed and not retry_failed:
            skipped_failed += 1
        else:
            todo.append((str(f), str(out), engine, pages))
    if limit is not None:
        todo = todo[:limit]
    results = []
    t0 = time.perf_counter()
    if workers > 1 and len(todo) > 1:
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results_iter = pool.map(_convert_one, todo, chunksize=1)
            results = _collect(results_iter, len(todo), failures_file, progress)
    else:
        results = _collect(map(_convert_one, todo), len(todo), failures_file, progress)
    ok = [r for r in results if r["ok"]]
    return {"files": len(files), "converted": len(ok), "failed": [r for r in results if not r["ok"]],
            "skipped_done": skipped_done, "skipped_failed": skipped_failed, "pages": sum(r["pages"] for r in ok),
            "seconds": round(time.perf_counter() - t0, 2), "failures_file": str(failures_file), "dst": str(dst)}


def _collect(results, total: int, failures_file: Path, progress: bool) -> list[dict]:
    out = []
    bar = None
    if progress and total:
        from tqdm import tqdm
        bar = tqdm(total=total, unit="pdf", file=sys.stderr)
    for r in results:
        out.append(r)
        if not r["ok"]:
            with open(failures_file, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"file": r["file"], "error": r["error"],
                                     "time": time.strftime("%Y-%m-%dT%H:%M:%S")}, ensure_ascii=False) + "\n")
        if bar:
            bar.update(1)
    if bar:
        bar.close()
    return out


# ============================================================================================ the script
@dataclass
class Config:
    src: str = arg(str((DATA_DIR / "finreports" / "reports").relative_to(DATA_DIR.parent)),
                   "a PDF or a folder of PDFs (searched recursively)")
    dst: str | None = arg(None, "output folder (default: outputs/ch12/alltxt)")
    workers: int = arg(1, "convert this many PDFs at a time (processes); one per core is the sweet spot")
    engine: str = arg("fast", "fast = PDFium characters + pdfplumber's table algorithm; plumber = pdfplumber only",
                      choices=ENGINES)
    gzip: bool = arg(False, "write .txt.gz instead of .txt")
    pages: list[int] = arg([], "only pages FIRST LAST (1-based, inclusive), e.g. --pages 77 90", type=int)
    retry_failed: bool = arg(False, "try again the PDFs listed in failures.jsonl")
    limit: int | None = arg(None, "convert at most this many files in this run (the rest next time)")


def main(cfg: Config) -> dict:
    if cfg.workers < 1:
        raise UserError(f"--workers must be >= 1, got {cfg.workers}")
    if cfg.pages and len(cfg.pages) != 2:
        raise UserError("--pages takes two numbers: FIRST LAST")
    src = Path(cfg.src)
    if not src.is_absolute() and not src.exists():
        src = DATA_DIR.parent / src
    dst = Path(cfg.dst) if cfg.dst else output_dir("ch12", "alltxt")
    result = convert_folder(src, dst, workers=cfg.workers, engine=cfg.engine, gzip_out=cfg.gzip,
                            retry_failed=cfg.retry_failed, pages=tuple(cfg.pages) if cfg.pages else None,
                            limit=cfg.limit)
    print(f"{result['converted']} converted ({result['pages']} pages, {result['seconds']} s), "
          f"{result['skipped_done']} already done, {len(result['failed'])} failed now, "
          f"{result['skipped_failed']} skipped as failed before -> {result['dst']}")
    for f in result["failed"]:
        print(f"  failed: {f['file']}: {f['error']}")
    return result


if __name__ == "__main__":
    run(main, Config, __doc__)
