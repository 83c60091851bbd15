"""Charts written to files (Agg backend, a font with Chinese characters): the one loss-curve plotter.

    from common.plots import plot_curves
    plot_curves(out / "loss.png", {"loss": {"train": (steps, losses), "dev": (dev_steps, dev_losses)}},
                xlabel="optimizer step", ylabel="loss per token", smooth=("train",))
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

_CJK_FONTS = ["Noto Sans CJK SC", "WenQuanYi Micro Hei", "Noto Serif CJK SC", "SimHei", "Microsoft YaHei",
              "PingFang SC", "Heiti SC"]


def pyplot():
    """Return ``matplotlib.pyplot`` on the Agg backend, preferring a CJK font when one is installed.

    Without a CJK font the Chinese labels show as boxes; ``sudo apt-get install fonts-noto-cjk`` fixes that.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import font_manager
    import matplotlib.pyplot as plt

    installed = {f.name for f in font_manager.fontManager.ttflist}
    cjk = [name for name in _CJK_FONTS if name in installed]
    plt.rcParams["font.sans-serif"] = cjk + [f for f in plt.rcParams["font.sans-serif"] if f not in cjk]
    plt.rcParams["axes.unicode_minus"] = False  # 中文字体里常缺 U+2212 负号
    return plt


def save(fig, path: str | Path, dpi: int = 120) -> Path:
    """Save and close a figure; return its path."""
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return Path(path)


def ema(values: Sequence[float], decay: float = 0.9) -> list[float]:
    """Exponential moving average (what the trend of a noisy training loss looks like)."""
    out, avg = [], values[0] if values else 0.0
    for v in values:
        avg = decay * avg + (1 - decay) * v
        out.append(avg)
    return out


def plot_curves(path: str | Path, panels: dict[str, dict[str, tuple[Sequence, Sequence]]], xlabel: str = "step",
                ylabel: str | None = None, title: str | None = None, smooth: Sequence[str] = ()) -> Path:
    """Side-by-side charts, one per ``panels`` entry ``{panel title: {curve label: (xs, ys)}}``; curves named in
    ``smooth`` are drawn faint with their moving average on top; short curves (<= 30 points) get markers."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 + 3.5 * len(panels), 4), squeeze=False)
    for ax, (panel, curves) in zip(axes[0], panels.items()):
        for label, (xs, ys) in curves.items():
            xs, ys = list(xs), list(ys)
            if not xs:
                continue
            if label in smooth:
                line, = ax.plot(xs, ys, alpha=0.25, lw=0.8)
                ax.plot(xs, ema(ys), color=line.get_color(), label=f"{label} (EMA)")
            else:
                ax.plot(xs, ys, "o-" if len(xs) <= 30 else "-", label=label, lw=1)
        ax.set_xlabel(xlabel)
        if ylabel:
            ax.set_ylabel(ylabel)
        ax.set_title(panel)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return save(fig, path)
