"""7.3.1 网页搜索的API实现 — one search interface, four backends, a careful fetcher and main-text extraction.

    backend = search_backend("local")                      # offline: BM25 over data/ch07/pages (no network)
    backend = search_backend("ddgs")                       # DuckDuckGo & co. through the ddgs package (no key)
    backend = search_backend("searxng", url="http://127.0.0.1:8888")   # a SearXNG instance's JSON API
    backend = search_backend("bing")                       # Bing Web Search v7, key from $BING_SEARCH_KEY
    results = backend.search("ChatGLM3 显存", k=3)        # [SearchResult(title, url, snippet)]
    page = fetch(results[0].url)                         # Page(url, content_type, html, truncated) or FetchError
    text = extract_main_text(page.html)                  # trafilatura: the article without menus and footers

The fetcher only speaks http(s) (plus ``local:`` pages of the offline backend), gives up after ``timeout`` seconds
(connect and read), reads at most ``max_bytes`` (the rest is cut, ``truncated=True``), follows at most 3 redirects
and only accepts text content types (HTML, XHTML, plain text): a PDF, an image or a 2 GB download is refused with a
:class:`FetchError` that says why. Page text is data: the QA prompt (``web_qa.py``) never lets it act as instructions.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlparse

from common.cli import UserError
from common.paths import DATA_DIR

PAGES_DIR = DATA_DIR / "ch07" / "pages"
LOCAL_SCHEME = "local"
TEXT_TYPES = ("text/html", "application/xhtml+xml", "text/plain")
DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_BYTES = 2_000_000
MAX_REDIRECTS = 3
USER_AGENT = "chatglm3-book-companion/0.1 (+ch07 web QA)"
BACKENDS = ("local", "ddgs", "searxng", "bing")
BING_ENDPOINT = "https://api.bing.microsoft.com/v7.0/search"


@dataclass
class SearchResult:
    title: str
    url: str
    snippet: str = ""


@dataclass
class Page:
    url: str
    content_type: str
    html: str
    truncated: bool = False
    status: int = 200


class SearchError(UserError):
    """The search backend failed (network, HTTP status, bad answer); the message names the backend and the fix."""


class FetchError(Exception):
    """A page could not be used (timeout, too big, wrong type, HTTP error); the message says which and why."""


# ============================================================================================ text extraction
def extract_main_text(html: str, url: str | None = None) -> str:
    """The page's main text (trafilatura; menus, sidebars and footers dropped). Falls back to all visible text."""
    if not html or not html.strip():
        return ""
    if not re.search(r"<\s*(html|body|p|div|article|h\d)\b", html[:5000], re.I):
        return html.strip()  # plain text already
    try:
        import trafilatura
    except ImportError as exc:  # trafilatura 2.x needs lxml_html_clean
        raise UserError(f"trafilatura cannot be imported ({exc}). To fix: pip install trafilatura "
                        "lxml_html_clean") from None
    text = trafilatura.extract(html, url=url, include_comments=False, include_tables=True, favor_recall=True)
    return (text or _visible_text(html)).strip()


def _visible_text(html: str) -> str:
    from html.parser import HTMLParser

    class _Text(HTMLParser):
        def __init__(self):
            super().__init__()
            self.parts, self.skip = [], 0

        def handle_starttag(self, tag, attrs):
            self.skip += tag in ("script", "style", "nav", "footer", "header")

        def handle_endtag(self, tag):
            self.skip -= tag in ("script", "style", "nav", "footer", "header") and self.skip > 0

        def handle_data(self, data):
            if not self.skip and data.strip():
                self.parts.append(data.strip())

    parser = _Text()
    parser.feed(html)
    return "\n".join(parser.parts)


def page_title(html: str) -> str:
    match = re.search(r"<title[^>]*>(.*?)</title>", html, re.I | re.S)
    if match:
        from html import unescape
        return unescape(re.sub(r"\s+", " ", match.group(1))).strip()
    return ""


