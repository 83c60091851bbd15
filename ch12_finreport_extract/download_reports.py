"""12.1.2 超大规模年报数据库的建立 (a) — download annual reports from CNINFO's public announcement search.

    python ch12_finreport_extract/download_reports.py --codes 002099 300617 --years 2019 2020 --dry-run
    python ch12_finreport_extract/download_reports.py --codes 002099 --years 2019 --out reports/
    python ch12_finreport_extract/download_reports.py --codes-file data/finreports/companies.csv --years 2021 --interval 2

How it works (the site's own JSON endpoints, as its search page uses them):
1. ``GET {base}/new/data/szse_stock.json`` — code -> ``orgId`` (the site needs both to search a company);
2. ``POST {base}/new/hisAnnouncement/query`` with ``stock=<code>,<orgId>``, ``category=category_ndbg_szsh`` (annual
   reports) and ``seDate`` = the year after the report year — the announcements, 30 per page;
3. the report is the announcement titled 「…年年度报告」 for that year; summaries (摘要), English versions, cancelled
   ones (已取消) are skipped; of several versions (更正后/修订版) the latest one wins;
4. ``GET {static}/{adjunctUrl}`` — the PDF, saved as ``date__全称__code__简称__年__年度报告.pdf`` (the
   challenge's names; the full name comes from ``--codes-file`` when it has a ``full_name`` column).

One request per ``--interval`` seconds at most (be polite: the site throttles and blocks), retries with back-off,
a PDF is written under a temporary name, checked (``%PDF`` header, size) and renamed; ``manifest.jsonl`` records
URL, size and SHA-256, so a second run skips what is done (and re-fetches a file whose checksum no longer matches).
Nothing here runs in the tests against the real site: they use a loopback server imitating these endpoints.
"""
from __future__ import annotations

import csv
import hashlib
import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import UserError, arg, run
from common.paths import DATA_DIR, output_dir

from ch12_finreport_extract.alltxt import read_records

BASE_URL = "http://www.cninfo.com.cn"
STATIC_URL = "http://static.cninfo.com.cn"
SKIP_WORDS = ("摘要", "英文", "English", "english", "已取消", "取消", "提示性公告", "问询函", "说明", "半年度", "季度")
USER_AGENT = "Mozilla/5.0 (compatible; chatglm3-book-companion/1.0; annual-report research)"


class RateLimiter:
    """At most one request per ``interval`` seconds (monotonic clock)."""

    def __init__(self, interval: float):
        self.interval, self._last = max(0.0, interval), None

    def wait(self) -> None:
        if self._last is not None:
            delay = self.interval - (time.monotonic() - self._last)
            if delay > 0:
                time.sleep(delay)
        self._last = time.monotonic()


class Client:
    """The few HTTP calls the downloader makes, rate-limited, with retries."""

    def __init__(self, base_url: str = BASE_URL, static_url: str = STATIC_URL, interval: float = 1.0,
                 retries: int = 3, timeout: float = 30.0):
        self.base_url, self.static_url = base_url.rstrip("/"), static_url.rstrip("/")
        self.limiter, self.retries, self.timeout = RateLimiter(interval), retries, timeout
        self.requests = 0

    def _open(self, url: str, data: dict | None = None) -> bytes:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            self.limiter.wait()
            self.requests += 1
            req = urllib.request.Request(url, data=body, headers={"User-Agent": USER_AGENT, "Accept": "*/*"})
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    return resp.read()
            except urllib.error.HTTPError as exc:
                last = exc
                if exc.code < 500 and exc.code != 429:     # 4xx（除 429）重试也没用
                    break
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                last = exc
            time.sleep(min(30.0, self.limiter.interval * (2 ** attempt)))
        raise ConnectionError(f"{url}: {last}")

    def json(self, path: str, data: dict | None = None) -> dict:
        raw = self._open(self.base_url + path, data)
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConnectionError(f"{path}: not JSON ({exc})") from None

    def org_ids(self) -> dict[str, str]:
        """stock code -> orgId."""
        data = self.json("/new/data/szse_stock.json")
        return {s["code"]: s["orgId"] for s in data.get("stockList", []) if "code" in s and "orgId" in s}

    def announcements(self, code: str, org_id: str, year: int) -> list[dict]:
        """Annual-report announcements of ``code`` published in the year after ``year`` (all pages)."""
        out, page = [], 1
        while True:
            form = {"pageNum": page, "pageSize": 30, "column": "szse", "tabName": "fulltext", "plate": "",
                    "stock": f"{code},{org_id}", "searchkey": "", "secid": "", "category": "category_ndbg_szsh;",
                    "trade": "", "seDate": f"{year + 1}-01-01~{year + 1}-12-31", "sortName": "", "sortType": "",
                    "isHLtitle": "true"}
            data = self.json("/new/hisAnnouncement/query", form)
            out += data.get("announcements") or []
            if not data.get("hasMore") or page >= 20:
                return out
            page += 1

    def download(self, adjunct_url: str) -> bytes:
        return self._open(self.static_url + "/" + adjunct_url.lstrip("/"))


