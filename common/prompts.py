"""Prompts and tool schemas that several chapters share (one place to say them).

The tool system prompt and the two example tools are exactly the ones of the official ChatGLM3 demos
(``get_weather`` from the tool-use demo, ``track`` from the README), so that what the demo model learned
and what the real ChatGLM3-6B was trained on use the same words.
"""
from __future__ import annotations

import copy

# 官方工具调用系统提示词（一字不差）
TOOL_SYSTEM_PROMPT = (
    "Answer the following questions as best as you can. You have access to the following tools:"
)

# 官方 README 中的普通系统提示词
DEFAULT_SYSTEM_PROMPT = (
    "You are ChatGLM3, a large language model trained by Zhipu.AI. "
    "Follow the user's instructions carefully. Respond using markdown."
)

GET_WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Get the current weather for `city_name`",
    "parameters": {
        "type": "object",
        "properties": {
            "city_name": {"description": "The name of the city to be queried", "type": "string"}
        },
        "required": ["city_name"],
    },
}

TRACK_TOOL = {
    "name": "track",
    "description": "追踪指定股票的实时价格",
    "parameters": {
        "type": "object",
        "properties": {"symbol": {"description": "需要追踪的股票代码"}},
        "required": ["symbol"],
    },
}


def example_tools(*names: str) -> list[dict]:
    """Deep copies of the official example tools, in the order asked (default: get_weather, track)."""
    table = {"get_weather": GET_WEATHER_TOOL, "track": TRACK_TOOL}
    names = names or ("get_weather", "track")
    return [copy.deepcopy(table[n]) for n in names]


def tool_system_message(tools: list[dict]) -> dict:
    """The history item that announces tools, as the official demos build it."""
    return {"role": "system", "content": TOOL_SYSTEM_PROMPT, "tools": copy.deepcopy(tools)}
