"""7.1.2 提示模板的输出格式 (measured) — parse success rate before and after fixing, on 36 extraction prompts.

For each sentence of ``data/ch07/extraction.jsonl`` the model is asked for ``{"name", "city", "year"}`` with the
``PydanticOutputParser`` format instructions. The script counts how many answers parse directly, how many more
parse after ``OutputFixingParser`` (the LLM repairs its own text) or ``RetryOutputParser`` (the LLM sees the prompt
again), how many still fail (each with the parser's error), and how many parsed answers are also *correct* (all
three fields equal the gold). Numbers for the model you point it at; the demo model is only a stand-in here.

    python ch07_prompt/parse_rate.py --limit 6                 # demo model, a quick look
    python ch07_prompt/parse_rate.py --model /path/to/chatglm3-6b
    python ch07_prompt/parse_rate.py --base-url http://127.0.0.1:8000/v1 --no-fix
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
    data: str | None = arg(None, "JSON-lines extraction set (default: data/ch07/extraction.jsonl, 36 prompts)")
    limit: int = arg(0, "use only the first N prompts (0 = all)")
    fix: bool = arg(True, "repair unparsable answers with OutputFixingParser / RetryOutputParser")
    max_new_tokens: int = redefault(GenerationArgs, "max_new_tokens", 64)
    temperature: float = arg(0.0, "sampling temperature; 0 = greedy (repeatable rates)", group="generation")


def measure(llm, records, fix: bool = True, echo: bool = True) -> dict:
    """Run every record through prompt | llm, parse, fix; return the counts and one row per record."""
    from ch07_prompt.parsers import as_dict, extraction_prompt, parse_with_fixing, pydantic_parser, too_long

    parser = pydantic_parser()
    prompt = extraction_prompt(parser)
    rows = []
    iterator = records
    try:
        from tqdm import tqdm
        iterator = tqdm(records, desc="extracting", disable=not echo, leave=False)
    except ImportError:
        pass
    for rec in iterator:
        prompt_value = prompt.format_prompt(text=rec["text"])
        try:
            completion = llm.invoke(prompt_value.to_string())
        except Exception as exc:  # noqa: BLE001 - a prompt too long for this model is recorded, others stop
            if not too_long(exc):
                raise
            rows.append({"id": rec.get("id"), "stage": "failed", "correct": False, "value": None,
                         "errors": [f"prompt: {str(exc)[:160]}"], "completion": None})
            continue
        outcome = parse_with_fixing(parser, completion, prompt_value, llm, fix=fix)
        value = as_dict(outcome["value"])
        correct = bool(value) and all(str(value.get(k)) == str(v) for k, v in rec["gold"].items())
        rows.append({"id": rec.get("id"), "stage": outcome["stage"], "correct": correct, "value": value,
                     "errors": outcome["errors"], "completion": completion})
    n = len(rows)
    counts = {stage: sum(r["stage"] == stage for r in rows) for stage in ("direct", "fixed", "retried", "failed")}
    return {"n": n, **counts,
            "parse_rate_before": counts["direct"] / n if n else 0.0,
            "parse_rate_after": (n - counts["failed"]) / n if n else 0.0,
            "correct_rate": sum(r["correct"] for r in rows) / n if n else 0.0,
            "rows": rows}


def print_report(result: dict, fix: bool) -> None:
    n = result["n"]
    print(f"{'prompts':>8} | {'parsed directly':>15} | {'after fixing':>12} | {'still failing':>13} | "
          f"{'all fields correct':>18}")
    print(f"{n:>8} | {result['direct']:>6} ({result['parse_rate_before']:6.1%}) | "
          f"{n - result['failed']:>3} ({result['parse_rate_after']:6.1%}) | {result['failed']:>13} | "
          f"{result['correct_rate']:>18.1%}")
    if fix:
        print(f"repaired by OutputFixingParser: {result['fixed']}, by RetryOutputParser: {result['retried']}")
    failed = [r for r in result["rows"] if r["stage"] == "failed"]
    if failed:
        print("first failures (the parser's own words):")
        for r in failed[:3]:
            print(f"  #{r['id']}: " + " | ".join(r["errors"]))


def main(cfg: Config) -> dict:
    if cfg.limit < 0:
        raise UserError(f"--limit must be >= 0, got {cfg.limit}")
    from ch05_chains.models import make_llm, print_stand_in
    from ch07_prompt.parsers import load_extraction_set

    records = load_extraction_set(cfg.data, cfg.limit)
    if records.skipped:
        print(f"skipped {records.skipped} malformed lines of the data file")
    llm = make_llm(cfg)
    print_stand_in(llm, "rates")
    result = measure(llm, records, fix=cfg.fix)
    print_report(result, cfg.fix)
    return result


if __name__ == "__main__":
    run(main, Config, __doc__)
