"""2.1.3 softmax 函数练习：softmax by hand in NumPy and PyTorch, compared with ``torch.softmax``.

Shows why the numerically stable version subtracts the maximum first: the naive formula overflows to ``nan`` for
large logits while the stable one gives the same answer as ``torch.softmax``.

    python ch02_env/softmax.py
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

if __package__ in (None, ""):  # run as a script (`python ch02_env/x.py`): make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import arg, run


@dataclass
class Config:
    seed: int = arg(0, "random seed for the example logits")


def softmax_naive_numpy(x: np.ndarray) -> np.ndarray:
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


def softmax_stable_numpy(x: np.ndarray) -> np.ndarray:
    # 减去最大值不改变结果（分子分母同乘 e^-max），但避免 exp 溢出
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_torch(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    e = torch.exp(x - x.amax(dim=dim, keepdim=True))
    return e / e.sum(dim=dim, keepdim=True)


def main(cfg: Config | None = None) -> dict:
    seed = (cfg or Config()).seed
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(3, 5)).astype(np.float32)
    ref = torch.softmax(torch.from_numpy(x), dim=-1).numpy()
    diffs = {
        "numpy naive": float(np.abs(softmax_naive_numpy(x) - ref).max()),
        "numpy stable": float(np.abs(softmax_stable_numpy(x) - ref).max()),
        "torch by hand": float((softmax_torch(torch.from_numpy(x)) - torch.from_numpy(ref)).abs().max()),
    }
    print("logits:\n", np.round(x, 3))
    print("softmax (rows sum to 1):\n", np.round(ref, 4), "\nrow sums:", ref.sum(-1))
    for name, d in diffs.items():
        print(f"max |{name} - torch.softmax| = {d:.2e}")
    big = np.array([1000.0, 1001.0, 1002.0], dtype=np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        naive_big = softmax_naive_numpy(big)
    stable_big = softmax_stable_numpy(big)
    print(f"large logits {big.tolist()}: naive -> {naive_big.tolist()} (overflow), stable -> "
          f"{np.round(stable_big, 4).tolist()}")
    return {"diffs": diffs, "naive_large": naive_big, "stable_large": stable_big}


if __name__ == "__main__":
    run(main, Config, __doc__)
