"""12.2.2 单报表数据非结构化信息抽取的实现 — one annual report (PDF or alltxt) -> one JSON object of fields.

    python ch12_finreport_extract/extract_report.py                       # the bundled 海翔药业 2019 report (alltxt)
    python ch12_finreport_extract/extract_report.py data/finreports/reports/2020-01-23__浙江海翔药业股份有限公司__002099__海翔药业__2019年__年度报告.pdf
    python ch12_finreport_extract/extract_report.py REPORT.txt --out fields.json
    python ch12_finreport_extract/extract_report.py REPORT.txt --model /path/to/chatglm3-6b-32k   # LLM for what rules miss

Tables and rules first (the 公司信息 table, 员工情况, 研发投入 and the three consolidated statements, with the synonym
table of ``fields.py``); the LLM only for fields the rules could not find, and an LLM answer is kept only when its
value appears in the passage it was given. Amounts are numbers in yuan (万元/百万元 converted), the previous year's
column goes to ``previous_year``, ``sources`` gives the page of every value, ``methods`` how it was found, and what
was not found is listed in ``missing`` — never guessed.

API (chapter 13 calls it per report)::

    from ch12_finreport_extract.extract_report import extract_report
    record = extract_report(path, llm=None)          # llm: None, a callable prompt -> str, or a LangChain model
"""
from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import GenerationArgs, ModelArgs, ServerArgs, UserError, arg, run
from common.paths import DATA_DIR, output_dir

from ch12_finreport_extract.alltxt import cells_of, is_alltxt, parse_report_name, read_alltxt
from ch12_finreport_extract.fields import FIELDS, FIELDS_BY_NAME, PER_SHARE, Field, normalize_label
from ch12_finreport_extract.tables import (Section, find_sections, parse_amount, parse_count, parse_glued_line,
                                           rebuild_table_rows, section_text, section_unit, to_json_number)

REPORTS_DIR = DATA_DIR / "finreports" / "reports"
DEFAULT_REPORT = REPORTS_DIR / "2020-01-23__浙江海翔药业股份有限公司__002099__海翔药业__2019年__年度报告.txt.gz"
STATEMENTS = {"balance": "合并资产负债表", "income": "合并利润表", "cashflow": "合并现金流量表"}
_KNOWN = {s for f in FIELDS for s in f.synonyms} | {"流动资产", "非流动资产", "流动负债", "非流动负债",
                                                     "所有者权益", "股东权益", "负债和所有者权益"}
_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_URL_RE = re.compile(r"网址[^\w]{0,3}((?:https?://)?(?:www\.)?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?:/[\w./-]*)?)")
_STAFF_RE = re.compile(r"(?:共有|在职)(?:在职)?(?:员工|职工)(?:总数)?(?:为|共)?([\d,]+)\s*(?:人|名)")
_KEEP_SPACES = {"外文名称", "公司网址", "电子信箱"}
# 合并报表中可以合法重复出现的行名（小计行、「其中」项）
_DEDUCTIONS = {"利息支出", "税金及附加", "管理费用", "所得税费用", "营业成本", "营业总成本", "销售费用", "研发费用",
               "财务费用"}
_REPEATING = {"利息收入", "利息支出", "利息费用", "其他", "小计", "合计"}


