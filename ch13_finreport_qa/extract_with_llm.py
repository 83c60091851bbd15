"""13.1.1 逐行代码讲解使用ChatGLM3对关键数据进行抽取 — one field, one prompt, one answer, one check, step by step.

Walks through chapter 12's LLM step exactly as ``extract_report`` runs it for a field the rules could not find
(``_llm_fill``): the section of the report that holds the field (``find_sections`` / ``section_text``), the prompt
(``prompts.build_field_prompt``), the model's raw reply, the value parsed from it (``prompts.parse_field_answer``) and
the check that keeps it only when that exact value stands on a line of the passage naming the field (``_verified``).
All of it is chapter 12's code, imported, not copied; this script only prints each step (and, for comparison, what
chapter 12's table rules found for the same field).

    python ch13_finreport_qa/extract_with_llm.py                                   # 营业外收入 + 法定代表人, demo model
    python ch13_finreport_qa/extract_with_llm.py --fields 法定代表人 --answer "法定代表人：孙杨"   # a typed reply, no model
    python ch13_finreport_qa/extract_with_llm.py --report data/finreports/reports/2020-03-26__中国邮政储蓄银行股份有限公司__601658__邮储银行__2019年__年度报告.txt.gz --fields 利息收入
    python ch13_finreport_qa/extract_with_llm.py --model /path/to/chatglm3-6b-32k --max-passage-chars 20000
    python ch13_finreport_qa/extract_with_llm.py --base-url http://127.0.0.1:8000/v1 --show-prompt full

The exact prompt of every field is also written to ``outputs/ch13/extract_with_llm/<report>__<field>.prompt.txt``.
"""
from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import GenerationArgs, ModelArgs, ServerArgs, UserError, arg, run
from common.paths import DATA_DIR

DEFAULT_REPORT_REL = ("data/finreports/reports/"
                      "2020-01-23__浙江海翔药业股份有限公司__002099__海翔药业__2019年__年度报告.txt.gz")

# 13.1.1 逐行讲解：提示词模板每一行的作用（按行内的关键字匹配，模板改动时对不上的行只是不加注释）
TEMPLATE_NOTES = (
    ("你是一名财务分析助手", "角色 + 这是哪家公司哪一年的年报（{company}{year}）；表格单元格用“ | ”分隔，"
                     "正是 section_text() 输出的格式，模型看到的就是这种文字"),
    ("请从中找出", "任务：一次只问一个字段（{field}），并指明本年还是上年那一列（{period}）——只问一个值，答案才好检查"),
    ("要求：", "约束从这里开始（编号列表，ChatGLM3 对编号的要求遵守得更好）"),
    ("只根据这段文字回答", "不许推测、不许计算：答案必须能在原文中找到，后面的 _verified() 会逐字核对"),
    ("金额照原文抄写数字", "照抄数字和单位：数字必须与原文逐字相同才能通过核对；单位由 _verified() 换算成元"
                   "（万元×10⁴、百万元×10⁶），人数只写数字"),
    ("找不到时只回答", "给模型一个合法的“没有”：parse_field_answer() 把「无」变成 None，而不是逼它编一个数"),
    ("只输出一行", "固定输出格式「字段：值」：parse_field_answer() 只取第一行，去掉「字段：」前缀和句号"),
    ("年报片段", "原文放在最后（{passage}）：该字段所在的整节文字，最多 --max-passage-chars 个字符"),
)


@dataclass
class Config(ModelArgs, GenerationArgs, ServerArgs):
    report: str = arg(DEFAULT_REPORT_REL, "the report: alltxt (.txt / .txt.gz) or PDF with the official file name")
    fields: list[str] = arg(["营业外收入", "法定代表人"], "field names of chapter 12 (ch12_finreport_extract/fields.py)")
    answer: str = arg("", "use this text as the model's reply for every field (no model is loaded): try a right "
                          "and a wrong value to see the check, e.g. --answer \"法定代表人：孙杨\"")
    max_passage_chars: int = arg(6000, "characters of the section given to the model (chapter 12's default; the "
                                       "32K model takes ~20000)")
    show_prompt: str = arg("short", "short: the prompt with the passage cut to its first lines and the lines naming "
                                    "the field; full: the whole prompt", choices=("short", "full"))
    explain: bool = arg(True, "first print the prompt template line by line with what each line is for")
    max_new_tokens: int = arg(64, "at most this many new tokens per answer (chapter 12 caps it at 64)")
    temperature: float = arg(0.0, "sampling temperature (0 = greedy: extraction should not be random)")


