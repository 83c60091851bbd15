"""3.4.1 Benchmark the OpenAI-style server: N concurrent streaming clients, like vLLM's ``benchmark_serving.py``.

    python ch03_gradio/bench_server.py --compare                      # starts its own server on the demo model
    python ch03_gradio/bench_server.py --base-url http://127.0.0.1:8000/v1 --num-prompts 32 --concurrency 8

Every request streams (SSE) with ``ignore_eos`` so each one generates exactly ``--max-tokens`` tokens. Printed:
requests/s, output tokens/s, TTFT (time to first token), TPOT (time per output token after the first) and ITL
(inter-token latency: the gaps between streamed chunks) as mean / median / p99.

``--compare`` sends the same ``--concurrency`` requests first one after another, then all at once, and prints the
two side by side with the throughput ratio — continuous batching is what makes the second column fast.
"""
from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import ModelArgs, ServerArgs, UserError, arg, run  # noqa: E402


@dataclass
class Config(ModelArgs, ServerArgs):
    num_prompts: int = arg(16, "requests to send", group="benchmark")
    concurrency: int = arg(8, "requests in flight at once", group="benchmark")
    max_tokens: int = arg(64, "output tokens per request (fixed: ignore_eos)", group="benchmark")
    prompt: str = arg("请介绍一下 ChatGLM3 的本地化部署。", "user message (a number is appended per request)",
                      group="benchmark")
    compare: bool = arg(False, "send --concurrency requests sequentially, then concurrently, and compare",
                        group="benchmark")
    timeout: float = arg(300.0, "per-request timeout in seconds", group="benchmark")


@dataclass
class RequestResult:
    ok: bool = False
    prompt_tokens: int = 0
    output_tokens: int = 0
    ttft: float = 0.0
    latency: float = 0.0
    itl: list[float] = field(default_factory=list)
    error: str = ""


async def one_request(client, url: str, headers: dict, prompt: str, max_tokens: int) -> RequestResult:
    body = {"model": "bench", "messages": [{"role": "user", "content": prompt}], "stream": True,
            "stream_options": {"include_usage": True}, "max_tokens": max_tokens, "ignore_eos": True,
            "temperature": 0}
    res = RequestResult()
    start = last = time.perf_counter()
    try:
        async with client.stream("POST", url + "/v1/chat/completions", json=body, headers=headers) as resp:
            if resp.status_code != 200:
                res.error = f"HTTP {resp.status_code}: {(await resp.aread())[:200]!r}"
                return res
            async for line in resp.aiter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                chunk = json.loads(line[6:])
                if chunk.get("usage"):
                    res.prompt_tokens = chunk["usage"]["prompt_tokens"]
                    res.output_tokens = chunk["usage"]["completion_tokens"]
                if not chunk.get("choices") or not chunk["choices"][0]["delta"].get("content"):
                    continue
                now = time.perf_counter()
                if res.ttft == 0.0:
                    res.ttft = now - start
                else:
                    res.itl.append(now - last)
                last = now
        res.latency = time.perf_counter() - start
        res.ok = True
    except Exception as exc:  # report, keep benchmarking the others
        res.error = f"{type(exc).__name__}: {exc}"
    return res


async def run_load(url: str, api_key: str | None, prompts: list[str], concurrency: int, max_tokens: int,
                   timeout: float) -> dict:
    """Send ``prompts`` with at most ``concurrency`` in flight; return the metrics."""
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    sem = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(timeout=timeout, limits=httpx.Limits(max_connections=concurrency + 2)) as client:
        async def limited(p: str) -> RequestResult:
            async with sem:
                return await one_request(client, url, headers, p, max_tokens)

        start = time.perf_counter()
        results = await asyncio.gather(*(limited(p) for p in prompts))
        duration = time.perf_counter() - start
    return summarize(results, duration, concurrency)


def _stats(values: list[float]) -> dict:
    if not values:
        return {"mean": 0.0, "median": 0.0, "p99": 0.0}
    s = sorted(values)
    p99 = s[min(len(s) - 1, max(0, int(round(0.99 * (len(s) - 1)))))]
    return {"mean": statistics.fmean(s) * 1000, "median": statistics.median(s) * 1000, "p99": p99 * 1000}


