"""Output parsers of 7.1.2, and parsing with fixing: what ``output_formats.py`` and ``parse_rate.py`` share.

``parse_with_fixing(parser, completion, prompt_value, llm)`` tries the parser on the model's text; if it fails,
``OutputFixingParser`` shows the LLM the format instructions, the bad text and the error and parses its correction;
if that fails too, ``RetryOutputParser`` sends the original prompt and the bad text once more. If all fail, the
result says so plainly (``ok=False`` and every error) — the caller decides whether that is fatal.
"""
from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, Field

from common.paths import DATA_DIR

EXTRACTION_SET = DATA_DIR / "ch07" / "extraction.jsonl"


class PersonRecord(BaseModel):
    """Who, where, when — the fields the extraction prompts ask for."""

    name: str = Field(description="句子中提到的人名")
    city: str = Field(description="句子中提到的城市")
    year: int = Field(description="句子中提到的年份（整数）")


def pydantic_parser():
    from langchain_core.output_parsers import PydanticOutputParser

    return PydanticOutputParser(pydantic_object=PersonRecord)


def structured_parser():
    """``StructuredOutputParser`` with ``ResponseSchema`` fields (the same three fields, as strings)."""
    from langchain_classic.output_parsers import ResponseSchema, StructuredOutputParser

    from ch07_prompt.prompts import EXTRACT_FIELDS

    return StructuredOutputParser.from_response_schemas(
        [ResponseSchema(name=k, description=v, type="integer" if k == "year" else "string")
         for k, v in EXTRACT_FIELDS.items()])


def extraction_prompt(parser):
    from langchain_core.prompts import PromptTemplate

    from ch07_prompt.prompts import EXTRACT_PROMPT

    return PromptTemplate.from_template(EXTRACT_PROMPT, partial_variables={
        "format_instructions": parser.get_format_instructions()})


def as_dict(value) -> dict | None:
    if isinstance(value, BaseModel):
        return value.model_dump()
    return value if isinstance(value, dict) else None


def too_long(exc: BaseException) -> bool:
    """The model says the prompt does not fit its context (in-process ``ContextLengthError``, or a server's 400
    "maximum context length" answer) — a per-prompt failure to record, not a reason to stop a batch."""
    text = str(exc).lower()
    return type(exc).__name__ == "ContextLengthError" or ("context" in text and ("length" in text or
                                                                                   "tokens" in text))


def parse_with_fixing(parser, completion: str, prompt_value, llm, fix: bool = True) -> dict:
    """``{"ok", "stage", "value", "errors"}``: stage is ``direct``, ``fixed`` (OutputFixingParser), ``retried``
    (RetryOutputParser) or ``failed``."""
    from langchain_classic.output_parsers import OutputFixingParser, RetryOutputParser
    from langchain_core.exceptions import OutputParserException

    errors = []
    try:
        return {"ok": True, "stage": "direct", "value": parser.parse(completion), "errors": errors}
    except OutputParserException as exc:
        errors.append(f"direct: {_short(exc)}")
    if not fix:
        return {"ok": False, "stage": "failed", "value": None, "errors": errors}
    try:
        fixer = OutputFixingParser.from_llm(llm=llm, parser=parser, max_retries=1)
        return {"ok": True, "stage": "fixed", "value": fixer.parse(completion), "errors": errors}
    except Exception as exc:  # noqa: BLE001 - a parse error, or the fixing prompt does not fit the context
        if not isinstance(exc, OutputParserException) and not too_long(exc):
            raise
        errors.append(f"OutputFixingParser: {_short(exc)}")
    try:
        retry = RetryOutputParser.from_llm(llm=llm, parser=parser, max_retries=1)
        return {"ok": True, "stage": "retried", "value": retry.parse_with_prompt(completion, prompt_value),
                "errors": errors}
    except Exception as exc:  # noqa: BLE001 - same as above
        if not isinstance(exc, OutputParserException) and not too_long(exc):
            raise
        errors.append(f"RetryOutputParser: {_short(exc)}")
    return {"ok": False, "stage": "failed", "value": None, "errors": errors}


def _short(exc: Exception, limit: int = 160) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:limit]


def load_extraction_set(path: str | Path | None = None, limit: int = 0) -> list[dict]:
    """The bundled (or the reader's) JSON-lines set: ``{"id", "text", "gold": {"name", "city", "year"}}``; bad
    lines are skipped and counted in the returned list's ``skipped`` attribute."""
    from common.cli import UserError

    p = Path(path) if path else EXTRACTION_SET
    if not p.is_file():
        raise UserError(f"extraction set {p} not found. To fix: python ch07_prompt/make_extraction_set.py, or "
                        "pass --data FILE.jsonl")
    records, skipped = [], 0
    for line in p.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            if isinstance(rec.get("text"), str) and isinstance(rec.get("gold"), dict):
                records.append(rec)
                continue
        except (ValueError, AttributeError):
            pass
        skipped += 1
    if limit:
        records = records[:limit]
    if not records:
        raise UserError(f"{p} holds no usable records (each line: {{\"text\": ..., \"gold\": {{...}}}})")
    out = _Records(records)
    out.skipped = skipped
    return out


class _Records(list):
    skipped = 0
