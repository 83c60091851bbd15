"""13.2 财务预警 — check a company-year's indicators against configurable thresholds, then summarise.

Each rule of the thresholds YAML (default ``data/ch13/warning_thresholds.yaml``: leverage, liquidity, profitability,
growth, expense ratios) compares one indicator of the field database with a threshold (``above`` / ``below``).
Every flag is printed with its value, threshold and the inputs of the indicator. The summary comes from the LLM
with only these numbers in its prompt, and is **checked**: if it states a number that is not among them, it is
replaced by a summary written from the flags themselves (so the report never shows an invented number).

    python ch13_finreport_qa/warning.py                                  # 海翔药业 2019 from the bundled reports
    python ch13_finreport_qa/warning.py --company 安靠智电 --year 2019 --thresholds my_rules.yaml
    python ch13_finreport_qa/warning.py --company 邮储银行 --model /path/to/chatglm3-6b
"""
from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import GenerationArgs, ModelArgs, ServerArgs, UserError, arg, run
from common.paths import DATA_DIR

DEFAULT_THRESHOLDS = DATA_DIR / "ch13" / "warning_thresholds.yaml"


@dataclass
class Config(ModelArgs, GenerationArgs, ServerArgs):
    company: str = arg("海翔药业", "company: short name, full name or stock code")
    year: int = arg(2019, "report year")
    db: str = arg("", "field database (default: outputs/ch13/finreports.db, built if missing)")
    thresholds: str = arg("", "rules YAML (default: data/ch13/warning_thresholds.yaml)")
    summary: bool = arg(True, "let the LLM write a short summary of the flags (checked for invented numbers)")
    max_new_tokens: int = arg(160, "at most this many new tokens for the summary")
    temperature: float = arg(0.0, "sampling temperature of the summary")


def load_rules(path: str | Path | None = None) -> list[dict]:
    """Rules as ``{"group", "indicator", "above"|"below", "why"}``; a malformed file is one clear error."""
    import yaml

    path = Path(path) if path else DEFAULT_THRESHOLDS
    if not path.is_file():
        raise UserError(f"thresholds file not found: {path}. To fix: copy {DEFAULT_THRESHOLDS} and edit it")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise UserError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    rules = []
    for group, items in (data.items() if isinstance(data, dict) else []):
        for item in items or []:
            if not isinstance(item, dict) or "indicator" not in item or not (("above" in item) ^ ("below" in item)):
                raise UserError(f"{path}: rule {item!r} in {group!r} needs 'indicator' and exactly one of "
                                "'above' / 'below'")
            try:
                float(item.get("above", item.get("below")))
            except (TypeError, ValueError):
                raise UserError(f"{path}: threshold of {item['indicator']} is not a number") from None
            rules.append({"group": group, **item})
    if not rules:
        raise UserError(f"{path}: no rules. To fix: see {DEFAULT_THRESHOLDS} for the format")
    return rules


def check(qa, code: str, year: int, rules: list[dict]) -> list[dict]:
    """One result per rule: value, threshold, triggered (None when the indicator is not in the DB), inputs."""
    out = []
    for rule in rules:
        row = qa.indicator(code, year, rule["indicator"])
        limit = float(rule.get("above", rule.get("below")))
        direction = "above" if "above" in rule else "below"
        if row is None:
            out.append({**rule, "value": None, "threshold": limit, "direction": direction, "triggered": None})
            continue
        value = row["value"]
        hit = value > limit if direction == "above" else value < limit
        out.append({**rule, "value": value, "unit": row["unit"] or "", "threshold": limit, "direction": direction,
                    "triggered": hit, "inputs": json.loads(row["inputs"] or "{}")})
    return out


def flag_lines(results: list[dict]) -> list[str]:
    lines = []
    for r in results:
        if r["triggered"] is None:
            lines.append(f"- {r['indicator']}: 数据库中没有（跳过）")
            continue
        mark = "触发" if r["triggered"] else "正常"
        op = ">" if r["direction"] == "above" else "<"
        unit = r.get("unit", "")
        lines.append(f"- [{mark}] {r['indicator']} = {r['value']:.2f}{unit}（预警线 {op} {r['threshold']:g}{unit}）"
                     + (f"：{r['why']}" if r["triggered"] else ""))
    return lines


def numbers_in(text: str) -> set[str]:
    return {m.replace(",", "").rstrip("0").rstrip(".") or "0"
            for m in re.findall(r"\d+(?:,\d{3})*(?:\.\d+)?", text)}


def checked_summary(summary: str, allowed_text: str) -> tuple[str, list[str]]:
    """(summary, invented numbers); numbers of the company/year/flags are allowed, others are invented."""
    invented = sorted(numbers_in(summary) - numbers_in(allowed_text))
    return summary, invented


def template_summary(company: str, year: int, results: list[dict]) -> str:
    hits = [r for r in results if r["triggered"]]
    if not hits:
        return f"{company}{year}年的各项指标均未触发预警线。"
    parts = "；".join(f"{r['indicator']}为{r['value']:.2f}{r.get('unit', '')}（{r['why']}）" for r in hits)
    return f"{company}{year}年有{len(hits)}项指标触发预警：{parts}。"


def main(cfg: Config) -> dict:
    from ch13_finreport_qa.ask import Config as AskConfig, make_qa
    from ch13_finreport_qa.prompts import WARNING_SUMMARY_PROMPT

    rules = load_rules(cfg.thresholds or None)
    ask_cfg = AskConfig(**{k: v for k, v in vars(cfg).items() if k in AskConfig.__dataclass_fields__})
    qa = make_qa(ask_cfg, need_llm=cfg.summary)
    company, _ = qa.finder.find(cfg.company)
    if company is None:
        raise UserError(f"company {cfg.company!r} is not in the database. To fix: build it from its report "
                        "(build_db.py --reports DIR) or check the name")
    if cfg.year not in qa.years_of(company.code):
        raise UserError(f"{company.short_name} has no {cfg.year} report in the database "
                        f"(years: {qa.years_of(company.code) or 'none'})")
    results = check(qa, company.code, cfg.year, rules)
    lines = flag_lines(results)
    print(f"{company.short_name} ({company.code}) {cfg.year} — {sum(bool(r['triggered']) for r in results)} of "
          f"{len(results)} rules triggered")
    print("\n".join(lines))
    summary, invented, source = template_summary(company.short_name, cfg.year, results), [], "template"
    if cfg.summary and qa.llm is not None:
        flags = "\n".join(lines)
        try:
            text = qa.llm(WARNING_SUMMARY_PROMPT.format(company=company.short_name, year=cfg.year, flags=flags)).strip()
        except UserError as err:
            print(f"[check] the model could not write a summary ({err})")
            text = ""
        text, invented = checked_summary(text, f"{company.short_name}{company.code}{cfg.year}\n{flags}")
        on_topic = len(text) >= 10 and any(w in text for w in [company.short_name, *(r["indicator"] for r in results)])
        if text and on_topic and not invented:
            summary, source = text, "llm"
        elif invented:
            print(f"[check] the model's summary used numbers that are not in the flags ({', '.join(invented[:5])}); "
                  "showing the summary written from the flags instead")
        else:
            print("[check] the model's summary names neither the company nor an indicator; "
                  "showing the summary written from the flags instead")
    print(f"summary ({source}): {summary}")
    return {"company": company.short_name, "year": cfg.year, "results": results, "summary": summary,
            "summary_source": source, "invented_numbers": invented}


if __name__ == "__main__":
    run(main, Config, __doc__)
