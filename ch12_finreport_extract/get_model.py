"""12.1.1 ChatGLM3-6B-32K模型的获取与缓存 — download ChatGLM3-6B-32K once (ModelScope or Hugging Face) and reuse it.

    python ch12_finreport_extract/get_model.py --dry-run                    # what would be fetched, where; nothing downloaded
    python ch12_finreport_extract/get_model.py --source modelscope          # ZhipuAI/chatglm3-6b-32k (fast in mainland China)
    python ch12_finreport_extract/get_model.py --source hf --local-dir models/chatglm3-6b-32k
    CHATGLM3_MODEL=models/chatglm3-6b-32k python ch12_finreport_extract/long_context.py

A model already in the local Hugging Face or ModelScope cache is found and not fetched again (the same lookup every
script uses through ``--model``); an interrupted download resumes (both hubs keep partial files). The 32K model is
ChatGLM3-6B with ``seq_length`` 32768 and ``rope_ratio`` 50 (RoPE base 10000 × 50), trained on long texts: the
runtime reads both from config.json (``common/checkpoint.py``), so nothing else changes. Never called by the tests.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import UserError, arg, run

REPOS = {"hf": "THUDM/chatglm3-6b-32k", "modelscope": "ZhipuAI/chatglm3-6b-32k"}
# 官方仓库的文件（权重 7 个分片，约 12.5 GB，bf16/fp16）
EXPECTED_FILES = ["config.json", "configuration_chatglm.py", "modeling_chatglm.py", "quantization.py",
                  "tokenization_chatglm.py", "tokenizer.model", "tokenizer_config.json",
                  "pytorch_model.bin.index.json"] + [f"pytorch_model-0000{i}-of-00007.bin" for i in range(1, 8)]
WEIGHTS_GB = 12.5


@dataclass
class Config:
    source: str = arg("modelscope", "hub to download from", choices=("modelscope", "hf"))
    repo: str | None = arg(None, "repository id (default: ZhipuAI/chatglm3-6b-32k or THUDM/chatglm3-6b-32k)")
    local_dir: str | None = arg(None, "put the files in this folder (default: the hub's cache)")
    revision: str | None = arg(None, "a branch, tag or commit (default: the hub's default)")
    dry_run: bool = arg(False, "print what would be downloaded and where, then stop")


def cached_copy(repo: str) -> Path | None:
    """The folder of ``repo`` if it is already in the local Hugging Face or ModelScope cache."""
    from common.resolve import find_in_hf_cache, find_in_modelscope_cache
    return find_in_hf_cache(repo) or find_in_modelscope_cache(repo)


def download(source: str, repo: str, local_dir: str | None, revision: str | None) -> Path:
    """The real download (ModelScope ``snapshot_download`` or ``huggingface_hub.snapshot_download``)."""
    if source == "modelscope":
        try:
            from modelscope import snapshot_download
        except ImportError:
            raise UserError("ModelScope is not installed. To fix: pip install modelscope "
                            "(or use --source hf)") from None
        kwargs = {"revision": revision} if revision else {}
        if local_dir:
            kwargs["local_dir"] = local_dir
        return Path(snapshot_download(repo, **kwargs))
    from huggingface_hub import snapshot_download
    return Path(snapshot_download(repo_id=repo, revision=revision, local_dir=local_dir))


def main(cfg: Config) -> dict:
    repo = cfg.repo or REPOS[cfg.source]
    found = cached_copy(repo) or cached_copy(REPOS["hf" if cfg.source == "modelscope" else "modelscope"])
    if cfg.local_dir and (Path(cfg.local_dir) / "config.json").is_file():
        found = Path(cfg.local_dir)
    plan = {"source": cfg.source, "repo": repo, "local_dir": cfg.local_dir or "(hub cache)",
            "files": EXPECTED_FILES, "approx_gb": WEIGHTS_GB, "already_here": str(found) if found else None}
    if found:
        print(f"{repo}: already on this machine at {found}; use it with --model {found} "
              f"(or CHATGLM3_MODEL={found}). Nothing to download.")
        return {**plan, "path": str(found), "downloaded": False}
    if cfg.dry_run:
        print(f"would download {repo} from {'ModelScope' if cfg.source == 'modelscope' else 'Hugging Face'} "
              f"(~{WEIGHTS_GB} GB) into {plan['local_dir']}:")
        for f in EXPECTED_FILES:
            print(f"  {f}")
        print("then run any script with --model <that folder> (seq_length 32768, rope_ratio 50 come from config.json)")
        return {**plan, "path": None, "downloaded": False}
    path = download(cfg.source, repo, cfg.local_dir, cfg.revision)
    print(f"{repo} -> {path}\nuse it: CHATGLM3_MODEL={path} python ch12_finreport_extract/long_context.py")
    return {**plan, "path": str(path), "downloaded": True}


if __name__ == "__main__":
    run(main, Config, __doc__)
