"""Matplotlib set up for files, not windows (Agg backend) and with a font that has Chinese characters."""
from __future__ import annotations

from pathlib import Path

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
    plt.rcParams["font.sans-serif"] = cjk + list(plt.rcParams["font.sans-serif"])
    plt.rcParams["axes.unicode_minus"] = False  # 中文字体里常缺 U+2212 负号
    return plt


def save(fig, path: Path) -> Path:
    """Save and close a figure; return its path."""
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path
