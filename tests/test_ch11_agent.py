"""Chapter 11 — the agent loop: multi-step with a scripted model, event order, stops, hostile output, the OpenAI
protocol through the ch03 server (real openai client), and a LangChain create_agent on a fake chat model."""
from __future__ import annotations

import json

import pytest

from ch11_tools.agent import Agent, LocalBackend, OpenAIBackend, Raw, ScriptedBackend, format_trace
from ch11_tools.registry import ToolRegistry, demo_registry
from tests.ch11_fixtures import demo_loaded, one_torch_thread  # noqa: F401 - fixtures


def test_multi_step_loop_with_a_scripted_model():
    backend = ScriptedBackend([("get_weather", {"city_name": "北京"}), ("get_weather", {"city_name": "上海"}),
                               "上海更暖和。"])
    result = Agent(backend, demo_registry(), max_steps=4).run("北京和上海哪个更暖和？")
    assert result.answer == "上海更暖和。" and result.stopped is None
    assert [(t.name, t.arguments["city_name"], t.ok) for t in result.trace] == [
        ("get_weather", "北京", True), ("get_weather", "上海", True)]
    assert [h["role"] for h in result.history] == ["system", "user", "assistant", "observation", "assistant",
                                                   "observation", "assistant"]
    assert result.history[2]["metadata"] == "get_weather"
    # what the "model" saw: the tools system message first, then each observation as the next query
    (h0, q0, r0), (h1, q1, r1), (_, q2, r2) = backend.seen
    assert h0[0]["tools"] == demo_registry().chatglm_tools() and (q0, r0) == ("北京和上海哪个更暖和？", "user")
    assert r1 == r2 == "observation" and json.loads(q1)["city"] == "北京" and json.loads(q2)["city"] == "上海"
    assert "step 2: get_weather" in format_trace(result)
    assert json.dumps(result.as_dict(), ensure_ascii=False)


def test_streaming_events_come_in_order_and_the_call_never_leaks_as_text():
    backend = ScriptedBackend([("track", {"symbol": "600519"}), "价格是 1234.5 元，今天上涨。"], chunk=2)
    kinds, texts = [], []
    for event in Agent(backend, demo_registry()).stream("600519 多少钱"):
        kinds.append(event.kind)
        if event.kind == "text":
            texts.append(event.text)
    first = {k: kinds.index(k) for k in ("call_start", "call", "result", "text", "answer", "done")}
    assert first["call_start"] < first["call"] < first["result"] < first["text"] < first["answer"] < first["done"]
    assert kinds[-1] == "done" and kinds.count("call_start") == 1
    assert len(texts) > 3                                   # the answer streamed in pieces
    assert "".join(texts) == "价格是 1234.5 元，今天上涨。"     # no "track" / fence text leaked


def test_error_observation_keeps_the_loop_going_and_the_model_can_correct_itself():
    backend = ScriptedBackend([("get_weather", {"city": "北京"}), ("get_weather", {"city_name": "北京"}), "好的"])
    result = Agent(backend, demo_registry()).run("北京天气")
    assert [t.error for t in result.trace] == ["invalid_arguments", None]
    assert "unexpected argument" in backend.seen[1][1]     # the model was told what was wrong


def test_max_steps_and_repeated_calls_stop_the_loop():
    looping = ScriptedBackend(lambda h, q, r: ("get_weather", {"city_name": f"城{len(h)}"}))
    result = Agent(looping, demo_registry(), max_steps=2).run("天气")
    assert result.stopped == "max_steps" and result.steps == 2
    same = ScriptedBackend(lambda h, q, r: ("track", {"symbol": "AAPL"}))
    result = Agent(same, demo_registry(), max_steps=5).run("AAPL")
    assert result.stopped == "repeated_call" and result.steps == 1


