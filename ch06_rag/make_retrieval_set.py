"""6.2.4 The bundled retrieval test set over the real annual reports (data/ch06/retrieval_qa.jsonl).

The questions, answers and evidence strings below were written by reading the three reports in
``data/finreports/reports/`` (安靠智电, 海翔药业, 邮储银行, report year 2019). This script only finds, for each question,
every page of that company's report whose text contains the evidence string (whitespace ignored): those pages are the
gold pages a retriever should return. A question whose evidence is on no page stops the script (a typo in the spec or
a changed report). Output lines: ``{"id", "question", "answer", "evidence", "source", "company", "pages"}``.

    python ch06_rag/make_retrieval_set.py                 # writes data/ch06/retrieval_qa.jsonl
    python ch06_rag/make_retrieval_set.py --docs DIR --out my_questions.jsonl
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import UserError, arg, run

# (company, question, answer, evidence on the answering page) — 手工阅读年报写成
SPEC: list[tuple[str, str, str, str]] = [
    # ---- 安靠智电 2019
    ("安靠智电", "安靠智电的法定代表人是谁？", "陈晓晖", "公司的法定代表人 | 陈晓晖"),
    ("安靠智电", "安靠智电的注册地址在哪里？", "溧阳市经济开发区天目湖工业园", "注册地址 | 溧阳市经济开发区天目湖工业园"),
    ("安靠智电", "安靠智电的办公地址是什么？", "江苏省溧阳市天目湖大道100号", "办公地址 | 江苏省溧阳市天目湖大道100号"),
    ("安靠智电", "安靠智电的电子信箱是什么？", "ankura01@ankura.com.cn", "电子信箱 | ankura01@ankura.com.cn"),
    ("安靠智电", "安靠智电的董事会秘书叫什么名字？", "张冬云", "姓名 | 张冬云 | 李莉"),
    ("安靠智电", "安靠智电的外文名称是什么？", "Jiangsu Ankura Smart Transmission Engineering Technology Co.Ltd",
     "Jiangsu Ankura Smart Transmission"),
    ("安靠智电", "安靠智电聘请的会计师事务所是哪家？", "天衡会计师事务所（特殊普通合伙）", "会计师事务所名称 | 天衡会计师事务所"),
    ("安靠智电", "安靠智电年报的签字会计师是谁？", "闵志强、施利华", "签字会计师姓名 | 闵志强、施利华"),
    ("安靠智电", "安靠智电2019年营业收入是多少元？", "318,024,319.30", "营业收入（元） | 318,024,319.30"),
    ("安靠智电", "安靠智电2019年归属于上市公司股东的净利润是多少？", "63,616,426.50",
     "归属于上市公司股东的净利润（元） | 63,616,426.50"),
    ("安靠智电", "安靠智电2019年的基本每股收益是多少？", "0.65元/股", "基本每股收益（元/股） | 0.65"),
    ("安靠智电", "安靠智电2019年末资产总额是多少？", "1,050,566,795.15", "资产总额（元） | 1,050,566,795.15"),
    ("安靠智电", "安靠智电前五名客户合计销售金额是多少？", "206,860,533.40", "前五名客户合计销售金额（元） | 206,860,533.40"),
    ("安靠智电", "安靠智电前五名供应商合计采购金额占年度采购总额的比例是多少？", "28.68%",
     "前五名供应商合计采购金额占年度采购总额比例 | 28.68%"),
    ("安靠智电", "安靠智电2019年研发人员有多少人？", "74", "研发人员数量（人） | 74 | 61 | 58"),
    ("安靠智电", "安靠智电2019年研发投入金额是多少？", "22,334,548.66", "研发投入金额（元） | 22,334,548.66"),
    ("安靠智电", "安靠智电在职员工的数量合计是多少人？", "642", "在职员工的数量合计（人） | 642"),
    ("安靠智电", "安靠智电硕士及以上学历的员工有几人？", "10", "硕士及以上 | 10"),
    ("安靠智电", "安靠智电主要从事什么业务？", "高压及超高压电缆连接件、GIL及相关产品的研发和生产",
     "公司主要致力于高压及超高压电缆连接件、GIL及相关产品的研发和生产"),
    ("安靠智电", "截至报告期末安靠智电拥有多少项有效专利？", "62项，其中发明专利19项、实用新型专利43项",
     "截至本报告期末，公司拥有有效专利62项"),
    ("安靠智电", "安靠智电2019年的利润分配预案是什么？", "每10股派发现金红利5元（含税），以资本公积金每10股转增3股",
     "向全体股东每10股派发现金红利5元（含税）"),
    ("安靠智电", "安靠智电的长期战略目标是什么？", "成为“国际领先的超、特高压地下智能输电整体方案供应商”",
     "国际领先的超、特高压地下智能输电整体方案供应商"),
    # ---- 海翔药业 2019
    ("海翔药业", "海翔药业的法定代表人是谁？", "杨思卫", "公司的法定代表人 | 杨思卫"),
    ("海翔药业", "海翔药业的注册地址在哪里？", "浙江省台州市椒江区外沙支路100号", "注册地址 | 浙江省台州市椒江区外沙支路100号"),
    ("海翔药业", "海翔药业的公司网址是什么？", "http://www.hisoar.com", "公司网址 | http://www.hisoar.com"),
    ("海翔药业", "海翔药业的电子信箱是什么？", "stock@hisoar.com", "电子信箱 | stock@hisoar.com | stock@hisoar.com"),
    ("海翔药业", "海翔药业的董事会秘书是谁？", "许华青", "姓名 | 许华青 | 蒋如东"),
    ("海翔药业", "海翔药业的外文名称缩写是什么？", "HISOAR", "公司的外文名称缩写（如有） | HISOAR"),
    ("海翔药业", "海翔药业的组织机构代码是多少？", "913300001482332737", "组织机构代码 | 913300001482332737"),
    ("海翔药业", "海翔药业聘请的会计师事务所是哪家？", "天健会计师事务所（特殊普通合伙）", "会计师事务所名称 | 天健会计师事务所"),
    ("海翔药业", "海翔药业2019年营业收入是多少元？", "2,941,412,770.30", "营业收入（元） | 2,941,412,770.30"),
    ("海翔药业", "海翔药业2019年归属于上市公司股东的净利润是多少？", "770,782,185.09",
     "归属于上市公司股东的净利润（元） | 770,782,185.09"),
    ("海翔药业", "海翔药业2019年经营活动产生的现金流量净额是多少？", "612,399,095.31",
     "经营活动产生的现金流量净额（元） | 612,399,095.31"),
    ("海翔药业", "海翔药业2019年的加权平均净资产收益率是多少？", "14.07%", "加权平均净资产收益率 | 14.07%"),
    ("海翔药业", "海翔药业2019年末总资产是多少？", "6,747,198,664.47", "总资产（元） | 6,747,198,664.47"),
    ("海翔药业", "海翔药业前五名客户合计销售金额是多少？", "649,326,403.37", "前五名客户合计销售金额（元） | 649,326,403.37"),
    ("海翔药业", "海翔药业2019年的销售费用是多少？", "59,623,024.88", "销售费用 | 59,623,024.88"),
    ("海翔药业", "海翔药业2019年研发人员数量是多少？", "443", "研发人员数量（人） | 443 | 405"),
    ("海翔药业", "海翔药业2019年研发投入占营业收入的比例是多少？", "4.17%", "研发投入占营业收入比例 | 4.17%"),
    ("海翔药业", "海翔药业报告期末普通股股东总数是多少？", "71,441", "报告期末普通股股东总数 | 71,441"),
    ("海翔药业", "海翔药业的第一大股东是谁，持股比例多少？", "浙江东港投资有限公司，34.22%",
     "浙江东港投资有限公司 | 境内非国有法人 | 34.22%"),
    ("海翔药业", "海翔药业在职员工的数量合计是多少？", "3,294", "在职员工的数量合计（人） | 3,294"),
    ("海翔药业", "海翔药业的技术人员有多少人？", "659", "技术人员 | 659"),
    ("海翔药业", "海翔药业的主营业务分为哪两大板块？", "医药和染料两大板块", "公司主营业务分为医药和染料两大板块"),
    ("海翔药业", "海翔药业染料板块主要从事什么？", "环保型活性染料、染料中间体以及颜料中间体的生产和销售",
     "染料板块主要从事环保型活性染料、染料中间体以及颜料中间体的生产和销售"),
    ("海翔药业", "海翔药业2019年度的利润分配预案是什么？", "每10股派发现金红利3元（含税），不送红股，不以公积金转增股本",
     "向全体股东每10股派发现金红利3元（含税），送红股0股（含税），不以公积金转增股本"),
    # ---- 邮储银行 2019
    ("邮储银行", "邮储银行的法定代表人是谁？", "张金良", "法定代表人： | 张金良"),
    ("邮储银行", "邮储银行的行长是谁？", "郭新双", "行长： | 郭新双"),
    ("邮储银行", "邮储银行的注册和办公地址在哪里？", "北京市西城区金融大街3号", "中国注册和办公地址： | 北京市西城区金融大街"),
    ("邮储银行", "邮储银行的客服及投诉电话是多少？", "86-95580", "客服及投诉电话： | 86-95580"),
    ("邮储银行", "邮储银行的统一信用证编码是什么？", "9111000071093465XC", "统一信用证编码： | 9111000071093465XC"),
    ("邮储银行", "邮储银行的国内审计师是哪家会计师事务所？", "普华永道中天会计师事务所（特殊普通合伙）",
     "国内审计师： | 普华永道中天会计师事务所"),
    ("邮储银行", "邮储银行的H股股票代码是多少？", "1658", "股票简称： 邮储银行股票代码： 1658"),
    ("邮储银行", "邮储银行的中国法律顾问是哪家律师事务所？", "北京市金杜律师事务所", "中国法律顾问： | 北京市金杜律师事务所"),
    ("邮储银行", "邮储银行2019年营业收入是多少？", "276,809百万元（2,768.09亿元）", "营业收入 | 276,809 | 260,995"),
    ("邮储银行", "邮储银行2019年净利润是多少？", "61,036百万元（610.36亿元）", "净利润 | 61,036 | 52,384"),
    ("邮储银行", "邮储银行2019年末资产总额是多少？", "10,216,706百万元", "资产总额 | 10,216,706 | 9,516,211"),
    ("邮储银行", "邮储银行2019年末不良贷款率是多少？", "0.86%", "不良贷款率(6) | 0.86"),
    ("邮储银行", "邮储银行2019年末拨备覆盖率是多少？", "389.45%", "拨备覆盖率(7) | 389.45"),
    ("邮储银行", "邮储银行有多少个营业网点，服务多少个人客户？", "近4万个营业网点，个人客户超过6亿户",
     "本行拥有近4万个营业网点，服务个人客户超过6亿户"),
    ("邮储银行", "邮储银行2019年度的现金股利分配方案是什么？", "每10股普通股派发人民币2.102元（含税），合计182.83亿元",
     "每10股普通股派发人民币2.102元"),
    ("邮储银行", "邮储银行2019年提取了多少法定盈余公积？", "60.68亿元", "提取法定盈余公积60.68亿元"),
    ("邮储银行", "邮储银行报告期末客户贷款总额是多少？", "49,741.86亿元", "客户贷款总额49,741.86亿元"),
    ("邮储银行", "邮储银行报告期末客户存款总额是多少？", "93,140.66亿元", "客户存款总额93,140.66亿元"),
    ("邮储银行", "邮储银行的个人客户有多少户？", "6.05亿户", "个人客户6.05亿户"),
    ("邮储银行", "邮储银行2019年业务及管理费是多少？", "1,565.99亿元", "本集团业务及管理费1,565.99亿元"),
    ("邮储银行", "邮储银行2019年末核心一级资本充足率是多少？", "9.90%", "核心一级资本充足率达到9.90%"),
    ("邮储银行", "邮储银行2019年个人银行业务营业收入是多少？", "1,765.69亿元", "个人银行业务营业收入1,765.69亿元"),
]


def squash(text: str) -> str:
    return "".join(text.split())


@dataclass
class Config:
    docs: str | None = arg(None, "folder with the reports (default data/finreports/reports)")
    out: str | None = arg(None, "output JSONL (default data/ch06/retrieval_qa.jsonl)")


def build(documents) -> list[dict]:
    """Gold pages for every SPEC entry (pages of that company's report containing the evidence)."""
    by_company: dict[str, list] = {}
    for d in documents:
        by_company.setdefault(d.metadata.get("company", ""), []).append(d)
    records, missing = [], []
    for i, (company, question, answer, evidence) in enumerate(SPEC):
        pages = sorted({d.metadata["page"] for d in by_company.get(company, [])
                        if squash(evidence) in squash(d.page_content)})
        if not pages:
            missing.append(f"{company}: {evidence}")
            continue
        source = next(d.metadata["source"] for d in by_company[company])
        records.append({"id": f"q{i:03d}", "question": question, "answer": answer, "evidence": evidence,
                        "source": source, "company": company, "pages": pages})
    if missing:
        raise UserError("evidence not found in the reports: " + "; ".join(missing)
                        + ". To fix: correct SPEC in ch06_rag/make_retrieval_set.py")
    return records


def main(cfg: Config) -> dict:
    from common.paths import DATA_DIR
    from ch06_rag.loaders import load_folder

    docs_dir = Path(cfg.docs) if cfg.docs else DATA_DIR / "finreports" / "reports"
    loaded = load_folder(docs_dir)
    records = build(loaded.documents)
    out = Path(cfg.out) if cfg.out else DATA_DIR / "ch06" / "retrieval_qa.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    multi = sum(len(r["pages"]) > 1 for r in records)
    print(f"wrote {len(records)} questions over {len(loaded.files)} reports to {out} "
          f"({multi} answered on more than one page)")
    return {"path": str(out), "n": len(records), "records": records}


if __name__ == "__main__":
    run(main, Config, __doc__)
