"""The prompts of chapter 13, defined once (solutions 2 and 3, the warning summary; the demo-model build may import
them). The chapter-12 field-extraction prompt that 13.1.1 walks through lives in ``ch12_finreport_extract.prompts``."""
from __future__ import annotations

from ch13_finreport_qa.db import SCHEMA_FOR_PROMPT

NL2SQL_EXAMPLES = [
    ("海翔药业2019年的营业收入是多少元？",
     "SELECT f.value_num FROM fields f JOIN companies c ON f.code = c.code "
     "WHERE c.short_name = '海翔药业' AND f.year = 2019 AND f.field = '营业收入'"),
    ("安靠智电2019年的毛利率是多少？",
     "SELECT i.value, i.unit FROM indicators i JOIN companies c ON i.code = c.code "
     "WHERE c.short_name = '安靠智电' AND i.year = 2019 AND i.name = '毛利率'"),
    ("2019年净利润最高的公司是哪家？",
     "SELECT c.short_name, f.value_num FROM fields f JOIN companies c ON f.code = c.code "
     "WHERE f.year = 2019 AND f.field = '净利润' ORDER BY f.value_num DESC LIMIT 1"),
]

NL2SQL_PROMPT = """你是一个把问题翻译成 SQLite 查询的助手。数据库表结构：
{schema}

字段名(field)使用年报中的中文名称，例如 营业收入、净利润、资产总计、负债合计、法定代表人、职工总数；指标名(name)例如 毛利率、资产负债比率、营业收入增长率。
只写一条 SELECT 语句，不要解释。

{examples}
问题：{question}
SQL："""

VERBALISE_PROMPT = """根据数据库查询结果回答问题。金额单位是元，保留查询结果中的数字原样，不要换算成万元或亿元。
问题：{question}
查询：{sql}
结果（列：{columns}）：
{rows}
回答："""

TOOLS_SYSTEM = ("回答上市公司年报的问题时，必须先调用工具查询数据库，只根据工具返回的结果回答；"
                "金额单位是元，不要换算。")

WARNING_SUMMARY_PROMPT = """下面是{company}{year}年的财务预警检查结果（每条：指标、数值、阈值、是否触发）：
{flags}

请用两三句话总结该公司的财务风险。只能使用上面出现的数字，不要编造其他数字。"""


def nl2sql_prompt(question: str) -> str:
    examples = "\n".join(f"问题：{q}\nSQL：{s}\n" for q, s in NL2SQL_EXAMPLES)
    return NL2SQL_PROMPT.format(schema=SCHEMA_FOR_PROMPT, examples=examples, question=question.strip())
