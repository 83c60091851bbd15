"""chat / stream_chat / process_response: official semantics, streamed tool calls, never executing output."""
from __future__ import annotations

import time
import warnings

import pytest
import torch
from transformers import LogitsProcessor, LogitsProcessorList

from common.chatglm3 import chat, process_response, stream_chat
from common.prompts import example_tools, tool_system_message
from common.toolcall import ToolCallError, fenced_tool_call, format_tool_call, parse_tool_call


class Script(LogitsProcessor):
    """Forces the model to write a given token sequence (to test the plumbing with random weights)."""

    def __init__(self, ids, prompt_len):
        self.ids, self.prompt_len = ids, prompt_len

    def __call__(self, input_ids, scores):
        step = input_ids.shape[1] - self.prompt_len
        forced = torch.full_like(scores, -1e9)
        forced[:, self.ids[min(step, len(self.ids) - 1)]] = 0.0
        return forced


def scripted(tok, history, query, text_ids, role="user"):
    plen = len(tok.build_chat_ids(query, history, role))
    return LogitsProcessorList([Script(text_ids, plen)])


def test_chat_greedy_and_history(tiny_model, tiny_tokenizer):
    r1, h1 = chat(tiny_model, tiny_tokenizer, "你好", max_new_tokens=8, do_sample=False)
    r2, _ = chat(tiny_model, tiny_tokenizer, "你好", max_new_tokens=8, temperature=0)
    assert isinstance(r1, str) and r1 == r2
    assert h1[0] == {"role": "user", "content": "你好"} and h1[1]["role"] == "assistant"


def test_stop_token_ends_the_turn(tiny_model, tiny_tokenizer):
    t = tiny_tokenizer
    ids = t.sp.encode("你好") + [t.get_command("<|user|>")]
    lp = scripted(t, None, "hi", ids)
    r, h = chat(tiny_model, t, "hi", max_new_tokens=50, logits_processor=lp, do_sample=False)
    assert r == "你好" and h[-1]["content"] == "你好"


def test_stream_chat_streams_a_tool_call(tiny_model, tiny_tokenizer):
    t = tiny_tokenizer
    history = [tool_system_message(example_tools("get_weather"))]
    text_ids = t.sp.encode("get_weather\n") + t.sp.encode(fenced_tool_call({"city_name": "北京"})) + [2]
    lp = scripted(t, history, "北京天气如何", text_ids)
    items = list(stream_chat(tiny_model, t, "北京天气如何", history=history, max_new_tokens=80,
                             logits_processor=lp, do_sample=False))
    partial = [r for r, _ in items[:-1] if isinstance(r, dict) and "content" in r]
    assert partial and partial[0]["name"] == "get_weather"          # the call streams while being written
    final, hist = items[-1]
    assert final == {"name": "get_weather", "parameters": {"city_name": "北京"}}
    assert hist[-1]["metadata"] == "get_weather"
    r, _ = chat(tiny_model, t, "北京天气如何", history=history, max_new_tokens=80,
                logits_processor=scripted(t, history, "北京天气如何", text_ids), do_sample=False)
    assert r == final


def test_stream_chat_final_equals_chat(tiny_model, tiny_tokenizer):
    r, _ = chat(tiny_model, tiny_tokenizer, "讲个笑话", max_new_tokens=10, do_sample=False)
    last = None
    for last, _ in stream_chat(tiny_model, tiny_tokenizer, "讲个笑话", max_new_tokens=10, do_sample=False):
        pass
    assert last == r


def test_closing_a_stream_stops_generation(tiny_model, tiny_tokenizer):
    gen = stream_chat(tiny_model, tiny_tokenizer, "你好", max_new_tokens=2000, do_sample=False)
    next(gen)
    t0 = time.time()
    gen.close()
    assert time.time() - t0 < 5


def test_process_response_official_cases():
    hist = [tool_system_message(example_tools())]
    c, h = process_response("\n 你好！", [])
    assert c == "你好！" and h == [{"role": "assistant", "metadata": "", "content": "你好！"}]
    c, h = process_response("track\n ```python\ntool_call(symbol='600519')\n```", hist)
    assert c == {"name": "track", "parameters": {"symbol": "600519"}}
    c, h = process_response("interpreter\n```python\nprint(1)\n```", [])
    assert c == {"name": "interpreter", "content": "```python\nprint(1)\n```"}
    c, h = process_response("get_weather\n```python\ntool_call(city_name='北京')\n```<|assistant|>\n好的", hist)
    assert c == "好的" and [m["metadata"] for m in h[1:]] == ["get_weather", ""]
    c, _ = process_response("\n[[训练时间]]", [])
    assert c == "2023年"


HOSTILE = [
    "tool_call(city_name=__import__('os').system('touch {marker}'))",
    "__import__('os').system('touch {marker}')",
    "tool_call(**{{'a': open('{marker}', 'w')}})",
    "tool_call(x=(lambda: open('{marker}', 'w'))())",
    "tool_call(x=[c for c in ().__class__.__base__.__subclasses__()])",
    "tool_call(x='a' * 10**9)",
    "tool_call(x=" + "[" * 5000 + "]" * 5000 + ")",
    "tool_call(x=" + "-" * 50000 + "1)",
    "tool_call(" * 40000,
]


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_tool_calls_never_run(tmp_path, payload):
    marker = tmp_path / "pwned"
    text = "get_weather\n```python\n" + payload.format(marker=marker) + "\n```"
    hist = [tool_system_message(example_tools())]
    t0 = time.time()
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        content, _ = process_response(text, hist)
    assert time.time() - t0 < 2
    assert isinstance(content, str)          # returned as text, not as a call
    assert not marker.exists()


def test_literal_parser_accepts_literals_only():
    assert parse_tool_call("tool_call(a='x', b=-1.5, c=[1, (2, 3)], d={'k': None}, e=True, f=null)") == \
        {"a": "x", "b": -1.5, "c": [1, [2, 3]], "d": {"k": None}, "e": True, "f": None}
    for bad in ["tool_call('positional')", "tool_call(a=b)", "tool_call(a=1+2)", "print(a=1)", "tool_call(a=1, a=2)",
                "tool_call(a=f'{x}')", "tool_call(a=x.y)"]:
        with pytest.raises(ToolCallError):
            parse_tool_call(bad)
    params = {"city_name": "北京", "days": 3, "tags": ["a"]}
    assert format_tool_call(params) == "tool_call(city_name='北京', days=3, tags=['a'])"
    assert parse_tool_call(fenced_tool_call(params)) == params