# ================================================================================================ reading
def load_rows(path: str | Path, pages: tuple[int, int] | None = None, whole_pdf: bool = False) -> list[dict]:
    """alltxt rows of a report: read an alltxt file (``.txt``/``.txt.gz``) or convert a PDF (``pdf2alltxt``) —
    only the pages extraction needs unless ``whole_pdf`` or ``pages`` is given."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"report {path} does not exist. To fix: pass an alltxt (.txt/.txt.gz) or PDF file; "
                        f"bundled reports are in {REPORTS_DIR.relative_to(DATA_DIR.parent)}/")
    if path.suffix.lower() == ".pdf":
        from ch12_finreport_extract.pdf2alltxt import locate_pages, pdf_to_rows
        if pages is None and not whole_pdf:
            # 先用纯文本找到需要的页（公司简介、员工、研发、三张合并报表），只把这些页转成 alltxt
            page_list = locate_pages(path)
            if page_list:
                return pdf_to_rows(path, page_list=page_list)
        return pdf_to_rows(path, pages=pages)
    if is_alltxt(path):
        return read_alltxt(path)
    raise UserError(f"{path.name}: not a PDF or an alltxt file (.txt, .txt.gz). To fix: pass one of those.")


# ================================================================================================ the extractor
class _Result:
    def __init__(self) -> None:
        self.fields: dict[str, Any] = {}
        self.previous: dict[str, Any] = {}
        self.sources: dict[str, int] = {}
        self.methods: dict[str, str] = {}
        self.blanks: dict[str, int] = {}

    def blank(self, name: str, page: int, previous: Any = None) -> None:
        """The row was found but the report prints nothing for this year (no amount: listed as missing)."""
        if name not in self.fields and name not in self.blanks:
            self.blanks[name] = int(page)
            if previous is not None:
                self.previous.setdefault(name, previous)
                self.sources.setdefault(name, int(page))

    def put(self, name: str, value: Any, page: int, method: str, previous: Any = None) -> None:
        if name in self.fields or value is None:
            return
        self.fields[name] = value
        self.blanks.pop(name, None)
        self.sources[name] = int(page)
        self.methods[name] = method
        if previous is not None:
            self.previous[name] = previous


def _clean_text(name: str, value: str) -> str | None:
    v = value.strip().strip("“”\"'「」")
    v = re.split(r"[（(]", v, maxsplit=1)[0].strip().strip("“”\"'") if re.match(r"^[^（(]{2,}[（(]", v) else v
    if name not in _KEEP_SPACES:
        v = re.sub(r"\s+", "", v)
    if name == "电子信箱":
        m = _EMAIL_RE.search(v)
        v = m.group(0) if m else ""
    return v or None


def _basic(rows: list[dict], sections: dict[str, Section], res: _Result) -> None:
    sec = sections.get("公司简介和主要财务指标")
    lo, hi = (sec.start, sec.end) if sec else (0, min(len(rows), 600))
    part = rows[lo:hi]
    basic = [f for f in FIELDS if f.group == "basic"]
    for table in rebuild_table_rows(part):
        for k, trow in enumerate(table):
            cells = trow.cells
            header_row = sum(normalize_label(c) in _BASIC_LABELS for c in cells) >= 2 and k + 1 < len(table)
            for i, cell in enumerate(cells):
                norm = normalize_label(cell)
                for f in basic:
                    if norm not in f.synonyms or f.name in res.fields:
                        continue
                    if header_row and not _looks_like_value(cells[i + 1:]):
                        # 上交所的「公司股票简况」：表头一行、取值在下一行同一列
                        below = table[k + 1].cells
                        value = below[i] if i < len(below) else ""
                    else:
                        value = next((c for c in cells[i + 1:] if c.strip()), "")
                    value = _clean_text(f.name, value) if value else None
                    if value and normalize_label(value) not in _KNOWN and _valid(f.name, value):
                        res.put(f.name, value, trow.page, "table")
    text_rows = [r for r in part if r.get("type") in ("text", "excel")]
    if "电子信箱" not in res.fields:
        for r in text_rows:
            m = _EMAIL_RE.search(" ".join(cells_of(r)))
            if m:
                res.put("电子信箱", m.group(0), r["page"], "regex")
                break
    if "公司网址" not in res.fields:
        for r in text_rows:
            m = _URL_RE.search(re.sub(r"\s+", "", " ".join(cells_of(r))))
            if m:
                res.put("公司网址", m.group(1), r["page"], "regex")
                break


_BASIC_LABELS = {s for f in FIELDS if f.group == "basic" for s in f.synonyms} | {"股票种类", "股票上市交易所",
                                                                                "变更前股票简称"}


def _looks_like_value(cells: list[str]) -> bool:
    """The next non-empty cell is a value, not another column title."""
    nxt = next((c for c in cells if c.strip()), "")
    return bool(nxt) and normalize_label(nxt) not in _BASIC_LABELS and not nxt.endswith(("简称", "代码", "交易所"))


def _valid(name: str, value: str) -> bool:
    """Shape checks that catch a value taken from the wrong cell."""
    if name == "证券代码":
        return bool(re.fullmatch(r"[0-9]{6}", value))
    if name == "电子信箱":
        return "@" in value
    if name == "公司网址":
        return "." in value and not re.search(r"[\u4e00-\u9fff]", value)
    return True


def _count_in(cells: list[str]) -> int | None:
    for c in cells:
        v = parse_count(c)
        if v is not None:
            return v
    return None


def _employees(rows: list[dict], sections: dict[str, Section], res: _Result) -> None:
    sec = sections.get("员工情况")
    if sec:
        emp = [f for f in FIELDS if f.group == "employees"]
        for table in rebuild_table_rows(rows[sec.start: sec.end]):
            for trow in table:
                norm = normalize_label(trow.label)
                for f in emp:
                    if norm in f.synonyms and f.name not in res.fields:
                        res.put(f.name, _count_in(trow.values()), trow.page, "table")
        if "职工总数" not in res.fields:
            for r in rows[sec.start: sec.end]:
                m = _STAFF_RE.search(re.sub(r"\s+", "", r.get("inside", "")))
                if m and parse_count(m.group(1)) is not None:
                    res.put("职工总数", parse_count(m.group(1)), r["page"], "regex")
                    break
    # 研发投入表：「研发人员数量（人）| 本年 | 上年 | 变动」
    rnd = FIELDS_BY_NAME["研发人员"]
    for r in rows:
        if r.get("type") != "excel":
            continue
        cells = cells_of(r)
        if cells and normalize_label(cells[0]) in rnd.synonyms:
            cur = parse_count(cells[1]) if len(cells) > 1 else None
            prev = parse_count(cells[2]) if len(cells) > 2 else None
            if cur is not None:
                res.put("研发人员", cur, r["page"], "table", prev)
                break
    if "硕士及以上人数" not in res.fields and "硕士人数" in res.fields and "博士及以上人数" in res.fields:
        res.put("硕士及以上人数", res.fields["硕士人数"] + res.fields["博士及以上人数"], res.sources["硕士人数"],
                "computed")


_CUR_RE = re.compile(r"本期|本年|期末|本报告期|(?P<y>\d{4})\s*年")
_PREV_RE = re.compile(r"上期|上年|期初|上年同期")


def _columns(table: list, year: int | None) -> tuple[int, int] | None:
    """(current, previous) column indexes from a statement's header row."""
    for trow in table[:3]:
        cur = prev = None
        for i, c in enumerate(trow.cells[1:], 1):
            t = re.sub(r"\s+", "", c)
            if not t or "附注" in t:
                continue
            years = re.findall(r"(\d{4})\s*年", t)
            if years and year:
                if int(years[0]) == year and cur is None:
                    cur = i
                elif int(years[0]) == year - 1 and prev is None:
                    prev = i
            elif _PREV_RE.search(t) and prev is None:
                prev = i
            elif _CUR_RE.search(t) and cur is None:
                cur = i
        if cur is not None:
            return cur, prev if prev is not None else cur + 1
    return None


