"""One rule for which model a script uses.

Precedence: the ``--model`` flag > ``CHATGLM3_MODEL`` > ``MODEL_PATH`` (the official demos' variable) > the built-in
demo model in ``data/models/chatglm3-demo``. A value may be a local folder (Hugging Face or ModelScope layout) or a
hub id such as ``THUDM/chatglm3-6b`` / ``ZhipuAI/chatglm3-6b`` that is already in the local Hugging Face or
ModelScope cache. Nothing is ever downloaded here; a missing model gives one sentence saying how to get it.
"""
from __future__ import annotations

import os
from pathlib import Path

from .paths import DEMO_MODEL_DIR

ENV_VARS = ("CHATGLM3_MODEL", "MODEL_PATH")
REAL_MODEL_HINT = ("To use the real weights: pass --model /path/to/chatglm3-6b (or a hub id already in your "
                   "Hugging Face / ModelScope cache) or set CHATGLM3_MODEL.")


class ModelNotFoundError(FileNotFoundError):
    """The requested model is not on this machine (the message says how to get it)."""


def hf_cache_dirs() -> list[Path]:
    dirs = []
    if os.environ.get("HF_HUB_CACHE"):
        dirs.append(Path(os.environ["HF_HUB_CACHE"]))
    if os.environ.get("HUGGINGFACE_HUB_CACHE"):
        dirs.append(Path(os.environ["HUGGINGFACE_HUB_CACHE"]))
    hf_home = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface"))
    dirs.append(hf_home / "hub")
    return dirs


def modelscope_cache_dirs() -> list[Path]:
    base = Path(os.environ.get("MODELSCOPE_CACHE", Path.home() / ".cache" / "modelscope"))
    return [base / "hub" / "models", base / "hub", base / "models", base]


def find_in_hf_cache(repo_id: str) -> Path | None:
    """The snapshot folder of ``repo_id`` in the local Hugging Face cache (``refs/main`` first)."""
    for cache in hf_cache_dirs():
        repo = cache / ("models--" + repo_id.replace("/", "--"))
        snapshots = repo / "snapshots"
        if not snapshots.is_dir():
            continue
        ref = repo / "refs" / "main"
        if ref.is_file():
            snap = snapshots / ref.read_text().strip()
            if (snap / "config.json").is_file():
                return snap
        candidates = sorted((p for p in snapshots.iterdir() if (p / "config.json").is_file()),
                            key=lambda p: p.stat().st_mtime, reverse=True)
        if candidates:
            return candidates[0]
    return None


def find_in_modelscope_cache(repo_id: str) -> Path | None:
    """The folder of ``repo_id`` in the local ModelScope cache (old and new layouts; ``.`` may be ``___``)."""
    owner, _, name = repo_id.partition("/")
    names = {name, name.replace(".", "___")}
    owners = {owner, "ZhipuAI", "THUDM"} if name.lower().startswith("chatglm") else {owner}
    for cache in modelscope_cache_dirs():
        for o in owners:
            for n in names:
                p = cache / o / n
                if (p / "config.json").is_file():
                    return p
    return None


def resolve_model_path(path: str | os.PathLike | None = None) -> Path:
    """The model folder to use (see module docstring for the precedence)."""
    value = os.fspath(path) if path else None
    source = "--model"
    if not value:
        for var in ENV_VARS:
            if os.environ.get(var):
                value, source = os.environ[var], var
                break
    if not value:
        if (DEMO_MODEL_DIR / "config.json").is_file():
            return DEMO_MODEL_DIR
        raise ModelNotFoundError(
            f"The built-in demo model is missing from {DEMO_MODEL_DIR.name}: rebuild it with "
            "`python data/demo_model/build.py`, or point at real weights. " + REAL_MODEL_HINT)
    p = Path(value).expanduser()
    if p.is_dir():
        if not (p / "config.json").is_file():
            raise ModelNotFoundError(f"{p} (from {source}) has no config.json: it is not a model folder.")
        return p
    if value.count("/") == 1 and not value.startswith((".", "/", "~")):
        found = find_in_hf_cache(value) or find_in_modelscope_cache(value)
        if found:
            return found
        raise ModelNotFoundError(
            f"{value!r} (from {source}) is not in the local Hugging Face or ModelScope cache, and this code never "
            f"downloads by itself. Download it once, e.g. `huggingface-cli download {value} --local-dir "
            f"models/{value.split('/')[1]}` or `modelscope download --model ZhipuAI/{value.split('/')[1]}`, "
            "then pass that folder with --model.")
    raise ModelNotFoundError(f"model folder {value!r} (from {source}) does not exist.")


def is_demo_model(path: str | os.PathLike) -> bool:
    try:
        return Path(path).resolve() == DEMO_MODEL_DIR.resolve()
    except OSError:
        return False


def demo_notice(path: str | os.PathLike) -> str | None:
    """The one line every script prints when it runs on the demo model."""
    if is_demo_model(path):
        return ("[demo model] Running on the built-in tiny demo model (for learning; its answers are simple). "
                + REAL_MODEL_HINT)
    return None
