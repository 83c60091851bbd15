"""Chapter 11 scripts run end to end with no flags (demo model where they need one); `main` results checked."""
from __future__ import annotations

import json

import pytest
from tests.ch11_fixtures import demo_loaded, one_torch_thread  # noqa: F401 - fixtures


@pytest.fixture(autouse=True)
def load_the_demo_model_once(request, monkeypatch):
    """Every script loads its model through ``common.cli.model_from_args``: use the session's demo model
    (``real_model`` tests load the real weights as the scripts normally do)."""
    if request.node.get_closest_marker("real_model"):
        return
    import common.cli
    loaded = request.getfixturevalue("demo_loaded")
    monkeypatch.setattr(common.cli, "model_from_args", lambda cfg, quiet=False: loaded)


def test_python_tools():
    from ch11_tools.python_tools import Config, main
    out = main(Config())
    assert out["result"] == {"amount": 25.87, "currency": "EUR"}
    assert out["schema"]["properties"]["currency"]["enum"] == ["USD", "EUR", "JPY"]
    bad = main(Config(tool="get_weather", arguments='{"city": "x"}'))
    assert "unexpected keyword argument" in bad["result"]["error"]


def test_decorators():
    from ch11_tools.decorators import Config, main
    out = main(Config())
    assert out["results"] == [42, "value of k1"] and len(out["callbacks"]) == 2
    assert sum("failed" in line for line in out["decorator_log"]) == 2


def test_official_registry_walkthrough():
    from ch11_tools.official_registry import Config, main
    out = main(Config())
    assert "literal" in out["injected_refused"]
    rows = {r["case"]: r for r in out["dispatch"]}
    assert "Traceback" in rows["wrong type"]["official"] and rows["wrong type"]["ours_error"] == "invalid_arguments"
    assert rows["unknown tool"]["ours_error"] == "unknown_tool"
    assert rows["good call"]["ours_error"] is None


def test_tool_flow_on_the_demo_model():
    from ch11_tools.tool_flow import Config, main
    out = main(Config())
    assert [h["role"] for h in out["history"]][:3] == ["system", "user", "assistant"]
    assert out["calls"] and out["calls"][0]["name"] == "get_weather" and out["calls"][0]["ok"]
    assert isinstance(out["answer"], str) and out["answer"]


def test_token_level_on_the_demo_model():
    from ch11_tools.token_level import Config, main
    out = main(Config(max_new_tokens=12))
    assert out["call_pieces"][0] == "<|assistant|>" and out["call_pieces"][-1] == "<|observation|>"
    assert "".join(out["call_pieces"][1:4]) == "get_weather"
    assert out["p_tool"] > 0.5 > out["decision"]["(plain text)"]         # a weather question: call
    plain = main(Config(question="你好", max_new_tokens=4))
    assert plain["decision"]["(plain text)"] > 0.5 > plain["p_tool"]      # a greeting: answer


def test_message_passing():
    """(the server part of the script is the OpenAIBackend round trip tested in test_ch11_agent.py)"""
    from ch11_tools.message_passing import Config, main
    out = main(Config(serve=False))
    roles = [m["role"] for m in out["openai_messages"]]
    assert roles[:3] == ["user", "assistant", "tool"] and "tool_calls" in out["openai_messages"][1]
    assert [h["role"] for h in out["tool_history"]][:2] == ["system", "user"]
    assert [h["role"] for h in out["plain_history"]] == ["user", "assistant", "user", "assistant"]


def test_agent_demo_scripted_and_demo_model():
    from ch11_tools.agent_demo import Config, main
    out = main(Config(scripted=True))
    assert [t["arguments"]["city_name"] for t in out["trace"]] == ["北京", "上海"]
    assert "更暖和" in out["answer"]
    out = main(Config(question="帮我查一下洛阳的天气", max_new_tokens=60))
    assert out["trace"] and out["trace"][0]["name"] == "get_weather"


def test_file_tools_script(tmp_path):
    from ch11_tools.file_tools import Config, main
    out = main(Config(folder=str(tmp_path)))
    assert out["results"]["read_note"]["ok"]
    out = main(Config(folder=str(tmp_path), name="../escape.txt"))
    assert out["results"]["write_note"]["error"] == "exception" and not (tmp_path.parent / "escape.txt").exists()


@pytest.mark.real_model
def test_real_model_calls_a_beauty_tool():
    from ch11_tools.beauty_assistant import Config, main
    out = main(Config(question=["油皮有什么200元以内的洁面推荐？"], router="off"))
    assert out["results"][0]["trace"] and out["results"][0]["trace"][0]["name"] == "search_products"


@pytest.mark.real_model
def test_real_model_calls_get_weather_for_the_city_asked():
    from ch11_tools.tool_flow import Config, main
    out = main(Config(question="北京今天天气怎么样？"))
    assert out["calls"][0]["name"] == "get_weather" and "北京" in out["calls"][0]["arguments"]["city_name"]
    assert out["calls"][0]["ok"] and isinstance(out["answer"], str)