def _amount(value: Decimal | None, unit: int, per_share: bool):
    if value is None:
        return None
    return to_json_number(value if per_share else value * unit)


def _statements(rows: list[dict], sections: dict[str, Section], year: int | None, res: _Result) -> dict:
    units = {}
    for group, title in STATEMENTS.items():
        sec = sections.get(title)
        if not sec:
            continue
        unit = section_unit(rows, sec)
        units[title] = unit
        part = rows[sec.start: sec.end]
        fields = [f for f in FIELDS if f.group == group]
        by_label: dict[str, list[Field]] = {}
        for f in fields:
            for s in f.synonyms:
                by_label.setdefault(s, []).append(f)
        tables = rebuild_table_rows(part, known_labels=_KNOWN)
        n_excel = sum(len(t) for t in tables)
        cols = None
        seen: set[str] = set()
        stop = False
        for table in tables:
            cols = _columns(table, year) or cols
            for trow in table:
                label = normalize_label(trow.label)
                if any(parse_amount(c) is not None for c in trow.cells[1:]):
                    # 同一行名第二次带着数字出现：已经进入母公司报表（其标题可能没被抽出来）
                    if label in seen and label not in _REPEATING:
                        stop = True
                        break
                    seen.add(label)
                for f in by_label.get(label, []):
                    if f.name in res.fields:
                        continue
                    c, p = cols or (1, 2)
                    cur = parse_amount(trow.cells[c]) if c < len(trow.cells) else None
                    prev = parse_amount(trow.cells[p]) if p < len(trow.cells) else None
                    ps = f.name in PER_SHARE
                    res.put(f.name, _amount(cur, unit, ps), trow.page, "table", _amount(prev, unit, ps))
                    if cur is None:
                        res.blank(f.name, trow.page, _amount(prev, unit, ps))
            if stop:
                break
        if n_excel < 5:       # 没有表格线的报表（如银行年报）：从文字行里拆出数字
            _text_statement(part, by_label, unit, res)
    return units


