"""load_model(..., kernels="fast") / --cpu-kernels fast: fbgemm's CPU kernels (issue "CPU decoding as fast as
llama.cpp"). Equivalence with today's path (the same precision, plain kernels) on a tiny official-format checkpoint
and on the demo model. Stated tolerances (max |logit difference| / max |logit|, lowest cosine per position):

* bf16 / fp16 fast (native gemv for one-token calls, fp32 sums): <= 1 %, >= 0.9999 — rounding only;
* int8 fast (int8 activations per token):     <= 10 %, >= 0.99;
* int4 fast (int4 blocks as before, the output layer int8 with per-token activations): <= 10 %, >= 0.99.

Greedy ids must be the same as the plain path's on both models.
"""
from __future__ import annotations

import pytest
import torch

from common.chatglm3 import load_model, load_tokenizer
from common.cpu_kernels import (DecodeGemvLinear, Int8DynamicLinear, KernelsError, fbgemm_available,
                                use_fast_kernels)
from common.paths import DEMO_MODEL_DIR
from common.quant import Int4WeightOnlyLinear, Int8WeightOnlyLinear

pytestmark = pytest.mark.skipif(not fbgemm_available(), reason="this PyTorch build has no fbgemm (not x86)")

TOLERANCE = {"bf16": (0.01, 0.9999), "fp16": (0.01, 0.9999), "int8": (0.10, 0.99), "int4": (0.10, 0.99)}
FAST_LAYER = {"bf16": DecodeGemvLinear, "fp16": DecodeGemvLinear, "int8": Int8DynamicLinear,
              "int4": Int4WeightOnlyLinear}
FAST_OUTPUT = {**FAST_LAYER, "int4": Int8DynamicLinear}


def greedy(model, ids, n=24):
    with torch.inference_mode():
        return model.generate(ids, max_new_tokens=n, do_sample=False, top_p=None, temperature=None,
                              top_k=None)[0].tolist()


@pytest.mark.parametrize("precision", ["bf16", "fp16", "int8", "int4"])
def test_fast_kernels_match_the_plain_path_on_a_tiny_checkpoint(tiny_ckpt, tiny_tokenizer, precision,
                                                                 one_torch_thread):
    plain = load_model(tiny_ckpt, precision, verbose=False)
    fast = load_model(tiny_ckpt, precision, verbose=False, kernels="fast")
    layer = fast.model.layers[0].mlp.down_proj
    assert isinstance(layer, FAST_LAYER[precision]), type(layer)
    assert isinstance(fast.lm_head, FAST_OUTPUT[precision])         # the output layer is fast too
    assert fast.load_report["kernels"] == "fast" and plain.load_report["kernels"] == "plain"
    swapped = fast.load_report["fast_kernels"]
    assert len(swapped) == len(set(swapped)) and "lm_head" in swapped   # each layer once
    ids = tiny_tokenizer.build_chat_input("你好，介绍一下这本书")["input_ids"]
    with torch.inference_mode():
        a, b = plain(ids).logits.float(), fast(ids).logits.float()
    rel, min_cos = TOLERANCE[precision]
    assert (a - b).abs().max() <= rel * a.abs().max()
    assert torch.nn.functional.cosine_similarity(a, b, dim=-1).min() >= min_cos
    assert greedy(plain, ids, 12) == greedy(fast, ids, 12)


@pytest.mark.parametrize("precision", ["bf16", "int8", "int4"])
def test_fast_kernels_same_greedy_answer_on_the_demo_model(precision, one_torch_thread):
    tok = load_tokenizer(DEMO_MODEL_DIR)
    ids = tok.build_chat_input("你好，介绍一下你自己")["input_ids"]
    answers = [greedy(load_model(DEMO_MODEL_DIR, precision, verbose=False, kernels=k), ids, 32)
               for k in ("plain", "fast")]
    assert answers[0] == answers[1]


def test_decode_gemv_linear_is_the_same_layer_and_product():
    torch.manual_seed(0)
    lin = torch.nn.Linear(96, 40, bias=True).to(torch.bfloat16)
    fast = DecodeGemvLinear.from_linear(lin)
    assert fast.weight is lin.weight and fast.bias is lin.bias        # shared parameters, nothing copied
    assert isinstance(fast, torch.nn.Linear)
    for shape in ((1, 1, 96), (1, 96), (3, 5, 96)):                  # one token (native gemv) and a prompt (oneDNN)
        x = torch.randn(*shape, dtype=torch.bfloat16)
        with torch.inference_mode():
            ref = torch.nn.functional.linear(x.float(), lin.weight.float(), lin.bias.float())
            y = fast(x)
        assert y.shape == (*shape[:-1], 40) and y.dtype == torch.bfloat16
        assert (y.float() - ref).abs().max() <= 0.01 * ref.abs().max()
    assert torch._C._get_mkldnn_enabled()                              # the switch is put back


