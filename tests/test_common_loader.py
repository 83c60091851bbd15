"""The official-checkpoint loader: same logits as an independent reference forward, every format and precision."""
from __future__ import annotations

import json

import pytest
import torch

from common.checkpoint import (CheckpointError, chatglm_state_dict_from_glm, convert_to_native,
                               glm_config_from_chatglm, iter_checkpoint_tensors, save_official_checkpoint,
                               weight_files)
from common.chatglm3 import load_model, load_tokenizer
from common.testing import make_tiny_checkpoint
from reference_chatglm3 import reference_greedy, reference_logits


def official(path):
    cfg = json.loads((path / "config.json").read_text())
    sd = dict(iter_checkpoint_tensors(weight_files(path)))
    return cfg, sd


@pytest.mark.parametrize("fmt,shards,extra", [
    ("safetensors", 1, {}),
    ("bin", 3, {}),                       # pytorch_model-0000k-of-00003.bin + index, like the official release
    ("safetensors", 2, {"rope_ratio": 50.0, "seq_length": 32768}),   # the 6B-32K config
])
def test_logits_match_reference(tmp_path, fmt, shards, extra):
    d = make_tiny_checkpoint(tmp_path / "m", fmt=fmt, shards=shards, seed=3, **extra)
    cfg, sd = official(d)
    tok = load_tokenizer(d)
    model = load_model(d, precision="fp32")
    ids = tok.build_chat_input("你好，北京今天天气怎么样？", history=[{"role": "system", "content": "You are ChatGLM3."}])
    ref = reference_logits(sd, cfg, ids["input_ids"][0])
    got = model(**ids).logits[0]
    assert (got - ref).abs().max().item() < 1e-4
    if extra:
        assert model.config.rope_parameters["rope_theta"] == pytest.approx(500000.0)


def test_greedy_generation_matches_reference(tiny_ckpt, tiny_model, tiny_tokenizer):
    cfg, sd = official(tiny_ckpt)
    ids = tiny_tokenizer.build_chat_ids("介绍一下你自己")
    ref = reference_greedy(sd, cfg, ids, 12)
    out = tiny_model.generate(torch.tensor([ids]), max_new_tokens=12, do_sample=False, eos_token_id=None,
                              min_new_tokens=12)
    assert out[0, len(ids):].tolist() == ref


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16", "int8", "int4"])
def test_every_precision_answers_on_cpu(tmp_path, precision):
    # hidden 128 / ffn 256 so every Linear fits the int4 kernel
    d = make_tiny_checkpoint(tmp_path / "m", hidden_size=128, ffn_hidden_size=256, kv_channels=32, seed=1)
    tok = load_tokenizer(d)
    ref = load_model(d, precision="fp32")
    model = load_model(d, precision=precision)
    ids = tok.build_chat_input("你好")
    a, b = ref(**ids).logits.float(), model(**ids).logits.float()
    rel = ((a - b).norm() / a.norm()).item()
    assert rel < {"fp32": 1e-6, "bf16": 0.02, "fp16": 0.01, "int8": 0.05, "int4": 0.3}[precision]
    if precision in ("int8", "int4"):
        rep = model.load_report
        assert len(rep["quantized"]) == 2 * 6 and not rep["kept"]   # q,k,v,o,gate_up,down in each of 2 layers
    out = model.generate(**ids, max_new_tokens=4, do_sample=False)
    assert out.shape[1] > ids["input_ids"].shape[1]


def test_int4_keeps_layers_the_kernel_cannot_take(tiny_ckpt, capsys):
    # hidden 40: q_proj/o_proj have 40 outputs, which the CPU int4 kernel cannot take (needs a multiple of 16)
    d = make_tiny_checkpoint(tiny_ckpt.parent / "odd", hidden_size=40, ffn_hidden_size=72, kv_channels=10,
                             num_attention_heads=4, seed=2)
    model = load_model(d, precision="int4")
    assert model.load_report["kept"], "layers with unsupported shapes must be reported"
    assert "stay bf16" in capsys.readouterr().err
    tok = load_tokenizer(d)
    model.generate(**tok.build_chat_input("hi"), max_new_tokens=2)


def test_bad_checkpoints_give_clear_errors(tmp_path):
    d = make_tiny_checkpoint(tmp_path / "m", fmt="bin", shards=2)
    (d / "pytorch_model-00002-of-00002.bin").unlink()
    with pytest.raises(CheckpointError, match="missing shard"):
        load_model(d)
    d2 = make_tiny_checkpoint(tmp_path / "m2")
    cfg = json.loads((d2 / "config.json").read_text())
    cfg["hidden_size"] = 128
    (d2 / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="different models"):
        load_model(d2)


def test_save_official_and_convert_native_round_trip(tmp_path, tiny_ckpt, tiny_model, tiny_tokenizer):
    out = save_official_checkpoint(tiny_model, tmp_path / "saved", tokenizer=tiny_tokenizer, max_shard_bytes=50_000)
    assert (out / "model.safetensors.index.json").is_file()
    cfg, sd = official(tiny_ckpt)
    cfg2, sd2 = official(out)
    assert cfg2["model_type"] == "chatglm" and cfg2["padded_vocab_size"] == cfg["padded_vocab_size"]
    for k, v in sd.items():
        if "inv_freq" not in k:
            assert torch.equal(v, sd2[k]), k
    native = convert_to_native(tiny_ckpt, tmp_path / "native", dtype=torch.float32)
    m2 = load_model(native)
    ids = tiny_tokenizer.build_chat_input("hello")
    assert torch.allclose(m2(**ids).logits, tiny_model(**ids).logits, atol=1e-5)
    from transformers import GlmForCausalLM
    assert isinstance(GlmForCausalLM.from_pretrained(native), GlmForCausalLM)


def test_config_mapping_of_the_real_6b():
    from common.checkpoint import CHATGLM3_6B_CONFIG

    cfg = {**CHATGLM3_6B_CONFIG, "torch_dtype": "float16"}
    g = glm_config_from_chatglm(cfg)
    assert (g.num_key_value_heads, g.head_dim, g.intermediate_size, g.vocab_size) == (2, 128, 13696, 65024)
    assert g.rope_parameters["partial_rotary_factor"] == 0.5 and g.rope_parameters["rope_theta"] == 10000.0
    g32 = glm_config_from_chatglm({**cfg, "rope_ratio": 50, "seq_length": 32768})
    assert g32.rope_parameters["rope_theta"] == 500000.0 and g32.max_position_embeddings == 32768
    with pytest.raises(CheckpointError):
        glm_config_from_chatglm({**cfg, "rmsnorm": False})


def test_state_dict_mapping_is_invertible(tiny_model):
    sd = tiny_model.state_dict()
    back = chatglm_state_dict_from_glm(sd)
    assert "transformer.encoder.layers.0.self_attention.query_key_value.weight" in back
    assert len([k for k in back if "query_key_value" in k]) == 2 * 2   # weight+bias per layer