def _text_statement(part: list[dict], by_label: dict[str, list[Field]], unit: int, res: _Result) -> None:
    count = 2
    for r in part[:8]:
        years = re.findall(r"\d{4}年", r.get("inside", ""))
        if len(years) >= 2:
            count = len(years)
            break
    lines = [r for r in part if r.get("type") == "text" and r.get("inside", "").strip()]
    pending_total: list[Field] = []
    for k, r in enumerate(lines):
        text = r.get("inside", "")
        if not re.search(r"\d", text):
            # 没有数字的一行：可能是被折行的标签前半截（「五、现金及现金等价物净(减少)/增」+「加额…」），
            # 也可能是「一、营业收入」这样的小标题，它的金额是后面「小计」行
            if re.match(r"^[一二三四五六七八九十]+、", text.strip()):
                pending_total = by_label.get(_text_label(re.sub(r"\s+", "", text), by_label), [])
            if k + 1 < len(lines):
                nxt = parse_glued_line(text + lines[k + 1].get("inside", ""), count)
                if nxt and _text_label(nxt[0][0], by_label) in by_label:
                    lines[k + 1] = {**lines[k + 1], "inside": text + lines[k + 1].get("inside", "")}
            continue
        tail = re.search(r"[一二三四五六七八九十]+、[^\d()（）,\-－—]+$", re.sub(r"\s+", "", text))
        for label, values in parse_glued_line(text, count):
            name = _text_label(label, by_label)
            if name == "小计" and pending_total:
                fields, pending_total = pending_total, []
            else:
                fields = by_label.get(name, [])
            for f in fields:
                if f.name in res.fields:
                    continue
                ps = f.name in PER_SHARE
                cur = parse_amount(values[0])
                prev = parse_amount(values[1]) if len(values) > 1 else None
                # 银行等报表用括号表示“减项”：费用行的 (148,014) 是 148,014 元的支出，两年一起翻转符号
                if f.name in _DEDUCTIONS and values[0].startswith(("(", "（")):
                    cur, prev = -cur, (-prev if prev is not None else None)
                res.put(f.name, _amount(cur, unit, ps), r["page"], "text", _amount(prev, unit, ps))
        if tail:                                  # 行尾的小标题「一、营业收入」：金额在后面的「小计」行
            pending_total = by_label.get(_text_label(tail.group(0), by_label), [])


_HEADER_JUNK_RE = re.compile(r"^(?:年|月|日|度|合并|银行|公司|母公司|附注|资产|负债|项目|股东权益|所有者权益|注)+$")


def _text_label(label: str, by_label: dict) -> str:
    """The row label inside a glued text fragment: text after an enumeration 「五、」, without the column-header
    words glued before it (「合并合并银行银行现金及存放中央银行款项」 -> 「现金及存放中央银行款项」)."""
    norm = normalize_label(re.split(r"[一二三四五六七八九十]+、(?=[\u4e00-\u9fff])", label)[-1])
    if norm in by_label:
        return norm
    for syn in sorted(by_label, key=len, reverse=True):
        if norm.endswith(syn) and _HEADER_JUNK_RE.match(norm[: -len(syn)]):
            return syn
    return norm


# ================================================================================================ the LLM step
def _as_callable(llm: Any) -> Callable[[str], str]:
    """A prompt -> text function from a callable or a LangChain model (``common.langchain_chatglm3.ask_fn``)."""
    from common.langchain_chatglm3 import ask_fn

    try:
        return ask_fn(llm)
    except TypeError:
        raise TypeError("llm must be a callable prompt -> str or a LangChain model with .invoke") from None


_GROUP_SECTION = {"basic": "公司简介和主要财务指标", "employees": "员工情况", "balance": "合并资产负债表",
                  "income": "合并利润表", "cashflow": "合并现金流量表"}


