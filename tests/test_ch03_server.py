"""3.4.1 OpenAI-style server: the real ``openai`` client against a real server on a free loopback port.

The model is the *scripted* tiny ChatGLM3 (``ch03_gradio/server/scripted.py``): random tiny weights fine-tuned for a
few seconds to greedily reproduce a greeting, a ``get_weather`` call and an answer from the tool result, so the
tool round trip below is produced by a model, parsed by the server and read by the client — nothing is faked.
"""
from __future__ import annotations

import json
import math
import socket
import threading
import time
from typing import Any

import httpx
import pytest

openai = pytest.importorskip("openai")

from ch03_gradio.server.chat_client import DEMO_TOOLS, run_tool, scripted_dialogues  # noqa: E402
from common.openai_protocol import (ProtocolError, StreamParser, history_to_messages, messages_to_history,  # noqa
                                    parse_output, prompt_ids, render, tools_to_chatglm)
from common.prompts import TOOL_SYSTEM_PROMPT, example_tools  # noqa: E402

KEY = "sk-test-ch03"
GREETING = scripted_dialogues()[0][2]["content"]
WEATHER_ANSWER = scripted_dialogues()[3][2]["content"]


@pytest.fixture(scope="module")
def scripted_model():
    from ch03_gradio.server.scripted import scripted_checkpoint
    return scripted_checkpoint()


@pytest.fixture(scope="module")
def server(scripted_model):
    from ch03_gradio.openai_api import Config, start_in_thread
    handle = start_in_thread(Config(model=str(scripted_model), port=0, api_key=KEY, log_level="warning",
                                    max_batch_size=8, max_body_mb=0.05, max_tokens_limit=4096,
                                    header_timeout=1.0, body_timeout=1.0))
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.url + "/v1", api_key=KEY, max_retries=0, timeout=60)


def chat(client, content="你好", **kw):
    kw.setdefault("temperature", 0)
    kw.setdefault("max_tokens", 40)
    return client.chat.completions.create(model="chatglm3", messages=[{"role": "user", "content": content}], **kw)


# ============================================================================================== conversion (unit)
def test_messages_to_history_with_tools_calls_and_results():
    tools = tools_to_chatglm(DEMO_TOOLS)
    assert tools == example_tools()
    messages = [
        {"role": "system", "content": "你是天气助手"},
        {"role": "user", "content": [{"type": "text", "text": "北京"}, {"type": "text", "text": "天气？"}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city_name": "北京"}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": '{"weather": "晴"}'},
    ]
    history = messages_to_history(messages, tools)
    assert history == [
        {"role": "system", "content": TOOL_SYSTEM_PROMPT, "tools": example_tools()},
        {"role": "system", "content": "你是天气助手"},
        {"role": "user", "content": "北京天气？"},
        {"role": "assistant", "metadata": "get_weather", "content": "```python\ntool_call(city_name='北京')\n```"},
        {"role": "observation", "content": '{"weather": "晴"}'},
    ]
    back = history_to_messages(history)
    assert [m["role"] for m in back] == ["system", "user", "assistant", "tool"]
    assert json.loads(back[2]["tool_calls"][0]["function"]["arguments"]) == {"city_name": "北京"}


def test_prompt_ids_equal_build_chat_input(scripted_model):
    from common.chatglm3 import load_tokenizer
    tok = load_tokenizer(scripted_model)
    history = messages_to_history([{"role": "user", "content": "你好"}])
    assert prompt_ids(tok, history) == tok.build_chat_input("你好")["input_ids"][0].tolist()
    tools = example_tools()
    history = messages_to_history([{"role": "user", "content": "北京天气"}], tools)
    expected = tok.build_chat_input("北京天气", [{"role": "system", "content": TOOL_SYSTEM_PROMPT, "tools": tools}])
    assert prompt_ids(tok, history) == expected["input_ids"][0].tolist()


@pytest.mark.parametrize("messages, param", [
    ([], "messages"),
    ([{"role": "wizard", "content": "x"}], "messages.0.role"),
    ([{"role": "user"}], "messages.0.content"),
    ([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}], "messages.0.content.0"),
    ([{"role": "user", "content": "x"}, {"role": "tool", "content": "{}"}], "messages.1.tool_call_id"),
    ([{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": [
        {"function": {"name": "get_weather", "arguments": "{not json"}}]}], "messages.1.tool_calls.0.function.arguments"),
    ([{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": [
        {"function": {"name": "get_weather", "arguments": "{}"}}]}], "messages.1"),
    ([{"role": "system", "content": "only a system message"}], "messages"),
])
def test_bad_conversations_raise_protocol_error(messages, param):
    with pytest.raises(ProtocolError) as err:
        messages_to_history(messages)
    assert err.value.param == param


