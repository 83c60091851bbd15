"""Chapter 9.1 pieces: RoPE, attention with MQA + KV cache, GLU family, masks, GLMBlock, config (CPU, seconds)."""
from __future__ import annotations

import json

import pytest
import torch

from ch09_glm_from_scratch.attention import SelfAttention, expand_groups
from ch09_glm_from_scratch.block import GLMBlock, RMSNorm
from ch09_glm_from_scratch.config import ChatGLMConfig
from ch09_glm_from_scratch.glu import GatedMLP, GeluMLP, MLP
from ch09_glm_from_scratch.mask import (IGNORE_INDEX, attention_mask_4d, causal_mask, masked_labels,
                                        prefix_lm_mask, shift_for_next_token)
from ch09_glm_from_scratch.rope import RotaryEmbedding, apply_rotary, rope_cos_sin, rope_frequencies, rotate


SMALL = ChatGLMConfig(hidden_size=32, num_attention_heads=4, multi_query_group_num=2, kv_channels=8,
                      ffn_hidden_size=40, num_layers=2, padded_vocab_size=64)


# ------------------------------------------------------------------------------------------ 9.1.1 RoPE
def test_rope_relative_position_property():
    torch.manual_seed(0)
    q, k = torch.randn(2, 1, 1, 1, 16, dtype=torch.float64).unbind(0)
    scores = {}
    for m in range(12):
        for n in range(12):
            scores[m, n] = float((rotate(q, m) * rotate(k, n)).sum())  # fp32 angles
    for d in range(-11, 12):
        values = [v for (m, n), v in scores.items() if m - n == d]
        assert max(values) - min(values) < 1e-5


def test_rope_rotates_adjacent_pairs_of_first_half_only():
    x = torch.zeros(1, 1, 1, 16)
    x[..., 0] = 1.0
    x[..., 8:] = torch.arange(8.0)
    y = rotate(x, 1)
    assert torch.allclose(y[..., :2].flatten(), torch.tensor([torch.cos(torch.tensor(1.0)), torch.sin(torch.tensor(1.0))]))
    assert torch.equal(y[..., 2:8], torch.zeros(1, 1, 1, 6))      # other pairs of e0 stay 0
    assert torch.equal(y[..., 8:], x[..., 8:])                    # second half passes through


def test_rope_frequencies_use_rope_ratio():
    assert torch.allclose(rope_frequencies(64, rope_ratio=50.0), 1.0 / (500000.0 ** (torch.arange(0, 64, 2) / 64)))
    assert rope_frequencies(64).shape == (32,)


def test_rope_matches_transformers_glm():
    from transformers.models.glm.modeling_glm import apply_rotary_pos_emb

    torch.manual_seed(0)
    q, k = torch.randn(2, 2, 4, 7, 16).unbind(0)
    rope = RotaryEmbedding(16, rope_ratio=2.0)
    cos, sin = rope(torch.arange(7))
    full = torch.cat((cos, cos), -1)[None], torch.cat((sin, sin), -1)[None]  # transformers' layout
    q_ref, k_ref = apply_rotary_pos_emb(q, k, *full)
    assert torch.allclose(apply_rotary(q, cos, sin), q_ref, atol=1e-6)
    assert torch.allclose(apply_rotary(k, cos, sin), k_ref, atol=1e-6)


def test_rotary_embedding_ignores_official_inv_freq_on_load():
    rope = RotaryEmbedding(16)
    before = rope.inv_freq.clone()
    result = rope.load_state_dict({"inv_freq": torch.ones(4, dtype=torch.float16)}, strict=True)
    assert not result.unexpected_keys and torch.equal(rope.inv_freq, before)


# ------------------------------------------------------------------------------------------ 9.1.2 attention
def test_attention_shapes_groups_and_kv_cache():
    torch.manual_seed(0)
    attn = SelfAttention(SMALL).eval()
    assert attn.query_key_value.weight.shape == (4 * 8 + 2 * 2 * 8, 32)
    assert attn.query_key_value.bias is not None and attn.dense.bias is None
    rope = RotaryEmbedding(8)
    x = torch.randn(2, 6, 32)
    with torch.no_grad():
        full, (k, v) = attn(x, *rope(torch.arange(6)), attention_mask_4d(6))
        assert full.shape == (2, 6, 32) and k.shape == v.shape == (2, 2, 6, 8)
        out1, cache = attn(x[:, :4], *rope(torch.arange(4)), attention_mask_4d(4))
        out2, cache = attn(x[:, 4:], *rope(torch.arange(4, 6)), attention_mask_4d(2, past_len=4), kv_cache=cache)
    assert torch.allclose(torch.cat((out1, out2), 1), full, atol=1e-6)
    assert cache[0].shape == (2, 2, 6, 8)


def test_query_heads_share_kv_groups_in_blocks():
    kv = torch.arange(2.0).view(1, 2, 1, 1)
    assert expand_groups(kv, 32).flatten().tolist() == [0.0] * 16 + [1.0] * 16


