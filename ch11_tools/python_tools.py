"""11.1.1 Python调用工具详解 — functions are objects: look one up by name, read its signature, describe it as JSON.

    python ch11_tools/python_tools.py                 # no model needed

What it shows, step by step (everything a tool registry is built from):
1. a function is an object: it can be stored in a dict and called by *name* (the model only ever writes a name);
2. ``inspect.signature`` lists the parameters, their defaults and type hints; ``inspect.getdoc`` the docstring;
3. type hints become JSON Schema (``str -> string``, ``list[str] -> array``, ``Literal -> enum``, ``X | None``);
4. calling with keyword arguments from a dict — and why the arguments must be checked first.
"""
from __future__ import annotations

import inspect
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import UserError, arg, run


def get_weather(city_name: Annotated[str, "The name of the city to be queried", True]) -> str:
    """
    Get the current weather for `city_name`
    """
    from common.demo_tools import get_weather as fake
    return json.dumps(fake(city_name), ensure_ascii=False)


def convert_price(amount: float, currency: Literal["USD", "EUR", "JPY"] = "USD", round_to: int | None = 2) -> dict:
    """Convert a price in yuan to another currency (fixed demo rates).

    Args:
        amount: the price in yuan
        currency: the target currency
        round_to: decimals to keep (None: no rounding)
    """
    rate = {"USD": 0.14, "EUR": 0.13, "JPY": 21.0}[currency]
    value = amount * rate
    return {"amount": round(value, round_to) if round_to is not None else value, "currency": currency}


@dataclass
class Config:
    tool: str = arg("convert_price", "which function to look up by name", choices=["get_weather", "convert_price"])
    arguments: str = arg('{"amount": 199, "currency": "EUR"}', "keyword arguments as JSON (what a model would write)")


def main(cfg: Config) -> dict:
    from ch11_tools.registry import schema_from_function

    try:
        arguments = json.loads(cfg.arguments)
    except json.JSONDecodeError as exc:
        raise UserError(f"--arguments is not JSON ({exc}). To fix: --arguments '{{\"amount\": 10}}'") from None
    # 1. 函数是对象：放进字典，按名字取出来调用
    table = {f.__name__: f for f in (get_weather, convert_price)}
    func = table[cfg.tool]
    print("1. a function is an object:", func, "| type:", type(func).__name__, "| name:", func.__name__)
    print("   table of tools:", list(table))

    # 2. inspect：参数、默认值、类型注解、文档字符串
    sig = inspect.signature(func)
    print(f"\n2. inspect.signature({func.__name__}) = {sig}")
    params = []
    for name, p in sig.parameters.items():
        default = None if p.default is inspect.Parameter.empty else p.default
        print(f"   {name:10s} annotation={p.annotation!s:55s} default={default!r}")
        params.append({"name": name, "annotation": str(p.annotation), "default": default})
    print("   docstring:", inspect.getdoc(func).splitlines()[0])

    # 3. 类型注解 -> JSON Schema
    description, schema = schema_from_function(func)
    print("\n3. type hints -> JSON Schema (what the model is shown):")
    print(json.dumps({"name": func.__name__, "description": description, "parameters": schema},
                     ensure_ascii=False, indent=2))

    # 4. 用字典里的关键字参数调用
    print(f"\n4. call {func.__name__}(**{arguments})")
    try:
        result = func(**arguments)
        print("   ->", result)
    except TypeError as exc:   # a wrong argument name: exactly what a registry must catch before calling
        result = {"error": f"{type(exc).__name__}: {exc}"}
        print("   -> refused:", result["error"])
    print("   (a model's arguments can be wrong: the registry validates them against the schema first — see "
          "registry_demo.py)")
    return {"tool": func.__name__, "signature": str(sig), "params": params, "schema": schema,
            "description": description, "result": result}


if __name__ == "__main__":
    run(main, Config, __doc__)
