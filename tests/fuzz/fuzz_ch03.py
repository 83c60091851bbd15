"""Fuzz the tool-call parser and the chapter-3 OpenAI-style server with hostile input (seeded, reproducible).

    python tests/fuzz/fuzz_ch03.py                          # full run: 12,000 parser inputs + 1,200 requests
    python tests/fuzz/fuzz_ch03.py --parser-inputs 500 --requests 100 --seed 7          # a quick look
    python tests/fuzz/fuzz_ch03.py --model data/models/chatglm3-demo                    # the server on the demo model

Part 1 (parser): ``common.toolcall.parse_tool_call``, ``common.openai_protocol.parse_output`` / ``StreamParser`` and
``common.chatglm3.process_response`` get model "output" that tries to run code (``__import__('os').system``,
``open``, lambdas, comprehensions, dunder walks ...), breaks the parser (deep nesting, 100,000 brackets, 5,000-digit
numbers, 1e999, lone surrogates, full-width names, duplicate keys), and random mutations of real calls; a few
inputs are 1-20 MB. An *execution canary* counts any execution: every code payload would call the builtin
``__fuzz_canary__`` or create a marker file, and ``builtins.__fuzz_canary__`` is installed for the run. Every
accepted call must be strict JSON (no NaN/Infinity, valid Unicode, round-trips through ``json``), every stream's
deltas must add up to the final answer, and nothing may raise anything but ``ToolCallError``.

Part 2 (server): a real server on 127.0.0.1 (the scripted tiny model by default) gets malformed and hostile
requests from ``--concurrency`` clients at once — wrong types, extreme sampling values, hostile tool-call
arguments, NaN / lone surrogates / deep nesting in the body, huge and truncated bodies, random bytes, wrong
methods and paths, bad headers, streams the client drops after the first chunk, connections closed mid-request —
while one "normal" client sends an 8-token chat every 0.3 s. Counted: 5xx answers, dropped connections the server
should have answered, the normal client's worst latency, and the RSS growth of the process.

Prints one table; ``main`` returns the numbers (``tests/fuzz/test_ch03_fuzz_slice.py`` runs a short seeded slice).
"""
from __future__ import annotations

import builtins
import http.client
import json
import random
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from common.cli import arg, run  # noqa: E402

CANARY = "__fuzz_canary__"
TOOL_NAMES = ["get_weather", "track"]


@dataclass
class Config:
    parser_inputs: int = arg(12_000, "hostile model outputs for the parser part (0 = skip)")
    requests: int = arg(1_200, "malformed requests for the server part (0 = skip)")
    concurrency: int = arg(8, "fuzzing clients at once (plus one normal client)")
    seed: int = arg(0, "random seed (the same seed gives the same inputs)")
    rounds: int = arg(1, "send the server's requests this many times (RSS after each round shows whether it levels "
                         "off)")
    big_inputs: bool = arg(True, "include a few 1-20 MB parser inputs")
    model: str | None = arg(None, "model behind the fuzzed server (default: the scripted tiny test model)")


# ============================================================================================== part 1: parser
class Canary:
    """Counts executions: ``builtins.__fuzz_canary__()`` and a marker file every file payload would create."""

    def __init__(self):
        self.calls = 0
        self.dir = Path(tempfile.mkdtemp(prefix="fuzz-canary-"))
        self.marker = self.dir / "executed"

    def __enter__(self):
        def canary(*args, **kwargs):
            self.calls += 1
            return 0
        setattr(builtins, CANARY, canary)
        return self

    def __exit__(self, *exc):
        delattr(builtins, CANARY)

    @property
    def executions(self) -> int:
        return self.calls + int(self.marker.exists())


