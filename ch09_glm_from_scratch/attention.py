"""9.1.2 添加旋转位置编码的注意力机制 — ChatGLM3 self-attention with RoPE, multi-query groups and a KV cache.

What ChatGLM3-6B's ``self_attention`` does, step by step:
  1. one fused matrix ``query_key_value`` (with bias) gives, per token, 32 query heads but only 2 key/value
     heads ("multi-query attention" with 2 groups): rows [Q: 32×128 | K: 2×128 | V: 2×128] = 4608;
  2. RoPE rotates q and k (first half of each head, adjacent pairs — see rope.py);
  3. the KV cache keeps the rotated k and v of all earlier tokens, so generating a token only computes the new
     one; with 2 groups that cache is 16× smaller than with 32 full heads;
  4. query heads 0–15 share group 0, heads 16–31 group 1; scores = q·k / sqrt(128), causal mask, softmax (fp32);
  5. ``dense`` (no bias) mixes the heads back into the hidden size.
(The official code divides by sqrt(d)·layer_number and multiplies by layer_number again before the softmax —
"query_key_layer_scaling", a float16 overflow guard — so the net scale is 1/sqrt(head_dim).)

Run:  python ch09_glm_from_scratch/attention.py   (prints the checks, writes outputs/ch09/attention.png)
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

if __package__ in (None, ""):
    import sys  # run as a script (`python chNN/x.py`): make the repository importable
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import arg
from ch09_glm_from_scratch.rope import apply_rotary

KVCache = tuple[torch.Tensor, torch.Tensor]  # (k, v), each [batch, groups, seq_so_far, head_dim], after RoPE


class SelfAttention(nn.Module):
    """ChatGLM3 ``self_attention`` (parameter names as in the official checkpoint)."""

    def __init__(self, config, layer_number: int = 1):
        super().__init__()
        self.layer_number = layer_number
        self.num_heads = config.num_attention_heads
        self.num_groups = config.multi_query_group_num
        self.head_dim = config.kv_channels
        self.q_size = self.num_heads * self.head_dim
        self.kv_size = self.num_groups * self.head_dim
        self.query_key_value = nn.Linear(config.hidden_size, self.q_size + 2 * self.kv_size,
                                         bias=config.add_qkv_bias)
        self.dense = nn.Linear(self.q_size, config.hidden_size, bias=False)

    def forward(self, hidden_states: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                mask: torch.Tensor | None = None, kv_cache: KVCache | None = None
                ) -> tuple[torch.Tensor, KVCache]:
        """``hidden_states [b, s, hidden]``, RoPE ``cos/sin [s, head_dim/4]`` for the NEW positions,
        ``mask`` bool ``[b|1, 1, s, past+s]`` (True = attend; None = no mask), ``kv_cache`` from earlier steps.
        Returns the output ``[b, s, hidden]`` and the cache extended by these ``s`` tokens."""
        b, s, _ = hidden_states.shape
        q, k, v = self.query_key_value(hidden_states).split([self.q_size, self.kv_size, self.kv_size], dim=-1)
        q = q.view(b, s, self.num_heads, self.head_dim).transpose(1, 2)   # [b, 32, s, d]
        k = k.view(b, s, self.num_groups, self.head_dim).transpose(1, 2)  # [b, 2, s, d]
        v = v.view(b, s, self.num_groups, self.head_dim).transpose(1, 2)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        if kv_cache is not None:  # 把之前所有 token 的 k/v 接在前面
            k = torch.cat((kv_cache[0], k), dim=2)
            v = torch.cat((kv_cache[1], v), dim=2)
        new_cache = (k, v)
        context = scaled_dot_product(q, k, v, mask)                         # [b, 32, s, d]
        context = context.transpose(1, 2).reshape(b, s, self.q_size)
        return self.dense(context), new_cache


def expand_groups(kv: torch.Tensor, num_heads: int) -> torch.Tensor:
    """``[b, groups, t, d] -> [b, heads, t, d]``: head h uses group ``h // (heads // groups)`` (0–15 -> 0)."""
    return kv.repeat_interleave(num_heads // kv.shape[1], dim=1)


def scaled_dot_product(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None,
                       return_weights: bool = False):
    """softmax(q·kᵀ/sqrt(d) + mask) · v with grouped k/v; softmax in float32 like the official code."""
    k, v = expand_groups(k, q.shape[1]), expand_groups(v, q.shape[1])
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    if mask is not None:
        # 用 dtype 的最小值而不是 -inf：整行都被遮住（左侧 padding 的位置）时 softmax 仍是有限数
        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    weights = F.softmax(scores.float(), dim=-1).to(q.dtype)
    context = weights @ v
    return (context, weights) if return_weights else context


def kv_cache_bytes(num_layers: int, kv_heads: int, head_dim: int, tokens: int, bytes_per_value: int = 2) -> int:
    """Memory of a KV cache: layers × (k and v) × kv_heads × head_dim × tokens × bytes."""
    return num_layers * 2 * kv_heads * head_dim * tokens * bytes_per_value


@dataclass
class AttentionDemoConfig:
    hidden_size: int = arg(64, "hidden size of the small demo layer")
    num_attention_heads: int = arg(8, "query heads of the demo layer")
    multi_query_group_num: int = arg(2, "key/value groups of the demo layer")
    seq_len: int = arg(12, "tokens in the demo sequence")
    seed: int = arg(0, "random seed")
    plot: bool = arg(True, "write the PNG")


def main(cfg: AttentionDemoConfig | None = None) -> dict:
    """Run a small attention layer with and without a KV cache; print ChatGLM3-6B's sizes."""
    from ch09_glm_from_scratch.config import ChatGLMConfig
    from ch09_glm_from_scratch.mask import attention_mask_4d
    from ch09_glm_from_scratch.rope import RotaryEmbedding

    cfg = cfg or AttentionDemoConfig()
    torch.manual_seed(cfg.seed)
    head_dim = cfg.hidden_size // cfg.num_attention_heads
    conf = ChatGLMConfig(hidden_size=cfg.hidden_size, num_attention_heads=cfg.num_attention_heads,
                         multi_query_group_num=cfg.multi_query_group_num, kv_channels=head_dim)
    attn = SelfAttention(conf).eval()
    rope = RotaryEmbedding(head_dim)
    x = torch.randn(1, cfg.seq_len, cfg.hidden_size)

    # 一次算完整个序列
    with torch.no_grad():
        full, (k_all, v_all) = attn(x, *rope(torch.arange(cfg.seq_len)), attention_mask_4d(cfg.seq_len))
        # 逐个 token 增量计算，带 KV cache
        cache, steps = None, []
        for t in range(cfg.seq_len):
            out, cache = attn(x[:, t:t + 1], *rope(torch.tensor([t])), attention_mask_4d(1, past_len=t),
                              kv_cache=cache)
            steps.append(out)
    incremental = torch.cat(steps, dim=1)
    diff = float((full - incremental).abs().max())
    group_of_head = [h // (cfg.num_attention_heads // cfg.multi_query_group_num)
                     for h in range(cfg.num_attention_heads)]
    print(f"demo layer: hidden {cfg.hidden_size}, {cfg.num_attention_heads} query heads, "
          f"{cfg.multi_query_group_num} KV groups, head_dim {head_dim}")
    print(f"  query_key_value.weight {list(attn.query_key_value.weight.shape)} = "
          f"[Q {attn.q_size} | K {attn.kv_size} | V {attn.kv_size}] x hidden")
    print(f"  group used by each query head: {group_of_head}")
    print(f"  KV cache after {cfg.seq_len} tokens: k {list(cache[0].shape)}, v {list(cache[1].shape)}")
    print(f"  full sequence vs token-by-token with KV cache: max |diff| = {diff:.2e}")

    big = ChatGLMConfig.chatglm3_6b()
    mqa_params = big.hidden_size * (big.num_attention_heads + 2 * big.multi_query_group_num) * big.kv_channels
    mha_params = big.hidden_size * 3 * big.num_attention_heads * big.kv_channels
    print(f"\nChatGLM3-6B, one layer's query_key_value: MQA(2 groups) {mqa_params / 1e6:.1f} M params "
          f"vs full multi-head {mha_params / 1e6:.1f} M")
    print("KV cache in fp16 for the whole 28-layer model:")
    table = {}
    for tokens in (2048, 8192, 32768):
        mqa = kv_cache_bytes(big.num_layers, big.multi_query_group_num, big.kv_channels, tokens)
        mha = kv_cache_bytes(big.num_layers, big.num_attention_heads, big.kv_channels, tokens)
        table[tokens] = (mqa, mha)
        print(f"  {tokens:>6d} tokens: 2 KV groups {mqa / 2**20:8.0f} MiB   32 KV heads {mha / 2**20:8.0f} MiB")
    results = {"cache_vs_full_max_diff": diff, "group_of_head": group_of_head,
               "cache_shape": tuple(cache[0].shape), "kv_cache_bytes_6b": table}
    if cfg.plot:
        q = attn.query_key_value(x)[..., :attn.q_size].view(1, cfg.seq_len, -1, head_dim).transpose(1, 2)
        q = apply_rotary(q, *rope(torch.arange(cfg.seq_len)))
        _, weights = scaled_dot_product(q, k_all, v_all, attention_mask_4d(cfg.seq_len), return_weights=True)
        results["png"] = str(_plot(weights[0].detach(), group_of_head, big))
        print(f"picture: {results['png']}")
    return results


def _plot(weights, group_of_head, big):
    from common.paths import output_dir
    from common.plots import pyplot, save

    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    heads = [0, len(group_of_head) - 1]
    for ax, h in zip(axes[:2], heads):
        ax.imshow(weights[h].numpy(), cmap="viridis")
        ax.set_title(f"head {h} (KV group {group_of_head[h]}): softmax weights\n因果掩码：右上三角全为 0")
        ax.set_xlabel("key position")
        ax.set_ylabel("query position")
    ax = axes[2]
    tokens = torch.arange(0, 32769, 512)
    for kv_heads, label in [(big.num_attention_heads, "32 KV heads (multi-head)"),
                            (big.multi_query_group_num, "2 KV groups (ChatGLM3)")]:
        gib = [kv_cache_bytes(big.num_layers, kv_heads, big.kv_channels, int(t)) / 2**30 for t in tokens]
        ax.plot(tokens, gib, label=label)
    ax.set_xlabel("tokens in the context")
    ax.set_ylabel("GiB (fp16)")
    ax.set_title("ChatGLM3-6B KV cache size\n多查询注意力把缓存缩小 16 倍")
    ax.legend()
    return save(fig, output_dir("ch09") / "attention.png")


if __name__ == "__main__":
    from common.cli import run

    run(main, AttentionDemoConfig, __doc__)