def test_parse_output_text_tool_calls_and_hostile_calls(tmp_path):
    names = ["get_weather", "track"]
    content, calls = parse_output("get_weather\n ```python\ntool_call(city_name='北京')\n```", names)
    assert content == "" and calls[0].name == "get_weather" and json.loads(calls[0].arguments) == {"city_name": "北京"}
    content, calls = parse_output("\n 先查一下。<|assistant|>track\n```python\ntool_call(symbol='600519')\n```", names)
    assert content == "先查一下。" and [c.name for c in calls] == ["track"]
    assert parse_output("interpreter\nprint(1)", names) == ("interpreter\nprint(1)", [])   # undeclared: text
    assert parse_output("get_weather\n```python\ntool_call(city_name='x')\n```", []) == \
        ("get_weather\n```python\ntool_call(city_name='x')\n```", [])                        # no tools: text
    marker = tmp_path / "pwned"
    evil = f"get_weather\n```python\ntool_call(city_name=__import__('os').system('touch {marker}'))\n```"
    problems = []
    content, calls = parse_output(evil, names, problems)
    assert calls == [] and content == evil.strip() and not marker.exists()   # parsed, never executed: text
    assert problems and "returned as text" in problems[0]


@pytest.mark.parametrize("text", [
    "\n 你好！我是 ChatGLM3。  \n",
    "get_weather\n ```python\ntool_call(city_name='北京')\n```",
    "\n 先查一下。<|assistant|>track\n```python\ntool_call(symbol='600519')\n```<|assistant|>\n 好的",
    "get_wea",
    "gibberish without newline",
])
def test_stream_parser_deltas_add_up_to_the_final_answer(text):
    names = ["get_weather", "track"]
    final_content, final_calls = parse_output(text, names)
    for step in (1, 3):
        parser, content, calls = StreamParser(names), "", {}
        for end in list(range(1, len(text), step)) + [len(text)]:
            for ev in parser.feed(text[:end], final=end == len(text)):
                if ev[0] == "content":
                    content += ev[1]
                elif ev[0] == "tool_call":
                    assert ev[1] not in calls           # the name is streamed once, before its arguments
                    calls[ev[1]] = [ev[2], None]
                else:
                    calls[ev[1]][1] = ev[2]
        assert content == final_content
        assert [tuple(calls[i]) for i in sorted(calls)] == [(c.name, c.arguments) for c in final_calls]
        partial = render(text, names, final=False)[0]
        assert final_content.startswith(partial)


# ============================================================================================== end to end
def test_health_models_and_plain_answer(server, client):
    assert httpx.get(server.url + "/health").json()["status"] == "ok"   # no key needed for health
    assert [m.id for m in client.models.list().data] == ["scripted-model"]
    r = chat(client)
    assert r.object == "chat.completion" and r.choices[0].message.content == GREETING
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.prompt_tokens > 0 and r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


def test_stream_matches_non_stream_and_follows_the_sse_shape(server, client):
    chunks = list(chat(client, stream=True, stream_options={"include_usage": True}))
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == GREETING
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    body = {"messages": [{"role": "user", "content": "你好"}], "stream": True, "temperature": 0, "max_tokens": 8}
    raw = httpx.post(server.url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {KEY}"})
    assert raw.headers["content-type"].startswith("text/event-stream")
    assert raw.text.rstrip().endswith("data: [DONE]")


def _tool_round_trip(client, stream: bool):
    messages = [{"role": "user", "content": "北京天气怎么样？"}]
    kw = dict(model="chatglm3", tools=DEMO_TOOLS, temperature=0, max_tokens=60)
    if stream:
        calls, order, finish = {}, [], None
        for chunk in client.chat.completions.create(messages=messages, stream=True, **kw):
            ch = chunk.choices[0]
            finish = ch.finish_reason or finish
            for tc in ch.delta.tool_calls or []:
                slot = calls.setdefault(tc.index, {"id": None, "name": "", "arguments": ""})
                if tc.id:
                    slot["id"] = tc.id
                if tc.function.name:
                    slot["name"] += tc.function.name
                    order.append("name")
                if tc.function.arguments:
                    slot["arguments"] += tc.function.arguments
                    order.append("arguments")
        assert order == ["name", "arguments"] and finish == "tool_calls"
        call = calls[0]
        assistant = {"role": "assistant", "content": None, "tool_calls": [
            {"id": call["id"], "type": "function", "function": {"name": call["name"], "arguments": call["arguments"]}}]}
    else:
        r = client.chat.completions.create(messages=messages, **kw)
        assert r.choices[0].finish_reason == "tool_calls" and r.choices[0].message.content is None
        tc = r.choices[0].message.tool_calls[0]
        assert tc.type == "function" and tc.id.startswith("call_")
        call = {"id": tc.id, "name": tc.function.name, "arguments": tc.function.arguments}
        assistant = r.choices[0].message.model_dump(exclude_none=True)
    assert call["name"] == "get_weather" and json.loads(call["arguments"]) == {"city_name": "北京"}
    messages += [assistant, {"role": "tool", "tool_call_id": call["id"],
                             "content": run_tool(call["name"], call["arguments"])}]
    answer = client.chat.completions.create(messages=messages, **kw)
    assert answer.choices[0].message.content == WEATHER_ANSWER and answer.choices[0].finish_reason == "stop"


def test_tool_round_trip(client):
    _tool_round_trip(client, stream=False)


def test_tool_round_trip_streaming(client):
    _tool_round_trip(client, stream=True)


def test_legacy_functions_and_tool_choice(client):
    functions = [t["function"] for t in DEMO_TOOLS]
    r = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "北京天气怎么样？"}],
                                       functions=functions, temperature=0, max_tokens=60)
    assert r.choices[0].finish_reason == "function_call"
    assert r.choices[0].message.function_call.name == "get_weather"
    # a named tool is forced: the assistant turn starts with its name, the model writes the arguments
    r = chat(client, "北京天气怎么样？", tools=DEMO_TOOLS,
             tool_choice={"type": "function", "function": {"name": "get_weather"}})
    assert r.choices[0].finish_reason == "tool_calls"
    assert json.loads(r.choices[0].message.tool_calls[0].function.arguments) == {"city_name": "北京"}
    # ... but arguments the model cannot write as a JSON object are no call: the reply is text (and logged)
    r = chat(client, "你好", tools=DEMO_TOOLS, tool_choice={"type": "function", "function": {"name": "track"}})
    assert not r.choices[0].message.tool_calls and r.choices[0].message.content.startswith("track\n")
    r = chat(client, "北京天气怎么样？", tools=DEMO_TOOLS, tool_choice="required")
    assert r.choices[0].message.tool_calls[0].function.name == "get_weather"
    r = chat(client, "北京天气怎么样？", tools=DEMO_TOOLS, tool_choice="none")
    assert not r.choices[0].message.tool_calls and r.choices[0].finish_reason in ("stop", "length")


