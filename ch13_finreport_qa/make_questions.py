"""13.2 评测问题集 — build the bundled question set from the chapter-12 gold files (values read from the reports).

Every numeric or text answer comes from ``data/finreports/gold/*.json`` (written by hand from the reports' pages and
checked by the chapter-12 tests), indicators are computed from those gold values with the challenge's formulas, and
the reference sentences are written in the challenge's answer style. Open questions (3-1) take the report's own
passage on the topic (page and opening words chosen by reading the report) as the reference; concept questions (3-2)
have hand-written definitions. ``values`` are what the metric's value check looks for, ``keywords`` what its key-word
check looks for.

    python ch13_finreport_qa/make_questions.py          # (re)writes data/ch13/questions.jsonl
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import arg, run
from common.paths import DATA_DIR, write_jsonl

GOLD_DIR = DATA_DIR / "finreports" / "gold"
REPORTS_DIR = DATA_DIR / "finreports" / "reports"
OUT = DATA_DIR / "ch13" / "questions.jsonl"

SINGLE = ["法定代表人", "注册地址", "办公地址", "电子信箱", "公司网址", "证券代码", "外文名称", "职工总数", "研发人员",
          "硕士及以上人数", "营业收入", "营业成本", "净利润", "利润总额", "营业利润", "所得税费用", "货币资金", "固定资产",
          "无形资产", "资产总计", "负债合计", "销售费用", "管理费用", "研发费用", "财务费用", "营业外收入", "营业外支出",
          "利息收入", "投资收益", "基本每股收益", "综合收益总额", "股本"]
PAIRS = [("研发人员", "技术人员"), ("营业收入", "营业成本"), ("销售费用", "管理费用"), ("资产总计", "负债合计"),
         ("生产人员", "销售人员"), ("营业外收入", "营业外支出"), ("利息收入", "利息支出")]
CROSS = ["营业收入", "净利润", "资产总计", "负债合计", "货币资金", "固定资产", "研发人员", "股本"]
RANKS = [("营业收入", "最高", "desc", 1), ("净利润", "最高", "desc", 1), ("资产总计", "最低", "asc", 1),
         ("负债合计", "第2高", "desc", 2), ("营业外收入", "最高", "desc", 1), ("职工总数", "最多", "desc", 1),
         ("所得税费用", "最低", "asc", 1)]
# topic -> (words a good answer mentions, the page and the opening words of the report's passage on it — chosen by
# reading the reports; the reference answer is that passage)
OPEN_TOPICS = {"海翔药业": [("主营业务", ["医药", "染料"], 10, "报告期内公司从事的主要业务"),
                        ("核心竞争力", ["一体化"], 13, "核心竞争力分析")],
               "安靠智电": [("主营业务", ["电缆连接件"], 11, "报告期内公司从事的主要业务"),
                        ("核心竞争力", ["技术"], 16, "核心竞争力分析")],
               "邮储银行": [("零售银行战略", ["零售"], 49, "本行拥有中国商业银行中最大的分销网络"),
                        ("风险管理", ["风险"], 73, "全面风险管理体系")]}
CONCEPTS = {
    "资产负债比率": "资产负债比率是企业负债总额与资产总额的比率，反映企业的资产中有多少是通过举债取得的，"
               "计算公式为总负债除以资产总额，以百分数表示。",
    "流动比率": "流动比率是流动资产与流动负债的比值，衡量企业用短期内可变现的资产偿还短期债务的能力。",
    "速动比率": "速动比率是速动资产（流动资产减去存货）与流动负债的比值，比流动比率更严格地衡量短期偿债能力。",
    "毛利率": "毛利率是毛利（营业收入减去营业成本）占营业收入的百分比，反映产品或服务的基本盈利空间。",
    "净利润率": "净利润率是净利润占营业收入的百分比，反映每一元收入最终留下多少利润。",
    "现金比率": "现金比率是货币资金与流动负债的比率，衡量企业直接用现金偿还短期债务的能力。",
    "三费比重": "三费比重是销售费用、管理费用和财务费用之和占营业收入的比重，反映期间费用的负担。",
    "管理费用率": "管理费用率是管理费用占营业收入的百分比，反映企业管理开支的效率。",
    "营业利润率": "营业利润率是营业利润占营业收入的百分比，反映企业主营经营活动的获利能力。",
    "营业收入增长率": "营业收入增长率是本年营业收入比上年增加的部分占上年营业收入的百分比，反映企业的成长性。",
}
UNIT_OF = {"职工总数": "人", "研发人员": "人", "技术人员": "人", "生产人员": "人", "销售人员": "人",
           "硕士及以上人数": "人", "基本每股收益": "元/股"}


def value_text(entry: dict, statement_unit: float, previous: bool = False) -> str:
    """The gold value as the metric looks for it: the printed digits without commas when the report prints yuan,
    else the number converted to yuan (邮储银行 prints 百万元)."""
    value = entry["previous_value" if previous else "value"]
    printed = entry.get("previous_printed" if previous else "printed")
    if not isinstance(value, (int, float)):
        return str(value)
    if printed and (statement_unit == 1 or entry.get("page", 0) < 30 or UNIT_OF.get(entry.get("label", ""))):
        digits = printed.replace(",", "").replace(" ", "")
        try:
            if abs(float(digits) - value) < 1e-6 * max(1.0, abs(value)):
                return digits
        except ValueError:
            pass
    return f"{value:.2f}".rstrip("0").rstrip(".")


def build_questions() -> list[dict]:
    from ch12_finreport_extract.alltxt import parse_report_name
    from ch13_finreport_qa.indicators import compute_all

    out: list[dict] = []

    def add(kind, question, answer, values, keywords, **extra):
        out.append({"id": len(out), "type": kind, "question": question, "answer": answer, "values": values,
                    "keywords": keywords, **extra})

    golds = {}
    for path in sorted(GOLD_DIR.glob("*.json")):
        gold = json.loads(path.read_text(encoding="utf-8"))
        name = parse_report_name(gold["report"] + ".txt")
        golds[name.short_name] = (name, gold)
    for short, (name, gold) in golds.items():
        f, unit, year = gold["fields"], gold.get("statement_unit", 1), name.year
        for field in [x for x in SINGLE if x in f][:16]:
            v = value_text(f[field], unit)
            u = "" if not isinstance(f[field]["value"], (int, float)) else UNIT_OF.get(field, "元")
            add("1", f"{short}{year}年的{field}是多少？" if u else f"{short}{year}年的{field}是什么？",
                f"{short}{year}年的{field}是{v}{u}。", [v], [short, str(year), field])
        for a, b in [p for p in PAIRS if p[0] in f and p[1] in f][:4]:
            va, vb = value_text(f[a], unit), value_text(f[b], unit)
            ua, ub = UNIT_OF.get(a, "元"), UNIT_OF.get(b, "元")
            add("1-2", f"{short}{year}年的{a}和{b}分别是多少？", f"{short}{year}年的{a}是{va}{ua}，{b}是{vb}{ub}。",
                [va, vb], [short, str(year), a, b])
        numeric = {k: e["value"] for k, e in f.items() if isinstance(e.get("value"), (int, float))}
        previous = {k: e["previous_value"] for k, e in f.items() if isinstance(e.get("previous_value"), (int, float))}
        for ind in list(compute_all(numeric, previous).values())[:9]:
            inputs = [value_text(f[k], unit) if k in f else value_text(f[k[2:]], unit, previous=True)
                      for k in ind.inputs]
            add("2-1", f"{short}{year}年的{ind.name}是多少？保留2位小数。",
                f"{short}{year}年的{ind.name}是{ind.text()}，计算公式为{ind.formula}。", [ind.text()],
                [short, str(year), ind.name, *inputs])
        for field in [x for x in CROSS if x in previous and x in numeric][:3]:
            same = previous[field] == numeric[field]
            v1, v0 = value_text(f[field], unit), value_text(f[field], unit, previous=True)
            add("2-2", f"{short}{year - 1}年和{year}年的{field}是否相同？",
                f"{short}{year - 1}年的{field}是{v0}，{year}年是{v1}，{'相同' if same else '不相同'}。",
                ["相同" if same else "不相同"], [short, field, v0, v1])
        for field in list(gold.get("not_in_report", {}))[:1]:
            add("1", f"{short}{year}年的{field}是多少？", f"{short}{year}年的年报中没有{field}的数据。", ["没有"],
                [short, field], no_data=True)
        for topic, words, page, opening in OPEN_TOPICS.get(short, []):
            add("3-1", f"简要介绍{short}{year}年的{topic}情况。", _open_reference(short, page, opening), [],
                [short, *words], page=page)
    years = {g[0].year for g in golds.values()}
    for field, word, order, n in RANKS:
        for year in sorted(years):
            rows = sorted(((s, g[1]["fields"][field]["value"], g[1]) for s, g in golds.items()
                           if field in g[1]["fields"] and g[0].year == year), key=lambda t: t[1],
                          reverse=order == "desc")
            if len(rows) >= n:
                s, v, gold = rows[n - 1]
                val = value_text(gold["fields"][field], gold.get("statement_unit", 1))
                add("1", f"{year}年{field}{word}的公司是哪家？",
                    f"{year}年{field}{word}的公司是{s}，{field}为{val}{UNIT_OF.get(field, '元')}。", [s],
                    [str(year), field, s], rank=True)
    for name, text in CONCEPTS.items():
        add("3-2", f"什么是{name}？", text, [], [name])
    return out


def _open_reference(short: str, page: int, opening: str, chars: int = 200) -> str:
    """The report's passage on ``page`` that starts with ``opening`` (its text rows, ``chars`` characters)."""
    from ch12_finreport_extract.alltxt import read_alltxt

    path = next(iter(sorted(REPORTS_DIR.glob(f"*__{short}__*.txt.gz"))))
    text = "".join(r["inside"] for r in read_alltxt(path) if r["page"] == page and r["type"] == "text")
    start = text.find(opening)
    if start < 0:
        raise ValueError(f"{short} p.{page} has no passage starting with {opening!r}")
    return f"据{short}年报第{page}页：" + text[start:start + chars]


@dataclass
class Config:
    out: str = arg("", "where to write the JSONL (default: the bundled data/ch13/questions.jsonl)")


def main(cfg: Config) -> dict:
    from collections import Counter

    questions = build_questions()
    path = write_jsonl(Path(cfg.out) if cfg.out else OUT, questions)
    kinds = Counter(q["type"] for q in questions)
    print(f"wrote {len(questions)} questions to {path}: " + ", ".join(f"type {k}: {v}" for k, v in sorted(kinds.items())))
    return {"path": str(path), "questions": questions}


if __name__ == "__main__":
    run(main, Config, __doc__)
