"""2.3.5 离线状态的 ChatGLM3：use weights that are already on disk, with the network switched off.

Three ways to point at weights, all resolved locally (nothing is downloaded):
  * a local folder:        --model /data/chatglm3-6b          (HF ``git clone`` or ``--local-dir`` layout)
  * a Hugging Face id:     --model THUDM/chatglm3-6b          (found in ~/.cache/huggingface/hub)
  * a ModelScope id:       --model ZhipuAI/chatglm3-6b        (found in ~/.cache/modelscope/hub)

The script sets ``HF_HUB_OFFLINE=1`` / ``TRANSFORMERS_OFFLINE=1`` first, lists the ChatGLM models in your local
caches, checks that the chosen folder is complete (config, tokenizer.model, every shard of the index) and answers
one question.

    python ch02_env/offline_usage.py --list
    python ch02_env/offline_usage.py --model THUDM/chatglm3-6b --precision int4
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")        # 禁止 huggingface_hub 联网
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

if __package__ in (None, ""):  # run as a script (`python ch02_env/x.py`): make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.checkpoint import read_config, weight_files  # noqa: E402
from common.chatglm3 import chat  # noqa: E402
from common.cli import GenerationArgs, ModelArgs, arg, model_from_args, redefault, run, sampling_kwargs  # noqa: E402
from common.resolve import hf_cache_dirs, modelscope_cache_dirs, resolve_model_path  # noqa: E402


@dataclass
class Config(ModelArgs, GenerationArgs):
    max_new_tokens: int = redefault(GenerationArgs, "max_new_tokens", 64)
    prompt: str = arg("你好", "the question to ask once the model is loaded")
    list: bool = arg(False, "only list the ChatGLM models in the local caches")


def cached_models() -> list[tuple[str, Path]]:
    """ChatGLM-family models present in the local Hugging Face and ModelScope caches."""
    found = []
    for cache in hf_cache_dirs():
        if cache.is_dir():
            for repo in sorted(cache.glob("models--*--*chatglm*")):
                for snap in sorted((repo / "snapshots").glob("*")):
                    if (snap / "config.json").is_file():
                        found.append(("huggingface", snap))
    for cache in modelscope_cache_dirs():
        if cache.is_dir():
            for p in sorted(cache.glob("*/*chatglm*")):
                if (p / "config.json").is_file():
                    found.append(("modelscope", p))
    return found


def inspect_folder(path: Path) -> dict:
    """What is in a model folder: type, shards and their total size (raises with a fix when incomplete)."""
    cfg = read_config(path)
    files = weight_files(path)
    size = sum(f.stat().st_size for f in files)
    info = {"path": str(path), "model_type": cfg.get("model_type"), "layers": cfg.get("num_layers"),
            "seq_length": cfg.get("seq_length"), "rope_ratio": cfg.get("rope_ratio", 1),
            "shards": len(files), "weights_gb": round(size / 1024**3, 3),
            "tokenizer": (path / "tokenizer.model").is_file()}
    print(json.dumps(info, ensure_ascii=False, indent=2))
    return info


def main(cfg: Config) -> dict:
    found = cached_models()
    searched = [f"{c}{'' if c.is_dir() else ' (not there)'}"
                for c in dict.fromkeys(hf_cache_dirs() + modelscope_cache_dirs()[-1:])]
    print(f"ChatGLM models in local caches: {len(found)} (searched {'; '.join(searched)}; HF_HOME, HF_HUB_CACHE "
          "and MODELSCOPE_CACHE move these folders)")
    for source, p in found:
        print(f"  [{source}] {p}")
    if not found:
        print("  none yet: download once, e.g. `hf download THUDM/chatglm3-6b` (into the Hugging Face cache) or "
              "`hf download THUDM/chatglm3-6b --local-dir models/chatglm3-6b` and pass --model models/chatglm3-6b")
    if cfg.list:
        return {"cached": found}
    path = resolve_model_path(cfg.model)
    info = inspect_folder(path)
    model, tokenizer = model_from_args(replace(cfg, model=str(path)))
    response, _ = chat(model, tokenizer, cfg.prompt, **sampling_kwargs(cfg))
    print(f"用户: {cfg.prompt}\nChatGLM3: {response}")
    return {"cached": found, "folder": info, "response": response}


if __name__ == "__main__":
    run(main, Config, __doc__)
