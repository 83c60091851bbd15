"""Chapter 11 — the tool registry: schemas from both decorator styles, validation, errors, timeouts, safety."""
from __future__ import annotations

import ast
import enum
import json
import time
from pathlib import Path
from typing import Annotated, Literal, Optional

import pytest
from pydantic import BaseModel, Field

from ch11_tools.registry import ToolRegistrationError, ToolRegistry, demo_registry, schema_from_function
from common.paths import REPO_ROOT
from common.prompts import GET_WEATHER_TOOL, TRACK_TOOL
from tests.ch11_fixtures import one_torch_thread  # noqa: F401 - fixture


def test_official_annotated_style_gives_the_official_schema_byte_for_byte():
    reg = ToolRegistry()

    @reg.register(official=True)
    def get_weather(city_name: Annotated[str, "The name of the city to be queried", True]) -> str:
        """
        Get the current weather for `city_name`
        """
        return "sunny"

    assert json.dumps(reg.chatglm_tools()[0]) == json.dumps(GET_WEATHER_TOOL)
    assert reg.openai_tools() == [{"type": "function", "function": GET_WEATHER_TOOL}]
    # the official get_tools() form, as composite_demo/tool_registry.py records it
    from ch11_tools import official_registry
    assert reg.official_tools()["get_weather"]["params"] == [
        {**p, "type": "string"} for p in official_registry.get_tools()["get_weather"]["params"]]


def test_official_style_is_enforced_when_asked():
    reg = ToolRegistry()
    with pytest.raises(ToolRegistrationError, match="Annotated"):
        @reg.register(official=True)
        def f(x: int) -> int:
            """doc"""
            return x
    with pytest.raises(ToolRegistrationError, match="no type annotation"):
        @reg.register
        def g(x):
            return x


class Currency(enum.Enum):
    USD = "USD"
    EUR = "EUR"


class Filter(BaseModel):
    brand: str = Field(description="brand name")
    max_price: float = Field(100, ge=0)


def test_plain_type_hints_and_pydantic_models():
    reg = ToolRegistry()

    @reg.register
    def search(category: Literal["洁面", "精华"], tags: list[str], limit: int = 5, note: Optional[str] = None,
               currency: Currency = Currency.USD, flt: Filter | None = None) -> dict:
        """Search products.

        Args:
            category: product category
            tags: words to match
        """
        return {"category": category, "flt": flt, "currency": currency}

    schema = reg.get("search").parameters
    props = schema["properties"]
    assert reg.get("search").description == "Search products."
    assert props["category"] == {"description": "product category", "enum": ["洁面", "精华"], "type": "string"}
    assert props["tags"] == {"description": "words to match", "type": "array", "items": {"type": "string"}}
    assert props["limit"] == {"type": "integer", "default": 5}
    assert props["note"]["type"] == ["string", "null"]
    assert props["currency"]["enum"] == ["USD", "EUR"]
    assert props["flt"]["properties"]["max_price"]["minimum"] == 0
    assert schema["required"] == ["category", "tags"]
    r = reg.call("search", {"category": "精华", "tags": [], "currency": "EUR", "flt": {"brand": "x"}})
    assert r.ok, r.content
    assert isinstance(r.value["flt"], Filter) and r.value["flt"].max_price == 100      # coerced to the model
    assert r.value["currency"] is Currency.EUR
    bad = reg.call("search", {"category": "精华", "tags": [], "flt": {"brand": "x", "max_price": -1}})
    assert bad.error == "invalid_arguments" and "max_price" in bad.content


def test_args_model_style():
    class Args(BaseModel):
        city: str = Field(description="city")
        days: int = Field(1, ge=1, le=7)

    reg = ToolRegistry()

    @reg.register(args_model=Args)
    def forecast(city: str, days: int = 1) -> dict:
        """Forecast for a few days."""
        return {"city": city, "days": days}

    assert reg.get("forecast").parameters["properties"]["days"]["maximum"] == 7
    assert reg.call("forecast", {"city": "北京", "days": 3}).value == {"city": "北京", "days": 3}
    assert reg.call("forecast", {"city": "北京", "days": 9}).error == "invalid_arguments"


def make_counted():
    calls = []
    reg = ToolRegistry(timeout=0.3, max_chars=50)

    @reg.register
    def weather(city_name: Annotated[str, "city", True], days: int = 1) -> dict:
        """Weather."""
        calls.append(city_name)
        return {"city": city_name}

    @reg.register
    def boom() -> str:
        """Always fails."""
        raise RuntimeError("database is down")

    @reg.register
    def sleepy() -> str:
        """Sleeps past the timeout."""
        time.sleep(3)
        return "late"

    @reg.register
    def big() -> str:
        """A long result."""
        return "x" * 500

    return reg, calls


