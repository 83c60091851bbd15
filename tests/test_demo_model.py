"""The committed demo model (data/models/chatglm3-demo): official layout, common loader, tool calls, FAQ, stopping.

Held-out values only: the cities and stock codes asked here are never seen in the demo model's training data
(``data/demo_model/slots.py`` sets them aside), and the question wordings are the evaluation templates.
"""
from __future__ import annotations

import json
import sys

import pytest

from common.paths import DEMO_MODEL_DIR, REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "data" / "demo_model"))

pytestmark = pytest.mark.skipif(not (DEMO_MODEL_DIR / "config.json").exists(),
                                reason="demo model not built: python data/demo_model/build.py")

GEN = {"do_sample": False, "max_new_tokens": 64}


@pytest.fixture(scope="module")
def demo():
    from common.chatglm3 import load_model, load_tokenizer

    return load_model(None, precision="fp32", device="cpu"), load_tokenizer(None)


def test_official_layout_and_size():
    cfg = json.loads((DEMO_MODEL_DIR / "config.json").read_text(encoding="utf-8"))
    assert cfg["model_type"] == "chatglm"
    assert cfg["multi_query_group_num"] == 2 and cfg["torch_dtype"] in ("float16", "bfloat16")
    assert (DEMO_MODEL_DIR / "tokenizer.model").exists()
    assert list(DEMO_MODEL_DIR.glob("*.safetensors"))
    total = sum(f.stat().st_size for f in DEMO_MODEL_DIR.iterdir() if f.is_file())
    assert total <= 30 * 2**20


def test_loads_through_common_loader(demo):
    from common.resolve import is_demo_model, resolve_model_path

    model, tok = demo
    assert type(model).__name__ == "GlmForCausalLM"
    assert is_demo_model(resolve_model_path(None))
    assert tok.get_command("<|observation|>") == tok.sp.vocab_size() + 8   # nine specials after the pieces


def test_heldout_city_tool_call(demo):
    from common.chatglm3 import chat
    from common.prompts import example_tools, tool_system_message
    from slots import split_cities

    model, tok = demo
    city = "宁波"
    assert city in split_cities()[1]                   # held out: never asked about in training
    history = [tool_system_message(example_tools("get_weather", "track"))]
    response, history = chat(model, tok, f"麻烦查一下{city}今天的天气", history=history, **GEN)
    assert response == {"name": "get_weather", "parameters": {"city_name": city}}
    assert history[-1]["metadata"] == "get_weather"


def test_heldout_stock_code_tool_call(demo):
    from common.chatglm3 import chat
    from common.prompts import example_tools, tool_system_message
    from slots import heldout_codes

    model, tok = demo
    code = "603601"
    assert code in heldout_codes()                     # held out: never asked about in training
    history = [tool_system_message(example_tools("track", "get_weather"))]
    response, _ = chat(model, tok, f"{code}目前股价多少", history=history, **GEN)
    assert response == {"name": "track", "parameters": {"symbol": code}}


def test_faq_answer_and_stop(demo):
    from common.chatglm3 import chat

    model, tok = demo
    limit = 128
    response, history = chat(model, tok, "怎么使用真实的ChatGLM3权重", do_sample=False, max_new_tokens=limit)
    assert "--model" in response and "CHATGLM3_MODEL" in response
    n_tokens = len(tok.encode(response, add_special_tokens=False))
    assert n_tokens < limit - 8                        # stopped on a stop token, not on the length limit
    greeting, _ = chat(model, tok, "你好", **GEN)
    assert "ChatGLM3" in greeting