# ============================================================================================ fetching
def fetch(url: str, timeout: float = DEFAULT_TIMEOUT, max_bytes: int = DEFAULT_MAX_BYTES,
          pages_dir: str | Path | None = None) -> Page:
    """Download one page with a timeout, a size limit and a content-type check (see module docstring)."""
    parsed = urlparse(url)
    if parsed.scheme == LOCAL_SCHEME:
        return _fetch_local(parsed.path or parsed.netloc, Path(pages_dir or PAGES_DIR), max_bytes)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise FetchError(f"refused {url!r}: only http(s) URLs are fetched")
    import httpx

    try:
        with httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False,
                          headers={"User-Agent": USER_AGENT, "Accept": "text/html,text/plain;q=0.9"}) as client:
            for _ in range(MAX_REDIRECTS + 1):
                with client.stream("GET", url) as resp:
                    if resp.is_redirect:
                        url = urljoin(url, resp.headers.get("location", ""))
                        if urlparse(url).scheme not in ("http", "https"):
                            raise FetchError(f"refused redirect to {url!r}: only http(s)")
                        continue
                    if resp.status_code >= 400:
                        raise FetchError(f"{url}: HTTP {resp.status_code}")
                    ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
                    if ctype not in TEXT_TYPES:
                        raise FetchError(f"{url}: content type {ctype or 'unknown'!r} is not a web page "
                                         f"(accepted: {', '.join(TEXT_TYPES)})")
                    declared = resp.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > max_bytes * 4:
                        raise FetchError(f"{url}: {int(declared)} bytes is far above the {max_bytes}-byte limit")
                    body, truncated = bytearray(), False
                    for chunk in resp.iter_bytes():
                        body.extend(chunk)
                        if len(body) > max_bytes:
                            del body[max_bytes:]
                            truncated = True
                            break
                    return Page(url=str(resp.url), content_type=ctype, html=_decode(bytes(body), resp),
                                truncated=truncated, status=resp.status_code)
            raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects")
    except httpx.TimeoutException:
        raise FetchError(f"{url}: no answer within {timeout:g} s (timeout)") from None
    except httpx.HTTPError as exc:
        raise FetchError(f"{url}: {type(exc).__name__}: {exc}") from None


