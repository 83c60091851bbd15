"""3.4.1 OpenAI-style server: the real ``openai`` client against a real server on a free loopback port.

The model is the *scripted* tiny ChatGLM3 (``ch03_gradio/server/scripted.py``): random tiny weights fine-tuned for a
few seconds to greedily reproduce a greeting, a ``get_weather`` call and an answer from the tool result, so the
tool round trip below is produced by a model, parsed by the server and read by the client — nothing is faked.
"""
from __future__ import annotations

import json
import math
import threading
import time

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
                                    max_batch_size=8, max_body_mb=0.05, max_tokens_limit=4096))
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
    res = bench_server.main(bench_server.Config(url=server.url, api_key=KEY, compare=True, concurrency=4,
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
    out = openai_client_demo.main(openai_client_demo.Config(start_server=True, model=str(DEMO_MODEL_DIR),
                                                            max_tokens=64))
    assert out["answer"] and out["streamed"] == out["answer"]
    assert out["tool_calls"] and out["tool_calls"][0]["name"] == "get_weather"
    assert out["tool_answer"]