@dataclass
class Step:
    """Everything one field goes through (returned by :func:`walk`, printed by :func:`print_step`)."""

    field: str
    group: str
    kind: str
    section: str | None = None
    page: int | None = None
    unit: int = 1
    passage: str = ""
    labelled: list[str] | None = None
    prompt: str = ""
    raw: str | None = None
    parsed: str | None = None
    value: object = None
    verdict: str = ""          # kept | rejected | not asked
    reason: str = ""
    rules_value: object = None
    rules_method: str | None = None
    seconds: float = 0.0


def resolve_report(report: str) -> Path:
    path = Path(report)
    if not path.is_absolute() and not path.exists():
        path = DATA_DIR.parent / path   # relative to the repository root, whatever the CWD
    if not path.is_file():
        raise UserError(f"report {report} does not exist. To fix: pass an alltxt (.txt/.txt.gz) or PDF file with "
                        f"the official name, e.g. --report {DEFAULT_REPORT_REL}")
    return path


def labelled_lines(passage: str, field) -> list[str]:
    """The passage lines that name the field (one of its synonyms): the only lines the check looks in."""
    names = tuple(s for s in field.synonyms + (field.name,) if s)
    lines = [re.sub(r"\s+", "", line) for line in passage.splitlines()]
    return [line for line in lines if any(s in line for s in names)]


def walk(report: str | Path, fields: list[str], llm: Callable[[str], str] | object,
         max_passage_chars: int = 6000) -> tuple[dict, list[Step]]:
    """Run chapter 12's LLM step on ``fields`` of one report, keeping every intermediate result.

    ``llm``: a callable prompt -> str or a LangChain model. Unlike ``extract_report`` (which asks only for fields
    the rules missed), every field is asked, so the answer can be compared with the rules' value."""
    from ch12_finreport_extract.alltxt import parse_report_name
    from ch12_finreport_extract.extract_report import (_GROUP_SECTION, _as_callable, _verified, extract_from_rows,
                                                       load_rows)
    from ch12_finreport_extract.fields import FIELDS_BY_NAME
    from ch12_finreport_extract.prompts import build_field_prompt, parse_field_answer
    from ch12_finreport_extract.tables import find_sections, section_text, section_unit

    unknown = [f for f in fields if f not in FIELDS_BY_NAME]
    if unknown:
        raise UserError(f"unknown field(s): {', '.join(unknown)}. To fix: use names of chapter 12's field table, "
                        f"e.g. {', '.join(list(FIELDS_BY_NAME)[:8])} (python -c \"from "
                        "ch12_finreport_extract.fields import FIELDS_BY_NAME; print(list(FIELDS_BY_NAME))\")")
    path = Path(report)
    rows = load_rows(path)                                  # PDF: only the pages extraction needs
    meta = parse_report_name(path.name)
    company, year = (meta.company, meta.year) if meta else ("该公司", "")
    sections = find_sections(rows)
    rules = extract_from_rows(rows, path.name)              # chapter 12 without an LLM, for comparison
    call = _as_callable(llm)
    steps = []
    for name in fields:
        f = FIELDS_BY_NAME[name]
        step = Step(name, f.group, f.kind, rules_value=rules["fields"].get(name),
                    rules_method=rules["methods"].get(name))
        steps.append(step)
        sec = sections.get(_GROUP_SECTION.get(f.group, ""))
        if sec is None:
            step.verdict = "not asked"
            step.reason = (f"no section for group {f.group!r} in this report (chapter 12 asks the LLM only with a "
                           "passage; groups with a section: " + ", ".join(_GROUP_SECTION) + ")")
            continue
        step.section, step.page = sec.name, sec.page
        step.passage = section_text(rows, sec, max_chars=max_passage_chars)
        step.unit = section_unit(rows, sec) if f.kind == "amount" else 1
        step.labelled = labelled_lines(step.passage, f)
        step.prompt = build_field_prompt(name, step.passage, company, year)
        start = time.perf_counter()
        try:
            step.raw = call(step.prompt)
        except UserError as err:  # too long for the model's context, or the server refused: nothing to check
            step.raw = f"(the model could not be asked: {err})"
        step.seconds = time.perf_counter() - start
        step.parsed = parse_field_answer(step.raw, name)
        step.value = _verified(step.parsed, step.passage, f, step.unit)
        if step.value is not None:
            step.verdict = "kept"
            step.reason = "the value stands on a line of the passage that names the field"
        else:
            step.verdict = "rejected"
            step.reason = ("the reply says 无 / is empty" if step.parsed is None else
                           "no line of the passage names the field" if not step.labelled else
                           "the value is not on a line of the passage that names the field (or is not a valid "
                           f"{'text' if f.kind == 'text' else 'number'})")
    return {"path": str(path), "company": company, "short_name": meta.short_name if meta else None,
            "code": meta.code if meta else None, "year": year}, steps


