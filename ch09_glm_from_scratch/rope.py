"""9.1.1 旋转位置编码 (RoPE) — exactly as ChatGLM3 applies it.

ChatGLM3's flavour of RoPE, in three facts:
  * only the FIRST HALF of each head's dimensions is rotated (64 of 128); the second half passes through;
  * the rotated dimensions are taken as ADJACENT pairs (x0,x1), (x2,x3), ... (GPT-J style, not Llama's
    "first half / second half" pairing); pair i turns by the angle  position * theta_i  with
    theta_i = 1 / (base ** (2i / rotary_dim)),  base = 10000 * rope_ratio  (rope_ratio 50 for the 32K model);
  * positions are simply 0, 1, 2, ... (ChatGLM-6B v1's 2-D positions are gone).

Because a rotation by m followed by the inverse rotation by n is a rotation by m - n, the attention score
``rope(q, m) · rope(k, n)`` depends on the positions only through ``m - n``: the demo checks that numerically.

Run:  python ch09_glm_from_scratch/rope.py      (prints the checks, writes outputs/ch09/rope.png)
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

if __package__ in (None, ""):
    import sys  # run as a script (`python chNN/x.py`): make the repository importable
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import arg


def rope_frequencies(rotary_dim: int, rope_ratio: float = 1.0, base: float = 10000.0) -> torch.Tensor:
    """``theta_i = 1 / (base*rope_ratio) ** (2i / rotary_dim)`` for the ``rotary_dim // 2`` pairs (float32)."""
    exponents = torch.arange(0, rotary_dim, 2, dtype=torch.float32) / rotary_dim
    return 1.0 / ((base * rope_ratio) ** exponents)