def code_payloads(marker: Path) -> list[str]:
    """Argument values that would run something if the text were ever evaluated."""
    m = str(marker)
    return [
        f"{CANARY}()", f"__import__('builtins').{CANARY}()", f"__import__('os').system('touch {m}')",
        f"open('{m}', 'w')", f"(lambda: {CANARY}())()", f"[{CANARY}() for _ in range(1)]",
        f"{{{CANARY}(): 1}}", f"{CANARY}.__call__()", f"getattr(__builtins__, '{CANARY}')()",
        f"().__class__.__base__.__subclasses__()", f"f'{{{CANARY}()}}'", f"(x := {CANARY}())",
        f"[*map({CANARY}, [1])]", f"{CANARY}() if True else 1", f"1 + {CANARY}()", f"-{CANARY}()",
        f"not {CANARY}()", f"{CANARY}()[0]", f"eval('{CANARY}()')", f"exec('{CANARY}()')",
        f"__import__('pathlib').Path('{m}').touch()", f"breakpoint()", f"globals()", f"{{**{CANARY}()}}",
        f"'a'.join({CANARY}())", f"b'x'", "1j", "...", "{1, 2}", "True.real", "'x' * 10**9", "2**10**10",
        f"yield {CANARY}()", f"await {CANARY}()", f"*{CANARY}()",
    ]


def breaker_payloads() -> list[str]:
    """Literal-looking values that break naive parsers or JSON rendering."""
    return [
        "0x" + "f" * 5000, "1" + "0" * 5000, "-" * 500 + "1", "1e999", "-1e999", "1e-999", "'\\ud800'", "'\\udfff'",
        "'\\U0010ffff'", "'\\x00'", "{'a': 1, 'a': 2}", "{1: 2}", "{None: 1}", "{(1, 2): 3}", "[" * 100 + "]" * 100,
        "(" * 200 + "1" + ")" * 200, "[" * 5000, "{'a': " * 40 + "1" + "}" * 40, "ｔｒｕｅ", "ｎｕｌｌ", "True", "null",
        "'" + "a" * 50_000 + "'", "'\\N{BLACK STAR}'", "0b" + "1" * 2000, "0o" + "7" * 2000, "1_000", "--1", "+-+1",
        "0.1e", "'''x'''", "r'\\x'", "u'x'", "\"\\\n\"", "'\\", "1__0", "0" * 100, "9" * 4301,
    ]


CALL_FORMS = [
    "tool_call(city_name={v})", "tool_call(x={v}, y=1)", "tool_call(x=1, x={v})", "ｔｏｏｌ_ｃａｌｌ(x={v})",
    "tool_call(ｃｉｔｙ={v})", "tool_call({v})", "tool_call(**{{'a': {v}}})", "tool_call(*[{v}])", "other(x={v})",
    "tool_call.x(x={v})", "tool_call(x={v})(1)", "tool_call(x={v}); tool_call(y=1)", "tool_call(x={v}\n",
    "[tool_call(x={v})]", "tool_call(x={v},)", "tool_call(x=[{v}, {v}])", "tool_call(x={{'k': {v}}})",
]

NAMES = TOOL_NAMES + ["", "interpreter", "ｇｅｔ_ｗｅａｔｈｅｒ", "，天气温℃，湿度据℃， get_weather", "get_weather ",
                      "track\ttrack", "get_weather<|assistant|>", "x" * 300]
SYNTAX = "()[]{}'\",:=.*-+_\\\n #@!$%^&|~`<>?/0123456789eExXjJ" + "北京ｘ（）【】：，。" + "\u200b\u00a0\ufeff"


def mutate(rng: random.Random, text: str) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 6)):
        op = rng.random()
        pos = rng.randrange(len(chars) + 1)
        if op < 0.4:
            chars.insert(pos, rng.choice(SYNTAX))
        elif op < 0.7 and chars:
            del chars[min(pos, len(chars) - 1)]
        elif chars:
            chars[min(pos, len(chars) - 1)] = rng.choice(SYNTAX)
    return "".join(chars)


def hostile_outputs(n: int, seed: int, marker: Path, big: bool = True) -> list[str]:
    """``n`` model outputs (``name\\n```python\\n<call>\\n```` and variants), seeded."""
    rng = random.Random(seed)
    values = code_payloads(marker) + breaker_payloads() + ["'北京'", "1", "-2.5", "[1, 'a', None]", "{'k': 'v'}"]
    out: list[str] = []
    while len(out) < n:
        kind = rng.random()
        if kind < 0.55:
            call = rng.choice(CALL_FORMS).format(v=rng.choice(values))
        elif kind < 0.9:
            call = mutate(rng, rng.choice(CALL_FORMS).format(v=rng.choice(values)))
        else:
            call = "".join(rng.choice(SYNTAX) for _ in range(rng.randint(0, 80)))
        fence = rng.choice(["```python\n{c}\n```", "{c}", "```\n{c}\n```", " ```python\n{c}", "```python\n{c}\n```\n"])
        text = f"{rng.choice(NAMES)}\n" + fence.format(c=call)
        if rng.random() < 0.15:
            text = rng.choice(["\n 好的。", "interpreter\nprint(1)", "get_weather\n```python\ntool_call(x=1)\n```"]) + \
                "<|assistant|>" + text
        out.append(text)
    if big:   # the security review's 1-30 MB inputs (here 1-20 MB: enough to show the size limits work)
        for mb in (1, 5, 20):
            out[rng.randrange(len(out))] = "get_weather\n```python\ntool_call(x=" + "[" * (mb * 1_000_000) + ")\n```"
            out[rng.randrange(len(out))] = "get_weather\n```python\ntool_call(x='" + "a" * (mb * 1_000_000) + "')\n```"
    return out


