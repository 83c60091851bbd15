"""The one LLM prompt of chapters 12–13: find one field in a passage of an annual report (12.2.2, walked through
line by line in 13.1.1). Defined once here; ``extract_report`` uses it for the fields rules could not find, and the
demo-model build may import it.
"""
from __future__ import annotations

import re

FIELD_EXTRACTION_PROMPT = """你是一名财务分析助手。下面是{company}{year}年年度报告中的一段文字（表格的单元格用“ | ”分隔）。
请从中找出「{field}」{period}的值。
要求：
1. 只根据这段文字回答，不要推测，不要计算；
2. 金额照原文抄写数字（保留小数和正负号），并写出原文的单位（元、万元、百万元等）；人数只写数字；
3. 找不到时只回答：无
只输出一行，格式为：{field}：<值>

年报片段：
{passage}"""


def build_field_prompt(field: str, passage: str, company: str = "该公司", year: int | str = "",
                       previous: bool = False) -> str:
    """The prompt text for one field (``previous=True`` asks for the previous year's column)."""
    period = "上年（上期）" if previous else "本年（本期）"
    return FIELD_EXTRACTION_PROMPT.format(company=company, year=year, field=field, period=period, passage=passage)


_NONE_RE = re.compile(r"^(?:无|没有|未找到|找不到|未提及|不适用|none|null|n/?a)\W*$", re.I)


def parse_field_answer(answer: str, field: str) -> str | None:
    """The value from a reply such as 「营业收入：1,234.56元」 (``None`` for 「无」 or an empty reply).

    The reply is only parsed — never executed — and the caller must still check the value against the passage."""
    text = (answer or "").strip().splitlines()[0].strip() if (answer or "").strip() else ""
    text = re.sub(rf"^\s*[「『]?{re.escape(field)}[」』]?\s*[:：]\s*", "", text).strip().strip("。.；;")
    if not text or _NONE_RE.match(text):
        return None
    return text
