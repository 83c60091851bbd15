"""load_model(..., quantize_output=True): the output layer in int8/int4 too (opt-in; issue "CPU decoding as fast as
llama.cpp"). Stated tolerance against today's path (the same precision with a bf16 output layer), on a tiny
official-format checkpoint: int8 max |logit difference| <= 2 % of max |logit| and cosine >= 0.9995 per position;
int4 <= 15 % and cosine >= 0.99. On the demo model the greedy answer is the same token for token."""
from __future__ import annotations

import pytest
import torch

from common.chatglm3 import load_model, load_tokenizer
from common.paths import DEMO_MODEL_DIR
from common.quant import Int4WeightOnlyLinear, Int8WeightOnlyLinear

TOLERANCE = {"int8": (0.02, 0.9995), "int4": (0.15, 0.99)}  # (max |diff| / max |logit|, min cosine)


@pytest.fixture(scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("precision", ["int8", "int4"])
def test_quantized_output_layer_logits_within_tolerance(tiny_ckpt, tiny_tokenizer, precision, one_thread):
    today = load_model(tiny_ckpt, precision, verbose=False)
    fast = load_model(tiny_ckpt, precision, verbose=False, quantize_output=True)
    kind = Int8WeightOnlyLinear if precision == "int8" else Int4WeightOnlyLinear
    assert isinstance(fast.lm_head, kind) and "lm_head" in fast.load_report["quantized"]
    assert isinstance(today.lm_head, torch.nn.Linear) and today.lm_head.weight.dtype == torch.bfloat16
    ids = tiny_tokenizer.build_chat_input("你好，介绍一下这本书")["input_ids"]
    with torch.inference_mode():
        a, b = today(ids).logits.float(), fast(ids).logits.float()
    rel, min_cos = TOLERANCE[precision]
    assert (a - b).abs().max() <= rel * a.abs().max()
    assert torch.nn.functional.cosine_similarity(a, b, dim=-1).min() >= min_cos


@pytest.mark.parametrize("precision", ["int8", "int4"])
def test_quantized_output_layer_same_greedy_answer_on_the_demo_model(precision, one_thread):
    tok = load_tokenizer(DEMO_MODEL_DIR)
    ids = tok.build_chat_input("你好")["input_ids"]
    outs = []
    for quantize_output in (False, True):
        model = load_model(DEMO_MODEL_DIR, precision, verbose=False, quantize_output=quantize_output)
        with torch.inference_mode():
            outs.append(model.generate(ids, max_new_tokens=32, do_sample=False, top_p=None, temperature=None,
                                       top_k=None)[0].tolist())
    assert outs[0] == outs[1]


def test_quantize_output_is_a_cpu_int8_int4_option(tiny_ckpt):
    with pytest.raises(ValueError, match="int8/int4 on CPU"):
        load_model(tiny_ckpt, "bf16", verbose=False, quantize_output=True)
