"""Finding a report's sections and rebuilding its table rows from alltxt rows (12.2.1).

pdfplumber (and so the challenge's alltxt) writes one ``excel`` row per table row *per page*: a table that runs over
a page break is interrupted by the page footer, an empty text row and the next page header, and a row whose label
wraps at the break comes out as two rows (「以公允价值计量且其变动计入当期损益的金」 … 「融资产 | 1,000 | 2,000」).
:func:`rebuild_table_rows` undoes both. :func:`parse_amount` turns printed numbers into numbers
(「(1,234.50)」 -> -1234.5); :func:`unit_multiplier` reads 「单位：万元」 and friends.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from .alltxt import cells_of
from .fields import STANDARD_LINES, normalize_label

# ------------------------------------------------------------------------------------------------ numbers
_UNITS = (("百万元", 10**6), ("千万元", 10**7), ("亿元", 10**8), ("万元", 10**4), ("千元", 10**3), ("元", 1))
_UNIT_RE = re.compile(r"(?:单位|金额单位)[^\w]{0,3}(?:均为)?(?:人民币)?\s*(百万元|千万元|亿元|万元|千元|元)")
_NUM_RE = re.compile(r"^[（(]?\s*[-－−—]?\s*\d[\d,，]*(?:\.\d+)?\s*[)）]?%?$")
_DASHES = {"", "-", "－", "—", "--", "——", "/", "不适用", "无", "N/A", "n/a"}


def parse_amount(text: str) -> Decimal | None:
    """「1,556,575,372.45」 -> Decimal; 「(148,014)」 / 「-148,014」 -> negative; empty or a dash -> ``None``."""
    s = re.sub(r"\s+", "", str(text or ""))
    if s in _DASHES or not _NUM_RE.match(s) or s.endswith("%"):
        return None
    neg = s.startswith(("(", "（")) or bool(re.match(r"^[（(]?[-－−—]", s))
    digits = re.sub(r"[^\d.]", "", s)
    try:
        value = Decimal(digits)
    except InvalidOperation:
        return None
    return -value if neg else value


def parse_count(text: str) -> int | None:
    """「2,812」 -> 2812 (people); anything else -> None."""
    value = parse_amount(text)
    if value is None or value != value.to_integral_value() or value < 0:
        return None
    return int(value)


def to_json_number(value: Decimal) -> int | float:
    """An amount as a JSON number: an int when whole, else a float with at most 2 decimals as printed."""
    if value == value.to_integral_value():
        return int(value)
    return float(round(value, 4))


def unit_multiplier(text: str) -> int | None:
    """10**4 for 「单位：万元」, 10**6 for 「金额单位均为人民币百万元」, ``None`` when the text names no unit."""
    m = _UNIT_RE.search(re.sub(r"\s+", "", text or ""))
    if not m:
        return None
    return dict(_UNITS)[m.group(1)]


# ------------------------------------------------------------------------------------------------ rows
@dataclass
class TableRow:
    """One logical table row: its cells, the page it starts on and the alltxt row numbers it was built from."""

    cells: list[str]
    page: int
    allrows: list[int] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.cells[0] if self.cells else ""

    def values(self) -> list[str]:
        return self.cells[1:]


def _clean(cell: str) -> str:
    return re.sub(r"\s*\n\s*", "", cell or "").strip()


def _is_row_start(label: str) -> bool:
    """A label that clearly starts a new row (so it is not the rest of a label cut at a page break)."""
    return bool(re.match(r"^(?:[一二三四五六七八九十]+、|[（(][一二三四五六七八九十\d]+[)）]|\d+[、.]|其中|加[:：]|减[:：]|"
                         r"合计|小计|总计)", label))


def rebuild_table_rows(rows: list[dict], known_labels: set[str] | None = None) -> list[list[TableRow]]:
    """Group excel rows into tables and rebuild rows split across pages.

    A table continues over a page break when only the footer, the next header and empty text rows lie between
    two excel rows. At such a break a row with a label but no values, followed by a row that continues the label
    (not an enumeration, not 「其中：」, not 「合计」), is joined into one row; an empty-label row holding only values
    is joined to a label-only row before it. ``known_labels`` (normalized) stops a join when the first part is
    already a complete known label such as 「流动资产：」."""
    tables: list[list[TableRow]] = []
    current: list[TableRow] = []
    crossed_page = False
    last_page = None
    for row in rows:
        kind = row.get("type")
        if kind in ("页眉", "页脚"):
            crossed_page = crossed_page or kind == "页脚" or bool(current)
            continue
        if kind == "text":
            if row.get("inside", "").strip():
                if current:
                    tables.append(current)
                current, crossed_page = [], False
            continue
        if kind != "excel":
            continue
        cells = [_clean(c) for c in cells_of(row)]
        if not cells or not any(cells):
            continue
        page = int(row.get("page", 0))
        if current and page != last_page:
            crossed_page = True
        last_page = page
        new = TableRow(cells, page, [row.get("allrow", -1)])
        prev = current[-1] if current else None
        if prev is not None and _label_tail(prev, new, known_labels):
            # 单元格里折行的长标签被拆成两行（后半截没有数值）：「归属于母公司所有者的综合收益」+「总额」
            prev.cells[0] += new.cells[0]
            prev.allrows = prev.allrows + new.allrows
        elif prev is not None and crossed_page and _joinable(prev, new, known_labels):
            width = max(len(prev.cells), len(new.cells))
            merged = [prev.cells[0] + new.cells[0]] if new.cells[0] else [prev.cells[0]]
            for i in range(1, width):
                a = prev.cells[i] if i < len(prev.cells) else ""
                b = new.cells[i] if i < len(new.cells) else ""
                merged.append(a + b if a and b and not parse_amount(a) else (a or b))
            prev.cells, prev.allrows = merged, prev.allrows + new.allrows
        else:
            current.append(new)
        crossed_page = False
    if current:
        tables.append(current)
    return tables


def _label_tail(prev: TableRow, new: TableRow, known_labels: set[str] | None) -> bool:
    """``new`` is only the wrapped end of ``prev``'s long label: a short label, no values, not a line of its own."""
    label = new.label
    if not label or any(c for c in new.cells[1:]) or len(label) > 8 or len(prev.label) < 8:
        return False
    known = (known_labels or set()) | STANDARD_LINES
    return (not _is_row_start(label) and normalize_label(label) not in known
            and normalize_label(prev.label) not in known and not prev.label.endswith(("：", ":")))