def rope_cos_sin(positions: torch.Tensor, inv_freq: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin of the angles ``position * theta_i``: shape ``positions.shape + (rotary_dim // 2,)``, float32."""
    angles = positions.to(torch.float32)[..., None] * inv_freq.to(positions.device)
    return angles.cos(), angles.sin()


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate the first ``2 * cos.shape[-1]`` dims of ``x`` in adjacent pairs; keep the rest unchanged.

    ``x``: ``[batch, heads, seq, head_dim]``; ``cos``/``sin``: ``[seq, pairs]`` or ``[batch, seq, pairs]``.
    """
    rotary_dim = 2 * cos.shape[-1]
    x_rot, x_pass = x[..., :rotary_dim], x[..., rotary_dim:]
    if cos.dim() == 3:  # 每个样本自己的位置：在 heads 维上广播
        cos, sin = cos[:, None], sin[:, None]
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    x0, x1 = x_rot[..., 0::2], x_rot[..., 1::2]  # 相邻两维组成一对 (x0,x1),(x2,x3),...
    rotated = torch.stack((x0 * cos - x1 * sin, x1 * cos + x0 * sin), dim=-1).flatten(-2)
    return torch.cat((rotated, x_pass), dim=-1)


class RotaryEmbedding(nn.Module):
    """Holds ``inv_freq`` for one head size; ``forward(positions) -> (cos, sin)``.

    The official checkpoint stores ``transformer.rotary_pos_emb.inv_freq`` (in half precision); like the official
    code we always recompute it in float32, so that key is dropped on ``load_state_dict``.
    """

    def __init__(self, head_dim: int, rope_ratio: float = 1.0, base: float = 10000.0):
        super().__init__()
        self.rotary_dim = head_dim // 2  # ChatGLM3：每个头只旋转前一半维度
        self.rope_ratio, self.base = rope_ratio, base
        self.register_buffer("inv_freq", rope_frequencies(self.rotary_dim, rope_ratio, base), persistent=False)

    def reset(self, device=None) -> None:
        """Recompute ``inv_freq`` (after building the model on the meta device, buffers hold no values)."""
        self.inv_freq = rope_frequencies(self.rotary_dim, self.rope_ratio, self.base).to(device)

    def forward(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return rope_cos_sin(positions, self.inv_freq)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        state_dict.pop(prefix + "inv_freq", None)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


def rotate(x: torch.Tensor, position: int | torch.Tensor, rope_ratio: float = 1.0) -> torch.Tensor:
    """Convenience: RoPE of vectors ``x [..., seq, head_dim]`` at ``position`` (int or ``[seq]`` tensor)."""
    positions = torch.as_tensor(position).reshape(-1)
    cos, sin = rope_cos_sin(positions, rope_frequencies(x.shape[-1] // 2, rope_ratio))
    return apply_rotary(x, cos, sin)


@dataclass
class RopeDemoConfig:
    head_dim: int = arg(128, "dimensions per attention head (ChatGLM3: 128, of which 64 are rotated)")
    max_position: int = arg(64, "positions 0..N-1 used for the q·k relative-position check")
    rope_ratio: float = arg(1.0, "RoPE base multiplier (ChatGLM3-6B: 1, ChatGLM3-6B-32K: 50)")
    seed: int = arg(0, "random seed for the demo vectors")
    plot: bool = arg(True, "write the PNG")


def main(cfg: RopeDemoConfig | None = None) -> dict:
    """Check the three RoPE facts numerically and draw them; return the numbers."""
    cfg = cfg or RopeDemoConfig()
    torch.manual_seed(cfg.seed)
    q, k = torch.randn(2, cfg.head_dim, dtype=torch.float64).unbind(0)
    positions = torch.arange(cfg.max_position)
    rotary_dim = cfg.head_dim // 2
    inv_freq = rope_frequencies(rotary_dim, cfg.rope_ratio).double()
    cos, sin = rope_cos_sin(positions, inv_freq)
    qs = apply_rotary(q.expand(cfg.max_position, -1), cos.double(), sin.double())  # q at every position
    ks = apply_rotary(k.expand(cfg.max_position, -1), cos.double(), sin.double())
    scores = qs @ ks.T  # scores[m, n] = rope(q, m) · rope(k, n)

    # 1) 相对位置不变性：同一条对角线 (m - n 相同) 上的分数应完全相同
    worst = 0.0
    for d in range(-cfg.max_position + 1, cfg.max_position):
        diag = torch.diagonal(scores, offset=-d)
        worst = max(worst, float(diag.max() - diag.min()))
    print("1) q·k depends only on m - n:")
    for m, n in [(3, 1), (10, 8), (50, 48), (2, 5), (40, 43)]:
        if max(m, n) < cfg.max_position:
            print(f"   m={m:2d} n={n:2d}  m-n={m - n:+d}  rope(q,m)·rope(k,n) = {scores[m, n]:+.10f}")
    print(f"   largest spread along any diagonal m-n=const: {worst:.2e} (float64 round-off)")

    # 2) 只旋转前一半维度
    unchanged = bool(torch.equal(qs[:, rotary_dim:], q[rotary_dim:].expand(cfg.max_position, -1)))
    norms_kept = float((qs.norm(dim=-1) - q.norm()).abs().max())
    print(f"2) dims {rotary_dim}..{cfg.head_dim - 1} unchanged at every position: {unchanged}; "
          f"rotation keeps the length (max |‖q_m‖-‖q‖| = {norms_kept:.1e})")

    # 3) 相邻维度成对旋转：第 0 对 (x0,x1) 每前进一个位置转 theta_0 = 1 弧度
    x = torch.zeros(cfg.head_dim, dtype=torch.float64)
    x[0] = 1.0
    one_step = apply_rotary(x[None], *(t.double() for t in rope_cos_sin(torch.tensor([1]), inv_freq)))[0]
    print(f"3) e0 at position 1 -> (x0, x1) = ({one_step[0]:.4f}, {one_step[1]:.4f}) = (cos 1, sin 1): "
          "pairs are ADJACENT dims")

    wavelengths = {r: (2 * torch.pi / rope_frequencies(rotary_dim, r)).tolist() for r in (1.0, 50.0)}
    print("   wavelength (tokens per full turn) of pair 0 / 15 / 31:")
    for r, w in wavelengths.items():
        print(f"   rope_ratio={r:>4g}: {w[0]:.1f} / {w[len(w) // 2 - 1]:.0f} / {w[-1]:.0f}")

    results = {"relative_max_spread": worst, "pass_dims_unchanged": unchanged, "norm_change": norms_kept,
               "pair0_at_pos1": (float(one_step[0]), float(one_step[1]))}
    if cfg.plot:
        results["png"] = str(_plot(scores, rotary_dim, cfg))
        print(f"picture: {results['png']}")
    return results


def _plot(scores, rotary_dim, cfg):
    from common.paths import output_dir
    from common.plots import pyplot, save

    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(16, 5))
    # (a) 单位向量 e=(1,0) 放在三对不同频率的维度上，看它随位置旋转（半径只为分开三条轨迹）
    ax = axes[0]
    inv_freq = rope_frequencies(rotary_dim, cfg.rope_ratio).double()
    positions = torch.arange(13)
    cos, sin = rope_cos_sin(positions, inv_freq)
    for pair, radius, color in [(0, 1.0, "tab:red"), (4, 0.75, "tab:blue"), (12, 0.5, "tab:green")]:
        x, y = radius * cos[:, pair], radius * sin[:, pair]
        ax.plot(x, y, "o-", ms=4, color=color, label=f"pair {pair} (dims {2 * pair},{2 * pair + 1}): "
                f"θ={inv_freq[pair]:.3g} rad/token")
        for p in (0, 1, 2, 3, 12):
            ax.annotate(str(p), (float(x[p]), float(y[p])), fontsize=8, color=color,
                        xytext=(3, 3), textcoords="offset points")
    ax.set_aspect("equal")
    ax.set_xlim(-1.25, 1.25)
    ax.set_ylim(-1.25, 1.25)
    ax.set_title("(a) (1,0) rotated at positions 0..12\n同一向量在不同位置被转过 位置×θ 弧度")
    ax.legend(fontsize=7, loc="lower left")
    # (b) q·k 只和 m-n 有关：沿对角线颜色不变
    ax = axes[1]
    im = ax.imshow(scores.numpy(), cmap="coolwarm")
    ax.set_xlabel("key position n")
    ax.set_ylabel("query position m")
    ax.set_title("(b) rope(q,m)·rope(k,n): constant along diagonals\n分数只取决于相对位置 m-n")
    fig.colorbar(im, ax=ax, shrink=0.8)
    # (c) 远程衰减与 rope_ratio：q=k=全1 时分数随距离的变化
    ax = axes[2]
    distance = torch.arange(0, 32768)
    ones = torch.ones(cfg.head_dim, dtype=torch.float64)
    for ratio in (1.0, 50.0):
        theta = rope_frequencies(rotary_dim, ratio).double()
        score = 2 * torch.cos(distance[:, None].double() * theta).sum(-1) + (cfg.head_dim - rotary_dim)
        ax.plot(distance, score, lw=0.6, label=f"rope_ratio={ratio:g} (base {10000 * ratio:g})", alpha=0.8)
    ax.set_xscale("symlog", linthresh=16)
    ax.set_xlabel("relative distance m-n (tokens)")
    ax.set_title("(c) score of q=k=1 vs distance\nrope_ratio 越大，转得越慢，长距离衰减越平缓")
    ax.legend(fontsize=8)
    return save(fig, output_dir("ch09") / "rope.png")


if __name__ == "__main__":
    from common.cli import run

    run(main, RopeDemoConfig, __doc__)
