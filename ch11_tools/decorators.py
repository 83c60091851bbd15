"""11.2.1 Python中的装饰器与回调函数 — the two ideas a tool registry is made of.

    python ch11_tools/decorators.py                 # no model needed

1. A decorator is a function that takes a function and returns one: ``@timed`` wraps a call with timing.
2. A decorator with arguments is a function that *returns* a decorator: ``@retry(times=2)``.
3. A decorator that only *records* the function (and returns it unchanged) is a registry: ``@register``
   — this is all the official ``@register_tool`` does, plus reading the hints.
4. A callback is a function passed in to be called later: the agent loop calls ``on_event(event)`` for every
   step, so a CLI prints and a web page draws — the loop itself does not know which.
"""
from __future__ import annotations

import functools
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import arg, run

CALLS: list[str] = []


def timed(func: Callable) -> Callable:
    """1. 普通装饰器：包一层，记录耗时，再调用原函数。functools.wraps 保留名字和文档（注册表要读它们）。"""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            CALLS.append(f"{func.__name__} took {1000 * (time.perf_counter() - start):.2f} ms")
    return wrapper


def retry(times: int = 2, exceptions: tuple = (ValueError,)) -> Callable:
    """2. 带参数的装饰器：retry(times=2) 先返回一个装饰器，再由它包住函数。"""
    def decorator(func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            for attempt in range(1, times + 1):
                try:
                    return func(*args, **kwargs)
                except exceptions as exc:
                    CALLS.append(f"{func.__name__} attempt {attempt} failed: {exc}")
                    if attempt == times:
                        raise
        return wrapper
    return decorator


REGISTRY: dict[str, Callable] = {}


def register(func: Callable) -> Callable:
    """3. 注册型装饰器：不改函数，只把它记进字典 —— 官方 @register_tool 的骨架。"""
    REGISTRY[func.__name__] = func
    return func


@register
@timed
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


_flaky_state = {"n": 0}


@register
@retry(times=3)
def flaky_lookup(key: str) -> str:
    """Fails twice, then works (to show retry)."""
    _flaky_state["n"] += 1
    if _flaky_state["n"] < 3:
        raise ValueError("service busy")
    return f"value of {key}"


def run_steps(steps: list[tuple[str, dict]], on_step: Callable[[str, object], None]) -> list:
    """4. 回调：循环只负责调用工具，每一步的结果交给调用者传进来的 on_step 处理。"""
    results = []
    for name, kwargs in steps:
        value = REGISTRY[name](**kwargs)
        on_step(name, value)
        results.append(value)
    return results


@dataclass
class Config:
    a: int = arg(2, "first number for add()")
    b: int = arg(40, "second number for add()")


def main(cfg: Config) -> dict:
    CALLS.clear()
    _flaky_state["n"] = 0
    print("1-3. registered by decorators:", {k: v.__doc__ for k, v in REGISTRY.items()})
    print("     add.__name__ after two decorators:", add.__name__, "(functools.wraps kept it)")
    seen: list[str] = []

    def printer(name: str, value: object) -> None:      # the callback
        line = f"callback: {name} -> {value!r}"
        seen.append(line)
        print("4.", line)

    results = run_steps([("add", {"a": cfg.a, "b": cfg.b}), ("flaky_lookup", {"key": "k1"})], printer)
    print("what the decorators recorded:")
    for line in CALLS:
        print("   ", line)
    return {"registered": list(REGISTRY), "results": results, "callbacks": seen, "decorator_log": list(CALLS)}


if __name__ == "__main__":
    run(main, Config, __doc__)