def _joinable(prev: TableRow, new: TableRow, known_labels: set[str] | None) -> bool:
    prev_label, new_label = prev.label, new.label
    prev_has_values = any(c for c in prev.cells[1:])
    new_has_values = any(c for c in new.cells[1:])
    if not prev_label or prev_has_values or not new_has_values or prev_label.endswith((":", "：")):
        return False                        # 两行都没有数值时合并没有收益，只有风险
    known = (known_labels or set()) | STANDARD_LINES
    if normalize_label(prev_label) in known:
        return False
    if not new_label:                       # 值在下一页、标签在上一页
        return True
    return (not _is_row_start(new_label) and normalize_label(new_label) not in known
            and len(prev.cells) == len(new.cells))


# ------------------------------------------------------------------------------------------------ sections
# 章节标题（正文中的标题，不是目录行）
SECTION_PATTERNS = {
    "公司简介和主要财务指标": r"^第[一二三四五六七八九十]+节\s*公司简介和主要财务指标$|^公司基本情况$|^\d+[.、]\s*公司基本情况$|"
                    r"^第[一二三四五六七八九十]+[节章]\s*公司(?:基本情况|简介)$",
    "员工情况": r"^(?:[一二三四五六七八九十]+、|\d+[.、]|[（(][一二三四五六七八九十\d]+[)）])?\s*"
            r"(?:公司|母公司和主要子公司的)?员工(?:情况|基本情况)$",
    "合并资产负债表": r"^(?:\d+[、.])?\s*(?:\d{4}年\d{1,2}月\d{1,2}日)?合并(?:及(?:银行|公司|母公司))?资产负债表$",
    "合并利润表": r"^(?:\d+[、.])?\s*(?:\d{4}年(?:度)?)?合并(?:及(?:银行|公司|母公司))?利润表$",
    "合并现金流量表": r"^(?:\d+[、.])?\s*(?:\d{4}年(?:度)?)?合并(?:及(?:银行|公司|母公司))?现金流量表$",
}
# 一张报表在下一个报表标题处结束
_STATEMENT_END_RE = re.compile(r"^(?:\d+[、.])?\s*(?:\d{4}年\S{0,8}日|\d{4}年(?:度)?)?(?:母公司|公司|合并|银行)?"
                               r"(?:及(?:银行|公司|母公司))?(?:资产负债表|利润表|现金流量表|所有者权益变动表|"
                               r"股东权益变动表)(?:\(续\)|（续）)?$")
