"""The field synonym table: the challenge's Chinese field names and the row labels reports print for them (12.2.2).

One table drives the rule extractor (``extract_report``), the gold files and chapter 13's field database. A field
is looked up in one *group* of the report: ``basic`` (公司信息 table of 第二节 公司简介和主要财务指标), ``employees``
(员工情况), ``rnd`` (研发投入 table), ``balance`` / ``income`` / ``cashflow`` (the three consolidated statements).
Labels are compared after :func:`normalize_label` (spaces, enumerations, "其中：/加：/减：" and parentheses removed),
exactly — a synonym list, never a substring search, so 「归属于母公司所有者的净利润」 is not taken for 「净利润」.
"""
from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    name: str                  # the challenge's field name (JSON key)
    group: str                 # basic | employees | rnd | balance | income | cashflow
    synonyms: tuple[str, ...]  # normalized row labels that give this field, most specific first
    kind: str = "amount"       # amount (yuan, current + previous year) | count (people) | text


def _f(name, group, *synonyms, kind="amount"):
    return Field(name, group, tuple(normalize_label(s) for s in (synonyms or (name,))), kind)


_ENUM_RE = re.compile(r"^(?:[（(]?[一二三四五六七八九十]+[)）、.．]|[（(]\d+[)）]|\d+[、.．)）](?!\d)|[-－—•])\s*")
_PREFIX_RE = re.compile(r"^(?:其中|加|减|其中[:：]?加|减[:：]?其中)[:：]\s*")
_PAREN_RE = re.compile(r"[（(][^（）()]*[)）]")
_NOTE_RE = re.compile(r"[（(]?(?:注|附注)\s*\d*[)）]?$")


def normalize_label(label: str) -> str:
    """「五、净利润（净亏损以“－”号填列）」 -> 「净利润」; 「其中：营业收入」 -> 「营业收入」; 「公司的外文名称（如有）」
    -> 「公司的外文名称」; spaces, line breaks, colons and note marks removed."""
    s = re.sub(r"\s+", "", label or "")
    for _ in range(3):
        s2 = _ENUM_RE.sub("", s)
        s2 = _PREFIX_RE.sub("", s2)
        if s2 == s:
            break
        s = s2
    prev = None
    while prev != s:
        prev, s = s, _PAREN_RE.sub("", s)
    s = _NOTE_RE.sub("", s)
    return s.rstrip(":：").replace("：", "").replace(":", "").replace("/", "")