def _decode(body: bytes, resp) -> str:
    encoding = resp.charset_encoding
    if not encoding:
        match = re.search(rb"<meta[^>]+charset=[\"']?([\w-]+)", body[:2048], re.I)
        encoding = match.group(1).decode("ascii") if match else "utf-8"
    try:
        return body.decode(encoding, errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


def _fetch_local(name: str, folder: Path, max_bytes: int) -> Page:
    path = (folder / name.lstrip("/")).resolve()
    if folder.resolve() not in path.parents or not path.is_file():
        raise FetchError(f"local page {name!r} is not in the pages folder")
    data = path.read_bytes()
    truncated = len(data) > max_bytes
    ctype = "text/plain" if path.suffix in (".txt", ".md") else "text/html"
    return Page(url=f"{LOCAL_SCHEME}:{path.name}", content_type=ctype,
                html=data[:max_bytes].decode("utf-8", errors="replace"), truncated=truncated)


# ============================================================================================ backends
class LocalPagesBackend:
    """Offline search over a folder of .html/.txt pages: BM25 (chapter 6's index) on title + main text."""

    name = "local"

    def __init__(self, folder: str | Path | None = None):
        self.folder = Path(folder) if folder else PAGES_DIR
        files = sorted(p for p in self.folder.glob("*") if p.suffix.lower() in (".html", ".htm", ".txt", ".md"))
        if not files:
            raise UserError(f"no .html/.txt pages in {self.folder}. To fix: put some pages there or pass --pages")
        from ch06_rag.bm25 import BM25Index, ChineseTokenizer  # 第6章的 BM25，导入而不复制

        self.docs = []
        for path in files:
            html = path.read_text(encoding="utf-8", errors="replace")
            text = extract_main_text(html)
            self.docs.append(SearchResult(title=page_title(html) or path.stem, url=f"{LOCAL_SCHEME}:{path.name}",
                                          snippet=text[:120].replace("\n", " ")))
            self.docs[-1].text = text  # type: ignore[attr-defined]
        self.index = BM25Index.from_texts([d.title + "\n" + d.text for d in self.docs],  # type: ignore[attr-defined]
                                          ChineseTokenizer(bigrams=True))

    def search(self, query: str, k: int = 5) -> list[SearchResult]:
        return [self.docs[i] for i, _ in self.index.search(query, k=k)]


class DDGSBackend:
    """The ``ddgs`` package (DuckDuckGo, Bing, Brave... metasearch, no key). Needs the internet."""

    name = "ddgs"

    def __init__(self, region: str = "cn-zh", timeout: float = DEFAULT_TIMEOUT):
        self.region, self.timeout = region, timeout

    def search(self, query: str, k: int = 5) -> list[SearchResult]:
        try:
            from ddgs import DDGS
            rows = DDGS(timeout=int(self.timeout)).text(query, region=self.region, max_results=k) or []
        except Exception as exc:  # noqa: BLE001 - ddgs raises its own exception types for network problems
            raise SearchError(f"ddgs search failed ({type(exc).__name__}: {exc}). To fix: check the internet "
                              "connection, or use --backend local (offline)") from None
        return [SearchResult(r.get("title", ""), r.get("href", ""), r.get("body", "")) for r in rows][:k]


class SearxngBackend:
    """A SearXNG instance's JSON API: ``GET {url}/search?q=...&format=json`` (enable the json format there)."""

    name = "searxng"

    def __init__(self, url: str | None = None, timeout: float = DEFAULT_TIMEOUT):
        self.url = (url or os.environ.get("SEARXNG_URL") or "").rstrip("/")
        if not self.url:
            raise UserError("the searxng backend needs an instance. To fix: --search-url http://host:port or set "
                            "SEARXNG_URL")
        self.timeout = timeout

    def search(self, query: str, k: int = 5) -> list[SearchResult]:
        data = _get_json(f"{self.url}/search", {"q": query, "format": "json"}, {}, self.timeout, "searxng")
        rows = data.get("results") if isinstance(data, dict) else None
        if not isinstance(rows, list):
            raise SearchError(f"searxng at {self.url} returned no 'results' list. To fix: enable the json format "
                              "in its settings.yml (search: formats: [html, json])")
        return [SearchResult(str(r.get("title", "")), str(r.get("url", "")), str(r.get("content", "")))
                for r in rows if isinstance(r, dict) and r.get("url")][:k]


class BingBackend:
    """Bing Web Search API v7; the key comes from ``$BING_SEARCH_KEY`` (never from a file in the repo)."""

    name = "bing"

    def __init__(self, url: str | None = None, key: str | None = None, timeout: float = DEFAULT_TIMEOUT,
                 market: str = "zh-CN"):
        self.url = url or os.environ.get("BING_SEARCH_URL") or BING_ENDPOINT
        self.key = key or os.environ.get("BING_SEARCH_KEY")
        if not self.key:
            raise UserError("the bing backend needs a key. To fix: export BING_SEARCH_KEY=<your Azure key>, or use "
                            "--backend ddgs / local")
        self.timeout, self.market = timeout, market

    def search(self, query: str, k: int = 5) -> list[SearchResult]:
        data = _get_json(self.url, {"q": query, "count": k, "mkt": self.market, "textFormat": "Raw"},
                         {"Ocp-Apim-Subscription-Key": self.key}, self.timeout, "bing")
        rows = ((data or {}).get("webPages") or {}).get("value") or []
        return [SearchResult(str(r.get("name", "")), str(r.get("url", "")), str(r.get("snippet", "")))
                for r in rows if isinstance(r, dict) and r.get("url")][:k]


def _get_json(url: str, params: dict, headers: dict, timeout: float, backend: str):
    import httpx

    try:
        resp = httpx.get(url, params=params, headers={"User-Agent": USER_AGENT, **headers},
                         timeout=httpx.Timeout(timeout))
    except httpx.TimeoutException:
        raise SearchError(f"{backend} search at {url} did not answer within {timeout:g} s. To fix: check the "
                          "service or use --backend local") from None
    except httpx.HTTPError as exc:
        raise SearchError(f"{backend} search at {url} failed: {type(exc).__name__}: {exc}. To fix: check the "
                          "URL / network or use --backend local") from None
    if resp.status_code in (401, 403):
        raise SearchError(f"{backend} search at {url}: HTTP {resp.status_code} (key missing or wrong). To fix: "
                          "check the API key")
    if resp.status_code >= 400:
        raise SearchError(f"{backend} search at {url}: HTTP {resp.status_code}")
    try:
        return resp.json()
    except ValueError:
        raise SearchError(f"{backend} search at {url} did not return JSON") from None


def search_backend(name: str, url: str | None = None, pages: str | Path | None = None,
                 timeout: float = DEFAULT_TIMEOUT):
    """The backend called ``name`` (one of :data:`BACKENDS`)."""
    if name == "local":
        return LocalPagesBackend(pages)
    if name == "ddgs":
        return DDGSBackend(timeout=timeout)
    if name == "searxng":
        return SearxngBackend(url, timeout=timeout)
    if name == "bing":
        return BingBackend(url, timeout=timeout)
    raise UserError(f"unknown search backend {name!r}. To fix: one of {', '.join(BACKENDS)}")


@dataclass
class Source:
    """One numbered source of the QA prompt: where it came from and the main text that goes into the prompt."""

    n: int
    title: str
    url: str
    text: str
    notes: list[str] = field(default_factory=list)


def gather_sources(backend, query: str, k: int = 3, max_chars: int = 1500, timeout: float = DEFAULT_TIMEOUT,
                   max_bytes: int = DEFAULT_MAX_BYTES, pages_dir: str | Path | None = None
                   ) -> tuple[list[Source], list[str]]:
    """Search, fetch each hit, extract its main text (cut to ``max_chars``). Pages that fail are skipped and
    reported (second value), never fatal; a hit whose page fails keeps its snippet if it has one."""
    sources, skipped = [], []
    for hit in backend.search(query, k=k):
        notes = []
        try:
            page = fetch(hit.url, timeout=timeout, max_bytes=max_bytes, pages_dir=pages_dir)
            text = extract_main_text(page.html, page.url)
            if page.truncated:
                notes.append(f"page cut at {max_bytes} bytes")
        except FetchError as exc:
            if not hit.snippet:
                skipped.append(str(exc))
                continue
            text, notes = hit.snippet, [f"snippet only ({exc})"]
        if not text.strip():
            skipped.append(f"{hit.url}: no main text")
            continue
        if len(text) > max_chars:
            text, notes = text[:max_chars] + "…", notes + [f"text cut to {max_chars} characters"]
        sources.append(Source(len(sources) + 1, hit.title or hit.url, hit.url, text, notes))
    return sources, skipped