_TOC_RE = re.compile(r"(?:\.{4,}|…{2,}|·{4,})\s*\d*$")


@dataclass
class Section:
    name: str
    start: int          # index into the rows list (the title row)
    end: int            # exclusive
    page: int
    title: str


def _title_rows(rows: list[dict], pattern: str) -> list[int]:
    rx = re.compile(pattern)
    hits = []
    for i, row in enumerate(rows):
        if row.get("type") != "text":
            continue
        text = re.sub(r"\s+", "", row.get("inside", ""))
        if not text or len(text) > 40 or _TOC_RE.search(text):
            continue
        if rx.search(text):
            hits.append(i)
    return hits


def _has_numbers_after(rows: list[dict], i: int, span: int = 25) -> bool:
    for row in rows[i + 1: i + 1 + span]:
        if row.get("type") == "excel":
            return True
        if row.get("type") == "text" and len(re.findall(r"\d{1,3}(?:,\d{3})+", row.get("inside", ""))) >= 2:
            return True
    return False


def find_sections(rows: list[dict]) -> dict[str, Section]:
    """The first real (not table-of-contents) occurrence of each section of :data:`SECTION_PATTERNS`.

    A statement section ends at the next statement title (「母公司资产负债表」, 「合并利润表」…); 员工情况 ends after
    80 rows or at the next 「第X节」; 公司简介 ends at the next 「第X节」."""
    found: dict[str, Section] = {}
    for name, pattern in SECTION_PATTERNS.items():
        for i in _title_rows(rows, pattern):
            if name.startswith("合并") and not _has_numbers_after(rows, i):
                continue
            end = _section_end(rows, i, name)
            found[name] = Section(name, i, end, int(rows[i].get("page", 0)), rows[i].get("inside", ""))
            break
    return found


def _section_end(rows: list[dict], i: int, name: str) -> int:
    limit = {"员工情况": 120, "公司简介和主要财务指标": 400}.get(name, 600)
    for j in range(i + 1, min(len(rows), i + limit)):
        row = rows[j]
        if row.get("type") != "text":
            continue
        text = re.sub(r"\s+", "", row.get("inside", ""))
        if not text:
            continue
        if name.startswith("合并"):
            if _STATEMENT_END_RE.search(text) and "续" not in text:
                return j
        elif re.match(r"^第[一二三四五六七八九十]+节", text) and not _TOC_RE.search(text):
            return j
    return min(len(rows), i + limit)


def section_text(rows: list[dict], section: Section, max_chars: int | None = None) -> str:
    """The section as plain text (table rows joined by ' | '), headers and footers left out."""
    out = []
    for row in rows[section.start: section.end]:
        if row.get("type") in ("页眉", "页脚"):
            continue
        text = " | ".join(c for c in cells_of(row) if c) if row.get("type") == "excel" else row.get("inside", "")
        if text.strip():
            out.append(text.strip())
    text = "\n".join(out)
    return text[:max_chars] if max_chars else text


def section_unit(rows: list[dict], section: Section, default: int = 1) -> int:
    """The unit multiplier declared at the top of a section (「单位：元」 -> 1, 「人民币百万元」 -> 10**6)."""
    for row in rows[max(0, section.start - 3): min(section.end, section.start + 12)]:
        if row.get("type") == "text":
            unit = unit_multiplier(row.get("inside", ""))
            if unit:
                return unit
    return default


# ------------------------------------------------------------------------------------------------ glued text lines
_LABEL_NUM_RE = re.compile(r"(?P<label>[^\d(（\-－—]+?)(?P<note>[一二三四五六七八九十]+、\d{1,2}(?:\(\d+\))?|七)?"
                           r"(?P<nums>(?:[（(]?\d[\d,]*(?:\.\d+)?[)）]?|[-－—]{1,2}|不适用)+)(?=$|[^\d,.)）])")
_ONE_NUM = r"(?:\((?:0|[1-9]\d{0,2}(?:,\d{3})*)(?:\.\d+)?\)|(?:0|[1-9]\d{0,2}(?:,\d{3})*)(?:\.\d+)?|--|-|不适用)"