def test_int8_activations_are_scaled_per_token():
    """Rows of very different size keep their own accuracy (a single scale for the whole batch would flatten the
    small rows to zero: this test fails with per-tensor activation scales)."""
    torch.manual_seed(0)
    w = torch.randn(64, 128) * 0.05
    ref_layer = Int8WeightOnlyLinear(w, None, compute_dtype=torch.float32)
    fast = Int8DynamicLinear.from_weight_only(ref_layer)
    x = torch.randn(6, 128) * torch.logspace(-3, 2, 6)[:, None]
    with torch.inference_mode():
        ref, y = x @ ref_layer.dequantize().t(), fast(x)
    cos = torch.nn.functional.cosine_similarity(y, ref, dim=-1)
    assert cos.min() >= 0.999, cos


def test_fast_kernels_weights_are_counted(tiny_ckpt):
    """The benchmark's bytes-per-token column counts the packed int8 weights (not parameters or buffers)."""
    fast = load_model(tiny_ckpt, "int8", verbose=False, kernels="fast")
    layer = fast.model.layers[0].self_attn.o_proj
    assert layer.weight_nbytes == layer.in_features * layer.out_features        # one byte per int8 weight


@pytest.mark.parametrize("precision,device", [("fp32", "cpu"), ("nf4", "cpu")])
def test_fast_kernels_refuse_what_they_do_not_cover(tiny_ckpt, precision, device):
    with pytest.raises(KernelsError, match="--cpu-kernels plain"):
        load_model(tiny_ckpt, precision, device, verbose=False, kernels="fast")
    with pytest.raises(ValueError, match="kernels must be one of"):
        load_model(tiny_ckpt, "bf16", verbose=False, kernels="turbo")


def test_fast_kernels_refuse_a_model_off_the_cpu():
    holder = torch.nn.Sequential(torch.nn.Linear(8, 8, device="meta", dtype=torch.bfloat16))
    with pytest.raises(ValueError, match="on the CPU"):
        use_fast_kernels(holder)


def test_the_flag_reaches_the_loader_and_the_langchain_model(tiny_ckpt):
    from dataclasses import dataclass

    from common.cli import GenerationArgs, ModelArgs, model_from_args
    from common.langchain_chatglm3 import ChatGLM3ChatModel

    @dataclass
    class Cfg(ModelArgs, GenerationArgs):
        pass

    model, _ = model_from_args(Cfg(model=str(tiny_ckpt), precision="bf16", cpu_kernels="fast"), quiet=True)
    assert model.load_report["kernels"] == "fast"
    chat = ChatGLM3ChatModel(model_path=str(tiny_ckpt), precision="bf16", cpu_kernels="fast", quiet=True,
                             max_new_tokens=3, temperature=0)
    loaded, _ = chat.model_and_tokenizer()
    assert loaded.load_report["kernels"] == "fast"
    assert isinstance(chat.invoke("你好").content, str)


def test_infer_lora_asks_for_the_plain_kernels():
    from common.cli import UserError
    from tests.test_ch02_env import load_script

    mod = load_script("ch10_finetune/infer_lora.py")
    with pytest.raises(UserError, match="--cpu-kernels plain"):
        mod.main(mod.Config(cpu_kernels="fast", precision="bf16"))


@pytest.mark.parametrize("precision", ["bf16", "int8", "int4"])
def test_fast_kernels_on_a_native_glm_folder(tiny_ckpt, tmp_path, precision):
    """A folder written by transformers (model_type glm, e.g. from convert_checkpoint.py) gets the same layers."""
    load_model(tiny_ckpt, "fp32", verbose=False).save_pretrained(tmp_path)
    fast = load_model(tmp_path, precision, verbose=False, kernels="fast")
    assert isinstance(fast.model.layers[0].mlp.down_proj, FAST_LAYER[precision])
    assert isinstance(fast.lm_head, FAST_OUTPUT[precision])
    plain = load_model(tmp_path, precision, verbose=False)
    ids = torch.tensor([[5, 6, 7, 8, 9]])
    with torch.inference_mode():
        a, b = plain(ids).logits.float(), fast(ids).logits.float()
    assert torch.nn.functional.cosine_similarity(a, b, dim=-1).min() >= TOLERANCE[precision][1]


def test_freed_memory_goes_back_to_the_system():
    """After the fast layers replaced the old ones, load_model trims the heap (glibc); a no-op elsewhere."""
    import sys

    from common.memory import release_free_memory, rss_bytes

    blocks = [bytearray(64 * 1024) for _ in range(4000)]   # ~256 MiB in heap-sized blocks (not mmap'd)
    pin = bytearray(64 * 1024)                              # above them: free() alone cannot shrink the heap
    before = rss_bytes()
    del blocks
    trimmed = release_free_memory()
    del pin
    if sys.platform.startswith("linux"):
        assert trimmed and rss_bytes() < before - 100 * 2**20
    else:
        assert trimmed is False
