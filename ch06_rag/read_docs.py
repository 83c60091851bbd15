"""6.2.1 读取目标内容 / 6.2.2 LangChain对文档的读取与分割 — read a folder of documents into LangChain Documents.

Reads .txt (any encoding: UTF-8, GBK...), .md, .html, .docx, .pdf (pdfplumber, one Document per page) and the annual
reports' alltxt JSON lines (.txt/.txt.gz, one Document per page, table rows parsed without eval). Empty, corrupt
and unsupported files are listed as skipped with the reason; the others are summarised (pages, characters, the
detected encoding) and one page is printed. The same Documents then go to LangChain's splitters (split_docs.py).

    python ch06_rag/read_docs.py                                   # data/ch06/sample_docs: every format + bad files
    python ch06_rag/read_docs.py --docs data/finreports/reports    # the real annual reports (alltxt preferred)
    python ch06_rag/read_docs.py --docs data/finreports/reports --prefer pdf --pdf-pages 1 2 3 4 5 6
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import UserError, arg, run


@dataclass
class Config:
    docs: str | None = arg(None, "folder to read (default data/ch06/sample_docs)")
    prefer: str = arg("alltxt", "when a report is there as PDF and alltxt, read this one", choices=("alltxt", "pdf"))
    pdf_pages: list[int] = arg([], "read only these PDF pages (1-based; default all)", nargs="*", type=int)
    show: int = arg(1, "print the text of this many documents (cut to 300 characters)")


def main(cfg: Config) -> dict:
    from common.paths import DATA_DIR
    from ch06_rag.loaders import detect_encoding, load_folder, suffix_of

    folder = Path(cfg.docs) if cfg.docs else DATA_DIR / "ch06" / "sample_docs"
    if any(p < 1 for p in cfg.pdf_pages):
        raise UserError("--pdf-pages are 1-based page numbers")
    result = load_folder(folder, prefer=cfg.prefer, pdf_pages=cfg.pdf_pages or None)
    per_file: dict[str, dict] = {}
    for d in result.documents:
        info = per_file.setdefault(d.metadata["source"], {"pages": 0, "chars": 0})
        info["pages"] += 1
        info["chars"] += len(d.page_content)
    print(f"{'file':<48} {'type':>7} {'encoding':>9} {'pages':>5} {'chars':>8}")
    for name, info in per_file.items():
        path = next(folder.rglob(name))
        kind = suffix_of(path)
        enc = "-"
        if kind in (".txt", ".md", ".html", ".htm") and not name.endswith(".gz"):
            enc = detect_encoding(path.read_bytes())
        info.update(type=kind, encoding=enc)
        print(f"{name[-48:]:<48} {kind:>7} {enc:>9} {info['pages']:>5} {info['chars']:>8}")
    for name, why in result.skipped:
        print(f"skipped {name}: {why}")
    for d in result.documents[: cfg.show]:
        print(f"\n--- {d.metadata['source']} page {d.metadata['page']} ---\n{d.page_content[:300]}")
    return {"files": per_file, "skipped": result.skipped, "documents": len(result.documents)}


if __name__ == "__main__":
    run(main, Config, __doc__)