FIELDS: tuple[Field, ...] = (
    # ---- 公司信息 (text)
    _f("企业名称", "basic", "公司的中文名称", "法定中文名称", "公司中文名称", "中文名称", "公司名称", kind="text"),
    _f("外文名称", "basic", "公司的外文名称", "法定英文名称", "公司的英文名称", "英文名称", "外文名称", "公司外文名称",
       kind="text"),
    _f("法定代表人", "basic", "公司的法定代表人", "法定代表人", kind="text"),
    _f("注册地址", "basic", "注册地址", "公司注册地址", "中国注册和办公地址", "注册和办公地址", kind="text"),
    _f("办公地址", "basic", "办公地址", "公司办公地址", "中国注册和办公地址", "注册和办公地址", kind="text"),
    _f("电子信箱", "basic", "电子信箱", "公司电子信箱", "电子邮箱", "E-mail", "Email", kind="text"),
    _f("公司网址", "basic", "公司网址", "公司国际互联网网址", "公司互联网网址", "互联网网址", "网址", kind="text"),
    _f("证券代码", "basic", "股票代码", "证券代码", "A股股票代码", "A股代码", kind="text"),
    _f("证券简称", "basic", "股票简称", "证券简称", "A股股票简称", "A股简称", kind="text"),
    # ---- 员工情况 (people)
    _f("职工总数", "employees", "在职员工的数量合计", "在职员工数量合计", "在职员工合计", "员工总数",
       "当期领取薪酬员工总人数", kind="count"),
    _f("生产人员", "employees", "生产人员", kind="count"),
    _f("销售人员", "employees", "销售人员", "营销人员", "市场营销人员", kind="count"),
    _f("技术人员", "employees", "技术人员", kind="count"),
    _f("财务人员", "employees", "财务人员", "财务会计", kind="count"),
    _f("行政人员", "employees", "行政人员", "管理人员", "行政管理人员", kind="count"),
    _f("研发人员", "rnd", "研发人员数量", "公司研发人员的数量", "本期研发人员数量", "研发人员", kind="count"),
    _f("硕士及以上人数", "employees", "硕士及以上", "硕士研究生及以上", "研究生及以上", "硕士及以上学历",
       "研究生及以上学历", kind="count"),
    _f("硕士人数", "employees", "硕士", "硕士研究生", "硕士学历", "研究生", kind="count"),
    _f("博士及以上人数", "employees", "博士及以上", "博士", "博士研究生", "博士研究生及以上", "博士学历", kind="count"),
    # ---- 合并资产负债表
    _f("货币资金", "balance"),
    _f("交易性金融资产", "balance"),
    _f("衍生金融资产", "balance"),
    _f("应收票据", "balance"),
    _f("应收账款", "balance"),
    _f("应收款项融资", "balance"),
    _f("预付款项", "balance", "预付款项", "预付账款"),
    _f("其他应收款", "balance"),
    _f("存货", "balance"),
    _f("流动资产合计", "balance"),
    _f("长期股权投资", "balance"),
    _f("其他非流动金融资产", "balance"),
    _f("投资性房地产", "balance"),
    _f("固定资产", "balance", "固定资产", "固定资产净额", "固定资产合计"),
    _f("在建工程", "balance"),
    _f("无形资产", "balance"),
    _f("商誉", "balance"),
    _f("长期待摊费用", "balance"),
    _f("递延所得税资产", "balance"),
    _f("非流动资产合计", "balance"),
    _f("资产总计", "balance", "资产总计", "资产合计", "资产总额"),
    _f("短期借款", "balance"),
    _f("应付票据", "balance"),
    _f("应付账款", "balance"),
    _f("预收款项", "balance", "预收款项", "预收账款"),
    _f("合同负债", "balance"),
    _f("应付职工薪酬", "balance"),
    _f("应交税费", "balance"),
    _f("其他应付款", "balance"),
    _f("流动负债合计", "balance"),
    _f("长期借款", "balance"),
    _f("应付债券", "balance"),
    _f("非流动负债合计", "balance"),
    _f("负债合计", "balance", "负债合计", "负债总计"),
    _f("股本", "balance", "实收资本或股本", "股本", "实收资本"),
    _f("资本公积", "balance"),
    _f("盈余公积", "balance"),
    _f("未分配利润", "balance"),
    _f("归属于母公司所有者权益合计", "balance", "归属于母公司所有者权益合计", "归属于母公司股东权益合计",
       "归属于银行股东权益合计"),
    _f("所有者权益合计", "balance", "所有者权益合计", "股东权益合计"),
    _f("负债和所有者权益总计", "balance", "负债和所有者权益总计", "负债和所有者权益合计", "负债及股东权益总计",
       "负债和股东权益总计", "负债及所有者权益总计"),
    # ---- 合并利润表
    _f("营业总收入", "income"),
    _f("营业收入", "income", "营业收入"),
    _f("利息收入", "income"),
    _f("营业总成本", "income"),
    _f("营业成本", "income"),
    _f("利息支出", "income", "利息支出", "利息费用"),
    _f("税金及附加", "income", "税金及附加", "营业税金及附加"),
    _f("销售费用", "income"),
    _f("管理费用", "income"),
    _f("研发费用", "income"),
    _f("财务费用", "income"),
    _f("其他收益", "income"),
    _f("投资收益", "income"),
    _f("公允价值变动收益", "income", "公允价值变动收益", "公允价值变动损益"),
    _f("信用减值损失", "income"),
    _f("资产减值损失", "income"),
    _f("资产处置收益", "income", "资产处置收益", "资产处置损益"),
    _f("营业利润", "income"),
    _f("营业外收入", "income"),
    _f("营业外支出", "income"),
    _f("利润总额", "income"),
    _f("所得税费用", "income"),
    _f("净利润", "income"),
    _f("归属于母公司所有者的净利润", "income", "归属于母公司所有者的净利润", "归属于母公司股东的净利润",
       "归属于银行股东的净利润"),
    _f("综合收益总额", "income"),
    _f("基本每股收益", "income", "基本每股收益", "基本及稀释每股收益"),
    _f("稀释每股收益", "income", "稀释每股收益", "基本及稀释每股收益"),
    # ---- 合并现金流量表
    _f("销售商品、提供劳务收到的现金", "cashflow"),
    _f("经营活动现金流入小计", "cashflow"),
    _f("经营活动产生的现金流量净额", "cashflow"),
    _f("投资活动产生的现金流量净额", "cashflow"),
    _f("筹资活动产生的现金流量净额", "cashflow"),
    _f("现金及现金等价物净增加额", "cashflow", "现金及现金等价物净增加额", "现金及现金等价物净减少额",
       "现金及现金等价物净增加额"),
    _f("期末现金及现金等价物余额", "cashflow", "期末现金及现金等价物余额", "现金及现金等价物年末余额",
       "年末现金及现金等价物余额", "现金及现金等价物期末余额"),
)

