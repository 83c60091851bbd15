"""13.1.3 计算指标 — the challenge's indicator formulas, computed from extracted fields (rounded as it rounds).

Percentages are rounded to 2 decimals and reported with ``%`` (``毛利率 = (营业收入 − 营业成本) / 营业收入``); the
"plain decimal" ratios (流动比率, 速动比率, 研发经费比值, 人员比例) are rounded to 2 decimals too. A growth rate of X
is ``(X − 上年X) / 上年X`` from the report's own previous-year column. Every result keeps its inputs and formula, so
an answer can show how it was computed. Missing or zero inputs give no value (never a guess).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

# name: (numerator fields, denominator fields, percent?, formula text). A "+" list is summed; "-" starts a subtraction.
RATIOS: dict[str, tuple[tuple[str, ...], tuple[str, ...], bool, str]] = {
    "资产负债比率": (("负债合计",), ("资产总计",), True, "总负债/资产总额"),
    "流动负债比率": (("流动负债合计",), ("负债合计",), True, "流动负债/总负债"),
    "非流动负债比率": (("非流动负债合计",), ("负债合计",), True, "非流动负债/总负债"),
    "现金比率": (("货币资金",), ("流动负债合计",), True, "货币资金/流动负债"),
    "毛利率": (("营业收入", "-营业成本"), ("营业收入",), True, "(营业收入-营业成本)/营业收入"),
    "营业成本率": (("营业成本",), ("营业收入",), True, "营业成本/营业收入"),
    "营业利润率": (("营业利润",), ("营业收入",), True, "营业利润/营业收入"),
    "净利润率": (("净利润",), ("营业收入",), True, "净利润/营业收入"),
    "管理费用率": (("管理费用",), ("营业收入",), True, "管理费用/营业收入"),
    "财务费用率": (("财务费用",), ("营业收入",), True, "财务费用/营业收入"),
    "三费比重": (("销售费用", "管理费用", "财务费用"), ("营业收入",), True, "(销售费用+管理费用+财务费用)/营业收入"),
    "投资收益占营业收入比率": (("投资收益",), ("营业收入",), True, "投资收益/营业收入"),
    "流动比率": (("流动资产合计",), ("流动负债合计",), False, "流动资产/流动负债"),
    "速动比率": (("流动资产合计", "-存货"), ("流动负债合计",), False, "(流动资产-存货)/流动负债"),
    "企业研发经费与利润比值": (("研发费用",), ("净利润",), False, "研发费用/净利润"),
    "企业研发经费与营业收入比值": (("研发费用",), ("营业收入",), False, "研发费用/营业收入"),
    "企业研发经费占费用比例": (("研发费用",), ("销售费用", "财务费用", "管理费用", "研发费用"), False,
                      "研发费用/(销售费用+财务费用+管理费用+研发费用)"),
    "研发人员占职工人数比例": (("研发人员",), ("职工总数",), False, "研发人员数/职工总数"),
    "企业硕士及以上人员占职工人数比例": (("硕士及以上人数",), ("职工总数",), False, "硕士及以上人数/职工总数"),
}
# 增长率：(X − 上年X) / 上年X，字段名 -> 报告中的字段
GROWTH_FIELDS = {"营业收入": "营业收入", "营业利润": "营业利润", "净利润": "净利润", "销售费用": "销售费用",
                 "管理费用": "管理费用", "财务费用": "财务费用", "研发费用": "研发费用", "投资收益": "投资收益",
                 "货币资金": "货币资金", "固定资产": "固定资产", "无形资产": "无形资产", "总资产": "资产总计",
                 "总负债": "负债合计", "流动负债": "流动负债合计", "现金及现金等价物": "期末现金及现金等价物余额"}
INDICATOR_NAMES = tuple(RATIOS) + tuple(f"{k}增长率" for k in GROWTH_FIELDS)


@dataclass
class Indicator:
    name: str
    value: float            # percent value (49.57 for 49.57 %) or plain decimal
    percent: bool
    formula: str
    inputs: dict            # field -> value used

    def text(self) -> str:
        return f"{self.value:.2f}%" if self.percent else f"{self.value:.2f}"


def round2(x: float) -> float:
    """Round half up to 2 decimals (the challenge's rounding, not Python's banker's rounding)."""
    return float(Decimal(repr(x)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _sum(names: tuple[str, ...], values: dict) -> tuple[float | None, dict]:
    total, used = 0.0, {}
    for n in names:
        sign, key = (-1, n[1:]) if n.startswith("-") else (1, n)
        v = values.get(key)
        if not isinstance(v, (int, float)):
            return None, used
        used[key] = v
        total += sign * v
    return total, used


def compute_ratio(name: str, fields: dict) -> Indicator | None:
    num_names, den_names, percent, formula = RATIOS[name]
    num, used = _sum(num_names, fields)
    den, used_d = _sum(den_names, fields)
    if num is None or den is None or den == 0:
        return None
    value = num / den * (100 if percent else 1)
    return Indicator(name, round2(value), percent, formula, {**used, **used_d})


def compute_growth(name: str, fields: dict, previous: dict) -> Indicator | None:
    key = GROWTH_FIELDS[name]
    cur, prev = fields.get(key), previous.get(key)
    if not isinstance(cur, (int, float)) or not isinstance(prev, (int, float)) or prev == 0:
        return None
    return Indicator(f"{name}增长率", round2((cur - prev) / prev * 100), True, f"({name}-上年{name})/上年{name}",
                     {key: cur, f"上年{key}": prev})


def compute_all(fields: dict, previous: dict | None = None) -> dict[str, Indicator]:
    """Every indicator that the fields allow (name -> Indicator)."""
    out = {}
    for name in RATIOS:
        ind = compute_ratio(name, fields)
        if ind:
            out[name] = ind
    for name in GROWTH_FIELDS:
        ind = compute_growth(name, fields, previous or {})
        if ind:
            out[ind.name] = ind
    return out