@pytest.mark.parametrize("args, needle", [
    ({}, "'city_name' is a required property"),
    ({"city_name": 3}, "is not of type 'string'"),
    ({"city_name": "北京", "cmd": "rm -rf /"}, "unexpected argument"),
    ({"city_name": "北京", "days": "3"}, "is not of type 'integer'"),
    ("city_name=北京", "arguments must be an object"),
])
def test_arguments_outside_the_schema_are_refused_before_the_call(args, needle):
    reg, calls = make_counted()
    r = reg.call("weather", args)
    assert not r.ok and r.error == "invalid_arguments" and needle in r.content
    assert json.loads(r.content)["error"]
    assert calls == []                      # the function never ran


def test_unknown_tool_exception_timeout_truncation_are_observations():
    reg, calls = make_counted()
    r = reg.call("send_email", {"to": "x"})
    assert r.error == "unknown_tool" and "available tools: weather" in r.content
    r = reg.call("boom")
    assert r.error == "exception" and "database is down" in r.content and "Traceback" not in r.content
    t0 = time.perf_counter()
    r = reg.call("sleepy")
    assert r.error == "timeout" and time.perf_counter() - t0 < 2.5
    r = reg.call("big")
    assert r.ok and r.truncated and len(r.content) < 100 and "truncated 450" in r.content
    assert reg.dispatch("weather", {"city_name": "北京"}) == '{"city": "北京"}'   # the official signature
    assert calls == ["北京"]


def test_registration_checks():
    reg = ToolRegistry()
    reg.register(lambda: 1, name="one", description="one")
    with pytest.raises(ToolRegistrationError, match="already registered"):
        reg.register(lambda: 2, name="one")
    with pytest.raises(ToolRegistrationError, match="identifier"):
        reg.register(lambda: 1, name="os.system")
    with pytest.raises(ToolRegistrationError, match="invalid JSON Schema"):
        reg.register(lambda x: x, name="bad", schema={"type": "object", "properties": {"x": {"type": "strin"}}})
    sub = demo_registry().subset("track")
    assert sub.names() == ["track"] and sub.chatglm_tools() == [TRACK_TOOL]


def test_schema_from_function_reads_google_docstrings():
    def f(a: int, b: str = "x") -> None:
        """Do f.

        Args:
            a: the first
               one
            b: the second
        """
    desc, params = schema_from_function(f)
    assert desc == "Do f."
    assert params["properties"]["a"]["description"] == "the first one"
    assert params["properties"]["b"] == {"description": "the second", "type": "string", "default": "x"}


# ============================================================================================== safety
FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__"}
FORBIDDEN_MODULES = {"pickle", "subprocess", "marshal", "shelve"}


def test_no_eval_exec_pickle_or_shell_in_chapter_11():
    for path in sorted((REPO_ROOT / "ch11_tools").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in FORBIDDEN_CALLS, f"{path.name}:{node.lineno} calls {node.func.id}"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                assert node.func.attr not in ("system", "popen", "literal_eval"), f"{path.name}:{node.lineno}"
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + ([node.module] if getattr(node, "module", None) else [])
                assert not FORBIDDEN_MODULES & {n.split(".")[0] for n in names}, f"{path.name}:{node.lineno}"


def test_only_registered_tools_run_and_defaults_offer_no_file_or_shell_tools():
    from ch11_tools.beauty import beauty_registry
    for reg in (demo_registry(), beauty_registry(), beauty_registry(with_demo_tools=True)):
        for tool in reg:
            assert not any(w in tool.name for w in ("file", "note", "shell", "exec", "command", "path"))
            assert tool.func.__module__.split(".")[0] in ("common", "ch11_tools")
        for name in ("eval", "__import__", "os.system", "print", "open", "subprocess", "list_notes"):
            assert reg.call(name, {}).error == "unknown_tool"


def test_note_tools_stay_in_their_folder(tmp_path):
    from ch11_tools.file_tools import register_note_tools
    folder = tmp_path / "notes"
    reg = ToolRegistry(timeout=5)
    register_note_tools(reg, folder)
    (tmp_path / "secret.txt").write_text("top secret", encoding="utf-8")
    (folder / "link.txt").symlink_to(tmp_path / "secret.txt")
    assert reg.call("write_note", {"name": "a.txt", "text": "hi"}).ok
    assert reg.call("read_note", {"name": "a.txt"}).content == "hi"
    for name in ("../secret.txt", str(tmp_path / "secret.txt"), "link.txt", "sub/../../secret.txt",
                 "a.py", "~/x.txt", "C:/x.txt", "a.txt\x00.md"):
        for tool, args in (("read_note", {"name": name}), ("write_note", {"name": name, "text": "pwned"})):
            r = reg.call(tool, args)
            assert not r.ok and r.error in ("exception", "invalid_arguments"), (name, tool, r)
    assert (tmp_path / "secret.txt").read_text(encoding="utf-8") == "top secret"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes", "secret.txt"]


def test_langchain_tools_go_through_the_registry():
    reg, calls = make_counted()
    tools = {t.name: t for t in reg.langchain_tools()}
    assert tools["weather"].invoke({"city_name": "北京"}) == '{"city": "北京"}'
    assert "unexpected argument" in tools["weather"].invoke({"city_name": "x", "evil": 1})
    assert calls == ["北京"]
