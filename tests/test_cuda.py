"""CUDA paths (bitsandbytes int8/int4, fp16, bf16) on a tiny checkpoint; skipped without an NVIDIA GPU."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.cuda


@pytest.mark.parametrize("precision", ["fp16", "bf16", "int8", "int4"])
def test_cuda_precisions_match_cpu(tmp_path, precision):
    from common.chatglm3 import chat, load_model, load_tokenizer
    from common.testing import make_tiny_checkpoint
    d = make_tiny_checkpoint(tmp_path / "m", hidden_size=128, ffn_hidden_size=256, kv_channels=32)
    tok = load_tokenizer(d)
    ref = load_model(d, precision="fp32", device="cpu")
    model = load_model(d, precision=precision, device="cuda")
    ids = tok.build_chat_input("你好")
    a = ref(**ids).logits.float()
    b = model(**ids.to("cuda")).logits.float().cpu()
    assert ((a - b).norm() / a.norm()).item() < {"fp16": 0.01, "bf16": 0.03, "int8": 0.1, "int4": 0.4}[precision]
    r, _ = chat(model, tok, "你好", max_new_tokens=4, do_sample=False)
    assert isinstance(r, str)
    if precision in ("int8", "int4"):                 # what PEFT's QLoRA preparation reads
        assert model.is_loaded_in_4bit == (precision == "int4") and model.is_loaded_in_8bit == (precision == "int8")
