"""Tier 3: the real ChatGLM3 weights (run with CHATGLM3_MODEL=/path/to/chatglm3-6b; skipped otherwise)."""
from __future__ import annotations

import os

import pytest

pytestmark = pytest.mark.real_model


@pytest.fixture(scope="module")
def real():
    from common.chatglm3 import load_model, load_tokenizer
    path = os.environ["CHATGLM3_MODEL"]
    return load_tokenizer(path), load_model(path, precision=os.environ.get("CHATGLM3_TEST_PRECISION", "bf16"))


def test_official_special_token_ids(real):
    tok, _ = real
    assert tok.sp.vocab_size() == 64789
    assert [tok.get_command(t) for t in ("[gMASK]", "sop", "<|user|>", "<|assistant|>", "<|observation|>")] == \
        [64790, 64792, 64795, 64796, 64797]
    assert tok.build_chat_input("你好")["input_ids"][0, :3].tolist() == [64790, 64792, 64795]


def test_greets_and_calls_a_tool(real):
    from common.chatglm3 import chat
    from common.prompts import example_tools, tool_system_message
    tok, model = real
    r, _ = chat(model, tok, "你好", do_sample=False, max_new_tokens=64)
    assert isinstance(r, str) and r
    r, _ = chat(model, tok, "帮我查询北京的天气", history=[tool_system_message(example_tools())], do_sample=False,
                max_new_tokens=64)
    assert isinstance(r, dict) and r["name"] == "get_weather" and "北京" in r["parameters"].get("city_name", "")
