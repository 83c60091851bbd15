"""2.1–2.2 环境检查：prints [OK] / [FAIL] for every requirement of this repository (exit code 1 on any FAIL).

Checks Python, PyTorch (and whether CUDA / Apple MPS are visible — information, not a requirement), every package
of the ``.[all]`` extras, the bitsandbytes backend, the built-in demo model, and free disk space for real weights.

    python ch02_env/check_env.py
"""
from __future__ import annotations

import argparse
import importlib
import importlib.metadata as md
import shutil
import sys

# (import name, distribution name, minimum version, which chapters need it)
PACKAGES = [
    ("torch", "torch", "2.4", "all chapters"),
    ("transformers", "transformers", "5.0", "all chapters"),
    ("safetensors", "safetensors", "0.4", "all chapters"),
    ("sentencepiece", "sentencepiece", "0.2", "all chapters"),
    ("accelerate", "accelerate", "1.0", "ch02 multi-GPU, ch09, ch10"),
    ("numpy", "numpy", "1.26", "everywhere"),
    ("matplotlib", "matplotlib", "3.8", "plots"),
    ("tqdm", "tqdm", "4.66", "progress bars"),
    ("psutil", "psutil", "5.9", "memory readings"),
    ("bitsandbytes", "bitsandbytes", "0.45", "ch02 int8/int4 on CUDA, ch10 QLoRA"),
    ("gradio", "gradio", "6.0", "ch03 web UIs"),
    ("streamlit", "streamlit", "1.40", "ch03 streamlit client"),
    ("fastapi", "fastapi", "0.110", "ch03 OpenAI-compatible server"),
    ("uvicorn", "uvicorn", "0.29", "ch03 server"),
    ("httpx", "httpx", "0.27", "ch03 clients"),
    ("openai", "openai", "1.40", "ch03+ clients"),
    ("PIL", "pillow", "10", "ch03 images"),
    ("imageio", "imageio", "2.34", "ch03 video"),
    ("peft", "peft", "0.13", "ch10 LoRA"),
    ("jieba", "jieba", "0.42", "ch10 metrics"),
    ("pytest", "pytest", "8", "tests"),
]


def _version_tuple(v: str) -> tuple:
    out = []
    for part in v.split("+")[0].split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        out.append(int(digits) if digits else 0)
    return tuple(out)


def check_package(module: str, dist: str, minimum: str) -> tuple[bool, str]:
    try:
        version = md.version(dist)
    except md.PackageNotFoundError:
        return False, f"not installed — To fix: pip install -e \".[all]\" (or pip install '{dist}>={minimum}')"
    if _version_tuple(version) < _version_tuple(minimum):
        return False, f"{version} < {minimum} — To fix: pip install -U '{dist}>={minimum}'"
    try:
        importlib.import_module(module)
    except Exception as exc:  # 安装了但导入失败（例如 torchvision 与 torch 版本不匹配）
        return False, f"{version} installed but import fails: {exc.__class__.__name__}: {str(exc)[:120]}"
    return True, version


def main(cfg: argparse.Namespace | None = None) -> dict:
    """Run every check; returns ``{"results": [(name, ok, detail)], "failed": n}``."""
    min_disk_gb = getattr(cfg, "min_disk_gb", 30.0)
    results: list[tuple[str, bool | None, str]] = []
    results.append(("python >= 3.10", sys.version_info >= (3, 10), sys.version.split()[0]))
    for module, dist, minimum, used_by in PACKAGES:
        ok, detail = check_package(module, dist, minimum)
        results.append((f"{dist} ({used_by})", ok, detail))

    try:
        import torch
        results.append(("CUDA GPU (info)", None, torch.cuda.get_device_name(0) if torch.cuda.is_available()
                        else "none — CPU (and int8/int4 CPU kernels) will be used"))
        mps = getattr(torch.backends, "mps", None)
        results.append(("Apple MPS (info)", None, "available" if mps and mps.is_available() else "not available"))
        results.append(("torch CPU int8/int4 kernels", hasattr(torch.ops.aten, "_weight_int4pack_mm_for_cpu")
                        and hasattr(torch.ops.aten, "_weight_int8pack_mm"), torch.__version__))
    except Exception as exc:
        results.append(("torch devices", False, str(exc)))

    try:
        import bitsandbytes as bnb  # noqa: F401
        import torch
        backend = "cuda" if torch.cuda.is_available() else "cpu"
        results.append(("bitsandbytes backend", True, f"{bnb.__version__} on {backend}"))
    except Exception as exc:
        results.append(("bitsandbytes backend", False, f"{exc.__class__.__name__}: {str(exc)[:120]}"))

    from common.paths import DEMO_MODEL_DIR, REPO_ROOT
    demo_ok = (DEMO_MODEL_DIR / "config.json").is_file()
    results.append(("built-in demo model", demo_ok, DEMO_MODEL_DIR.name if demo_ok
                    else "missing — To fix: python data/demo_model/build.py"))
    free_gb = shutil.disk_usage(REPO_ROOT).free / 1024**3
    results.append((f"free disk for real weights (>= {min_disk_gb:g} GB, info)", None, f"{free_gb:.1f} GB free"
                    + ("" if free_gb >= min_disk_gb else " — ChatGLM3-6B needs ~12 GB per copy")))

    failed = 0
    for name, ok, detail in results:
        tag = "[INFO]" if ok is None else "[OK]  " if ok else "[FAIL]"
        failed += ok is False
        print(f"{tag} {name}: {detail}")
    print(f"{'all requirements met' if not failed else f'{failed} requirement(s) failed'}")
    return {"results": results, "failed": failed}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--min-disk-gb", type=float, default=30.0,
                        help="warn (info) when less free disk than this is left for model weights")
    sys.exit(1 if main(parser.parse_args())["failed"] else 0)
