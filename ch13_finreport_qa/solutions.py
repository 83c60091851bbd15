"""13.2 自然语言问答的三种解决方案 over the field database.

1. **rules + SQL** (:meth:`FinReportQA.solution1`): parse the question (``questions.py``), run a fixed SQL query,
   answer in the challenge's style — company, year, value with unit; for indicators the formula and its inputs;
   "no data" when the report does not have it. Open questions (3-1) go to chapter 6's retrieval over that report.
2. **NL→SQL** (:meth:`solution2`): the LLM writes SQL from the schema + few-shot prompt, ``sql_guard`` checks it
   (one SELECT, known tables) and runs it read-only with row and step limits, the LLM phrases the rows.
3. **tools** (:meth:`solution3`): the chapter-11 registry with ``query_field``, ``compute_indicator``,
   ``compare_years``, ``rank_companies`` and ``search_report`` over the DB, run by the chapter-11 agent loop.

    qa = FinReportQA("outputs/ch13/finreports.db", llm=lambda prompt: "...")   # llm optional for solution 1
    qa.answer("海翔药业2019年的毛利率是多少？", solution=1)   # {"answer", "type", "solution", ...}
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from ch13_finreport_qa.db import connect_readonly
from ch13_finreport_qa.indicators import GROWTH_FIELDS, RATIOS
from ch13_finreport_qa.questions import CompanyFinder, ParsedQuestion, parse_question

NO_DATA = "没有查到"


def fmt_value(value: float | None, text: str | None, unit: str) -> str:
    """How a stored value is written in an answer: amounts with 2 decimals as reports print them (no commas, no
    rescaling to 万元/亿元 — the challenge's value check is a substring test), counts as integers."""
    if value is None:
        return text or ""
    if unit == "人":
        return f"{int(round(value))}人"
    if unit == "元/股":
        return f"{value:g}元/股"
    if unit == "%":
        return f"{value:.2f}%"
    if unit == "元":
        return f"{value:.2f}元"
    return f"{value:.2f}"


def _input_text(name: str, value: float) -> str:
    """An indicator input as the answer writes it (people as integers, amounts in yuan with 2 decimals)."""
    from ch12_finreport_extract.fields import FIELDS_BY_NAME

    f = FIELDS_BY_NAME.get(name.removeprefix("上年"))
    return f"{int(round(value))}人" if f is not None and f.kind == "count" else f"{value:.2f}元"


class FinReportQA:
    def __init__(self, db: str | Path, llm: Callable[[str], str] | None = None, agent_backend: Any = None):
        self.db_path = Path(db)
        self.con = connect_readonly(self.db_path)
        self.llm = llm
        self.agent_backend = agent_backend
        self.finder = CompanyFinder([tuple(r) for r in self.con.execute("SELECT code, short_name, full_name "
                                                                        "FROM companies")])
        self._corpora: dict[str, Any] = {}

    # ------------------------------------------------------------------ database look-ups (also the tools)
    def years_of(self, code: str) -> list[int]:
        return [r[0] for r in self.con.execute("SELECT DISTINCT year FROM reports WHERE code = ? AND status = 'done' "
                                               "ORDER BY year DESC", (code,))]

    def field(self, code: str, year: int, name: str) -> dict | None:
        row = self.con.execute("SELECT value_num, value_text, unit, page, method FROM fields WHERE code = ? AND "
                               "year = ? AND field = ?", (code, year, name)).fetchone()
        return dict(row) if row else None

    def indicator(self, code: str, year: int, name: str) -> dict | None:
        row = self.con.execute("SELECT value, unit, formula, inputs FROM indicators WHERE code = ? AND year = ? "
                               "AND name = ?", (code, year, name)).fetchone()
        return dict(row) if row else None

    def ranking(self, name: str, year: int, desc: bool = True) -> list[dict]:
        table, col, key = (("indicators", "value", "name") if name in RATIOS or name.endswith("增长率")
                           else ("fields", "value_num", "field"))
        rows = self.con.execute(
            f"SELECT c.short_name, t.{col} AS value FROM {table} t JOIN companies c ON c.code = t.code "
            f"WHERE t.{key} = ? AND t.year = ? AND t.{col} IS NOT NULL ORDER BY t.{col} {'DESC' if desc else 'ASC'}",
            (name, year)).fetchall()
        return [dict(r) for r in rows]

    # ------------------------------------------------------------------ solution 1: rules + SQL
    def _year(self, q: ParsedQuestion) -> int | None:
        if q.years:
            return q.years[0]
        years = self.years_of(q.company.code) if q.company else []
        return years[0] if years else None

    def _field_sentence(self, name: str, code: str, short: str, year: int) -> tuple[str, bool]:
        row = self.field(code, year, name)
        if row is None or (row["value_num"] is None and not row["value_text"]):
            return f"{short}{year}年的年报中{NO_DATA}{name}的数据", False
        return f"{short}{year}年的{name}是{fmt_value(row['value_num'], row['value_text'], row['unit'])}", True

    def solution1(self, text: str) -> dict:
        q = parse_question(text, self.finder)
        out = {"type": q.type, "solution": 1, "company": q.company.short_name if q.company else None,
               "years": q.years, "fields": q.fields, "indicator": q.indicator}
        if q.type == "3-2":
            return {**out, "answer": self._concept(q)}
        if q.type == "rank":
            return {**out, "answer": self._rank(q)}
        if q.company is None:
            return {**out, "answer": "没有在问题中找到数据库里的公司。请写出公司简称、全称或股票代码。"}
        short, code = q.company.short_name, q.company.code
        year = self._year(q)
        if year is None:
            return {**out, "answer": f"数据库中没有{short}的年报数据。"}
        if q.type in ("1", "1-2"):
            parts = [self._field_sentence(f, code, short, year)[0] for f in q.fields]
            return {**out, "answer": "；".join(parts) + "。"}
        if q.type == "2-1":
            return {**out, "answer": self._indicator_answer(q.indicator, code, short, year)}
        if q.type == "2-2":
            return {**out, "answer": self._compare(q, code, short)}
        return {**out, **self._open(text, q, year)}

    def _indicator_answer(self, name: str, code: str, short: str, year: int) -> str:
        row = self.indicator(code, year, name)
        if row is None:
            return f"{short}{year}年的年报中{NO_DATA}计算{name}所需的数据。"
        value = fmt_value(row["value"], None, row["unit"] or "")
        inputs = json.loads(row["inputs"] or "{}")
        parts = "，".join(f"{k}为{_input_text(k, v)}" for k, v in inputs.items())
        return f"{short}{year}年的{name}是{value}。计算公式：{name}={row['formula']}，其中{parts}。"

    def _compare(self, q: ParsedQuestion, code: str, short: str) -> str:
        years = q.years if len(q.years) >= 2 else [y for y in self.years_of(code)][:2][::-1]
        if len(years) < 2:
            return f"数据库中只有{short}一年的数据，无法比较。"
        name = q.fields[0]
        a, b = self.field(code, years[0], name), self.field(code, years[1], name)
        if a is None or b is None:
            missing = years[0] if a is None else years[1]
            return f"{short}{missing}年的{name}{NO_DATA}，无法比较。"
        va = fmt_value(a["value_num"], a["value_text"], a["unit"])
        vb = fmt_value(b["value_num"], b["value_text"], b["unit"])
        same = (a["value_num"], a["value_text"]) == (b["value_num"], b["value_text"])
        return (f"{short}{years[0]}年的{name}是{va}，{years[1]}年的{name}是{vb}，"
                f"{'相同' if same else '不相同'}。")

    def _rank(self, q: ParsedQuestion) -> str:
        name = q.indicator or (q.fields[0] if q.fields else None)
        year = q.years[0] if q.years else None
        if name is None or year is None:
            return "排名问题需要写明指标和年份，例如「2019年营业收入最高的公司是哪家？」"
        desc, n = (q.rank or ("desc", 1))
        rows = self.ranking(name, year, desc == "desc")
        if len(rows) < n:
            return f"数据库中{year}年有{name}数据的公司只有{len(rows)}家，{NO_DATA}第{n}名。"
        row = rows[n - 1]
        unit = "%" if (name in RATIOS and RATIOS[name][2]) or name.endswith("增长率") else (
            "" if name in RATIOS else "元")
        word = "高" if desc == "desc" else "低"
        return (f"{year}年{name}第{n}{word}的公司是{row['short_name']}，{name}为"
                f"{fmt_value(row['value'], None, unit)}（数据库中共{len(rows)}家公司有该数据）。")

    @staticmethod
    def _concept(q: ParsedQuestion) -> str:
        name = q.indicator or (q.fields[0] if q.fields else "")
        if name in RATIOS:
            _, _, percent, formula = RATIOS[name]
            return (f"{name}的计算公式是：{name}={formula}。" +
                    ("结果以百分数表示，保留2位小数。" if percent else "结果是一个比值，保留2位小数。"))
        if name.endswith("增长率") and name[:-3] in GROWTH_FIELDS:
            base = name[:-3]
            return f"{name}=({base}-上年{base})/上年{base}，结果以百分数表示，保留2位小数。"
        return f"{name}是年度报告中列示的项目，数值可以在年报的对应表格中查到。" if name else "这个概念不在本章的指标表中。"

    def _report_corpus(self, code: str, year: int):
        key = f"{code}-{year}"
        if key not in self._corpora:
            from ch06_rag.loaders import load_file
            from ch06_rag.retrieve import Corpus
            from ch06_rag.splitters import chinese_splitter, split_documents

            row = self.con.execute("SELECT path FROM reports WHERE code = ? AND year = ? AND status = 'done'",
                                   (code, year)).fetchone()
            if row is None or not Path(row[0]).is_file():
                self._corpora[key] = None
            else:
                self._corpora[key] = Corpus(split_documents(load_file(row[0]), chinese_splitter(300, 50)))
        return self._corpora[key]

    def _open(self, text: str, q: ParsedQuestion, year: int) -> dict:
        """3-1: chapter 6's retrieval over this company's report; the LLM answers from the passages with [n]
        citations (without an LLM: the best passage itself)."""
        from ch06_rag.qa import answer_question
        from ch06_rag.retrieve import BM25Retriever

        corpus = self._report_corpus(q.company.code, year)
        if corpus is None:
            return {"answer": f"找不到{q.company.short_name}{year}年的年报文件，无法回答开放性问题。"}
        retriever = BM25Retriever(corpus)
        if self.llm is None:
            hits = retriever.search(text, 1)
            if not hits:
                return {"answer": f"{q.company.short_name}{year}年的年报中没有找到相关内容。"}
            passage = hits[0].doc.page_content.replace("\n", "")[:300]
            return {"answer": f"{q.company.short_name}{year}年年报第{hits[0].page}页：{passage}",
                    "pages": [hits[0].page]}
        from common.cli import UserError

        try:
            result = answer_question(text, retriever, self.llm, k=3, threshold=0.3)
        except UserError as err:  # prompt too long for the model, server error: fall back to the passage itself
            hits = retriever.search(text, 1)
            passage = hits[0].doc.page_content.replace("\n", "")[:300] if hits else ""
            return {"answer": f"{q.company.short_name}{year}年年报第{hits[0].page if hits else '?'}页：{passage}",
                    "note": f"the model could not answer ({err}); showing the best passage"}
        return {"answer": result.answer, "pages": [c.page for c in result.cited or result.passages]}

    # ------------------------------------------------------------------ solution 2: NL -> SQL
    def solution2(self, text: str) -> dict:
        from ch13_finreport_qa.prompts import VERBALISE_PROMPT, nl2sql_prompt
        from ch13_finreport_qa.sql_guard import SQLRefused, extract_sql, run_checked

        from common.cli import UserError

        if self.llm is None:
            raise ValueError("solution 2 needs an LLM")
        try:
            reply = self.llm(nl2sql_prompt(text))
        except UserError as err:  # e.g. the few-shot prompt is longer than a small model's context
            return {"solution": 2, "sql": "", "refused": str(err), "answer": f"无法回答：模型没有生成 SQL（{err}）。"}
        sql = extract_sql(reply)
        try:
            cols, rows = run_checked(self.con, sql, max_rows=20)
        except SQLRefused as err:
            return {"solution": 2, "sql": sql, "refused": str(err),
                    "answer": f"无法回答：模型生成的 SQL 未通过检查（{err}）。"}
        if not rows:
            return {"solution": 2, "sql": sql, "rows": [], "answer": f"数据库中{NO_DATA}相关数据。"}
        shown = "\n".join(" | ".join("" if v is None else str(v) for v in r) for r in rows)
        try:
            answer = self.llm(VERBALISE_PROMPT.format(question=text, sql=sql, columns=", ".join(cols),
                                                      rows=shown)).strip()
        except UserError as err:  # the rows themselves are the answer when the model cannot phrase them
            answer = f"查询结果（{', '.join(cols)}）：{shown}（模型未能组织语言：{err}）"
        return {"solution": 2, "sql": sql, "rows": rows, "columns": cols, "answer": answer}

    # ------------------------------------------------------------------ solution 3: tools
    def registry(self):
        """The chapter-11 registry with this database's tools (also usable from any agent)."""
        from typing import Annotated

        from ch11_tools.registry import ToolRegistry

        tools = ToolRegistry(timeout=10)
        qa = self

        def _company(name: str):
            company, _ = qa.finder.find(name)
            if company is None:
                raise ValueError(f"unknown company {name!r}")
            return company

        @tools.register
        def query_field(company: Annotated[str, "公司简称、全称或股票代码", True],
                        year: Annotated[int, "年份，例如 2019", True],
                        field: Annotated[str, "年报字段名，例如 营业收入、法定代表人、职工总数", True]) -> dict:
            """查询某公司某年年报中的一个字段"""
            c = _company(company)
            row = qa.field(c.code, year, field)
            return {"company": c.short_name, "year": year, "field": field,
                    "value": fmt_value(row["value_num"], row["value_text"], row["unit"]) if row else NO_DATA}

        @tools.register
        def compute_indicator(company: Annotated[str, "公司简称、全称或股票代码", True],
                              year: Annotated[int, "年份", True],
                              indicator: Annotated[str, "指标名，例如 毛利率、资产负债比率、营业收入增长率", True]) -> dict:
            """计算某公司某年的财务指标（挑战赛公式）"""
            c = _company(company)
            row = qa.indicator(c.code, year, indicator)
            if row is None:
                return {"company": c.short_name, "year": year, "indicator": indicator, "value": NO_DATA}
            return {"company": c.short_name, "year": year, "indicator": indicator,
                    "value": fmt_value(row["value"], None, row["unit"] or ""), "formula": row["formula"],
                    "inputs": json.loads(row["inputs"] or "{}")}

        @tools.register
        def compare_years(company: Annotated[str, "公司简称、全称或股票代码", True],
                          field: Annotated[str, "年报字段名", True],
                          year1: Annotated[int, "第一个年份", True], year2: Annotated[int, "第二个年份", True]) -> dict:
            """比较某公司两个年份的同一字段是否相同"""
            c = _company(company)
            a, b = qa.field(c.code, year1, field), qa.field(c.code, year2, field)
            if a is None or b is None:
                return {"company": c.short_name, "field": field, "result": NO_DATA}
            same = (a["value_num"], a["value_text"]) == (b["value_num"], b["value_text"])
            return {"company": c.short_name, "field": field,
                    str(year1): fmt_value(a["value_num"], a["value_text"], a["unit"]),
                    str(year2): fmt_value(b["value_num"], b["value_text"], b["unit"]),
                    "result": "相同" if same else "不相同"}

        @tools.register
        def rank_companies(field: Annotated[str, "字段名或指标名", True], year: Annotated[int, "年份", True],
                           order: Annotated[str, "desc 从高到低，asc 从低到高", False] = "desc",
                           n: Annotated[int, "返回前几名", False] = 3) -> list:
            """按某字段或指标对公司排名"""
            return qa.ranking(field, year, order != "asc")[: max(1, min(n, 20))]

        @tools.register
        def search_report(company: Annotated[str, "公司简称、全称或股票代码", True],
                          year: Annotated[int, "年份", True], question: Annotated[str, "要在年报中查找的问题", True]) -> list:
            """在某公司某年的年报全文中检索与问题最相关的段落（开放性问题用）"""
            from ch06_rag.retrieve import BM25Retriever

            c = _company(company)
            corpus = qa._report_corpus(c.code, year)
            if corpus is None:
                return []
            return [{"page": h.page, "text": h.doc.page_content[:400]} for h in BM25Retriever(corpus).search(question, 3)]

        return tools

    def solution3(self, text: str, max_steps: int = 4) -> dict:
        from ch11_tools.agent import Agent
        from ch13_finreport_qa.prompts import TOOLS_SYSTEM

        if self.agent_backend is None:
            raise ValueError("solution 3 needs an agent backend (a model)")
        from common.cli import UserError

        errors: tuple = (UserError,)
        try:
            import openai
            errors += (openai.OpenAIError,)
        except ModuleNotFoundError:
            pass
        try:
            result = Agent(self.agent_backend, self.registry(), max_steps=max_steps, system=TOOLS_SYSTEM).run(text)
        except errors as err:  # a server 4xx (e.g. the tools prompt exceeds the model's context) is an answer too
            return {"solution": 3, "answer": f"无法回答：模型服务拒绝了请求（{err}）。", "calls": [], "stopped": "error"}
        calls = [{"name": s.name, "arguments": s.arguments} for s in result.trace if getattr(s, "name", None)]
        return {"solution": 3, "answer": result.answer, "calls": calls, "stopped": result.stopped}

    def answer(self, text: str, solution: int = 1) -> dict:
        text = (text or "").strip()
        if not text:
            from common.cli import UserError
            raise UserError("the question is empty. To fix: ask e.g. \"海翔药业2019年的营业收入是多少元？\"")
        if solution == 1:
            return self.solution1(text)
        if solution == 2:
            return self.solution2(text)
        if solution == 3:
            return self.solution3(text)
        raise ValueError(f"solution must be 1, 2 or 3, not {solution!r}")
