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
            raise ModelNotFoundError(
                f"{value} (from {source}) has no config.json, so it is not a model folder (an unfinished download?). "
                f"To fix: point {source} at the folder holding config.json, tokenizer.model and the weights"
                + (f"; finish the download with {download_hint(known, value)}" if (known := _known_id_for_folder(p))
                   else ""))
        return p
    if _looks_like_hub_id(value):
        known = canonical_repo_id(value)
        found = find_in_hf_cache(value) or find_in_modelscope_cache(value)
        if not found and known and known != value:
            found = find_in_hf_cache(known) or find_in_modelscope_cache(known)
        if found:
            return found
        if known and known != value:
            raise ModelNotFoundError(
                f"{value!r} (from {source}) is not in the local Hugging Face or ModelScope cache; did you mean "
                f"{known!r}? To fix: download it once with {download_hint(known)}, then pass --model "
                f"models/{known.split('/')[1]}")
        repo = known or value
        raise ModelNotFoundError(
            f"{value!r} (from {source}) is not in the local Hugging Face or ModelScope cache, and this code never "
            f"downloads by itself. To fix: download it once with {download_hint(repo)}, then pass --model "
            f"models/{repo.split('/')[1]}")
    known = _known_id_for_folder(p)
    raise ModelNotFoundError(
        f"model folder {value!r} (from {source}) does not exist. To fix: download the weights there first with "
        f"{download_hint(known or 'THUDM/chatglm3-6b', value)}, or leave out {source} to use the built-in demo model")


# ----------------------------------------------------------------------------------------- download hints
# The official repositories (Hugging Face / ModelScope); ids are matched case-insensitively for the hint only.
KNOWN_HF_IDS = ("THUDM/chatglm3-6b", "THUDM/chatglm3-6b-32k", "THUDM/chatglm3-6b-128k", "THUDM/chatglm3-6b-base")
KNOWN_MODELSCOPE_IDS = tuple("ZhipuAI/" + i.split("/")[1] for i in KNOWN_HF_IDS)


def _looks_like_hub_id(value: str) -> bool:
    return value.count("/") == 1 and not value.startswith((".", "/", "~")) and all(value.split("/"))


def canonical_repo_id(value: str) -> str | None:
    """The official spelling of a ChatGLM3 hub id typed with other capitalisation (``THUDM/chatglm3-6B`` ->
    ``THUDM/chatglm3-6b``); ``None`` when ``value`` is not one of them."""
    for known in KNOWN_HF_IDS + KNOWN_MODELSCOPE_IDS:
        if value.lower() == known.lower():
            return known
    return None


def _known_id_for_folder(folder: Path) -> str | None:
    """``THUDM/chatglm3-6b-32k`` for a folder named like ``chatglm3-6b-32k`` (any case), else ``None``."""
    return canonical_repo_id("THUDM/" + folder.name) if folder.name else None


def download_hint(repo_id: str, local_dir: str | None = None) -> str:
    """The download commands for ``repo_id`` (Hugging Face's ``hf`` CLI and ModelScope's), one line."""
    name = repo_id.split("/")[1]
    local_dir = local_dir or f"models/{name}"
    hf_id = repo_id if repo_id.startswith("THUDM/") or not canonical_repo_id(repo_id) else "THUDM/" + name
    ms_id = "ZhipuAI/" + name if canonical_repo_id(repo_id) else repo_id
    return (f"`hf download {hf_id} --local-dir {local_dir}` or "
            f"`modelscope download --model {ms_id} --local_dir {local_dir}` (after pip install modelscope)")


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
