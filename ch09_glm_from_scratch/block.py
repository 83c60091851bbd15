"""9.2.1 调整架构顺序的GLMBlock — one ChatGLM3 layer: pre-norm RMSNorm, residuals, attention, SwiGLU MLP.

The original Transformer normalises AFTER adding the residual ("post-norm"); GLM moved the norm to the input of
each sub-layer ("pre-norm"), which keeps deep stacks trainable:
    h = x + self_attention(input_layernorm(x))
    y = h + mlp(post_attention_layernorm(h))
RMSNorm drops LayerNorm's mean subtraction and bias: ``x / sqrt(mean(x²) + eps) * weight`` (computed in fp32).

Run:  python ch09_glm_from_scratch/block.py   (prints a ChatGLM3-6B layer's parameters and a pre/post-norm test)
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

if __package__ in (None, ""):
    import sys  # run as a script (`python chNN/x.py`): make the repository importable
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ch09_glm_from_scratch.attention import KVCache, SelfAttention
from common.cli import arg
from ch09_glm_from_scratch.glu import MLP


class RMSNorm(nn.Module):
    """Root-mean-square norm with a learned per-channel ``weight`` (no bias, no mean subtraction)."""

    def __init__(self, hidden_size: int, eps: float = 1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        input_dtype = x.dtype
        variance = x.float().pow(2).mean(-1, keepdim=True)  # 半精度下平方和容易溢出：用 fp32 算
        x = x.float() * torch.rsqrt(variance + self.eps)
        return self.weight * x.to(input_dtype)


class GLMBlock(nn.Module):
    """One transformer layer of ChatGLM3 (``transformer.encoder.layers.N``)."""

    def __init__(self, config, layer_number: int = 1):
        super().__init__()
        self.layer_number = layer_number
        self.input_layernorm = RMSNorm(config.hidden_size, config.layernorm_epsilon)
        self.self_attention = SelfAttention(config, layer_number)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.layernorm_epsilon)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor | None = None,
                kv_cache: KVCache | None = None) -> tuple[torch.Tensor, KVCache]:
        attn_out, kv_cache = self.self_attention(self.input_layernorm(x), cos, sin, mask, kv_cache)
        h = x + attn_out                                     # 残差 1：先归一化、再注意力、再相加
        y = h + self.mlp(self.post_attention_layernorm(h))   # 残差 2
        return y, kv_cache


@dataclass
class BlockDemoConfig:
    seq_len: int = arg(8, "tokens in the small demo input")
    seed: int = arg(0, "random seed")


def main(cfg: BlockDemoConfig | None = None) -> dict:
    """Show a ChatGLM3-6B layer's parameters (meta device) and run a small random stack."""
    from ch09_glm_from_scratch.config import ChatGLMConfig
    from ch09_glm_from_scratch.mask import attention_mask_4d
    from ch09_glm_from_scratch.rope import RotaryEmbedding

    cfg = cfg or BlockDemoConfig()
    torch.manual_seed(cfg.seed)
    with torch.device("meta"):  # 只要形状，不分配 6B 模型的内存
        layer = GLMBlock(ChatGLMConfig.chatglm3_6b())
    total = 0
    print("ChatGLM3-6B, transformer.encoder.layers.N:")
    for name, p in layer.named_parameters():
        total += p.numel()
        print(f"  {name:<45s} {str(list(p.shape)):<14s} {p.numel() / 1e6:8.2f} M")
    print(f"  one layer: {total / 1e6:.1f} M parameters; 28 layers: {28 * total / 1e9:.2f} B")

    # 小模型：残差通路。把两个子层的输出矩阵清零后，pre-norm 的块正好是恒等映射，post-norm 则不是
    conf = ChatGLMConfig(hidden_size=64, num_attention_heads=4, kv_channels=16, ffn_hidden_size=172)
    block = GLMBlock(conf)
    rope = RotaryEmbedding(conf.kv_channels)
    x = 3 * torch.randn(1, cfg.seq_len, conf.hidden_size)
    cos, sin = rope(torch.arange(cfg.seq_len))
    mask = attention_mask_4d(cfg.seq_len)
    with torch.no_grad():
        y, cache = block(x, cos, sin, mask)
        print(f"\nsmall block: x {list(x.shape)} -> y {list(y.shape)}, KV cache k {list(cache[0].shape)}")
        norm = block.input_layernorm(x)
        print(f"RMSNorm: RMS of x = {x.pow(2).mean().sqrt():.3f}; after input_layernorm = "
              f"{norm.pow(2).mean(-1).sqrt().mean():.3f} (weight = 1 at init)")
        block.self_attention.dense.weight.zero_()
        block.mlp.dense_4h_to_h.weight.zero_()
        pre = block(x, cos, sin, mask)[0]
        h = block.input_layernorm(x + block.self_attention(x, cos, sin, mask)[0])  # post-norm 的顺序
        post = block.post_attention_layernorm(h + block.mlp(h))
    identity_pre = bool(torch.equal(pre, x))
    identity_post = bool(torch.allclose(post, x))
    print("with both sub-layer outputs zeroed (what a fresh sub-layer adds is small):")
    print(f"  pre-norm  (GLM):                  y == x exactly: {identity_pre}")
    print(f"  post-norm (original Transformer): y == x: {identity_post} (every layer re-normalises the stream)")
    print("  pre-norm keeps a clean identity path from the embeddings to the last layer -> deep stacks train.")
    return {"layer_params": total, "identity_pre_norm": identity_pre, "identity_post_norm": identity_post}


if __name__ == "__main__":
    from common.cli import run

    run(main, BlockDemoConfig, __doc__)