def pick_report(announcements: list[dict], year: int) -> dict | None:
    """The full annual report of ``year``: title has 「{year}年年度报告」 (or 「年报」), no 摘要/英文/取消; the
    latest announcement wins when there are several versions."""
    good = []
    for a in announcements:
        title = re.sub(r"<[^>]+>|\s+", "", a.get("announcementTitle", ""))
        if str(year) not in title or not re.search(r"年度报告|年报", title):
            continue
        if any(w in title for w in SKIP_WORDS):
            continue
        if not str(a.get("adjunctUrl", "")).lower().endswith(".pdf"):
            continue
        good.append(a)
    return max(good, key=lambda a: int(a.get("announcementTime", 0))) if good else None


def official_name(a: dict, year: int, full_names: dict[str, str]) -> str:
    date = time.strftime("%Y-%m-%d", time.gmtime(int(a["announcementTime"]) / 1000 + 8 * 3600))  # 北京时间
    code = a["secCode"]
    short = re.sub(r"\s+|\*", "", a.get("secName", code))
    full = full_names.get(code, short)
    return f"{date}__{full}__{code}__{short}__{year}年__年度报告.pdf"


def read_manifest(path: Path) -> dict[str, dict]:
    return read_records(path, "file")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_codes(path: Path) -> tuple[list[str], dict[str, str]]:
    """Codes (and full names) from a CSV with a ``stock_code`` column (``full_name`` optional) or one code a line."""
    text = path.read_text(encoding="utf-8")
    if "stock_code" in text.splitlines()[0]:
        rows = list(csv.DictReader(text.splitlines()))
        return [r["stock_code"] for r in rows], {r["stock_code"]: r.get("full_name") or "" for r in rows
                                                if r.get("full_name")}
    return [c.strip() for c in text.splitlines() if c.strip()], {}


