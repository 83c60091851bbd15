"""2.3.2–2.3.4 Hello ChatGLM3: one script for CPU, INT8/INT4 and half precision.

    python ch02_env/hello_chatglm3.py                                  # built-in demo model, CPU, fp32
    python ch02_env/hello_chatglm3.py --model /path/to/chatglm3-6b --precision int4   # real model, ~5 GB RAM
    python ch02_env/hello_chatglm3.py --model THUDM/chatglm3-6b --device cuda --precision fp16

The model comes from ``--model`` > ``$CHATGLM3_MODEL`` > ``$MODEL_PATH`` > the built-in demo model.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script (`python ch02_env/x.py`): make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.chatglm3 import chat
from common.cli import GenerationArgs, ModelArgs, arg, model_from_args, redefault, run, sampling_kwargs


@dataclass
class Config(ModelArgs, GenerationArgs):
    max_new_tokens: int = redefault(GenerationArgs, "max_new_tokens", 128)
    prompt: str = arg("你好", "what to say to the model")


def main(cfg: Config) -> dict:
    t0 = time.perf_counter()
    model, tokenizer = model_from_args(cfg)
    load_s = time.perf_counter() - t0
    print(f"loaded {model.load_report['path']} ({cfg.precision}, {model.device}) in {load_s:.1f} s")
    t0 = time.perf_counter()
    response, history = chat(model, tokenizer, cfg.prompt, history=None, **sampling_kwargs(cfg))
    gen_s = time.perf_counter() - t0
    n_tokens = len(tokenizer.encode(history[-1]["content"], add_special_tokens=False))
    print(f"用户: {cfg.prompt}\nChatGLM3: {response}")
    print(f"[{n_tokens} tokens in {gen_s:.2f} s, {n_tokens / max(gen_s, 1e-9):.1f} tokens/s]")
    return {"response": response, "history": history, "load_s": load_s, "generate_s": gen_s}


if __name__ == "__main__":
    run(main, Config, __doc__)