def _strict_json(text: str) -> Any:
    def bad(name):
        raise ValueError(f"{name} is not strict JSON")
    return json.loads(text, parse_constant=bad)


def check_output(text: str, history: list[dict]) -> list[str]:
    """Run ``text`` through every parser; a list of broken invariants (empty when all is well)."""
    from common.chatglm3 import process_response
    from common.openai_protocol import StreamParser, parse_output
    from common.toolcall import ToolCallError, parse_tool_call

    problems = []
    try:
        parse_tool_call(text.split("\n", 1)[-1])
    except ToolCallError:
        pass
    except Exception as exc:   # anything else is a crash
        problems.append(f"parse_tool_call raised {type(exc).__name__}")
    try:
        content, calls = parse_output(text, TOOL_NAMES)
        json.dumps(content, ensure_ascii=False).encode("utf-8")
        for c in calls:
            if c.name not in TOOL_NAMES or not isinstance(_strict_json(c.arguments), dict):
                problems.append(f"parse_output accepted {c.name!r} / {c.arguments[:40]!r}")
            c.arguments.encode("utf-8")
        if len(text) < 20_000:   # the stream's deltas add up to the final answer
            parser, streamed = StreamParser(TOOL_NAMES), ""
            cuts = sorted({len(text) * k // 5 for k in range(1, 5)})
            for end in cuts + [len(text)]:
                for ev in parser.feed(text[:end], final=end == len(text)):
                    streamed += ev[1] if ev[0] == "content" else ""
            if streamed != content or [c.name for c in parser.sent_calls] != [c.name for c in calls]:
                problems.append("stream deltas differ from the final answer")
    except Exception as exc:
        problems.append(f"parse_output raised {type(exc).__name__}: {exc}")
    try:
        response, _ = process_response(text, history)
        if isinstance(response, dict) and "parameters" in response:
            if response["name"] not in TOOL_NAMES:
                problems.append(f"process_response accepted undeclared {response['name']!r}")
            json.dumps(response["parameters"], ensure_ascii=False, allow_nan=False).encode("utf-8")
    except Exception as exc:
        problems.append(f"process_response raised {type(exc).__name__}: {exc}")
    return problems


def fuzz_parser(n: int, seed: int = 0, big: bool = True) -> dict:
    import logging

    import common.chatglm3  # noqa: F401  (imports torch: not part of the first input's time)
    from common.prompts import example_tools, tool_system_message

    logging.getLogger("chatglm3").setLevel(logging.ERROR)   # every invalid call is logged; not 12,000 lines here
    history = [tool_system_message(example_tools())]
    failures: list[str] = []
    worst = 0.0
    with Canary() as canary:
        inputs = hostile_outputs(n, seed, canary.marker, big)
        for text in inputs:
            t0 = time.perf_counter()
            for p in check_output(text, history):
                failures.append(f"{p} <- {text[:80]!r}")
            worst = max(worst, time.perf_counter() - t0)
    return {"inputs": len(inputs), "executions": canary.executions, "failures": len(failures),
            "examples": failures[:5], "worst_s": worst}


# ============================================================================================== part 2: server
VALID_CHAT = {"messages": [{"role": "user", "content": "你好"}], "max_tokens": 8}
WEIRD = [None, True, False, 0, -1, 1, 2 ** 63, 2 ** 64 + 1, 1e308, -1e308, 5e-324, 1e-40, 0.5, "x", "", "1", [], {},
         [[[]]], [None], {"a": {"b": {}}}, "x" * 5000, [1] * 300, {"type": "function"}]
EXTREME = {"temperature": [0, 1e-40, 5e-324, 1e-300, 2, 2.0000001, -0.0, 1e300],
           "top_p": [0, 1e-300, 1, 1.0000001, -1], "top_k": [-1, 0, 1, 10 ** 12, -2],
           "repetition_penalty": [1e-300, 5e-324, 10, 10.5, 0], "presence_penalty": [-2, 2, 3],
           "frequency_penalty": [-2, 2, -3], "max_tokens": [1, 0, 2 ** 31, 4096, -5],
           "max_completion_tokens": [1, 2 ** 40], "n": [1, 2, 4, 5, 16, 17, 0], "seed": [0, -1, 2 ** 63, 2 ** 200],
           "min_tokens": [0, 3, 10 ** 6], "stop": [["x"] * 16, ["y" * 256], ["y" * 257], "", [""], ["\n"] * 17],
           "ignore_eos": [True, "yes"], "logprobs": [True], "stream": [True, "no"],
           "response_format": [{"type": "json_object"}, {"type": "text"}]}


def _tools_body(args: Any, legacy: bool = False) -> dict:
    from common.prompts import example_tools
    tools = [{"type": "function", "function": t} for t in example_tools()]
    call = {"name": "get_weather", "arguments": args}
    if legacy:
        return {"functions": example_tools(), "max_tokens": 8, "messages": [
            {"role": "user", "content": "北京天气"}, {"role": "assistant", "content": None, "function_call": call},
            {"role": "function", "name": "get_weather", "content": "{}"}]}
    return {"tools": tools, "max_tokens": 8, "messages": [
        {"role": "user", "content": "北京天气"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c", "type": "function", "function": call}]},
        {"role": "tool", "tool_call_id": "c", "content": "{}"}]}


def _nested(depth: int, leaf: Any = 1) -> Any:
    for _ in range(depth):
        leaf = {"a": leaf}
    return leaf


HOSTILE_ARGS = ['{"x": 1' + "0" * 5000 + "}", "[" * 40_000, '{"x": NaN}', '{"x": 1e999}', '{"class": 1}',
                '{"ｘ": 1}', '{"x": "\\ud800"}', '"just a string"', "[1, 2]", "{", "", "null", '{"a": 1, "a": 2}']


@dataclass
class Req:
    """One fuzz request: method, path, headers, body bytes; how to send it."""

    method: str = "POST"
    path: str = "/v1/chat/completions"
    body: bytes = b""
    headers: dict | None = None
    mode: str = "normal"          # normal | drop_stream | drop_early | short_body | raw
    raw: bytes = b""


def _json(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def hostile_requests(n: int, seed: int) -> list[Req]:
    rng = random.Random(seed)
    out: list[Req] = []
    for i in range(n):
        k = rng.random()
        body: Any = json.loads(json.dumps(VALID_CHAT))
        if k < 0.18:                               # type confusion in one field
            field = rng.choice(["messages", "temperature", "top_p", "n", "max_tokens", "stop", "tools", "tool_choice",
                                "stream", "seed", "functions", "function_call", "stream_options", "model", "user",
                                "top_k", "min_tokens", "repetition_penalty", "response_format", "logprobs"])
            body[field] = rng.choice(WEIRD)
            out.append(Req(body=_json(body)))
        elif k < 0.36:                             # extreme but typed sampling values
            for field in rng.sample(list(EXTREME), rng.randint(1, 3)):
                body[field] = rng.choice(EXTREME[field])
            if body.get("stream") is True and rng.random() < 0.5:
                out.append(Req(body=_json(body), mode="drop_stream"))
            else:
                out.append(Req(body=_json(body)))
        elif k < 0.48:                             # hostile tool-call arguments (request side)
            args = rng.choice(HOSTILE_ARGS + [_nested(300), json.dumps(_nested(300)), _nested(20)])
            out.append(Req(body=_json(_tools_body(args, legacy=rng.random() < 0.3))))
        elif k < 0.58:                             # body-level poison: NaN, surrogates, depth, number length
            raw = rng.choice([
                b'{"messages": [{"role": "user", "content": "\\ud800"}], "max_tokens": 4}',
                b'{"messages": [{"role": "user", "content": "x"}], "temperature": NaN}',
                b'{"messages": [{"role": "user", "content": "x"}], "top_p": Infinity}',
                b'{"messages": [{"role": "user", "content": "x"}], "seed": 1' + b"0" * 5000 + b"}",
                b'{"messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
                b'{"messages": [{"role": "user", "content": "x"}], "x": ' + b'{"a": ' * 500 + b"1" + b"}" * 500 + b"}",
                b'{"input": "\\udfff"}', b'{"prompt": "x", "history": [[NaN, "a"]]}', b'{"prompt": "\\ud83d"}',
            ])
            path = "/v1/embeddings" if b'"input"' in raw else "/" if b'"prompt"' in raw else "/v1/chat/completions"
            out.append(Req(path=path, body=raw))
        elif k < 0.66:                             # messages and tools shape
            body["messages"] = rng.choice([
                [{"role": "user", "content": "x"}] * rng.choice([1, 600, 2000]),
                [{"role": "user", "content": "x" * rng.choice([1000, 24_000, 60_000])}],
                [{"role": rng.choice(["wizard", "tool", "function", "assistant", "system"]), "content": "x"}],
                [{"role": "user", "content": [{"type": rng.choice(["text", "image_url", "x"]), "text": 1}]}],
                [{"role": "assistant", "tool_calls": [{"function": {"name": "get_weather\nx", "arguments": "{}"}}]},
                 {"role": "user", "content": "x"}],
            ])
            if rng.random() < 0.4:
                body["tools"] = rng.choice([[{"type": "function", "function": {"name": f"t{j}"}} for j in range(130)],
                                            [{"type": "function", "function": {"name": "ｔ"}}], [{"type": "x"}],
                                            [{"type": "function", "function": {"name": "a", "parameters": 1}}]])
                body["tool_choice"] = rng.choice(["required", "auto", "none", {"type": "function",
                                                                               "function": {"name": "t1"}}])
            out.append(Req(body=_json(body)))
        elif k < 0.74:                             # embeddings
            inp = rng.choice(["", [], [""], "北京", ["北京"] * 3, [[5, 6]], [[-1]], [[10 ** 9]], [[]], [1.5], ["x"] * 2049,
                              "x" * 70_000, [[5] * 3000], [["a"]]])
            eb: dict = {"input": inp}
            if rng.random() < 0.3:
                eb["dimensions"] = rng.choice([0, 1, 16, 10 ** 6, -1])
            if rng.random() < 0.3:
                eb["encoding_format"] = rng.choice(["float", "base64", "int8"])
            out.append(Req(path="/v1/embeddings", body=_json(eb)))
        elif k < 0.80:                             # the book's simple endpoint
            lb = {"prompt": rng.choice(["你好", "", 1, None, "x" * 30_000]),
                  "history": rng.choice([[], [["q"]], [["q", "a"]], [{"role": "x"}], [{"role": "user", "content": 1}],
                                         [{"role": "system", "content": "s", "tools": {"a": 1}}], "x", [[1, 2]]])}
            if rng.random() < 0.3:
                lb[rng.choice(["max_length", "top_p", "temperature"])] = rng.choice(WEIRD[:12])
            headers = rng.choice([{}, {"Content-Type": "application/x-www-form-urlencoded"},
                                  {"Content-Type": "text/plain"}])
            out.append(Req(path="/", body=_json(lb), headers={"_no_ctype": "1", **headers}))
        elif k < 0.88:                             # transport-level oddities
            choice = rng.random()
            if choice < 0.25:
                out.append(Req(mode="short_body", body=b'{"messages": '))
            elif choice < 0.5:
                out.append(Req(mode="drop_early", body=_json(VALID_CHAT)))
            elif choice < 0.75:
                out.append(Req(mode="raw", raw=rng.choice([
                    b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\n\r\n", b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Length: -1\r\n\r\n", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
                    b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                    b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
                    b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 5000 + b"\r\n",
                    b"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nContent-Length: 20\r\n\r\n",
                ])))
            else:
                out.append(Req(body=bytes(rng.randrange(256) for _ in range(rng.randint(0, 400)))))
        else:                                      # methods, paths, content types
            out.append(Req(method=rng.choice(["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "POST"]),
                           path=rng.choice(["/", "/v1/models", "/health", "/v1/chat/completions", "/v1/../etc/passwd",
                                            "/v1/embeddings", "/docs", "/openapi.json", "/%ff%fe", "/v1/models/x"]),
                           body=rng.choice([b"", _json(VALID_CHAT), b"\xff\xfe{"]),
                           headers=rng.choice([{}, {"Content-Type": "application/json; charset=utf-16"},
                                               {"Content-Encoding": "gzip"}, {"Content-Type": "multipart/form-data"}])))
    return out


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.status: dict[int, int] = {}
        self.errors: list[str] = []
        self.sent = 0

    def add(self, status: int, note: str = "") -> None:
        with self.lock:
            self.sent += 1
            self.status[status] = self.status.get(status, 0) + 1
            if status >= 500 or status == -1:
                self.errors.append(note)


def _send(host: str, port: int, key: str, req: Req, stats: Stats) -> None:
    headers = {"Authorization": f"Bearer {key}", "Host": "x"}
    if not (req.headers or {}).get("_no_ctype"):
        headers["Content-Type"] = "application/json"
    headers.update({k: v for k, v in (req.headers or {}).items() if not k.startswith("_")})
    try:
        if req.mode == "raw":
            with socket.create_connection((host, port), timeout=30) as s:
                try:
                    s.sendall(req.raw)
                    reply = s.recv(200)
                except (ConnectionResetError, BrokenPipeError):
                    reply = b""
            status = int(reply.split(b" ")[1]) if reply.startswith(b"HTTP/1.1 ") else 0   # 0 = closed, no answer
            stats.add(status, f"raw {req.raw[:40]!r} -> {reply[:80]!r}")
            return
        if req.mode in ("short_body", "drop_early"):
            with socket.create_connection((host, port), timeout=30) as s:
                head = (f"POST {req.path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) +
                        f"Content-Length: {len(req.body) + (50 if req.mode == 'short_body' else 0)}\r\n\r\n").encode()
                s.sendall(head + req.body)
                if req.mode == "drop_early":           # the client goes away before the answer
                    stats.add(0)
                    return
                reply = s.recv(200)
            status = int(reply.split(b" ")[1]) if reply.startswith(b"HTTP/1.1 ") else -1
            stats.add(status, f"short body -> {reply[:80]!r}")
            return
        conn = http.client.HTTPConnection(host, port, timeout=120)
        try:
            conn.request(req.method, req.path, body=req.body or None, headers=headers)
            resp = conn.getresponse()
            if req.mode == "drop_stream":              # read one chunk of the stream, then hang up
                resp.read(64)
                stats.add(resp.status)
                return
            data = resp.read()
            note = f"{req.method} {req.path} {req.body[:120]!r} -> {data[:200]!r}"
            if resp.status == 200 and resp.getheader("content-type", "").startswith("text/event-stream"):
                if not data.rstrip().endswith(b"data: [DONE]"):
                    stats.add(-1, "stream without [DONE]: " + note)
                    return
            stats.add(resp.status, note)
        finally:
            conn.close()
    except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected) as exc:
        stats.add(-1, f"{type(exc).__name__} for {req.method} {req.path} {req.body[:80]!r}")
    except socket.timeout:
        stats.add(-1, f"timeout for {req.method} {req.path} {req.body[:80]!r}")


def _rss_mb() -> float:
    import psutil
    return psutil.Process().memory_info().rss / 2 ** 20


def fuzz_server(n: int, seed: int = 0, concurrency: int = 8, model: str | None = None, rounds: int = 1) -> dict:
    import logging

    import httpx

    from ch03_gradio.openai_api import Config, start_in_thread

    if model is None:
        from ch03_gradio.server.scripted import scripted_checkpoint
        model = str(scripted_checkpoint())
    key = "sk-fuzz"
    logging.getLogger("chatglm3").setLevel(logging.ERROR)
    handle = start_in_thread(Config(model=model, port=0, api_key=key, log_level="critical", max_body_mb=1.0,
                                    body_timeout=2.0, header_timeout=3.0, max_tokens_limit=4096,
                                    default_max_tokens=256))
    host, port = handle.url.removeprefix("http://").split(":")
    port = int(port)
    requests = hostile_requests(n, seed)
    stats = Stats()
    latencies: list[float] = []
    busy: list[dict] = []        # the engine's load when each normal request was sent
    normal_errors: list[str] = []
    done = threading.Event()
    normal = {"messages": [{"role": "user", "content": "你好"}], "max_tokens": 8, "temperature": 0}

    def normal_client():
        with httpx.Client(timeout=120, headers={"Authorization": f"Bearer {key}"}) as c:
            while not done.is_set():
                busy.append(handle.engine.load())
                t0 = time.perf_counter()
                try:
                    r = c.post(handle.url + "/v1/chat/completions", json=normal)
                    if r.status_code != 200:
                        normal_errors.append(f"{r.status_code}: {r.text[:100]}")
                except httpx.HTTPError as exc:
                    normal_errors.append(f"{type(exc).__name__}: {exc}")
                latencies.append(time.perf_counter() - t0)
                done.wait(0.3)

    queue: list[Req] = []
    qlock = threading.Lock()

    def worker():
        while True:
            with qlock:
                if not queue:
                    return
                req = queue.pop()
            _send(host, port, key, req, stats)

    try:
        httpx.post(handle.url + "/v1/chat/completions", json=normal, headers={"Authorization": f"Bearer {key}"},
                   timeout=120)   # warm-up
        rss0 = _rss_mb()
        rss_rounds = []
        t0 = time.perf_counter()
        watcher = threading.Thread(target=normal_client, daemon=True)
        watcher.start()
        for _ in range(rounds):
            queue[:] = list(reversed(requests))
            workers = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            rss_rounds.append(_rss_mb() - rss0)
        done.set()
        watcher.join(150)
        duration = time.perf_counter() - t0
        health = httpx.get(handle.url + "/health", timeout=10).status_code
        rss1 = _rss_mb()
    finally:
        handle.stop()
    five = sum(v for k, v in stats.status.items() if k >= 500)
    return {"requests": stats.sent, "status": dict(sorted(stats.status.items())), "5xx": five,
            "dropped": stats.status.get(-1, 0), "examples": stats.errors[:5], "normal_requests": len(latencies),
            "normal_errors": normal_errors[:5], "worst_normal_s": max(latencies, default=0.0),
            "load_at_worst": busy[latencies.index(max(latencies))] if latencies else {},
            "rss_growth_mb": rss1 - rss0, "rss_rounds_mb": rss_rounds, "duration_s": duration,
            "health_after": health}


# ============================================================================================== the table
def format_table(parser: dict | None, server: dict | None) -> str:
    lines = ["| part | inputs | executions | 5xx | crashes / dropped | worst latency | RSS growth |",
             "|---|---|---|---|---|---|---|"]
    if parser:
        lines.append(f"| parser + process_response | {parser['inputs']:,} | {parser['executions']} | – | "
                     f"{parser['failures']} | {parser['worst_s'] * 1000:.0f} ms per input | – |")
    if server:
        rounds = len(server["rss_rounds_mb"])
        name = f"{server['requests'] // rounds:,} malformed requests" + (f" x {rounds} rounds" if rounds > 1 else "")
        growth = " / ".join(f"{x:+.0f}" for x in server["rss_rounds_mb"]) + " MB" + (" after each round"
                                                                                        if rounds > 1 else "")
        lines.append(f"| server ({name}) | {server['requests']:,} | 0 | "
                     f"{server['5xx']} | {server['dropped']} | {server['worst_normal_s']:.2f} s (normal 8-token "
                     f"chat, {server['normal_requests']} sent alongside) | {growth} |")
    return "\n".join(lines)


def main(cfg: Config) -> dict:
    parser = fuzz_parser(cfg.parser_inputs, cfg.seed, cfg.big_inputs) if cfg.parser_inputs else None
    server = fuzz_server(cfg.requests, cfg.seed, cfg.concurrency, cfg.model, cfg.rounds) if cfg.requests else None
    print(format_table(parser, server))
    if server:
        print(f"engine load when the slowest normal request was sent: {server['load_at_worst']}")
        print(f"server status codes: {server['status']}  ({server['duration_s']:.0f} s, /health after: "
              f"{server['health_after']}; status 0 = connection closed without an answer, as intended for "
              f"unparsable HTTP)")
        for note in server["examples"] + server["normal_errors"]:
            print("  !", note[:300])
    if parser:
        for note in parser["examples"]:
            print("  !", note[:300])
    return {"parser": parser, "server": server}


if __name__ == "__main__":
    run(main, Config, __doc__)