def test_simple_endpoint_for_langchain_chatglm(server):
    r = httpx.post(server.url + "/", json={"prompt": "你好", "history": [], "temperature": 0},
                   headers={"Authorization": f"Bearer {KEY}"}).json()
    assert r["response"] == GREETING and r["history"] == [["你好", GREETING]] and r["status"] == 200
    assert len(r["time"]) == 19


def test_embeddings_float_base64_tokens_dimensions(client):
    e = client.embeddings.create(model="m", input=["北京天气", "今天天气很好"])            # client asks for base64
    f = client.embeddings.create(model="m", input="北京天气", encoding_format="float")
    assert len(e.data) == 2 and len(e.data[0].embedding) == 128
    assert e.data[0].embedding == pytest.approx(f.data[0].embedding, abs=1e-5)
    assert math.isclose(sum(x * x for x in f.data[0].embedding), 1.0, rel_tol=1e-4)
    t = client.embeddings.create(model="m", input=[[5, 6, 7]], encoding_format="float")
    assert len(t.data[0].embedding) == 128 and t.usage.prompt_tokens == 3
    d = client.embeddings.create(model="m", input="北京天气", dimensions=16, encoding_format="float")
    assert len(d.data[0].embedding) == 16


def test_auth(server):
    bad = openai.OpenAI(base_url=server.url + "/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        chat(bad)
    r = httpx.post(server.url + "/v1/chat/completions", json={"messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"


BAD_REQUESTS = [
    (b"{not json", 400), (b"[1, 2]", 400), (b"{}", 400), ({"messages": []}, 400),
    ({"messages": [{"role": "wizard", "content": "x"}]}, 400),
    ({"messages": [{"role": "user", "content": 5}]}, 400),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}, 400),
    ({"messages": "hello"}, 400),
    ({"temperature": "hot"}, 400), ({"temperature": 5}, 400), ({"top_p": 1.5}, 400), ({"n": 0}, 400),
    ({"max_tokens": 0}, 400), ({"max_tokens": 10 ** 9}, 400), ({"max_completion_tokens": -1}, 400),
    ({"stop": ["x"] * 20}, 400), ({"stop": 3}, 400), ({"presence_penalty": 3}, 400), ({"seed": "x"}, 400),
    ({"min_tokens": 50, "max_tokens": 10}, 400), ({"logprobs": True}, 400),
    ({"response_format": {"type": "json_schema"}}, 400),
    ({"tools": "get_weather"}, 400), ({"tools": [{"type": "function", "function": {}}]}, 400),
    ({"tools": [{"type": "retrieval"}]}, 400),
    ({"tools": [{"type": "function", "function": {"name": "bad name!"}}]}, 400),
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "string"}}}]}, 400),
    ({"tools": DEMO_TOOLS, "tool_choice": {"type": "function", "function": {"name": "nope"}}}, 400),
    ({"tool_choice": "required"}, 400), ({"tools": DEMO_TOOLS + DEMO_TOOLS}, 400),
    ({"messages": [{"role": "user", "content": "x" * 60_000}]}, 413),
]


