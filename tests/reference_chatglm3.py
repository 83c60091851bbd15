"""An independent forward pass of the official ChatGLM3 model, written from its remote code's semantics and
working directly on the official tensors (no renaming, no transformers). Tests compare the runtime against it."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def rms_norm(x, w, eps):
    xf = x.float()
    return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype) * w


def rope_cache(seq, kv_channels, base):
    dim = kv_channels // 2                      # ChatGLM3 rotates half of each head
    theta = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float) / dim))
    idx = torch.arange(seq, dtype=torch.float)
    ang = torch.outer(idx, theta)
    return torch.stack([torch.cos(ang), torch.sin(ang)], dim=-1)   # [seq, dim/2, 2]


def apply_rope(x, cache):
    # x: [seq, heads, hn]; the official code works on adjacent pairs (x0, x1), (x2, x3) ...
    sq, nh, hn = x.shape
    rot = cache.shape[-2] * 2
    xr, xp = x[..., :rot], x[..., rot:]
    xs = xr.reshape(sq, nh, rot // 2, 2)
    c = cache[:sq].view(sq, 1, rot // 2, 2)
    out = torch.stack([xs[..., 0] * c[..., 0] - xs[..., 1] * c[..., 1],
                       xs[..., 1] * c[..., 0] + xs[..., 0] * c[..., 1]], dim=-1).flatten(2)
    return torch.cat([out, xp], dim=-1)


@torch.no_grad()
def reference_logits(sd: dict, cfg: dict, input_ids: torch.Tensor) -> torch.Tensor:
    """Logits [seq, vocab] for one sequence of ids."""
    h, L = cfg["hidden_size"], cfg["num_layers"]
    nh, hn = cfg["num_attention_heads"], cfg["kv_channels"]
    ng = cfg["multi_query_group_num"] if cfg.get("multi_query_attention") else nh
    eps = cfg["layernorm_epsilon"]
    base = 10000.0 * cfg.get("rope_ratio", 1.0)
    ids = input_ids.reshape(-1)
    seq = ids.shape[0]
    x = sd["transformer.embedding.word_embeddings.weight"][ids].float()
    cache = rope_cache(seq, hn, base)
    mask = torch.full((seq, seq), float("-inf")).triu(1)
    for i in range(L):
        p = f"transformer.encoder.layers.{i}."
        y = rms_norm(x, sd[p + "input_layernorm.weight"].float(), eps)
        qkv = y @ sd[p + "self_attention.query_key_value.weight"].float().t()
        if p + "self_attention.query_key_value.bias" in sd:
            qkv = qkv + sd[p + "self_attention.query_key_value.bias"].float()
        q, k, v = qkv.split([nh * hn, ng * hn, ng * hn], dim=-1)
        q = apply_rope(q.view(seq, nh, hn), cache)
        k = apply_rope(k.view(seq, ng, hn), cache)
        v = v.view(seq, ng, hn)
        rep = nh // ng                           # query heads 0..rep-1 share KV group 0, and so on
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        scores = torch.einsum("qhd,khd->hqk", q, k) / hn ** 0.5 + mask
        ctx = torch.einsum("hqk,khd->qhd", scores.softmax(-1), v).reshape(seq, nh * hn)
        x = x + ctx @ sd[p + "self_attention.dense.weight"].float().t()
        y = rms_norm(x, sd[p + "post_attention_layernorm.weight"].float(), eps)
        a, b = (y @ sd[p + "mlp.dense_h_to_4h.weight"].float().t()).chunk(2, dim=-1)
        x = x + (F.silu(a) * b) @ sd[p + "mlp.dense_4h_to_h.weight"].float().t()
    x = rms_norm(x, sd["transformer.encoder.final_layernorm.weight"].float(), eps)
    return x @ sd["transformer.output_layer.weight"].float().t()


def reference_greedy(sd, cfg, ids: list[int], n: int, stop: set[int] = frozenset()) -> list[int]:
    out = list(ids)
    for _ in range(n):
        nxt = int(reference_logits(sd, cfg, torch.tensor(out))[-1].argmax())
        out.append(nxt)
        if nxt in stop:
            break
    return out[len(ids):]
