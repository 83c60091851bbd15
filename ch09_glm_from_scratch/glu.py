"""9.1.3 新型的激活函数GLU — the GLU family (GLU, GEGLU, SwiGLU) next to a classic GELU MLP.

A gated linear unit computes two projections of the same input and multiplies them:
``act(x W_gate) * (x W_up)``. The "gate" decides, per feature, how much of the "up" value passes.
    GLU    act = sigmoid          GEGLU  act = gelu          SwiGLU  act = silu (= x * sigmoid(x))
ChatGLM3 uses SwiGLU with ONE fused matrix ``dense_h_to_4h`` of shape [2*ffn, hidden]: the first ffn output
rows are the gate, the second ffn rows are "up"; ``dense_4h_to_h`` projects back. Because a gated MLP has three
matrices instead of two, its inner width is chosen smaller (≈ 8/3·h keeps the parameter count of a 4·h GELU MLP;
ChatGLM3-6B uses 13696 ≈ 3.34·h).

Run:  python ch09_glm_from_scratch/glu.py      (prints shapes/parameter counts, writes outputs/ch09/glu.png)
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

if __package__ in (None, ""):
    import sys  # run as a script (`python chNN/x.py`): make the repository importable
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import arg

ACTIVATIONS = {"glu": torch.sigmoid, "geglu": F.gelu, "swiglu": F.silu}


class GeluMLP(nn.Module):
    """The classic Transformer feed-forward: ``W2 gelu(W1 x)`` (BERT, GPT-2)."""

    def __init__(self, hidden_size: int, ffn_hidden_size: int, bias: bool = False):
        super().__init__()
        self.dense_h_to_4h = nn.Linear(hidden_size, ffn_hidden_size, bias=bias)
        self.dense_4h_to_h = nn.Linear(ffn_hidden_size, hidden_size, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dense_4h_to_h(F.gelu(self.dense_h_to_4h(x)))


class GatedMLP(nn.Module):
    """``dense_4h_to_h(act(gate) * up)`` with ``[gate | up] = dense_h_to_4h(x)`` — GLU / GEGLU / SwiGLU."""

    def __init__(self, hidden_size: int, ffn_hidden_size: int, kind: str = "swiglu", bias: bool = False):
        super().__init__()
        self.kind = kind
        self.activation = ACTIVATIONS[kind]
        # 一个融合矩阵同时算出 gate 和 up（官方 ChatGLM3 的做法，一次矩阵乘更快）
        self.dense_h_to_4h = nn.Linear(hidden_size, 2 * ffn_hidden_size, bias=bias)
        self.dense_4h_to_h = nn.Linear(ffn_hidden_size, hidden_size, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.dense_h_to_4h(x).chunk(2, dim=-1)  # 前一半是 gate，后一半是 up
        return self.dense_4h_to_h(self.activation(gate) * up)


class MLP(GatedMLP):
    """ChatGLM3's MLP: SwiGLU, no biases (parameter names as in the official checkpoint)."""

    def __init__(self, config):
        super().__init__(config.hidden_size, config.ffn_hidden_size, kind="swiglu", bias=False)


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@dataclass
class GluDemoConfig:
    hidden_size: int = arg(4096, "hidden size for the parameter-count table (ChatGLM3-6B: 4096)")
    ffn_hidden_size: int = arg(13696, "gated MLP inner width (ChatGLM3-6B: 13696)")
    seed: int = arg(0, "random seed")
    plot: bool = arg(True, "write the PNG")


def main(cfg: GluDemoConfig | None = None) -> dict:
    """Compare the four feed-forward variants: shapes, parameter counts, activation curves."""
    cfg = cfg or GluDemoConfig()
    torch.manual_seed(cfg.seed)
    h, ffn = cfg.hidden_size, cfg.ffn_hidden_size
    # 在 meta 设备上建 6B 大小的层：只有形状、不占内存
    with torch.device("meta"):
        variants = {"GELU MLP (4h)": GeluMLP(h, 4 * h),
                    "GELU MLP (same params)": GeluMLP(h, 3 * ffn // 2),
                    "SWIGLU (ffn=8/3·h)": GatedMLP(h, 8 * h // 3, "swiglu"),
                    **{f"{kind.upper()} (ffn={ffn})": GatedMLP(h, ffn, kind) for kind in ACTIVATIONS}}
    print(f"feed-forward variants at hidden={h} (one layer):")
    counts = {}
    for name, module in variants.items():
        counts[name] = parameter_count(module)
        shapes = ", ".join(f"{n} {list(p.shape)}" for n, p in module.named_parameters())
        print(f"  {name:<26s} {counts[name] / 1e6:8.1f} M  {shapes}")

    small = GatedMLP(8, 12, "swiglu")
    x = torch.randn(2, 5, 8)
    gate, up = small.dense_h_to_4h(x).chunk(2, dim=-1)
    manual = small.dense_4h_to_h(F.silu(gate) * up)
    same = torch.allclose(manual, small(x))
    print(f"\nSwiGLU on x {list(x.shape)}: dense_h_to_4h -> {list(small.dense_h_to_4h(x).shape)} = [gate | up], "
          f"output {list(small(x).shape)}; silu(gate)*up by hand == module: {same}")
    results = {"param_counts": counts, "manual_matches": same}
    if cfg.plot:
        results["png"] = str(_plot())
        print(f"picture: {results['png']}")
    return results


def _plot():
    from common.paths import output_dir
    from common.plots import pyplot, save

    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    x = torch.linspace(-5, 5, 400)
    ax = axes[0]
    for name, y in [("ReLU", F.relu(x)), ("GELU", F.gelu(x)), ("SiLU / Swish = x·σ(x)", F.silu(x)),
                    ("sigmoid σ(x) (GLU gate)", torch.sigmoid(x))]:
        ax.plot(x, y, label=name)
    ax.axhline(0, color="gray", lw=0.5)
    ax.axvline(0, color="gray", lw=0.5)
    ax.set_ylim(-1.2, 5)
    ax.set_title("activations 激活函数: SiLU is smooth and dips below 0")
    ax.legend()
    ax = axes[1]
    g, u = torch.meshgrid(torch.linspace(-4, 4, 200), torch.linspace(-4, 4, 200), indexing="xy")
    im = ax.imshow((F.silu(g) * u).numpy(), origin="lower", extent=(-4, 4, -4, 4), cmap="coolwarm")
    ax.set_xlabel("gate")
    ax.set_ylabel("up")
    ax.set_title("SwiGLU output silu(gate)·up\n门控：gate ≲ 0 关门（≈0），gate > 0 按比例放行 up")
    fig.colorbar(im, ax=ax, shrink=0.85)
    return save(fig, output_dir("ch09") / "glu.png")


if __name__ == "__main__":
    from common.cli import run

    run(main, GluDemoConfig, __doc__)
