"""Replay the security review's reproductions against the chapter-3 server and print status, time and the latency
of a concurrent normal 8-token chat for each.

    python tests/fuzz/repro_ch03.py                                  # the built-in demo model, 127.0.0.1, any port
    python tests/fuzz/repro_ch03.py --model /path/to/chatglm3-6b --device cuda
"""
from __future__ import annotations

import json
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from common.cli import ModelArgs, arg, run  # noqa: E402


@dataclass
class Config(ModelArgs):
    idle_check: bool = arg(True, "also check that an idle connection is closed (waits up to 30 s)")


def _nested(depth: int):
    v = 1
    for _ in range(depth):
        v = {"a": v}
    return v


def cases(tools: list[dict]) -> list[tuple[str, str, bytes]]:
    """(label, path, body) of every reproduction."""
    def call(args, legacy=False):
        c = {"name": "get_weather", "arguments": args}
        if legacy:
            return {"functions": [t["function"] for t in tools], "messages": [
                {"role": "user", "content": "北京天气"}, {"role": "assistant", "content": None, "function_call": c},
                {"role": "function", "name": "get_weather", "content": "{}"}]}
        return {"tools": tools, "messages": [
            {"role": "user", "content": "北京天气"},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "c", "type": "function", "function": c}]},
            {"role": "tool", "tool_call_id": "c", "content": "{}"}]}

    def chat(**kw):
        return {"messages": [{"role": "user", "content": "你好"}], "max_tokens": 16, **kw}

    j = lambda b: json.dumps(b, ensure_ascii=False).encode()  # noqa: E731
    return [
        ("1 temperature 1e-40", "/v1/chat/completions", j(chat(temperature=1e-40))),
        ("1 temperature 5e-324", "/v1/chat/completions", j(chat(temperature=5e-324))),
        ("1 repetition_penalty 1e-300", "/v1/chat/completions", j(chat(repetition_penalty=1e-300))),
        ("2 arguments 1 + 5,000 zeros", "/v1/chat/completions", j(call('{"x": 1' + "0" * 5000 + "}"))),
        ("2 arguments '[' x 100,000", "/v1/chat/completions", j(call("[" * 100_000))),
        ("2 arguments nested 300 deep", "/v1/chat/completions", j(call(json.dumps(_nested(300))))),
        ("2 legacy function_call 5,000 digits", "/v1/chat/completions",
         j(call('{"x": 1' + "0" * 5000 + "}", legacy=True))),
        ("3 content lone surrogate", "/v1/chat/completions",
         b'{"messages": [{"role": "user", "content": "\\ud800"}]}'),
        ("3 POST / NaN in history", "/", b'{"prompt": "x", "history": [["a", NaN]]}'),
        ("4 24k-char prompt, required, 2 tools", "/v1/chat/completions",
         j({"messages": [{"role": "user", "content": "天气" * 12_000}], "tools": tools, "tool_choice": "required"})),
        ("5 embeddings 2,048 x 500 chars", "/v1/embeddings", j({"input": ["北京天气怎么样" * 71] * 2048})),
        ("5 embeddings 256 x 200 chars (allowed)", "/v1/embeddings", j({"input": ["北京天气怎么样" * 28] * 256})),
        ("5 n=16", "/v1/chat/completions", j(chat(n=16))),
        ("5 n=4, max_tokens 256, ignore_eos", "/v1/chat/completions", j(chat(n=4, max_tokens=256, ignore_eos=True))),
        ("5 16 stop strings of 200k chars", "/v1/chat/completions", j(chat(stop=["停" * 200_000] * 16))),
        ("8 POST / without Content-Type", "/", j({"prompt": "你好", "history": []})),
    ]


def main(cfg: Config) -> dict:
    import httpx

    from ch03_gradio.openai_api import Config as ServerConfig, start_in_thread
    from common.prompts import example_tools

    tools = [{"type": "function", "function": t} for t in example_tools()]
    handle = start_in_thread(ServerConfig(model=cfg.model, precision=cfg.precision, device=cfg.device,
                                          threads=cfg.threads, port=0, log_level="critical"))
    normal = {"messages": [{"role": "user", "content": "你好"}], "max_tokens": 8, "temperature": 0}
    rows = []
    try:
        with httpx.Client(timeout=300) as c:
            c.post(handle.url + "/v1/chat/completions", json=normal)   # warm-up
            for label, path, body in cases(tools):
                box: dict = {}

                def hostile():
                    t0 = time.perf_counter()
                    headers = {} if path == "/" else {"Content-Type": "application/json"}
                    r = httpx.post(handle.url + path, content=body, headers=headers, timeout=300)
                    box["status"], box["time"] = r.status_code, time.perf_counter() - t0

                t = threading.Thread(target=hostile)
                t.start()
                time.sleep(0.05)
                t0 = time.perf_counter()
                r = c.post(handle.url + "/v1/chat/completions", json=normal)
                normal_s = time.perf_counter() - t0
                t.join()
                rows.append((label, box["status"], box["time"], r.status_code, normal_s))
        idle_s = None
        if cfg.idle_check:
            host, port = handle.url.removeprefix("http://").split(":")
            with socket.create_connection((host, int(port)), timeout=40) as s:
                t0 = time.perf_counter()
                closed = s.recv(1) == b""
                idle_s = time.perf_counter() - t0 if closed else None
    finally:
        handle.stop()
    print("| reproduction | status | time (s) | concurrent normal 8-token chat |")
    print("|---|---|---|---|")
    for label, status, took, nstatus, ns in rows:
        print(f"| {label} | {status} | {took:.2f} | {nstatus} in {ns:.2f} s |")
    if cfg.idle_check:
        print(f"| 7 idle connection | closed after {idle_s:.1f} s |" if idle_s is not None else "| 7 idle | NOT closed |")
    return {"rows": rows, "idle_closed_s": idle_s}


if __name__ == "__main__":
    run(main, Config, __doc__)
