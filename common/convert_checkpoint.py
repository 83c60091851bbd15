"""One-time conversion of an official ChatGLM3 folder into a native transformers ``GlmForCausalLM`` folder.

    python -m common.convert_checkpoint models/chatglm3-6b models/chatglm3-6b-native --dtype bfloat16

The result loads with ``GlmForCausalLM.from_pretrained(DST)`` (no remote code) and with every script of this
repository (``--model DST``). Not needed for this repo — it reads the official files directly — but handy for tools
that expect a native folder. The tokenizer is copied as ``tokenizer.model``.
"""
from __future__ import annotations

import argparse

import torch

from common.checkpoint import convert_to_native
from common.resolve import resolve_model_path


def main(cfg: argparse.Namespace) -> dict:
    src = resolve_model_path(cfg.src)
    dtype = getattr(torch, cfg.dtype) if cfg.dtype else None
    dst = convert_to_native(src, cfg.dst, dtype=dtype)
    print(f"wrote a native GlmForCausalLM folder to {dst}")
    return {"src": str(src), "dst": str(dst)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("src", help="official ChatGLM3 folder (or hub id in the local cache)")
    parser.add_argument("dst", help="output folder for the native transformers checkpoint")
    parser.add_argument("--dtype", default=None, choices=["float32", "bfloat16", "float16"],
                        help="weights dtype to save (default: the checkpoint's torch_dtype)")
    main(parser.parse_args())