FIELDS_BY_NAME = {f.name: f for f in FIELDS}

# 报表里常见的完整行名（不是抽取字段）：重建跨页拆开的行时，完整行名不会被当成上一行的后半截
STANDARD_LINES = frozenset(normalize_label(s) for s in (
    "流动资产", "非流动资产", "流动负债", "非流动负债", "所有者权益", "股东权益", "结算备付金", "拆出资金",
    "以公允价值计量且其变动计入当期损益的金融资产", "买入返售金融资产", "应收保费", "应收分保账款",
    "应收分保合同准备金", "应收利息", "应收股利", "合同资产", "持有待售资产", "一年内到期的非流动资产",
    "其他流动资产", "发放贷款和垫款", "债权投资", "可供出售金融资产", "其他债权投资", "持有至到期投资",
    "长期应收款", "其他权益工具投资", "生产性生物资产", "油气资产", "使用权资产", "开发支出", "其他非流动资产",
    "向中央银行借款", "拆入资金", "交易性金融负债", "以公允价值计量且其变动计入当期损益的金融负债",
    "衍生金融负债", "卖出回购金融资产款", "吸收存款及同业存放", "代理买卖证券款", "代理承销证券款", "应付利息",
    "应付股利", "应付手续费及佣金", "应付分保账款", "持有待售负债", "一年内到期的非流动负债", "其他流动负债",
    "保险合同准备金", "租赁负债", "长期应付款", "长期应付职工薪酬", "预计负债", "递延收益", "递延所得税负债",
    "其他非流动负债", "其他权益工具", "优先股", "永续债", "减：库存股", "库存股", "其他综合收益", "专项储备",
    "一般风险准备", "少数股东权益", "已赚保费", "手续费及佣金收入", "手续费及佣金支出", "退保金",
    "赔付支出净额", "提取保险责任准备金净额", "保单红利支出", "分保费用", "汇兑收益", "净敞口套期收益",
    "持续经营净利润", "终止经营净利润", "少数股东损益", "其他综合收益的税后净额", "每股收益",
    "对联营企业和合营企业的投资收益", "以摊余成本计量的金融资产终止确认收益", "研发费用", "利息费用"))
GROUPS = ("basic", "employees", "rnd", "balance", "income", "cashflow")
# 每股收益按“元/股”保存，不做单位换算
PER_SHARE = {"基本每股收益", "稀释每股收益"}


def field_names(group: str | None = None) -> list[str]:
    return [f.name for f in FIELDS if group is None or f.group == group]


def fields_for_label(label: str, group: str) -> list[Field]:
    """The fields of ``group`` whose synonym list holds the normalized ``label``."""
    norm = normalize_label(label)
    return [f for f in FIELDS if f.group == group and norm in f.synonyms]
