"""13.2 问题解析 — what a question asks: its type, company, years and fields (solution 1's front half).

Types follow the challenge (``FINREPORTS``): ``1`` one field, ``1-2`` several fields, ``2-1`` a computed indicator or
growth rate, ``2-2`` a cross-year comparison, ``rank`` a ranking across companies (asked as type 1 in the
challenge), ``3-1`` an open question about a report, ``3-2`` a finance concept with no company.
The company comes from chapter 6's lookup (a name in the database first, then ``CompanyLookup`` for noisy mentions
such as 「海翔那家药企」 or 「002099.SZ」); fields from a synonym dictionary built on chapter 12's field table.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ch12_finreport_extract.fields import FIELDS
from ch13_finreport_qa.indicators import GROWTH_FIELDS, RATIOS
from common.paths import DATA_DIR

DEFAULT_QUESTIONS = DATA_DIR / "ch13" / "questions.jsonl"

# 口语/挑战赛问法 -> 数据库字段名（FINREPORTS: 股本=实收资本；总资产=资产总计 …）
FIELD_SYNONYMS = {
    "资产总额": "资产总计", "总资产": "资产总计", "资产合计": "资产总计", "负债总额": "负债合计", "总负债": "负债合计",
    "流动资产": "流动资产合计", "流动负债": "流动负债合计", "非流动负债": "非流动负债合计", "非流动资产": "非流动资产合计",
    "实收资本": "股本", "员工总数": "职工总数", "职工人数": "职工总数", "员工人数": "职工总数", "在职员工": "职工总数",
    "研发人员数": "研发人员", "技术人员数": "技术人员", "硕士及以上": "硕士及以上人数", "博士及以上": "博士及以上人数",
    "法人代表": "法定代表人", "法人": "法定代表人", "邮箱": "电子信箱", "电子邮箱": "电子信箱", "网址": "公司网址",
    "英文名称": "外文名称", "股票代码": "证券代码", "股票简称": "证券简称", "公司全称": "企业名称",
    "每股收益": "基本每股收益", "归母净利润": "归属于母公司所有者的净利润",
    "现金及现金等价物": "期末现金及现金等价物余额", "经营现金流量净额": "经营活动产生的现金流量净额",
}
INDICATOR_SYNONYMS = {"资产负债率": "资产负债比率", "毛利": "毛利率", "研发费用率": "企业研发经费与营业收入比值",
                      "研发人员占比": "研发人员占职工人数比例"}
TYPES = ("1", "1-2", "2-1", "2-2", "rank", "3-1", "3-2")
_YEAR = re.compile(r"(20[0-3]\d)\s*年?")
_RANK = re.compile(r"(最高|最低|最多|最少|最大|最小|第\s*(\d+|[一二三四五六七八九十])\s*(高|低|多|少|大|小)|前\s*(\d+|[一二三四五六七八九十])\s*名|排名|排序)")
_COMPARE = re.compile(r"(是否相同|相同吗|一样吗|是否一样|是否一致|有没有变化|是否变化|是否发生变化|相比)")
_CONCEPT = re.compile(r"(什么是|是什么意思|的含义|的定义|怎么计算|如何计算|计算公式|解释一下|是指什么)")
_CN_DIGIT = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}


@dataclass
class ParsedQuestion:
    text: str
    type: str
    company: object | None = None          # ch06 Company or None
    company_mention: str = ""
    years: list[int] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)
    indicator: str | None = None
    rank: tuple[str, int] | None = None     # ("desc"|"asc", n-th)


@lru_cache(maxsize=1)
def _vocab() -> list[tuple[str, str, str]]:
    """(surface, canonical, kind) longest surface first; kind = field | indicator | growth."""
    items = []
    for f in FIELDS:
        items.append((f.name, f.name, "field"))
    items += [(k, v, "field") for k, v in FIELD_SYNONYMS.items()]
    for name in RATIOS:
        items.append((name, name, "indicator"))
    items += [(k, v, "indicator") for k, v in INDICATOR_SYNONYMS.items()]
    for name in GROWTH_FIELDS:
        for surface in (f"{name}增长率", f"{name}的增长率", f"{name}同比增长", f"{name}增长了多少"):
            items.append((surface, f"{name}增长率", "growth"))
    return sorted(set(items), key=lambda t: -len(t[0]))


def find_terms(text: str) -> list[tuple[str, str]]:
    """(canonical, kind) of every field/indicator named in ``text``, longest match first, no overlaps, in order."""
    taken = [False] * len(text)
    found = []
    for surface, canonical, kind in _vocab():
        start = text.find(surface)
        while start >= 0:
            if not any(taken[start:start + len(surface)]):
                for i in range(start, start + len(surface)):
                    taken[i] = True
                found.append((start, canonical, kind))
            start = text.find(surface, start + 1)
    seen, out = set(), []
    for _, canonical, kind in sorted(found):
        if canonical not in seen:
            seen.add(canonical)
            out.append((canonical, kind))
    return out


class CompanyFinder:
    """Companies named in a question: exact names/codes of the database's companies first, then chapter 6's
    ``CompanyLookup`` over all A-share companies for noisy mentions (built on first use, ~3 s)."""

    def __init__(self, db_companies: list[tuple[str, str, str]]):
        from ch06_rag.company_lookup import Company, core_name

        self.known = [Company(code, short or "", full or "") for code, short, full in db_companies]
        self._names = sorted(((n, c) for c in self.known for n in (c.full_name, core_name(c.full_name), c.short_name,
                                                                      c.code) if n), key=lambda t: -len(t[0]))
        self._lookup = None

    def find(self, text: str):
        for name, company in self._names:
            if name in text:
                return company, name
        if self._lookup is None:
            from ch06_rag.company_lookup import CompanyLookup, load_companies
            self._lookup = CompanyLookup(load_companies())
        mention = re.split(r"(20[0-3]\d年|的)", text)[0] or text
        match = self._lookup.lookup(mention)
        if match.company is None:
            return None, ""
        for c in self.known:  # 数据库里的公司用数据库里的名字
            if c.code == match.company.code:
                return c, mention
        return match.company, mention


def parse_question(text: str, finder: CompanyFinder) -> ParsedQuestion:
    text = (text or "").strip()
    company, mention = finder.find(text)
    years = [int(y) for y in dict.fromkeys(_YEAR.findall(text))]
    terms = find_terms(text)
    fields_ = [c for c, k in terms if k == "field"]
    indicators = [c for c, k in terms if k in ("indicator", "growth")]
    q = ParsedQuestion(text, "3-1", company, mention, years, fields_, indicators[0] if indicators else None)
    rank = _RANK.search(text)
    if company is None and _CONCEPT.search(text) and (indicators or fields_):
        q.type = "3-2"
    elif company is None and rank and (fields_ or indicators):
        n_text = rank.group(2) or rank.group(4) or "1"
        n = int(n_text) if n_text.isdigit() else _CN_DIGIT.get(n_text, 1)
        desc = not any(w in rank.group(0) for w in ("低", "少", "小"))
        q.type, q.rank = "rank", ("desc" if desc else "asc", n)
    elif company is None and _CONCEPT.search(text):
        q.type = "3-2"
    elif company is not None and indicators:
        q.type = "2-1"
    elif company is not None and fields_ and (len(years) >= 2 or _COMPARE.search(text)) and len(years) != 1:
        q.type = "2-2"
    elif company is not None and len(fields_) >= 2:
        q.type = "1-2"
    elif company is not None and fields_:
        q.type = "1"
    return q


def load_questions(path: str | Path | None = None) -> list[dict]:
    """Question records (``{"id", "type", "question", "answer", "values", "keywords"}``; only ``question`` is
    required) from a JSONL file (default: the bundled ``data/ch13/questions.jsonl``)."""
    from common.cli import UserError

    path = Path(path) if path else DEFAULT_QUESTIONS
    if not path.is_file():
        raise UserError(f"question file not found: {path}. To fix: python ch13_finreport_qa/make_questions.py")
    rows = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                row = json.loads(line)
                str(row["question"])
            except (ValueError, KeyError, TypeError) as err:
                raise UserError(f"{path} line {i}: not a question record ({err})") from None
            rows.append(row)
    return rows