def summarize(results: list[RequestResult], duration: float, concurrency: int) -> dict:
    ok = [r for r in results if r.ok]
    out_tokens = sum(r.output_tokens for r in ok)
    tpot = [(r.latency - r.ttft) / (r.output_tokens - 1) for r in ok if r.output_tokens > 1]
    return {"concurrency": concurrency, "completed": len(ok), "failed": len(results) - len(ok),
            "errors": [r.error for r in results if not r.ok][:3], "duration_s": duration,
            "input_tokens": sum(r.prompt_tokens for r in ok), "output_tokens": out_tokens,
            "request_throughput": len(ok) / duration if duration else 0.0,
            "output_throughput": out_tokens / duration if duration else 0.0,
            "ttft_ms": _stats([r.ttft for r in ok]), "tpot_ms": _stats(tpot),
            "itl_ms": _stats([x for r in ok for x in r.itl])}


def format_table(columns: dict[str, dict]) -> str:
    """vLLM-style result block; several runs side by side."""
    names = list(columns)
    rows = [("Successful requests", "completed", "{:d}"), ("Failed requests", "failed", "{:d}"),
            ("Benchmark duration (s)", "duration_s", "{:.2f}"), ("Total input tokens", "input_tokens", "{:d}"),
            ("Total generated tokens", "output_tokens", "{:d}"),
            ("Request throughput (req/s)", "request_throughput", "{:.2f}"),
            ("Output token throughput (tok/s)", "output_throughput", "{:.2f}")]
    width = 36
    lines = ["{:=^{w}}".format(" Serving Benchmark Result ", w=width + 16 * len(names)),
             f"{'':{width}}" + "".join(f"{n:>16}" for n in names)]
    for label, key, fmt in rows:
        lines.append(f"{label + ':':{width}}" + "".join(f"{fmt.format(columns[n][key]):>16}" for n in names))
    for title, key in (("Time to First Token", "ttft_ms"), ("Time per Output Token (excl. 1st token)", "tpot_ms"),
                       ("Inter-token Latency", "itl_ms")):
        lines.append("{:-^{w}}".format(title, w=width + 16 * len(names)))
        short = key.split("_")[0].upper()
        for stat in ("mean", "median", "p99"):
            label = f"{stat.capitalize() if stat != 'p99' else 'P99'} {short} (ms):"
            lines.append(f"{label:{width}}" + "".join(f"{columns[n][key][stat]:>16.2f}" for n in names))
    lines.append("=" * (width + 16 * len(names)))
    return "\n".join(lines)


def main(cfg: Config) -> dict:
    from ch03_gradio.openai_api import server_url
    from common.cli import apply_threads

    if cfg.concurrency < 1 or cfg.num_prompts < 1 or cfg.max_tokens < 1:
        raise UserError("--concurrency, --num-prompts and --max-tokens must be at least 1")
    apply_threads(cfg)
    api_key = cfg.api_key or (os.environ.get("CHATGLM3_API_KEY") if cfg.base_url else None)
    with server_url(cfg.base_url, model=cfg.model, precision=cfg.precision, device=cfg.device, api_key=api_key,
                    max_batch_size=max(cfg.concurrency, 1)) as url:
        if cfg.compare:
            prompts = [f"{cfg.prompt}（{i}）" for i in range(cfg.concurrency)]
            asyncio.run(run_load(url, api_key, prompts[:1], 1, min(cfg.max_tokens, 4), cfg.timeout))  # warm up
            seq = asyncio.run(run_load(url, api_key, prompts, 1, cfg.max_tokens, cfg.timeout))
            par = asyncio.run(run_load(url, api_key, prompts, cfg.concurrency, cfg.max_tokens, cfg.timeout))
            ratio = par["output_throughput"] / seq["output_throughput"] if seq["output_throughput"] else 0.0
            print(format_table({"sequential": seq, f"{cfg.concurrency} concurrent": par}))
            print(f"throughput ratio ({cfg.concurrency} concurrent / sequential): {ratio:.2f}x")
            return {"sequential": seq, "concurrent": par, "ratio": ratio, "url": url}
        prompts = [f"{cfg.prompt}（{i}）" for i in range(cfg.num_prompts)]
        result = asyncio.run(run_load(url, api_key, prompts, cfg.concurrency, cfg.max_tokens, cfg.timeout))
        print(format_table({f"c={cfg.concurrency}": result}))
        if result["errors"]:
            print("errors:", *result["errors"], sep="\n  ")
        return {"result": result, "url": url}


if __name__ == "__main__":
    run(main, Config, __doc__)