def split_glued_numbers(text: str, count: int) -> list[str] | None:
    """Split numbers printed without separators, as text extraction of some statements gives them:
    ``split_glued_numbers("388,238360,166383,647357,291", 4)`` -> ``['388,238', '360,166', '383,647', '357,291']``.

    Valid pieces: thousands-grouped numbers without leading zeros, ``(x)`` negatives, ``-``. Returns the split only
    when exactly one split into ``count`` pieces exists (``None`` when it is ambiguous: never guess)."""
    piece = re.compile(_ONE_NUM)
    solutions: list[list[str]] = []

    def walk(pos: int, acc: list[str]) -> None:
        if len(solutions) > 8:
            return
        if pos == len(text):
            if len(acc) == count:
                solutions.append(list(acc))
            return
        if len(acc) >= count:
            return
        for end in range(pos + 1, min(len(text), pos + 24) + 1):
            if piece.fullmatch(text, pos, end):
                acc.append(text[pos:end])
                walk(end, acc)
                acc.pop()

    walk(0, [])
    if len(solutions) > 1:       # 同一张表的数字小数位数相同：「0.720.62」只能是 0.72 | 0.62
        def places(v: str) -> int:
            return len(v.split(".")[1].rstrip(")）")) if "." in v else 0
        decimals = [sol for sol in solutions if len({places(v) for v in sol if any(ch.isdigit() for ch in v)}) == 1]
        uniform = [sol for sol in decimals if any("." in v for v in sol)]
        solutions = uniform if uniform else solutions
    return solutions[0] if len(solutions) == 1 else None


def parse_glued_line(text: str, count: int) -> list[tuple[str, list[str]]]:
    """A statement line that text extraction glued together (labels, note references and several rows on one
    line, as in bank statements without ruling lines) -> ``[(label, [v1, v2, ...]), ...]`` for the parts that
    split unambiguously into ``count`` numbers (a note reference such as 「八、12」 may run into the first number:
    every note length is tried and an ambiguous part is dropped)."""
    s = re.sub(r"\s+", "", text)
    s = re.sub(r"(?<=[\u4e00-\u9fff])[—－-](?=[\u4e00-\u9fff])", "", s)   # 「现金及现金等价物—年末余额」
    s = re.sub(r"[（(][\u4e00-\u9fff/、]+[)）]", "", s)                      # 「净(减少)/增加额」「(人民币元)」
    out = []
    for m in re.finditer(r"([^\d()（）,\-－—]+?)((?:[\d,.()（）\-－—]|不适用)+)", s):
        label, blob = m.group(1), m.group(2)
        note = re.search(r"[一二三四五六七八九十]+、$", label)
        candidates = []
        if note:                                       # 「八、」后面 1–2 位是附注号（可带「(1)」）
            label = label[: note.start()]
            for k in (1, 2):
                rest = blob[k:]
                sub = re.match(r"\(\d\)", rest)
                for r in ([rest[sub.end():]] if sub else []) + [rest]:
                    if blob[:k].isdigit() and r:
                        parts = split_glued_numbers(r, count)
                        if parts:
                            candidates.append(parts)
        else:
            parts = split_glued_numbers(blob, count)
            if parts is None and blob.endswith(("-", "－")):   # 最后一个「-」是下一行的项目符号（「-少数股东损益」）
                parts = split_glued_numbers(blob[:-1], count)
            if parts:
                candidates.append(parts)
        unique = sorted({tuple(c) for c in candidates})
        label = re.sub(r"(?<=[\u4e00-\u9fff]{2})[一二三四五六七八九十]$", "", label)   # 附注「七」
        if len(unique) > 1:
            unique = _most_consistent(unique, count)
        if len(unique) == 1 and label.strip("、"):
            out.append((label, list(unique[0])))
    return out


def _most_consistent(candidates: list[tuple[str, ...]], count: int) -> list[tuple[str, ...]]:
    """Break a tie between note lengths with the layout of four-column statements (group current, group previous,
    parent current, parent previous): the group and parent figures of a year are close. Only a clear winner
    (ratio within 2x where every other candidate is 3x off) is kept."""
    import math
    if count != 4:
        return candidates
    good = []
    for cand in candidates:
        vals = [parse_amount(v) for v in cand]
        ratios = []
        for a, b in ((vals[0], vals[2]), (vals[1], vals[3])):
            if a is not None and b is not None and a != 0 and b != 0 and (a > 0) == (b > 0):
                ratios.append(abs(math.log(abs(float(a)) / abs(float(b)))))
        if ratios and max(ratios) < math.log(2):
            good.append(cand)
        elif not ratios or max(ratios) < math.log(3):
            return candidates                    # 另一个候选也说得通：不猜
    return good if len(good) == 1 else candidates
