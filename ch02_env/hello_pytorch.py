"""2.2.3 Hello PyTorch: which device you have, a few tensor operations, and a small CPU-vs-GPU timing.

    python ch02_env/hello_pytorch.py --size 1024
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

if __package__ in (None, ""):  # run as a script (`python ch02_env/x.py`): make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import arg, run


@dataclass
class Config:
    size: int = arg(1024, "matrix size for the timing")
    repeat: int = arg(5, "how many timed multiplications")


def time_matmul(device: torch.device, size: int, repeat: int) -> float:
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    a @ b  # warm-up (first CUDA call initialises kernels)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(repeat):
        a @ b
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / repeat


def main(cfg: Config | None = None) -> dict:
    cfg = cfg or Config(size=512)
    size, repeat = cfg.size, cfg.repeat
    print(f"torch {torch.__version__}; CUDA available: {torch.cuda.is_available()}; "
          f"threads: {torch.get_num_threads()}")
    x = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    print("x =\n", x, "\nx.T @ x =\n", x.T @ x, "\nx.mean(dim=0) =", x.mean(dim=0))
    results = {"cpu_s": time_matmul(torch.device("cpu"), size, repeat)}
    gflop = 2 * size**3 / 1e9
    print(f"{size}x{size} matmul on CPU: {results['cpu_s'] * 1e3:.2f} ms ({gflop / results['cpu_s']:.1f} GFLOP/s)")
    if torch.cuda.is_available():
        results["cuda_s"] = time_matmul(torch.device("cuda"), size, repeat)
        print(f"{size}x{size} matmul on {torch.cuda.get_device_name(0)}: {results['cuda_s'] * 1e3:.3f} ms "
              f"-> {results['cpu_s'] / results['cuda_s']:.0f}x faster than CPU")
    else:
        print("no CUDA GPU: skipping the GPU timing")
    return results


if __name__ == "__main__":
    run(main, Config, __doc__)