def download_reports(codes: list[str], years: list[int], out_dir: Path, client: Client,
                     full_names: dict[str, str] | None = None, dry_run: bool = False,
                     max_files: int | None = None) -> dict:
    """Fetch the annual reports of ``codes`` × ``years`` into ``out_dir`` (resumable; see module doc)."""
    full_names = full_names or {}
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = out_dir / "manifest.jsonl"
    manifest = read_manifest(manifest_path)
    org = client.org_ids()
    done, skipped, planned, failed, not_found = [], [], [], [], []
    for code in codes:
        if code not in org:
            not_found.append({"code": code, "year": None, "why": "code not in the exchange's stock list"})
            continue
        for year in years:
            try:
                ann = pick_report(client.announcements(code, org[code], year), year)
            except ConnectionError as exc:
                failed.append({"code": code, "year": year, "error": str(exc)})
                continue
            if ann is None:
                not_found.append({"code": code, "year": year, "why": "no full annual report announced"})
                continue
            name = official_name(ann, year, full_names)
            target = out_dir / name
            rec = manifest.get(name)
            if target.is_file() and rec and rec.get("sha256") == sha256_file(target):
                skipped.append(name)
                continue
            url = client.static_url + "/" + ann["adjunctUrl"].lstrip("/")
            if dry_run:
                planned.append({"file": name, "url": url, "kb": ann.get("adjunctSize")})
                continue
            if max_files is not None and len(done) >= max_files:
                planned.append({"file": name, "url": url, "kb": ann.get("adjunctSize")})
                continue
            try:
                blob = client.download(ann["adjunctUrl"])
            except ConnectionError as exc:
                failed.append({"code": code, "year": year, "error": str(exc)})
                continue
            problem = _check_pdf(blob, ann.get("adjunctSize"))
            if problem:
                failed.append({"code": code, "year": year, "file": name, "error": problem})
                continue
            tmp = target.with_name(target.name + ".part")
            tmp.write_bytes(blob)
            tmp.replace(target)
            entry = {"file": name, "url": url, "bytes": len(blob), "sha256": hashlib.sha256(blob).hexdigest(),
                     "announcement_id": ann.get("announcementId"), "title": ann.get("announcementTitle"),
                     "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
            with open(manifest_path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
            manifest[name] = entry
            done.append(name)
    return {"downloaded": done, "skipped_done": skipped, "planned": planned, "failed": failed,
            "not_found": not_found, "requests": client.requests, "out": str(out_dir)}


def _check_pdf(blob: bytes, size_kb) -> str | None:
    if not blob.startswith(b"%PDF"):
        return "not a PDF (no %PDF header: an error page or a block)"
    if size_kb:
        try:
            expected = float(size_kb) * 1024
            if abs(len(blob) - expected) > max(2048, 0.02 * expected):
                return f"size {len(blob)} B differs from the announced {size_kb} KB (truncated?)"
        except (TypeError, ValueError):
            pass
    return None


@dataclass
class Config:
    codes: list[str] = arg([], "stock codes, e.g. --codes 002099 300617")
    codes_file: str | None = arg(None, "CSV with stock_code (and full_name) columns, or one code per line")
    years: list[int] = arg([2019], "report years (the report is published the year after)")
    out: str | None = arg(None, "folder for the PDFs (default: outputs/ch12/pdf)")
    interval: float = arg(1.5, "seconds between two requests (the site blocks fast clients)")
    retries: int = arg(3, "retries per request (exponential back-off)")
    base_url: str = arg(BASE_URL, "the announcement site (a test server in the tests)")
    static_url: str = arg(STATIC_URL, "where the PDFs are served")
    dry_run: bool = arg(False, "only list what would be downloaded")
    max_files: int | None = arg(None, "download at most this many files in this run")


def main(cfg: Config) -> dict:
    codes, names = list(cfg.codes), {}
    if cfg.codes_file:
        path = Path(cfg.codes_file)
        if not path.is_absolute() and not path.exists():
            path = DATA_DIR.parent / path
        if not path.is_file():
            raise UserError(f"--codes-file {cfg.codes_file} does not exist")
        more, names = read_codes(path)
        codes += more
    if not codes:
        raise UserError("no stock codes. To fix: --codes 002099 300617 or --codes-file companies.csv")
    bad = [c for c in codes if not re.fullmatch(r"\d{6}", c)]
    if bad:
        raise UserError(f"not six-digit stock codes: {bad[:5]}")
    out = Path(cfg.out) if cfg.out else output_dir("ch12", "pdf")
    client = Client(cfg.base_url, cfg.static_url, cfg.interval, cfg.retries)
    try:
        result = download_reports(codes, list(cfg.years), out, client, names, cfg.dry_run, cfg.max_files)
    except ConnectionError as exc:
        raise UserError(f"cannot reach {cfg.base_url}: {exc}. To fix: check the network (or use --base-url)") \
            from None
    for p in result["planned"]:
        print(f"[{'would fetch' if cfg.dry_run else 'next run'}] {p['file']}  <- {p['url']} ({p['kb']} KB)")
    for f in result["failed"]:
        print(f"[failed] {f}")
    print(f"{len(result['downloaded'])} downloaded, {len(result['skipped_done'])} already there, "
          f"{len(result['planned'])} planned, {len(result['failed'])} failed, {len(result['not_found'])} not found, "
          f"{result['requests']} requests -> {result['out']}")
    return result


if __name__ == "__main__":
    run(main, Config, __doc__)
