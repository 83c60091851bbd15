"""7.1.2 提示模板的输出格式 — list, JSON, Pydantic, StructuredOutputParser, with_structured_output, then fixing.

Each parser puts its format instructions into the prompt and turns the model's text into data; the script prints
the instructions' first line, the model's text and the parsed value, or the parser's error. Then the answer that
did not parse goes through ``OutputFixingParser`` and ``RetryOutputParser`` (the LLM repairs it), and when even that
fails the script says so plainly instead of returning half-parsed data. ``parse_rate.py`` measures the same on 36
prompts.

    python ch07_prompt/output_formats.py
    python ch07_prompt/output_formats.py --text "2019年，李娜在成都开了一家咖啡馆。"
    python ch07_prompt/output_formats.py --base-url http://127.0.0.1:8000/v1
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import GenerationArgs, ModelArgs, ServerArgs, UserError, arg, redefault, run


@dataclass
class Config(ModelArgs, GenerationArgs, ServerArgs):
    text: str = arg("张伟于2018年从大学毕业后来到杭州工作。", "the sentence to extract name / city / year from")
    subject: str = arg("编程语言", "what the list prompt asks for")
    max_new_tokens: int = redefault(GenerationArgs, "max_new_tokens", 64)
    temperature: float = arg(0.0, "sampling temperature; 0 = greedy", group="generation")


def run_formats(llm, chat_model, text: str, subject: str) -> dict:
    """Every output format on one input; returns {format: {"ok", "raw", "value"|"error"}}."""
    from langchain_core.exceptions import OutputParserException
    from langchain_core.output_parsers import CommaSeparatedListOutputParser, JsonOutputParser
    from langchain_core.prompts import PromptTemplate

    from ch07_prompt.parsers import (PersonRecord, as_dict, extraction_prompt, parse_with_fixing, pydantic_parser,
                                     structured_parser, too_long)
    from ch07_prompt.prompts import LIST_PROMPT

    out: dict = {}

    def attempt(name, parser, prompt_value):
        try:
            raw = llm.invoke(prompt_value.to_string())
        except Exception as exc:  # noqa: BLE001 - a prompt too long for this model is shown, others stop
            if not too_long(exc):
                raise
            out[name] = {"ok": False, "raw": None, "error": str(exc).splitlines()[0][:200],
                         "instructions": parser.get_format_instructions().splitlines()[0]}
            return "", prompt_value
        try:
            value = parser.parse(raw)
            out[name] = {"ok": True, "raw": raw, "value": as_dict(value) or value}
        except OutputParserException as exc:
            out[name] = {"ok": False, "raw": raw, "error": str(exc).splitlines()[0][:200]}
        out[name]["instructions"] = parser.get_format_instructions().splitlines()[0]
        return raw, prompt_value

    list_parser = CommaSeparatedListOutputParser()
    attempt("list", list_parser, PromptTemplate.from_template(LIST_PROMPT).format_prompt(
        subject=subject, format_instructions=list_parser.get_format_instructions()))
    attempt("json", JsonOutputParser(), extraction_prompt(JsonOutputParser()).format_prompt(text=text))
    pyd = pydantic_parser()
    raw, prompt_value = attempt("pydantic", pyd, extraction_prompt(pyd).format_prompt(text=text))
    attempt("structured", structured_parser(), extraction_prompt(structured_parser()).format_prompt(text=text))
    try:
        value = chat_model.with_structured_output(PersonRecord).invoke(f"从句子中抽取人名、城市和年份：{text}")
        out["with_structured_output"] = ({"ok": True, "raw": None, "value": as_dict(value)} if value is not None
                                         else {"ok": False, "raw": None,
                                               "error": "the model returned no answer in the schema"})
    except Exception as exc:  # noqa: BLE001 - any failure of the model to produce the schema is the lesson here
        out["with_structured_output"] = {"ok": False, "raw": None, "error": f"{type(exc).__name__}: "
                                                                           f"{str(exc).splitlines()[0][:200]}"}
    fixed = parse_with_fixing(pyd, raw, prompt_value, llm)
    out["fixing"] = {"ok": fixed["ok"], "stage": fixed["stage"], "value": as_dict(fixed["value"]),
                     "errors": fixed["errors"]}
    return out


def main(cfg: Config) -> dict:
    if not cfg.text.strip() or not cfg.subject.strip():
        raise UserError("--text and --subject must not be empty")
    from ch05_chains.models import make_chat_model, make_llm, print_stand_in

    llm, chat = make_llm(cfg), make_chat_model(cfg)
    print_stand_in(llm, "model texts")
    results = run_formats(llm, chat, cfg.text, cfg.subject)
    for name, r in results.items():
        if name == "fixing":
            continue
        print(f"=== {name}" + (f"  (instructions: {r['instructions'][:70]}…)" if r.get("instructions") else ""))
        if r.get("raw") is not None:
            print(f"  model text: {r['raw'].strip()[:120]!r}")
        print(f"  parsed: {r['value']!r}" if r["ok"] else f"  parse error: {r['error']}")
    f = results["fixing"]
    print(f"=== the Pydantic answer through OutputFixingParser / RetryOutputParser: {f['stage']}")
    if f["ok"]:
        print(f"  value: {f['value']}")
    else:
        print("  could not be parsed even after fixing — giving up with the errors:")
        for e in f["errors"]:
            print(f"    {e}")
    return results


if __name__ == "__main__":
    run(main, Config, __doc__)
