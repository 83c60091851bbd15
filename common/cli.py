"""Command-line flags every script shares, so ``--model``/``--precision``/... read the same everywhere."""
from __future__ import annotations

import argparse
from typing import Any

from .chatglm3 import DEVICES, PRECISIONS, load_model_and_tokenizer


def add_model_args(parser: argparse.ArgumentParser, precision: str = "fp32", device: str = "cpu") -> None:
    g = parser.add_argument_group("model")
    g.add_argument("--model", default=None,
                   help="model folder or hub id in the local HF/ModelScope cache; default: $CHATGLM3_MODEL, "
                        "$MODEL_PATH, else the built-in demo model")
    g.add_argument("--precision", default=precision, choices=PRECISIONS,
                   help="weights precision (int8/int4: PyTorch kernels on CPU, bitsandbytes on CUDA)")
    g.add_argument("--device", default=device, choices=DEVICES, help="where to run (auto = cuda > mps > cpu)")
    g.add_argument("--threads", type=int, default=0,
                   help="torch CPU threads (0 = PyTorch's default; on a busy laptop 1 can be several times faster)")


def add_generation_args(parser: argparse.ArgumentParser, max_new_tokens: int = 256, temperature: float = 0.8,
                        top_p: float = 0.8) -> None:
    g = parser.add_argument_group("generation")
    g.add_argument("--max-new-tokens", type=int, default=max_new_tokens, help="at most this many new tokens")
    g.add_argument("--temperature", type=float, default=temperature, help="sampling temperature; 0 = greedy")
    g.add_argument("--top-p", type=float, default=top_p, help="nucleus sampling probability mass")
    g.add_argument("--repetition-penalty", type=float, default=1.0, help=">1 discourages repeating tokens")
    g.add_argument("--seed", type=int, default=None, help="random seed for reproducible sampling")


def apply_threads(args: argparse.Namespace | Any) -> None:
    """``torch.set_num_threads(--threads)`` when the flag is set (> 0)."""
    threads = getattr(args, "threads", 0) or 0
    if threads < 0:
        raise SystemExit(f"--threads must be >= 0, got {threads}")
    if threads:
        import torch
        torch.set_num_threads(threads)


def model_from_args(args: argparse.Namespace | Any, quiet: bool = False):
    """(model, tokenizer) for the parsed flags (prints the demo-model line when it applies)."""
    apply_threads(args)
    return load_model_and_tokenizer(getattr(args, "model", None), getattr(args, "precision", "fp32"),
                                    getattr(args, "device", "cpu"), quiet=quiet)


def generation_kwargs(args: argparse.Namespace | Any) -> dict:
    """chat()/stream_chat() keyword arguments for the parsed generation flags (seeds torch when --seed is set)."""
    seed = getattr(args, "seed", None)
    if seed is not None:
        import torch
        torch.manual_seed(seed)
    temperature = getattr(args, "temperature", 0.8)
    return {"max_new_tokens": getattr(args, "max_new_tokens", 256), "temperature": temperature,
            "top_p": getattr(args, "top_p", 0.8), "do_sample": temperature > 0,
            "repetition_penalty": getattr(args, "repetition_penalty", 1.0)}