@pytest.mark.parametrize("body, status", BAD_REQUESTS, ids=[f"bad{i}" for i in range(len(BAD_REQUESTS))])
def test_bad_requests_get_openai_style_4xx(server, body, status):
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    if isinstance(body, dict):
        body = {"messages": [{"role": "user", "content": "你好"}], **body}
        body = json.dumps(body).encode()
    r = httpx.post(server.url + "/v1/chat/completions", content=body, headers=headers)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["message"]


@pytest.mark.parametrize("method, path, body, status", [
    ("GET", "/v1/chat/completions", None, 405), ("GET", "/nope", None, 404),
    ("POST", "/v1/embeddings", {"input": []}, 400), ("POST", "/v1/embeddings", {"input": "x", "dimensions": 10 ** 6}, 400),
    ("POST", "/v1/embeddings", {"input": [[-1]]}, 400), ("POST", "/", {"prompt": ""}, 400),
    ("POST", "/", {"prompt": "x", "history": [["only one"]]}, 400),
])
def test_other_bad_requests(server, method, path, body, status):
    r = httpx.request(method, server.url + path, json=body, headers={"Authorization": f"Bearer {KEY}"})
    assert r.status_code == status, r.text
    assert set(r.json()["error"]) == {"message", "type", "param", "code"}


def test_client_disconnect_frees_the_slot(server):
    engine = server.engine
    body = {"messages": [{"role": "user", "content": "写一篇长文"}], "stream": True, "max_tokens": 3000,
            "ignore_eos": True, "temperature": 0}
    tokens_before = engine.stats["tokens"]
    with httpx.stream("POST", server.url + "/v1/chat/completions", json=body,
                      headers={"Authorization": f"Bearer {KEY}"}, timeout=30) as r:
        lines = r.iter_lines()
        for _ in range(4):
            next(lines)
        assert engine.load()["running"] == 1
    deadline = time.time() + 10
    while engine.load()["running"] and time.time() < deadline:
        time.sleep(0.05)
    assert engine.load()["running"] == 0
    assert engine.stats["tokens"] - tokens_before < 3000


