"""7.3.1 网页搜索的API实现 — search with a pluggable backend, fetch each page safely, extract its main text.

No model is involved: this shows the search layer of ``websearch.py`` on its own. The default backend searches the
bundled offline pages (BM25 from chapter 6), so it runs without a network; ``ddgs`` needs the internet, ``searxng``
an instance, ``bing`` a key in ``$BING_SEARCH_KEY``.

    python ch07_prompt/search_pages.py
    python ch07_prompt/search_pages.py --query "LoRA 秩" --k 2
    python ch07_prompt/search_pages.py --backend ddgs --query "ChatGLM3-6B"
    python ch07_prompt/search_pages.py --backend searxng --search-url http://127.0.0.1:8888
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
    query: str = arg("ChatGLM3 显存", "what to search for")
    backend: str = arg("local", "search backend (local = offline pages, no network)",
                       choices=("local", "ddgs", "searxng", "bing"))
    search_url: str | None = arg(None, "searxng instance URL / Bing endpoint")
    pages: str | None = arg(None, "folder of .html/.txt pages for --backend local (default: data/ch07/pages)")
    k: int = arg(3, "how many results")
    timeout: float = arg(10.0, "seconds before a search or a download is given up")
    max_bytes: int = arg(2_000_000, "largest page read (bytes)")
    preview: int = arg(160, "characters of main text to print per page")


def main(cfg: Config) -> dict:
    if not cfg.query.strip() or cfg.k < 1:
        raise UserError("--query must not be empty and --k must be >= 1")
    from ch07_prompt.websearch import FetchError, extract_main_text, fetch, search_backend

    backend = search_backend(cfg.backend, url=cfg.search_url, pages=cfg.pages, timeout=cfg.timeout)
    hits = backend.search(cfg.query, k=cfg.k)
    print(f"{backend.name}: {len(hits)} results for {cfg.query!r}")
    rows = []
    for i, hit in enumerate(hits, 1):
        print(f"[{i}] {hit.title}\n    {hit.url}")
        try:
            page = fetch(hit.url, timeout=cfg.timeout, max_bytes=cfg.max_bytes, pages_dir=cfg.pages)
            text = extract_main_text(page.html, page.url)
            print(f"    {page.content_type}, {len(page.html)} chars of HTML -> {len(text)} chars of main text"
                  + (" (cut at --max-bytes)" if page.truncated else ""))
            print("    " + text[:cfg.preview].replace("\n", " "))
            rows.append({"title": hit.title, "url": hit.url, "text": text, "error": None})
        except FetchError as exc:
            print(f"    not fetched: {exc}")
            rows.append({"title": hit.title, "url": hit.url, "text": "", "error": str(exc)})
    return {"backend": backend.name, "results": rows}


if __name__ == "__main__":
    run(main, Config, __doc__)
