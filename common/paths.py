"""Where things live in this repository (never hard-code machine paths elsewhere)."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "data"
MODELS_DIR = DATA_DIR / "models"
# 内置演示模型（官方 ChatGLM3 目录格式）
DEMO_MODEL_DIR = MODELS_DIR / "chatglm3-demo"


def output_dir(*parts: str) -> Path:
    """Return (and create) a folder under the ignored ``outputs/`` tree.

    Everything scripts produce (checkpoints, PNGs, logs, databases) goes here.
    ``CHATGLM3_OUTPUT_DIR`` moves the whole tree elsewhere.
    """
    root = Path(os.environ.get("CHATGLM3_OUTPUT_DIR", REPO_ROOT / "outputs"))
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_jsonl(path: str | os.PathLike, records) -> Path:
    """Write ``records`` as UTF-8 JSON lines (Chinese kept readable), creating the folder; returns the path."""
    import json

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path
