"""12.2.2 (accuracy) — compare ``extract_report`` with the hand-read gold files, per field, per group and per report.

    python ch12_finreport_extract/evaluate_extraction.py                  # the bundled alltxt reports
    python ch12_finreport_extract/evaluate_extraction.py --pdf            # the bundled PDF instead of its alltxt
    python ch12_finreport_extract/evaluate_extraction.py --reports my_reports/ --gold my_gold/

A gold file (``data/finreports/gold/<report>.json``) lists fields with the value as printed, the page and the label
it was read from, and the fields the report does not print (``not_in_report``). A field counts as right when the
extracted value equals the gold value (amounts to the cent, after the unit conversion; texts with spaces removed);
an extracted value for a field the report does not print counts as a wrong guess.
"""
from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import UserError, arg, run
from common.paths import DATA_DIR

from ch12_finreport_extract.alltxt import report_stem
from ch12_finreport_extract.fields import FIELDS_BY_NAME

GOLD_DIR = DATA_DIR / "finreports" / "gold"
REPORTS_DIR = DATA_DIR / "finreports" / "reports"


def load_gold(path: str | Path) -> dict:
    gold = json.loads(Path(path).read_text(encoding="utf-8"))
    if "fields" not in gold or "report" not in gold:
        raise UserError(f"{path}: not a gold file (needs 'report' and 'fields')")
    return gold


def same(a, b) -> bool:
    """Gold and extracted values agree: numbers to the cent (relative 1e-9 for huge ones), texts without spaces."""
    if a is None or b is None:
        return False
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(a - b) <= max(0.005, 1e-9 * abs(a))
    return re.sub(r"\s+", "", str(a)).lower() == re.sub(r"\s+", "", str(b)).lower()


def compare(record: dict, gold: dict) -> list[dict]:
    """One row per gold field (and per extracted field the report does not print)."""
    rows = []
    for name, g in gold["fields"].items():
        got = record["fields"].get(name)
        f = FIELDS_BY_NAME.get(name)
        row = {"field": name, "group": f.group if f else "?", "gold": g["value"], "got": got,
               "ok": same(g["value"], got), "method": record.get("methods", {}).get(name),
               "page_ok": record.get("sources", {}).get(name) == g.get("page")}
        if "previous_value" in g:
            row["prev_ok"] = same(g["previous_value"], record.get("previous_year", {}).get(name))
        rows.append(row)
    for name in gold.get("not_in_report", {}):
        if name in record["fields"]:
            f = FIELDS_BY_NAME.get(name)
            rows.append({"field": name, "group": f.group if f else "?", "gold": None, "got": record["fields"][name],
                         "ok": False, "method": record.get("methods", {}).get(name), "guess": True})
    return rows


def summarize(rows: list[dict]) -> dict:
    n = len(rows)
    prev = [r for r in rows if "prev_ok" in r]
    by_group: dict[str, list] = {}
    for r in rows:
        by_group.setdefault(r["group"], []).append(r["ok"])
    return {"fields": n, "correct": sum(r["ok"] for r in rows), "accuracy": round(sum(r["ok"] for r in rows) / n, 4)
            if n else 0.0, "previous_year_accuracy": round(sum(r["prev_ok"] for r in prev) / len(prev), 4)
            if prev else None, "wrong_guesses": sum(1 for r in rows if r.get("guess")),
            "by_group": {g: round(sum(v) / len(v), 4) for g, v in sorted(by_group.items())}}


def find_report(stem: str, folder: Path, pdf: bool) -> Path | None:
    cands = [p for p in folder.iterdir() if report_stem(p) == stem]
    want = [p for p in cands if (p.suffix.lower() == ".pdf") == pdf]
    return want[0] if want else None


@dataclass
class Config:
    reports: str = arg(str(REPORTS_DIR.relative_to(DATA_DIR.parent)), "folder with the reports (PDF or alltxt)")
    gold: str = arg(str(GOLD_DIR.relative_to(DATA_DIR.parent)), "folder with gold JSON files")
    pdf: bool = arg(False, "evaluate on the PDF of each report (where there is one) instead of its alltxt")
    show_wrong: bool = arg(True, "list every wrong or missing field")


def main(cfg: Config) -> dict:
    from ch12_finreport_extract.extract_report import extract_report
    root = DATA_DIR.parent
    reports_dir = Path(cfg.reports) if Path(cfg.reports).is_absolute() or Path(cfg.reports).exists() \
        else root / cfg.reports
    gold_dir = Path(cfg.gold) if Path(cfg.gold).is_absolute() or Path(cfg.gold).exists() else root / cfg.gold
    if not gold_dir.is_dir() or not reports_dir.is_dir():
        raise UserError(f"--gold {gold_dir} or --reports {reports_dir} is not a folder")
    per_report, all_rows = {}, []
    for gold_file in sorted(gold_dir.glob("*.json")):
        gold = load_gold(gold_file)
        path = find_report(gold["report"], reports_dir, cfg.pdf)
        if path is None:
            print(f"[skip] no {'PDF' if cfg.pdf else 'alltxt'} for {gold['report']}")
            continue
        record = extract_report(path)
        rows = compare(record, gold)
        for r in rows:
            r["report"] = record.get("short_name") or gold["report"]
        per_report[rows[0]["report"] if rows else gold["report"]] = summarize(rows)
        all_rows += rows
    if not all_rows:
        raise UserError("no report had a gold file. To fix: check --reports and --gold")
    print(f"{'report':<10}{'fields':>7}{'right':>7}{'accuracy':>10}{'prev yr':>9}{'guesses':>9}  by group")
    for name, s in per_report.items():
        groups = " ".join(f"{g}={v:.0%}" for g, v in s["by_group"].items())
        prev = f"{s['previous_year_accuracy']:.0%}" if s["previous_year_accuracy"] is not None else "-"
        print(f"{name:<10}{s['fields']:>7}{s['correct']:>7}{s['accuracy']:>10.1%}{prev:>9}{s['wrong_guesses']:>9}  {groups}")
    total = summarize(all_rows)
    print(f"{'all':<10}{total['fields']:>7}{total['correct']:>7}{total['accuracy']:>10.1%}")
    per_field: dict[str, list] = {}
    for r in all_rows:
        per_field.setdefault(r["field"], []).append(r["ok"])
    print("\nper field (right / reports with a gold value):")
    print("  " + "  ".join(f"{k} {sum(v)}/{len(v)}" for k, v in per_field.items()))
    if cfg.show_wrong:
        wrong = [r for r in all_rows if not r["ok"]]
        if wrong:
            print("\nwrong or missing:")
            for r in wrong:
                print(f"  {r['report']} {r['field']}: gold={r['gold']} got={r['got']} ({r['method'] or 'missing'})")
    return {"per_report": per_report, "total": total, "per_field": {k: sum(v) / len(v) for k, v in per_field.items()},
            "rows": all_rows}


if __name__ == "__main__":
    run(main, Config, __doc__)