def test_hostile_model_output_is_never_executed(tmp_path):
    sentinel = tmp_path / "pwned"
    hostile = [
        Raw(f"get_weather\n```python\ntool_call(city_name=__import__('pathlib').Path({str(sentinel)!r}).touch())\n```"),
        Raw("get_weather\n```python\nimport os; os.system('touch x')\n```"),
        Raw("get_weather\n```python\ntool_call(city_name='北京'); tool_call(city_name='上海')\n```"),
        Raw("os.system\n```python\ntool_call(command='touch x')\n```"),
        ("__import__", {"name": "os"}),
    ]
    for reply in hostile:
        backend = ScriptedBackend([reply, "done"])
        result = Agent(backend, demo_registry()).run("天气")   # parsed (refused), never run
        assert all(not t.ok for t in result.trace), result.trace
    assert not sentinel.exists()


def test_openai_protocol_round_trip_through_the_ch03_server(demo_loaded):
    """The same agent over the in-process model and over the chapter-3 server with the real openai client."""
    from ch03_gradio.openai_api import Config, start_in_thread

    question = "帮我查查洛阳今天的天气"
    local = Agent(LocalBackend(*demo_loaded, do_sample=False, max_new_tokens=60), demo_registry()).run(question)
    handle = start_in_thread(Config(port=0, log_level="warning", served_model_name="demo"), *demo_loaded)
    try:
        backend = OpenAIBackend(handle.url, max_tokens=60, temperature=0.0)
        remote = Agent(backend, demo_registry()).run(question)
        sent = backend.last_request
    finally:
        handle.stop()
    assert [(t.name, t.arguments) for t in remote.trace] == [(t.name, t.arguments) for t in local.trace]
    assert remote.trace and remote.trace[0].name == "get_weather" and remote.trace[0].ok
    assert remote.answer
    # the last request carried the call as tool_calls and the observation as a role "tool" message, tools= as well
    roles = [m["role"] for m in sent["messages"]]
    assert roles == ["user", "assistant", "tool"]
    assert sent["messages"][1]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert sent["messages"][2]["tool_call_id"] == sent["messages"][1]["tool_calls"][0]["id"]
    assert [t["function"]["name"] for t in sent["tools"]] == ["get_weather", "track"]


def test_langchain_create_agent_on_a_fake_chat_model():
    from langchain.agents import create_agent
    from langchain_core.messages import AIMessage

    from ch11_tools.langchain_agent import fake_tool_calling_model

    model = fake_tool_calling_model([
        AIMessage(content="", tool_calls=[{"name": "get_weather", "args": {"city_name": "北京"}, "id": "c1"}]),
        AIMessage(content="", tool_calls=[{"name": "track", "args": {"symbol": 3.5, "x": 1}, "id": "c2"}]),
        AIMessage(content="北京的天气已查到。")])
    agent = create_agent(model, tools=demo_registry().langchain_tools())
    out = agent.invoke({"messages": [{"role": "user", "content": "北京天气"}]})
    types = [m.type for m in out["messages"]]
    assert types == ["human", "ai", "tool", "ai", "tool", "ai"]
    assert json.loads(out["messages"][2].content) == json.loads(demo_registry().dispatch("get_weather",
                                                                                          {"city_name": "北京"}))
    assert "unexpected argument" in out["messages"][4].content      # refused by the registry, loop went on
    assert out["messages"][-1].content == "北京的天气已查到。"


def test_langchain_agent_script_with_fake_model():
    from ch11_tools.langchain_agent import Config, main
    result = main(Config(fake=True))
    assert result["tool_calls"] == [{"name": "get_weather", "args": {"city_name": "洛阳"}}]
    assert json.loads(result["tool_results"][0])["city"] == "洛阳"


def test_registry_for_a_later_chapter():
    """The API chapter 13 uses: its own tools on a new registry, run by the same loop."""
    reg = ToolRegistry(timeout=2)

    @reg.register
    def query_field(company: str, year: int, field: str) -> dict:
        """Look up one field of a company's annual report."""
        return {"company": company, "year": year, "field": field, "value": 1.5}

    backend = ScriptedBackend([("query_field", {"company": "A", "year": 2020, "field": "营业收入"}), "1.5"])
    result = Agent(backend, reg).run("A 2020 营业收入")
    assert result.trace[0].ok and json.loads(result.trace[0].observation)["value"] == 1.5