def test_attention_is_causal():
    torch.manual_seed(0)
    attn = SelfAttention(SMALL).eval()
    rope = RotaryEmbedding(8)
    x = torch.randn(1, 6, 32)
    y = x.clone()
    y[:, 4:] = torch.randn(1, 2, 32)  # change only the future
    cos, sin = rope(torch.arange(6))
    with torch.no_grad():
        a, _ = attn(x, cos, sin, attention_mask_4d(6))
        b, _ = attn(y, cos, sin, attention_mask_4d(6))
    assert torch.equal(a[:, :4], b[:, :4]) and not torch.allclose(a[:, 4:], b[:, 4:])


# ------------------------------------------------------------------------------------------ 9.1.3 GLU
@pytest.mark.parametrize("kind", ["glu", "geglu", "swiglu"])
def test_gated_mlp_shapes_and_param_count(kind):
    mlp = GatedMLP(32, 48, kind)
    assert mlp.dense_h_to_4h.weight.shape == (96, 32) and mlp.dense_4h_to_h.weight.shape == (32, 48)
    assert sum(p.numel() for p in mlp.parameters()) == 3 * 32 * 48
    assert mlp(torch.randn(2, 3, 32)).shape == (2, 3, 32)


def test_chatglm_mlp_is_silu_gate_times_up():
    torch.manual_seed(0)
    mlp = MLP(SMALL)
    x = torch.randn(3, 32)
    w = mlp.dense_h_to_4h.weight
    gate, up = x @ w[:40].T, x @ w[40:].T  # first half of the rows = gate, second = up
    expected = (torch.nn.functional.silu(gate) * up) @ mlp.dense_4h_to_h.weight.T
    assert torch.allclose(mlp(x), expected, atol=1e-6)
    assert sum(p.numel() for p in GeluMLP(32, 128).parameters()) == 2 * 32 * 128


# ------------------------------------------------------------------------------------------ 9.1.4 masks
def test_causal_mask_and_kv_cache_rows():
    assert causal_mask(3).int().tolist() == [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    assert causal_mask(2, past_len=3).int().tolist() == [[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]]
    assert torch.equal(causal_mask(2, past_len=3), causal_mask(5)[3:])
    assert prefix_lm_mask(4, 2).int().tolist() == [[1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]]
    pad = torch.tensor([[0, 1, 1]])
    assert attention_mask_4d(3, padding_mask=pad)[0, 0].int().tolist() == [[0, 0, 0], [0, 1, 0], [0, 1, 1]]


def test_shifted_layout_and_sft_labels():
    ids = torch.tensor([10, 11, 12, 13])
    x, y = shift_for_next_token(ids)
    assert x.tolist() == [10, 11, 12] and y.tolist() == [11, 12, 13]
    assert masked_labels(ids, 2).tolist() == [IGNORE_INDEX, IGNORE_INDEX, 12, 13]


# ------------------------------------------------------------------------------------------ 9.2.1 block
def test_rmsnorm_and_block():
    x = torch.randn(2, 5, 32) * 7
    assert torch.allclose(RMSNorm(32)(x).pow(2).mean(-1), torch.ones(2, 5), atol=1e-4)
    block = GLMBlock(SMALL).eval()
    names = {n for n, _ in block.named_parameters()}
    assert names == {"input_layernorm.weight", "self_attention.query_key_value.weight",
                     "self_attention.query_key_value.bias", "self_attention.dense.weight",
                     "post_attention_layernorm.weight", "mlp.dense_h_to_4h.weight", "mlp.dense_4h_to_h.weight"}
    cos, sin = RotaryEmbedding(8)(torch.arange(5))
    with torch.no_grad():
        block.self_attention.dense.weight.zero_()
        block.mlp.dense_4h_to_h.weight.zero_()
        y, _ = block(x, cos, sin, attention_mask_4d(5))
    assert torch.equal(y, x)  # pre-norm: zeroed sub-layers leave the residual stream untouched


# ------------------------------------------------------------------------------------------ config
def test_config_roundtrip_and_official_dict(tmp_path):
    from common.testing import tiny_official_config

    official = tiny_official_config(600, rope_ratio=50)
    conf = ChatGLMConfig.from_dict(official)
    assert (conf.num_layers, conf.hidden_size, conf.multi_query_group_num, conf.rope_ratio) == (2, 64, 2, 50)
    assert conf.padded_vocab_size == official["padded_vocab_size"]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(conf.to_dict()))
    assert ChatGLMConfig.from_json_file(tmp_path) == conf
    assert ChatGLMConfig.from_dict({**official, "multi_query_attention": False}).multi_query_group_num == 4
    with pytest.raises(ValueError, match="add_bias_linear"):
        ChatGLMConfig.from_dict({**official, "add_bias_linear": True})
    six_b = ChatGLMConfig.chatglm3_6b()
    assert (six_b.num_layers, six_b.padded_vocab_size, six_b.ffn_hidden_size) == (28, 65024, 13696)
