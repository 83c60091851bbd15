"""Offline stand-ins for the official example tools (``get_weather``, ``track``).

They return deterministic, clearly fake data (derived from a hash of the argument), so tool round trips can be
shown and tested without any network service. Replace them with real APIs in your own project.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Callable

WEATHERS = ["晴", "多云", "阴", "小雨", "雷阵雨", "小雪"]


def _h(text: str) -> int:
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:8], 16)


def get_weather(city_name: str) -> dict:
    """Fake current weather for ``city_name`` (deterministic)."""
    if not isinstance(city_name, str) or not city_name.strip():
        raise ValueError("city_name must be a non-empty string")
    h = _h(city_name)
    return {"city": city_name, "weather": WEATHERS[h % len(WEATHERS)], "temperature": f"{h % 35 - 5}℃",
            "humidity": f"{30 + h % 60}%", "source": "demo (fake data)"}


def track(symbol: str) -> dict:
    """Fake real-time price of the stock ``symbol`` (deterministic)."""
    if not isinstance(symbol, (str, int)) or not str(symbol).strip():
        raise ValueError("symbol must be a non-empty stock code")
    h = _h(str(symbol))
    return {"symbol": str(symbol), "price": round(5 + (h % 200000) / 100, 2),
            "change": f"{((h >> 8) % 2001 - 1000) / 100:+.2f}%", "source": "demo (fake data)"}


# the functions behind the tools (ch03_gradio.server.chat_client.DEMO_TOOLS is the list of their schemas)
DEMO_TOOL_FUNCTIONS: dict[str, Callable[..., dict]] = {"get_weather": get_weather, "track": track}


def call_demo_tool(name: str, parameters: dict[str, Any]) -> str:
    """Run a demo tool and return its JSON observation; errors come back as JSON text, never as a crash."""
    fn = DEMO_TOOL_FUNCTIONS.get(name)
    if fn is None:
        return json.dumps({"error": f"unknown tool {name!r}"}, ensure_ascii=False)
    try:
        return json.dumps(fn(**(parameters or {})), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        return json.dumps({"error": f"{name}: {exc}"}, ensure_ascii=False)