# ------------------------------------------------------------------------------------------------ printing
def print_template() -> None:
    from ch12_finreport_extract.prompts import FIELD_EXTRACTION_PROMPT

    print("The prompt template, line by line (ch12_finreport_extract/prompts.py FIELD_EXTRACTION_PROMPT):")
    for i, line in enumerate(FIELD_EXTRACTION_PROMPT.splitlines(), 1):
        print(f"  {i:>2} | {line}")
        note = next((text for key, text in TEMPLATE_NOTES if key in line), None)
        if note:
            print(f"     |   ↳ {note}")
    print("  build_field_prompt(field, passage, company, year) fills it; parse_field_answer(reply, field) reads the "
          "reply; _verified(value, passage, field, unit) keeps it only if the passage has it.\n")


def _short(text: str, n: int = 110) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def short_prompt(step: Step, company: str, year, head_lines: int = 6) -> str:
    """The prompt with the passage cut to its first lines + the lines naming the field (built by the same
    ``build_field_prompt``, so everything but the passage is exactly what the model got)."""
    from ch12_finreport_extract.prompts import build_field_prompt

    lines = step.passage.splitlines()
    if len(lines) <= head_lines + 3:
        return step.prompt
    shown = [_short(x) for x in lines[:head_lines]]
    shown.append(f"… [{len(lines) - head_lines} more lines, {len(step.passage)} characters in all; "
                 "--show-prompt full prints them; among them the lines naming the field:]")
    shown += [f"    {_short(x)}" for x in (step.labelled or [])[:5]]
    return build_field_prompt(step.field, "\n".join(shown), company, year)


def print_step(i: int, n: int, step: Step, info: dict, cfg: Config, prompt_file: Path | None) -> None:
    unit = {1: "元", 10**3: "千元", 10**4: "万元", 10**6: "百万元", 10**8: "亿元"}.get(step.unit, str(step.unit))
    print(f"── field {i}/{n}: {step.field} (group {step.group}, {step.kind})")
    if step.verdict == "not asked":
        print(f"   not asked: {step.reason}")
        print(f"   chapter 12's rules: {_rules_text(step)}\n")
        return
    print(f"1. passage (find_sections + section_text): section 「{step.section}」 from page {step.page}, "
          f"{len(step.passage)} characters" + (f", unit {unit} (section_unit)" if step.kind == "amount" else ""))
    print(f"   lines naming the field ({len(step.labelled or [])}, spaces removed as the check sees them; the check "
          "looks only here):")
    for line in (step.labelled or [])[:5]:
        print(f"     {_short(line)}")
    if not step.labelled:
        print("     (none)")
    print(f"2. prompt (build_field_prompt, {len(step.prompt)} characters"
          + (f"; exact text in {prompt_file}" if prompt_file else "") + "):")
    text = step.prompt if cfg.show_prompt == "full" else short_prompt(step, info["company"], info["year"])
    print("\n".join(f"   > {line}" for line in text.splitlines()))
    print(f"3. raw answer ({step.seconds:.1f} s): {step.raw!r}")
    print(f"4. parsed (parse_field_answer): {step.parsed!r}")
    shown = f" -> {step.value!r}" if step.verdict == "kept" else ""
    print(f"5. verified (_verified): {step.verdict.upper()}{shown} — {step.reason}")
    print(f"   chapter 12's rules: {_rules_text(step)}\n")


