"""12.1.2 benchmark — PDF -> alltxt: our conversion (PDFium + pdfplumber's table algorithm) against a straightforward
pdfplumber conversion, on the same pages, with the fields extracted from each and the challenge's own alltxt.

    python ch12_finreport_extract/bench_pdf.py                       # the bundled PDF, every page (~2 min on one core)
    python ch12_finreport_extract/bench_pdf.py --pages 60 100        # a page range (quick look)
    python ch12_finreport_extract/bench_pdf.py --pdfs more_reports/  # more PDFs (an official alltxt beside one is used)

Speed is CPU seconds of this process (``time.process_time``), so pages/s is per core and a busy machine does not
distort it; the projection for the challenge's 11,588 reports assumes this report's page count and one process per
core (files are independent, so ``pdf2alltxt.py --workers N`` scales by files). Printed: a table per engine, whether
both give the same extracted fields, and agreement with the official alltxt (rows: identical (page, type, text)
rows; fields: the extractor run on both).
"""
from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import UserError, arg, run
from common.paths import DATA_DIR

from ch12_finreport_extract.alltxt import read_alltxt, report_stem
from ch12_finreport_extract.extract_report import extract_from_rows
from ch12_finreport_extract.pdf2alltxt import ENGINES, pdf_to_rows

N_REPORTS = 11588


def row_agreement(ours: list[dict], official: list[dict]) -> dict:
    """Identical non-empty (page, type, text) rows, as a multiset: recall of the official rows and precision."""
    def key(rows):
        return Counter((r["page"], r["type"], r["inside"]) for r in rows if r["inside"].strip())
    a, b = key(ours), key(official)
    same = sum((a & b).values())
    by_type = {t: (sum(v for k, v in (a & b).items() if k[1] == t), sum(v for k, v in b.items() if k[1] == t))
               for t in ("text", "excel", "页眉", "页脚")}
    return {"same": same, "official": sum(b.values()), "ours": sum(a.values()),
            "recall": same / max(1, sum(b.values())), "precision": same / max(1, sum(a.values())), "by_type": by_type}


def field_agreement(a: dict, b: dict) -> dict:
    names = sorted(set(a["fields"]) | set(b["fields"]))
    same = [n for n in names if a["fields"].get(n) == b["fields"].get(n)]
    return {"fields": len(names), "same": len(same), "differ": {n: (a["fields"].get(n), b["fields"].get(n))
                                                                 for n in names if n not in same}}


@dataclass
class Config:
    pdfs: str = arg(str((DATA_DIR / "finreports" / "reports").relative_to(DATA_DIR.parent)),
                    "a PDF or a folder of PDFs (an official alltxt with the same name beside it is compared too)")
    pages: list[int] = arg([], "only pages FIRST LAST of each PDF", type=int)
    engines: list[str] = arg(list(ENGINES), f"engines to run, of {ENGINES}")
    cores: list[int] = arg([2, 32], "core counts for the projection")


def main(cfg: Config) -> dict:
    src = Path(cfg.pdfs)
    if not src.is_absolute() and not src.exists():
        src = DATA_DIR.parent / src
    files = [src] if src.is_file() else sorted(p for p in src.glob("*") if p.suffix.lower() == ".pdf")
    if not files:
        raise UserError(f"no PDF under {src}")
    pages = tuple(cfg.pages) if cfg.pages else None
    stats: dict[str, dict] = {e: {"pages": 0, "cpu": 0.0, "wall": 0.0} for e in cfg.engines}
    per_file = []
    for pdf in files:
        outputs = {}
        for engine in cfg.engines:
            c0, w0 = time.process_time(), time.perf_counter()
            rows = pdf_to_rows(pdf, pages=pages, engine=engine)
            cpu, wall = time.process_time() - c0, time.perf_counter() - w0
            n_pages = len({r["page"] for r in rows})
            stats[engine]["pages"] += n_pages
            stats[engine]["cpu"] += cpu
            stats[engine]["wall"] += wall
            outputs[engine] = rows
            print(f"{pdf.name[:60]}  {engine:<8} {n_pages:>4} pages  {cpu:6.1f} s CPU  {wall:6.1f} s wall  "
                  f"{len(rows):>5} rows", flush=True)
        records = {e: extract_from_rows(rows, pdf.name) for e, rows in outputs.items()}
        entry = {"file": pdf.name, "fields": {e: len(r["fields"]) for e, r in records.items()}}
        if len(records) == 2:
            entry["engines_agree"] = field_agreement(records["fast"], records["plumber"])
        official_path = next((p for p in pdf.parent.iterdir() if report_stem(p) == report_stem(pdf)
                              and p.suffix.lower() != ".pdf"), None)
        if official_path is not None:
            official = read_alltxt(official_path)
            if pages:
                official = [r for r in official if pages[0] <= r["page"] <= pages[1]]
            rec_official = extract_from_rows(official, pdf.name)
            entry["official"] = {e: {"rows": row_agreement(rows, official),
                                     "fields": field_agreement(records[e], rec_official)}
                                 for e, rows in outputs.items()}
        per_file.append(entry)
    print(f"\n{'engine':<9}{'pages':>7}{'CPU s':>8}{'pages/s/core':>14}"
          + "".join(f"{f'{N_REPORTS} reports on {c} cores':>30}" for c in cfg.cores))
    pages_per_report = stats[cfg.engines[0]]["pages"] / len(files)
    table = {}
    for e, s in stats.items():
        rate = s["pages"] / s["cpu"] if s["cpu"] else float("inf")
        proj = {c: N_REPORTS * pages_per_report / rate / c / 3600 for c in cfg.cores}
        table[e] = {"pages": s["pages"], "cpu_s": round(s["cpu"], 2), "pages_per_s_core": round(rate, 2),
                    "hours": {c: round(h, 2) for c, h in proj.items()}}
        print(f"{e:<9}{s['pages']:>7}{s['cpu']:>8.1f}{rate:>14.2f}" + "".join(f"{h:>24.1f} hours" for h in proj.values()))
    if "fast" in table and "plumber" in table:
        speedup = table["fast"]["pages_per_s_core"] / table["plumber"]["pages_per_s_core"]
        print(f"speed-up fast / plumber: {speedup:.1f}x (per core); projection assumes {pages_per_report:.0f} pages "
              "per report and one process per core")
        table["speedup"] = round(speedup, 2)
    for entry in per_file:
        if "engines_agree" in entry:
            ag = entry["engines_agree"]
            print(f"\nfields, fast vs plumber: {ag['same']}/{ag['fields']} identical"
                  + (f"; differ: {ag['differ']}" if ag["differ"] else ""))
        for e, o in entry.get("official", {}).items():
            r, f = o["rows"], o["fields"]
            types = ", ".join(f"{t} {a}/{b}" for t, (a, b) in r["by_type"].items())
            print(f"{e:<8} vs official alltxt: rows {r['same']}/{r['official']} of the official rows identical "
                  f"({r['recall']:.1%}; ours {r['ours']}, precision {r['precision']:.1%}; {types}); "
                  f"fields {f['same']}/{f['fields']} identical" + (f", differ: {list(f['differ'])}" if f["differ"] else ""))
    return {"engines": table, "files": per_file}


if __name__ == "__main__":
    run(main, Config, __doc__)