def _parallel(fn, args):
    out = [None] * len(args)

    def work(i):
        out[i] = fn(args[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(args))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def test_batched_greedy_equals_alone_and_per_request_settings(server, client):
    prompts = ["你好", "北京天气怎么样？", "hello", "床前明月光", "ChatGLM3"]

    def greedy(p):
        return chat(client, p, max_tokens=12, extra_body={"ignore_eos": True}).choices[0].message.content

    alone = [greedy(p) for p in prompts]
    before = server.engine.stats["max_batch_seen"]
    server.engine.stats["max_batch_seen"] = 0
    batched = _parallel(greedy, prompts)
    assert server.engine.stats["max_batch_seen"] > 1          # they really shared forward passes
    server.engine.stats["max_batch_seen"] = max(before, server.engine.stats["max_batch_seen"])
    assert batched == alone

    def mixed(i):   # different sampling settings and lengths in one batch
        if i % 3 == 0:
            return chat(client, "hello", temperature=1.0, top_p=0.9, seed=7, max_tokens=12,
                        extra_body={"ignore_eos": True})
        if i % 3 == 1:
            return chat(client, "hello", max_tokens=3 + i, extra_body={"ignore_eos": True})
        return chat(client, "你好", stop=["ChatGLM3"])

    seeded_alone = chat(client, "hello", temperature=1.0, top_p=0.9, seed=7, max_tokens=12,
                        extra_body={"ignore_eos": True}).choices[0].message.content
    results = _parallel(mixed, list(range(6)))
    for i, r in enumerate(results):
        if i % 3 == 0:
            assert r.choices[0].message.content == seeded_alone
        elif i % 3 == 1:
            assert r.usage.completion_tokens == 3 + i and r.choices[0].finish_reason == "length"
        else:
            assert r.choices[0].message.content == GREETING[:GREETING.index("ChatGLM3")].strip()
            assert r.choices[0].finish_reason == "stop"
    two = chat(client, "hello", n=2, temperature=1.0, seed=3, max_tokens=8)
    assert [c.index for c in two.choices] == [0, 1]


def test_bench_and_client_demo_scripts(server):
    from ch03_gradio import bench_server, openai_client_demo
    res = bench_server.main(bench_server.Config(base_url=server.url + "/v1", api_key=KEY, compare=True, concurrency=4,
                                                max_tokens=6))
    assert res["sequential"]["completed"] == 4 and res["concurrent"]["completed"] == 4
    assert res["concurrent"]["output_tokens"] == 24 and res["ratio"] > 0
    out = openai_client_demo.main(openai_client_demo.Config(base_url=server.url + "/v1", api_key=KEY))
    assert out["answer"] == GREETING and out["tool_calls"][0]["arguments"] == {"city_name": "北京"}
    assert out["tool_answer"] == WEATHER_ANSWER


def test_cors_off_by_default_and_env_api_key(server, monkeypatch):
    from fastapi.testclient import TestClient

    from ch03_gradio.openai_api import Config, build
    from ch03_gradio.server.app import ServerSettings, create_app
    preflight = {"Origin": "http://example.com", "Access-Control-Request-Method": "POST"}
    closed = TestClient(create_app(server.engine, ServerSettings()))
    assert "access-control-allow-origin" not in closed.options("/v1/chat/completions", headers=preflight).headers
    opened = TestClient(create_app(server.engine, ServerSettings(cors_origins=["http://example.com"])))
    r = opened.options("/v1/chat/completions", headers=preflight)
    assert r.headers["access-control-allow-origin"] == "http://example.com"
    monkeypatch.setenv("CHATGLM3_API_KEY", "sk-from-env")
    app, engine = build(Config(), server.engine.model, server.engine.tokenizer)
    engine.stop()
    assert app.state.settings.api_key == "sk-from-env"


def test_demo_model_tool_round_trip_through_the_server():
    """Tier 2: the built-in demo model behind the server calls get_weather for a Beijing question."""
    from common.paths import DEMO_MODEL_DIR
    if not (DEMO_MODEL_DIR / "config.json").is_file():
        pytest.skip("built-in demo model not built yet")
    from ch03_gradio import openai_client_demo
    out = openai_client_demo.main(openai_client_demo.Config(model=str(DEMO_MODEL_DIR),
                                                            max_new_tokens=64))
    assert out["answer"] and out["streamed"] == out["answer"]
    assert out["tool_calls"] and out["tool_calls"][0]["name"] == "get_weather"
    assert out["tool_answer"]


# ============================================================================================== hardening
# Each reproduction of the security review gets a 4xx (or a correct 200), never a 5xx; see tests/fuzz/ for the fuzzer.
def post(server, path, body, headers=None) -> httpx.Response:
    h = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json", **(headers or {})}
    content = body if isinstance(body, (bytes, str)) else json.dumps(body, ensure_ascii=False)
    return httpx.post(server.url + path, content=content, headers=h, timeout=60)


def _nested(depth: int):
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


def _with_call(arguments, legacy=False) -> dict:
    call = {"name": "get_weather", "arguments": arguments}
    if legacy:
        return {"functions": [t["function"] for t in DEMO_TOOLS], "messages": [
            {"role": "user", "content": "北京天气"}, {"role": "assistant", "content": None, "function_call": call},
            {"role": "function", "name": "get_weather", "content": "{}"}]}
    return {"tools": DEMO_TOOLS, "messages": [
        {"role": "user", "content": "北京天气"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": call}]},
        {"role": "tool", "tool_call_id": "c1", "content": "{}"}]}


HOSTILE_REQUESTS = [   # (path, body) -> 400 each
    ("/v1/chat/completions", _with_call('{"x": 1' + "0" * 5000 + "}")),          # int-digit limit
    ("/v1/chat/completions", _with_call("[" * 40_000)),                          # recursion in json
    ("/v1/chat/completions", _with_call(json.dumps(_nested(300)))),              # recursion in format_tool_call
    ("/v1/chat/completions", _with_call(_nested(300))),                          # arguments as a deep object
    ("/v1/chat/completions", _with_call('{"x": 1' + "0" * 5000 + "}", legacy=True)),
    ("/v1/chat/completions", _with_call('{"class": 1}')),                       # not writable as tool_call(...)
    ("/v1/chat/completions", _with_call('{"x": NaN}')),
    ("/v1/chat/completions", _with_call('{"a": 1, "a": 2}')),                   # duplicate key: no silent collapse
    ("/v1/chat/completions", b'{"messages": [{"role": "user", "content": "\\ud800"}]}'),   # lone surrogate
    ("/v1/chat/completions", b'{"messages": [{"role": "user", "content": "x"}], "temperature": NaN}'),
    ("/v1/chat/completions", b'{"messages": [{"role": "user", "content": "x"}], "seed": 1' + b"0" * 5000 + b"}"),
    ("/v1/chat/completions", b'{"messages": [{"role": "user", "content": "x"}], "top_p": 1e999}'),
    ("/", b'{"prompt": "x", "history": [{"role": "user", "content": "a", "metadata": NaN}]}'),
    ("/", b'{"prompt": "\\udfff"}'),
    ("/", {"prompt": "x", "history": [{"role": "system", "content": "s", "tools": "not a list"}]}),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}] * 600}),          # --max-messages
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "n": 5}),        # --max-n
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "stop": ["y" * 300]}),
    ("/v1/embeddings", {"input": [[5]] * 2049}),                                    # --max-embedding-inputs
]


@pytest.mark.parametrize("path, body", HOSTILE_REQUESTS, ids=[f"hostile{i}" for i in range(len(HOSTILE_REQUESTS))])
def test_hostile_requests_get_400(server, path, body):
    r = post(server, path, body)
    assert r.status_code == 400, r.text
    assert set(r.json()["error"]) == {"message", "type", "param", "code"}


