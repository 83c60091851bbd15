"""11.2.2-11.2.4 官方工具注册表源码分析 — how the official demo registers, decides and dispatches; then ours.

    python ch11_tools/official_registry.py            # no model needed

Part 1 reproduces the official ``composite_demo/tool_registry.py`` (``register_tool``, ``dispatch_tool``,
``get_tools``) line for line, except that ``get_weather`` uses the offline fake instead of calling wttr.in.
Part 2 shows the *decision*: the official ``process_response`` treats any non-empty metadata line as a tool call
when tools are present, then runs the call text with ``eval`` — what an injected call would do is printed (never
run); ``common.toolcall.parse_tool_call`` refuses it. Part 3 dispatches the same bad calls through the official
``dispatch_tool`` and through :class:`~ch11_tools.registry.ToolRegistry` and prints what the model would see.
"""

# no `from __future__ import annotations` here: the official decorator reads annotations as objects
import copy
import inspect
import json
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from pprint import pformat
from types import GenericAlias
from typing import Annotated, get_origin

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import arg, run

# ---------------------------------------------------------------------------------------- the official code (1)
_TOOL_HOOKS = {}
_TOOL_DESCRIPTIONS = {}


def register_tool(func: callable):
    tool_name = func.__name__
    tool_description = inspect.getdoc(func).strip()
    python_params = inspect.signature(func).parameters
    tool_params = []
    for name, param in python_params.items():
        annotation = param.annotation
        if annotation is inspect.Parameter.empty:
            raise TypeError(f"Parameter `{name}` missing type annotation")
        if get_origin(annotation) != Annotated:
            raise TypeError(f"Annotation type for `{name}` must be typing.Annotated")

        typ, (description, required) = annotation.__origin__, annotation.__metadata__
        typ: str = str(typ) if isinstance(typ, GenericAlias) else typ.__name__
        if not isinstance(description, str):
            raise TypeError(f"Description for `{name}` must be a string")
        if not isinstance(required, bool):
            raise TypeError(f"Required for `{name}` must be a bool")

        tool_params.append({
            "name": name,
            "description": description,
            "type": typ,
            "required": required
        })
    tool_def = {
        "name": tool_name,
        "description": tool_description,
        "params": tool_params
    }

    # print("[registered tool] " + pformat(tool_def))   (printed by main() below)
    _TOOL_HOOKS[tool_name] = func
    _TOOL_DESCRIPTIONS[tool_name] = tool_def

    return func


def dispatch_tool(tool_name: str, tool_params: dict) -> str:
    if tool_name not in _TOOL_HOOKS:
        return f"Tool `{tool_name}` not found. Please use a provided tool."
    tool_call = _TOOL_HOOKS[tool_name]
    try:
        ret = tool_call(**tool_params)
    except:  # noqa: E722 - the official code catches everything and returns the traceback
        ret = traceback.format_exc()
    return str(ret)


def get_tools() -> dict:
    return copy.deepcopy(_TOOL_DESCRIPTIONS)


# Tool Definitions

@register_tool
def random_number_generator(
        seed: Annotated[int, 'The random seed used by the generator', True],
        range: Annotated[tuple[int, int], 'The range of the generated numbers', True],
) -> int:
    """
    Generates a random number x, s.t. range[0] <= x < range[1]
    """
    if not isinstance(seed, int):
        raise TypeError("Seed must be an integer")
    if not isinstance(range, tuple):
        raise TypeError("Range must be a tuple")
    if not isinstance(range[0], int) or not isinstance(range[1], int):
        raise TypeError("Range must be a tuple of integers")

    import random
    return random.Random(seed).randint(*range)


@register_tool
def get_weather(
        city_name: Annotated[str, 'The name of the city to be queried', True],
) -> str:
    """
    Get the current weather for `city_name`
    """
    if not isinstance(city_name, str):
        raise TypeError("City name must be a string")
    from common.demo_tools import get_weather as offline   # the official code calls https://wttr.in here
    return str(offline(city_name))

# ---------------------------------------------------------------------------------------- end of the official code


INJECTED = "```python\ntool_call(city_name=__import__('os').getcwd())\n```"
BAD_CALLS = [
    ("unknown tool", "send_email", {"to": "a@b.c"}),
    ("wrong argument name", "get_weather", {"city": "北京"}),
    ("wrong type", "random_number_generator", {"seed": "abc", "range": [1, 10]}),
    ("good call", "get_weather", {"city_name": "北京"}),
]


@dataclass
class Config:
    show_traceback: bool = arg(False, "print the official dispatch_tool's full traceback observations")


def main(cfg: Config) -> dict:
    from ch11_tools.registry import ToolRegistry
    from common.toolcall import ToolCallError, parse_tool_call, strip_code_fence

    print("== 11.2.2 registration: what the official @register_tool recorded (get_tools())")
    for tool_def in get_tools().values():
        print("[registered tool] " + pformat(tool_def, width=110))

    print("\n== 11.2.3 decision: an assistant segment 'metadata\\ncontent' with non-empty metadata is a call")
    output = "get_weather\n" + INJECTED
    metadata, content = output.split("\n", maxsplit=1)
    code = strip_code_fence(content)
    print(f"   metadata={metadata!r} -> a call of {metadata}; the official process_response then runs")
    print(f"   Python's eval on {code!r} with tool_call = lambda **kw: kw")
    print("   -> that would call os.getcwd() (any code the model writes would run). NOT executed here.")
    try:
        parse_tool_call(content)
        refused = None
    except ToolCallError as exc:
        refused = str(exc)
    print(f"   common.toolcall.parse_tool_call refuses it: {refused}")

    print("\n== 11.2.4 dispatch: the official dispatch_tool vs ToolRegistry.call")
    ours = ToolRegistry(timeout=5)
    ours.register(random_number_generator, official=True)
    ours.register(get_weather, official=True)
    rows = []
    for label, name, params in BAD_CALLS:
        official = dispatch_tool(name, params)
        result = ours.call(name, params)
        rows.append({"case": label, "tool": name, "official": official, "ours": result.content,
                     "ours_error": result.error})
        shown = official if cfg.show_traceback or len(official) < 160 else \
            official.strip().splitlines()[-1] + f"   [traceback of {len(official)} characters, file paths included]"
        print(f"-- {label}: {name}({params})")
        print(f"   official -> {shown}")
        print(f"   ours     -> {result.content}")
    print("\n   the official loop also has no timeout (a hanging tool hangs the chat) and no size limit; ours has both.")
    return {"official_tools": get_tools(), "ours_tools": ours.official_tools(), "injected_refused": refused,
            "dispatch": rows}


if __name__ == "__main__":
    run(main, Config, __doc__)