def _rules_text(step: Step) -> str:
    if step.rules_value is None:
        return "not found (this is the case where extract_report asks the LLM)"
    agree = "" if step.verdict != "kept" else (" — the same value" if step.value == step.rules_value
                                               else " — a DIFFERENT value")
    return f"{step.rules_value!r} (method {step.rules_method}){agree}"


def _display_path(path: Path) -> Path:
    """``path`` relative to the repository root when it is inside it (shorter, and the same on every machine)."""
    try:
        return path.resolve().relative_to(DATA_DIR.parent.resolve())
    except ValueError:
        return path


def make_reply_fn(cfg: Config):
    """The model as a prompt -> text function: a fixed ``--answer``, else chapter 12's ``make_llm`` (the server at
    --base-url, or the model in-process, at most 64 new tokens), loaded quietly so the demo model is announced by
    this script's one line."""
    from ch12_finreport_extract.extract_report import make_llm
    from common.resolve import is_demo_model, resolve_model_path

    if cfg.answer:
        print(f"[typed answer] no model: every field gets the reply {cfg.answer!r}")
        return lambda prompt: cfg.answer
    if not cfg.base_url and is_demo_model(resolve_model_path(cfg.model)):
        print("[demo model] its answers are stand-ins (a 7M-parameter model cannot read a report; prompts past its "
              "1,024-token context are slow): expect every answer to be REJECTED; --model/--base-url for ChatGLM3-6B, "
              "or --answer to type one.")
    return make_llm(cfg, quiet=True)


def main(cfg: Config, llm: Callable[[str], str] | None = None) -> dict:
    """``llm``: a prompt -> text function to use instead of the model (tests)."""
    from common.paths import output_dir
    from ch12_finreport_extract.alltxt import report_stem

    path = resolve_report(cfg.report)
    if not cfg.fields:
        raise UserError("no field. To fix: --fields 营业外收入 法定代表人")
    if cfg.max_passage_chars < 200:
        raise UserError("--max-passage-chars must be at least 200")
    if cfg.explain:
        print_template()
    reply = llm or make_reply_fn(cfg)
    info, steps = walk(path, cfg.fields, reply, cfg.max_passage_chars)
    print(f"report: {info['short_name']} ({info['code']}) {info['year']} — {path.name}\n")
    folder = output_dir("ch13", "extract_with_llm")
    files = []
    for i, step in enumerate(steps, 1):
        prompt_file = None
        if step.prompt:
            prompt_file = folder / f"{report_stem(path)}__{step.field}.prompt.txt"
            prompt_file.write_text(step.prompt, encoding="utf-8")
            files.append(str(prompt_file))
            prompt_file = _display_path(prompt_file)
        print_step(i, len(steps), step, info, cfg, prompt_file)
    kept = [s.field for s in steps if s.verdict == "kept"]
    print(f"summary: {len(kept)} of {len(steps)} answers kept" + (f" ({'、'.join(kept)})" if kept else "")
          + "; a rejected answer is left missing — chapter 12 never stores a value the passage does not show")
    return {"report": info, "steps": [vars(s) for s in steps], "kept": kept, "prompt_files": files}


if __name__ == "__main__":
    run(main, Config, __doc__)
