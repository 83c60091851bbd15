"""One-time conversion of an official ChatGLM3 folder into a native transformers ``GlmForCausalLM`` folder.

    python -m common.convert_checkpoint models/chatglm3-6b models/chatglm3-6b-native --dtype bfloat16

The result loads with ``GlmForCausalLM.from_pretrained(DST)`` (no remote code) and with every script of this
repository (``--model DST``). Not needed for this repo — it reads the official files directly — but handy for tools
that expect a native folder. The tokenizer is copied as ``tokenizer.model``.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import UserError, arg, run


@dataclass
class Config:
    src: str | None = arg(None, "official ChatGLM3 folder (or hub id in the local cache)", positional=True)
    dst: str | None = arg(None, "output folder for the native transformers checkpoint", positional=True)
    dtype: str | None = arg(None, "weights dtype to save (default: the checkpoint's torch_dtype)",
                            choices=["float32", "bfloat16", "float16"])


def main(cfg: Config) -> dict:
    import torch

    from common.checkpoint import convert_to_native
    from common.resolve import resolve_model_path

    if not cfg.src or not cfg.dst:
        raise UserError("both folders are needed. To fix: python -m common.convert_checkpoint SRC DST")
    src = resolve_model_path(cfg.src)
    dtype = getattr(torch, cfg.dtype) if cfg.dtype else None
    dst = convert_to_native(src, cfg.dst, dtype=dtype)
    print(f"wrote a native GlmForCausalLM folder to {dst}")
    return {"src": str(src), "dst": str(dst)}


if __name__ == "__main__":
    run(main, Config, __doc__)