def _llm_fill(rows: list[dict], sections: dict[str, Section], res: _Result, llm: Any, company: str,
              year: int | None, names: list[str], max_chars: int) -> list[str]:
    """Ask the LLM for each still-missing field; keep an answer only when its value is found in the passage."""
    from ch12_finreport_extract.prompts import build_field_prompt, parse_field_answer
    call = _as_callable(llm)
    asked = []
    for name in names:
        f = FIELDS_BY_NAME[name]
        sec = sections.get(_GROUP_SECTION.get(f.group, ""))
        if sec is None:
            continue
        passage = section_text(rows, sec, max_chars=max_chars)
        unit = section_unit(rows, sec) if f.kind == "amount" else 1
        try:
            reply = call(build_field_prompt(name, passage, company, year or ""))
        except UserError as err:  # the section does not fit the model's context, the server refused: not found
            print(f"[llm] {name}: not asked ({err})", file=sys.stderr)
            continue
        answer = parse_field_answer(reply, name)
        asked.append(name)
        value = _verified(answer, passage, f, unit)
        if value is not None:
            res.put(name, value, sec.page, "llm")
    return asked


def _verified(answer: str | None, passage: str, f: Field, unit: int):
    """The LLM's value, only if the passage has a line that holds both a label of the field (a synonym) and that
    exact value (a whole number, not part of a longer one): the model may read, never invent."""
    if not answer:
        return None
    lines = [re.sub(r"\s+", "", line) for line in passage.splitlines()]
    labelled = [line for line in lines if any(syn and syn in line for syn in f.synonyms + (f.name,))]
    if not labelled:
        return None
    if f.kind == "text":
        v = _clean_text(f.name, answer)
        flat = re.sub(r"\s+", "", v or "")
        return v if len(flat) >= 2 and any(flat in line for line in labelled) and _valid(f.name, v) else None
    m = re.search(r"[（(]?-?\d[\d,]*(?:\.\d+)?[)）]?", answer.replace(" ", ""))
    if not m:
        return None
    digits = m.group(0).strip("()（）-")
    token = re.compile(r"(?<![\d,.])" + re.escape(digits) + r"(?![\d,]|\.\d)")
    if not any(token.search(line) for line in labelled):
        return None
    number = parse_amount(m.group(0))
    if number is None:
        return None
    if f.kind == "count":
        return parse_count(m.group(0))
    scale = unit
    for word, mult in (("百万元", 10**6), ("亿元", 10**8), ("万元", 10**4), ("千元", 10**3)):
        if word in answer:
            scale = mult
            break
    return _amount(number, scale, f.name in PER_SHARE)


# ================================================================================================ public API
def extract_from_rows(rows: list[dict], name: str | Path | None = None, llm: Any = None,
                      llm_fields: list[str] | None = None, max_passage_chars: int = 6000) -> dict:
    """The JSON object of one report from its alltxt rows (see :func:`extract_report`)."""
    meta = parse_report_name(name) if name else None
    year = meta.year if meta else None
    sections = find_sections(rows)
    res = _Result()
    _basic(rows, sections, res)
    if meta:
        res.put("证券代码", meta.code, 1, "filename")
        res.put("证券简称", meta.short_name, 1, "filename")
        res.put("企业名称", meta.company, 1, "filename")
    _employees(rows, sections, res)
    units = _statements(rows, sections, year, res)
    order = [f.name for f in FIELDS]
    missing = [n for n in order if n not in res.fields]
    asked: list[str] = []
    if llm is not None and missing:
        # 报表里印着空白的行不是“没找到”：不问模型（它多半会把上年数当成本年数）
        targets = [n for n in (llm_fields or missing) if n in missing and n not in res.blanks]
        asked = _llm_fill(rows, sections, res, llm, meta.company if meta else "该公司", year, targets,
                          max_passage_chars)
        missing = [n for n in order if n not in res.fields]
    return {
        "company": meta.company if meta else res.fields.get("企业名称"),
        "short_name": meta.short_name if meta else res.fields.get("证券简称"),
        "stock_code": meta.code if meta else res.fields.get("证券代码"),
        "year": year,
        "fields": {n: res.fields[n] for n in order if n in res.fields},
        "previous_year": {n: res.previous[n] for n in order if n in res.previous},
        "sources": {n: res.sources[n] for n in order if n in res.sources},
        "methods": {n: res.methods[n] for n in order if n in res.methods},
        "missing": missing,
        "blank_in_report": {n: p for n, p in res.blanks.items() if n in missing},
        "sections": {k: {"page": s.page, "title": s.title} for k, s in sections.items()},
        "units": units,
        "llm_asked": asked,
    }