def test_length_checks_come_before_any_model_work(server):
    """A prompt longer than the context with tool_choice 'required' and 2 tools is refused before the tool names
    are scored (that scoring used to run the model on the whole prompt first)."""
    before = dict(server.engine.stats)
    r = post(server, "/v1/chat/completions", {"messages": [{"role": "user", "content": "x" * 24_000}],
                                               "tools": DEMO_TOOLS, "tool_choice": "required"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "context_length_exceeded"
    after = server.engine.stats
    assert (after["jobs"], after["prefills"], after["requests"]) == \
        (before["jobs"], before["prefills"], before["requests"])


def test_extreme_sampling_values_fail_no_neighbour(server, client):
    """temperature 1e-40 / 5e-324 and repetition_penalty 1e-300 used to put inf/nan into torch.multinomial and fail
    every request of the batch with a 500; now they are clamped, and a broken row would fail alone."""
    def greedy():
        return chat(client, "你好", max_tokens=8, extra_body={"ignore_eos": True}).choices[0].message.content

    alone = greedy()
    bodies = [{"temperature": 1e-40}, {"temperature": 5e-324}, {"repetition_penalty": 1e-300, "temperature": 1.0},
              {"temperature": 1e-300, "repetition_penalty": 1e-300}, None]

    def send(extra):
        if extra is None:
            return greedy()
        return post(server, "/v1/chat/completions", {"messages": [{"role": "user", "content": "你好"}],
                                                      "max_tokens": 8, "ignore_eos": True, **extra})

    results = _parallel(send, bodies)
    assert results[-1] == alone
    for r in results[:-1]:
        assert r.status_code == 200, r.text


def test_a_row_that_cannot_be_sampled_fails_alone(server):
    from ch03_gradio.server.engine import SamplingParams, Sequence
    engine = server.engine
    ids = engine.tokenizer.build_chat_ids("你好")
    good = Sequence(ids, SamplingParams(max_tokens=4, temperature=0, ignore_eos=True))
    bad = Sequence(ids, SamplingParams(max_tokens=4, temperature=1.0, ignore_eos=True, top_k="x"))  # breaks sampling
    for s in (bad, good):
        engine.submit(s)
    deadline = time.time() + 30
    while not (good.finished and bad.finished) and time.time() < deadline:
        time.sleep(0.02)
    assert bad.finish_reason == "error" and "sampling failed" in bad.error
    assert good.finish_reason == "length" and len(good.output_ids) == 4


def test_long_prompts_are_prefilled_in_chunks_with_the_same_answer(server, client):
    """A prompt longer than prefill_chunk is prefilled a chunk per step (decode steps of others in between);
    the greedy answer is the one of a one-piece prefill, also next to other requests."""
    engine = server.engine
    prompts = ["北京天气怎么样？" * 12, "你好" * 30, "hello"]

    def greedy(p):
        return chat(client, p, max_tokens=8, extra_body={"ignore_eos": True}).choices[0].message.content

    whole = [greedy(p) for p in prompts]
    old = engine.prefill_chunk
    engine.prefill_chunk = 16
    try:
        prefills = engine.stats["prefills"]
        chunked = _parallel(greedy, prompts)
        assert [greedy(p) for p in prompts[:2]] == whole[:2]
    finally:
        engine.prefill_chunk = old
    assert chunked == whole and engine.stats["prefills"] > prefills


def test_embeddings_run_in_chunks_between_decode_steps(server):
    """A large embeddings request no longer holds the engine: a short chat that arrives after it is answered
    while the embeddings are still being computed (chunks interleave with decode steps)."""
    embedder = server.app.state.settings.embedder
    engine = server.engine
    inputs = ["x" * 400] * 60                       # 60 inputs of ~400 tokens, 2 per chunk below
    old, embedder.chunk_tokens = embedder.chunk_tokens, 1000
    try:
        n_chunks = len(embedder.chunks([[1] * 401] * 60))
        jobs0 = engine.stats["jobs"]
        box = {}
        t = threading.Thread(target=lambda: box.setdefault("r", post(server, "/v1/embeddings", {"input": inputs})))
        t.start()
        deadline = time.time() + 30
        while engine.stats["jobs"] == jobs0 and time.time() < deadline:
            time.sleep(0.005)
        r = post(server, "/v1/chat/completions", {"messages": [{"role": "user", "content": "你好"}],
                                                   "max_tokens": 4, "temperature": 0, "ignore_eos": True})
        jobs_when_answered = engine.stats["jobs"] - jobs0
        t.join(60)
    finally:
        embedder.chunk_tokens = old
    assert r.status_code == 200 and box["r"].status_code == 200 and len(box["r"].json()["data"]) == 60
    assert jobs_when_answered < n_chunks


def test_post_root_accepts_json_without_content_type(server):
    """The book's `curl ... -d '{"prompt": ...}'` sends no JSON content type (curl says form-urlencoded)."""
    body = json.dumps({"prompt": "你好", "history": [], "temperature": 0}).encode()
    for headers in ({}, {"Content-Type": "application/x-www-form-urlencoded"}):
        r = httpx.post(server.url + "/", content=body, headers={"Authorization": f"Bearer {KEY}", **headers})
        assert r.status_code == 200 and r.json()["response"] == GREETING, r.text


def test_docs_closed_with_a_key_unless_public_docs(server):
    from fastapi.testclient import TestClient

    from ch03_gradio.server.app import ServerSettings, create_app
    with_key = TestClient(create_app(server.engine, ServerSettings(api_key="k")))
    assert with_key.get("/docs").status_code == 401 and with_key.get("/openapi.json").status_code == 401
    assert with_key.get("/docs", headers={"Authorization": "Bearer k"}).status_code == 200
    public = TestClient(create_app(server.engine, ServerSettings(api_key="k", public_docs=True)))
    assert public.get("/openapi.json").status_code == 200
    assert TestClient(create_app(server.engine, ServerSettings())).get("/docs").status_code == 200
    assert TestClient(create_app(server.engine, ServerSettings(public_docs=False))).get("/docs").status_code == 404


# ---------------------------------------------------------------------------------------------- slow clients
def _raw(server) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=15)
    return sock


def _closed_by_server(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (socket timeout: it never closed)."""
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def test_idle_and_trickling_connections_are_closed(server):
    with _raw(server) as idle:                            # connects, sends nothing
        assert _closed_by_server(idle) == b""
    with _raw(server) as slow:                            # a request head at one byte per 0.3 s
        head = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 200
        try:
            for i in range(len(head)):
                slow.sendall(head[i:i + 1])
                time.sleep(0.3)
            raise AssertionError("the server kept a trickling connection for a minute")
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.mark.parametrize("body", [b"", b'{"messages": '])   # stalled body / body shorter than its Content-Length
def test_slow_or_short_bodies_get_408_and_a_close(server, body):
    with _raw(server) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + KEY.encode() +
                     b"\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n" + body)
        reply = _closed_by_server(sock)
    assert reply.startswith(b"HTTP/1.1 408") and b"request_timeout" in reply


# ---------------------------------------------------------------------------------------------- model output
def _scripted_app(scripted_model, replies):
    from fastapi.testclient import TestClient

    from ch03_gradio.server.app import ServerSettings, create_app
    from ch03_gradio.server.scripted import ScriptedEngine
    from common.chatglm3 import load_tokenizer
    return TestClient(create_app(ScriptedEngine(load_tokenizer(scripted_model), replies), ServerSettings()))


def _strict(text: str):
    def no_constant(name):
        raise AssertionError(f"{name} in a response")
    return json.loads(text, parse_constant=no_constant)


CALL = "get_weather\n```python\ntool_call(city_name={})\n```"
UNRENDERABLE = [CALL.format("0x" + "f" * 4000), CALL.format("'\\ud800'"), CALL.format("1e999"),
                CALL.format("-1e999"), CALL.format("{'a': 1, 'a': 2}"), CALL.format("ｔｒｕｅ"),
                "，天气温℃，湿度据℃， get_weather\n```python\ntool_call(city_name='北京')\n```",   # undeclared name
                "ｇｅｔ_weather\n```python\ntool_call(city_name='北京')\n```",
                "get_weather\n```python\nｔｏｏｌ_ｃａｌｌ(city_name='北京')\n```",
                "get_weather\n```python\ntool_call(city_name='北京', city_name='上海')\n```"]


@pytest.mark.parametrize("reply", UNRENDERABLE, ids=[f"out{i}" for i in range(len(UNRENDERABLE))])
def test_model_output_that_is_no_valid_call_comes_back_as_text(scripted_model, reply):
    client = _scripted_app(scripted_model, [reply])
    body = {"messages": [{"role": "user", "content": "北京天气"}], "tools": DEMO_TOOLS}
    r = client.post("/v1/chat/completions", json=body)
    assert r.status_code == 200, r.text
    msg = _strict(r.text)["choices"][0]["message"]
    assert "tool_calls" not in msg and msg["content"] == reply.strip()
    with client.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as s:
        lines = [line for line in s.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    chunks = [_strict(line[6:]) for line in lines[:-1]]
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == reply.strip()
    assert not any(c["choices"][0]["delta"].get("tool_calls") for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_a_declared_valid_call_still_is_a_call(scripted_model):
    client = _scripted_app(scripted_model, [CALL.format("'北京'")])
    r = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "x"}], "tools": DEMO_TOOLS})
    call = r.json()["choices"][0]["message"]["tool_calls"][0]["function"]
    assert call == {"name": "get_weather", "arguments": '{"city_name": "北京"}'}
    r = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "x"}],
                                                  "tools": [t for t in DEMO_TOOLS if t["function"]["name"] == "track"]})
    assert "tool_calls" not in r.json()["choices"][0]["message"]       # get_weather is not declared here


# ---------------------------------------------------------------------------------------------- the parser
def test_parser_rejects_what_strict_json_cannot_carry():
    from common.toolcall import ToolCallError, parse_tool_call
    for bad in ["ｔｏｏｌ_ｃａｌｌ(ｘ=1)", "tool_call(ｘ=1)", "tool_call(x=ｔｒｕｅ)", "tool_call(x=1e999)",
                "tool_call(x=-1e999)", "tool_call(x=0x" + "f" * 5000 + ")", "tool_call(x='\\ud800')",
                "tool_call(x={'a': 1, 'a': 2})", "tool_call(x={1: 2})", "tool_call(x=[" * 40 + "]" * 40 + ")"]:
        with pytest.raises(ToolCallError):
            parse_tool_call(bad)
    assert parse_tool_call("tool_call(城市='北京', n=-1, d={'a': [true, null]})") == \
        {"城市": "北京", "n": -1, "d": {"a": [True, None]}}


def test_format_writes_only_what_parse_reads():
    from common.toolcall import ToolCallError, format_tool_call
    for bad in [{"class": 1}, {"x": float("nan")}, {"x": float("inf")}, {"ｘ": 1}, {"x": {1: 2}}, {"x": "\ud800"},
                {"x": 2 ** 300}, {"x": _nested(40)}, {"x": object()}]:
        with pytest.raises(ToolCallError):
            format_tool_call(bad)


def test_format_parse_round_trip_property():
    hypothesis = pytest.importorskip("hypothesis")
    from hypothesis import strategies as st

    from common.toolcall import ToolCallError, arguments_json, format_tool_call, parse_tool_call
    scalars = (st.none() | st.booleans() | st.integers(-2 ** 300, 2 ** 300) | st.floats(allow_nan=True) |
               st.text(st.characters(), max_size=8))
    values = st.recursive(scalars, lambda v: st.lists(v, max_size=3) | st.dictionaries(
        st.text(st.characters(), max_size=4) | st.integers(0, 3), v, max_size=3), max_leaves=12)
    names = st.text(st.characters(), min_size=1, max_size=6) | st.sampled_from(["class", "x", "ｘ", "城市", "_"])

    @hypothesis.settings(max_examples=60, deadline=None, derandomize=True, database=None)
    @hypothesis.given(st.dictionaries(names, values, max_size=4))
    def check(params):
        try:
            text = format_tool_call(params)
        except ToolCallError:
            return
        assert parse_tool_call(text) == params
        assert json.loads(arguments_json(params)) == params

    check()


def test_invalid_calls_are_logged_not_warned(caplog):
    """2,000 distinct invalid calls used to leave 2,000 entries in the warnings registry (+38 MB)."""
    import logging
    import warnings

    caplog.set_level(logging.WARNING, logger="chatglm3")   # whatever an earlier test (the fuzz slice) set

    from common.chatglm3 import process_response
    from common.prompts import tool_system_message
    hist = [tool_system_message(example_tools())]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for i in range(2000):
            content, _ = process_response(f"get_weather\n```python\ntool_call(x=y{i})\n```", hist)
            assert isinstance(content, str)
    assert caught == [] and any("returned as text" in r.getMessage() for r in caplog.records)


class _Force:
    """Logits processor that makes a (random tiny) model write exactly ``ids``: a scripted model for chat()."""

    def __init__(self, ids, prompt_len):
        self.ids, self.prompt_len = ids, prompt_len

    def __call__(self, input_ids, scores):
        import torch
        step = input_ids.shape[1] - self.prompt_len
        forced = torch.full_like(scores, -1e9)
        forced[:, self.ids[min(step, len(self.ids) - 1)]] = 0.0
        return forced


@pytest.mark.parametrize("name", ["track", "天气 get_weather"])
def test_chat_and_stream_chat_return_undeclared_calls_as_text(tiny_model, tiny_tokenizer, name):
    """The demo model once wrote a call named '，天气温℃，湿度据℃， get_weather': a name that is not among the
    declared tools is no tool call, in chat() and stream_chat() as in the server."""
    from transformers import LogitsProcessorList

    from common.chatglm3 import chat, stream_chat
    from common.prompts import tool_system_message
    from common.toolcall import fenced_tool_call
    t = tiny_tokenizer
    declared = "get_weather" if name == "track" else "track"
    history = [tool_system_message(example_tools(declared))]
    text = f"{name}\n" + fenced_tool_call({"city_name": "北京"})
    ids = t.sp.encode(text) + [2]
    plen = len(t.build_chat_ids("北京天气", history))
    lp = LogitsProcessorList([_Force(ids, plen)])
    r, hist = chat(tiny_model, t, "北京天气", history=history, max_new_tokens=len(ids) + 2, logits_processor=lp,
                   do_sample=False)
    assert isinstance(r, str) and r == t.decode(t.sp.encode(text)).strip() and hist[-1]["metadata"] == ""
    last = None
    for last, _ in stream_chat(tiny_model, t, "北京天气", history=history, max_new_tokens=len(ids) + 2,
                               logits_processor=LogitsProcessorList([_Force(ids, plen)]), do_sample=False):
        pass
    assert last == r
