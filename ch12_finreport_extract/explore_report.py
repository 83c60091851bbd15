"""12.2.1 单报表数据探查与提取信息结构化处理 — look inside one report: its sections and rebuilt table rows.

    python ch12_finreport_extract/explore_report.py                         # the bundled 海翔药业 2019 alltxt
    python ch12_finreport_extract/explore_report.py --section 合并利润表 --rows 60
    python ch12_finreport_extract/explore_report.py --report REPORT.pdf --pages 60 90   # a PDF, converted on the fly

Prints the row types of the file (text / excel / 页眉 / 页脚), where each section starts (公司简介和主要财务指标,
员工情况, 合并资产负债表, 合并利润表, 合并现金流量表), the table rows of the chosen sections rebuilt across page breaks
(with the alltxt row numbers each was built from: two numbers = a row that was split over two pages and joined), and
the statement unit (单位：元 / 万元 / 百万元).
"""
from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import UserError, arg, run
from common.paths import DATA_DIR

from ch12_finreport_extract.extract_report import DEFAULT_REPORT, load_rows, positional_report
from ch12_finreport_extract.tables import (SECTION_PATTERNS, find_sections, rebuild_table_rows, section_text,
                                           section_unit)


@dataclass
class Config:
    report: str = arg(str(DEFAULT_REPORT.relative_to(DATA_DIR.parent)), "an alltxt (.txt/.txt.gz) or PDF report")
    section: list[str] = arg(["员工情况", "合并资产负债表"], f"sections to print, of {list(SECTION_PATTERNS)}")
    rows: int = arg(25, "at most this many table rows per section")
    pages: list[int] = arg([], "for a PDF: only pages FIRST LAST", type=int)


def main(cfg: Config) -> dict:
    path = Path(cfg.report)
    if not path.is_absolute() and not path.exists():
        path = DATA_DIR.parent / path
    unknown = [s for s in cfg.section if s not in SECTION_PATTERNS]
    if unknown:
        raise UserError(f"--section {unknown}: choose from {list(SECTION_PATTERNS)}")
    rows = load_rows(path, pages=tuple(cfg.pages) if cfg.pages else None)
    types = Counter(r.get("type") for r in rows)
    print(f"{path.name}: {len(rows)} rows on {max((r['page'] for r in rows), default=0)} pages; types {dict(types)}")
    sections = find_sections(rows)
    print("\nsections (first real occurrence, not the table of contents):")
    for name in SECTION_PATTERNS:
        s = sections.get(name)
        print(f"  {name:<14} " + (f"page {s.page:>3}  rows {s.start}-{s.end}  「{s.title}」" if s else "not found"))
    shown = {}
    for name in cfg.section:
        s = sections.get(name)
        if not s:
            continue
        part = rows[s.start: s.end]
        tables = rebuild_table_rows(part)
        unit = section_unit(rows, s)
        joined = [r for t in tables for r in t if len(r.allrows) > 1]
        print(f"\n== {name} (page {s.page}, unit {unit:,} yuan, {sum(len(t) for t in tables)} table rows in "
              f"{len(tables)} tables, {len(joined)} rows rebuilt from two or more alltxt rows: wrapped labels, page breaks)")
        n = 0
        for t in tables:
            for r in t:
                if n >= cfg.rows:
                    break
                mark = " <- rebuilt" if len(r.allrows) > 1 else ""
                print(f"  p{r.page:<4} {' | '.join(r.cells)}   [rows {','.join(map(str, r.allrows))}]{mark}")
                n += 1
        if not tables:
            print(section_text(rows, s, max_chars=1500))
        shown[name] = {"page": s.page, "unit": unit, "rows": [r.cells for t in tables for r in t],
                       "joined": [r.cells for r in joined]}
    return {"types": dict(types), "sections": {k: v.page for k, v in sections.items()}, "shown": shown}


if __name__ == "__main__":
    run(main, Config, __doc__, argv=positional_report(sys.argv[1:]))