def extract_report(path: str | Path, llm: Any = None, llm_fields: list[str] | None = None,
                   pages: tuple[int, int] | None = None) -> dict:
    """Extract one report (PDF or alltxt ``.txt``/``.txt.gz``, official file name) into the chapter's JSON object:
    ``{"company", "short_name", "stock_code", "year", "fields", "previous_year", "sources", "methods", "missing",
    ...}``. ``llm`` (optional: a callable prompt -> str or a LangChain model) is asked only for missing fields."""
    return extract_from_rows(load_rows(path, pages=pages), Path(path).name, llm=llm, llm_fields=llm_fields)


# ================================================================================================ the script
@dataclass
class Config(ModelArgs, GenerationArgs, ServerArgs):
    report: str = arg(str(DEFAULT_REPORT.relative_to(DATA_DIR.parent)),
                      "the report: an alltxt (.txt / .txt.gz) or a PDF with the official file name (may also be "
                      "given as the first positional argument)")
    out: str | None = arg(None, "write the JSON object here (default: outputs/ch12/<report>.json)")
    llm: bool = arg(False, "ask the LLM for fields the rules did not find (on by itself with --model/--base-url)")
    llm_fields: list[str] = arg([], "only these missing fields go to the LLM (default: all missing ones)")
    max_passage_chars: int = arg(6000, "characters of a section given to the LLM (the 32K model takes ~20000)")


def make_llm(cfg: Config, quiet: bool = False) -> Callable[[str], str]:
    """A prompt -> text function: the OpenAI-compatible server at --base-url (through the chapter-4 adapter, so any
    served model name and the API key work), else the model in-process through ``common.chatglm3.chat`` (which, unlike
    the adapter, lets a long report section run past a small model's context). At most 64 new tokens: a field value
    is short."""
    from common.cli import model_from_args, sampling_kwargs
    gen = sampling_kwargs(cfg)
    max_new = min(cfg.max_new_tokens, 64)
    if cfg.base_url:
        from common.langchain_chatglm3 import ask_fn, llm_from_config
        return ask_fn(llm_from_config(cfg, max_tokens=max_new))
    from common.chatglm3 import chat
    model, tok = model_from_args(cfg, quiet=quiet)
    gen["max_new_tokens"] = max_new

    def local(prompt: str) -> str:
        reply, _ = chat(model, tok, prompt, **gen)
        return reply if isinstance(reply, str) else json.dumps(reply, ensure_ascii=False)
    return local


def main(cfg: Config) -> dict:
    path = Path(cfg.report)
    if not path.is_absolute() and not path.exists():
        path = DATA_DIR.parent / path
    if not path.exists():
        raise UserError(f"report {cfg.report} does not exist. To fix: pass an alltxt (.txt/.txt.gz) or PDF file")
    llm = None
    if cfg.llm or cfg.model or cfg.base_url:
        from common.resolve import is_demo_model, resolve_model_path
        llm = make_llm(cfg)
        if not cfg.base_url and is_demo_model(resolve_model_path(cfg.model)):
            print("[demo model] its answers are stand-ins: an answer counts only when its value is in the passage, "
                  "so expect the LLM step to add nothing.", file=sys.stderr)
    record = extract_report(path, llm=llm, llm_fields=cfg.llm_fields or None)
    out = Path(cfg.out) if cfg.out else output_dir("ch12") / (path.name.split(".")[0] + ".json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{record['short_name']} ({record['stock_code']}) {record['year']}: {len(record['fields'])} fields, "
          f"{len(record['missing'])} missing")
    print(f"{'field':<28}{'value':>24}{'previous year':>24}  page  method")
    for name, value in record["fields"].items():
        prev = record["previous_year"].get(name, "")
        print(f"{name:<28}{str(value):>24}{str(prev):>24}  {record['sources'][name]:>4}  {record['methods'][name]}")
    if record["missing"]:
        print("missing:", "、".join(record["missing"]))
    print(f"-> {out}")
    return {"record": record, "out": str(out)}


def positional_report(argv: list[str]) -> list[str]:
    """Allow ``extract_report.py REPORT [flags]``: a first argument that is not a flag is the report."""
    if argv and not argv[0].startswith("-"):
        return ["--report", argv[0], *argv[1:]]
    return argv


if __name__ == "__main__":
    run(main, Config, __doc__, argv=positional_report(sys.argv[1:]))
