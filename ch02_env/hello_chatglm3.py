"""2.3.2–2.3.4 Hello ChatGLM3: one script for CPU, INT8/INT4 and half precision.

    python ch02_env/hello_chatglm3.py                                  # built-in demo model, CPU, fp32
    python ch02_env/hello_chatglm3.py --model /path/to/chatglm3-6b --precision int4   # real model, ~5 GB RAM
    python ch02_env/hello_chatglm3.py --model THUDM/chatglm3-6b --device cuda --precision fp16
    python ch02_env/hello_chatglm3.py --timing                         # + where the time to the first token goes

The model comes from ``--model`` > ``$CHATGLM3_MODEL`` > ``$MODEL_PATH`` > the built-in demo model. The answer is
printed as it is generated (the first words appear after the prompt has been read, not after the whole answer).
"""
from __future__ import annotations

import sys
import time

_STARTED = time.perf_counter()  # before torch/transformers: --timing counts their import too

from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

if __package__ in (None, ""):  # run as a script (`python ch02_env/x.py`): make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import GenerationArgs, ModelArgs, arg, model_from_args, redefault, run, sampling_kwargs  # noqa: E402


@dataclass
class Config(ModelArgs, GenerationArgs):
    max_new_tokens: int = redefault(GenerationArgs, "max_new_tokens", 128)
    prompt: str = arg("你好", "what to say to the model")
    timing: bool = arg(False, "print where the time to the first printed token went (python start, imports, "
                              "load, first token)")


def python_start_s() -> float | None:
    """Seconds from the start of this process to the first line of this script (the interpreter's own start-up),
    from ``/proc`` (Linux, 10 ms resolution); None elsewhere."""
    try:
        import os
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        with open("/proc/self/stat") as f:
            started = int(f.read().rpartition(")")[2].split()[19]) / os.sysconf("SC_CLK_TCK")
        return max(uptime - started - (time.perf_counter() - _STARTED), 0.0)
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def stream_answer(model, tokenizer, prompt: str, sampling: dict) -> tuple[str | dict, list[dict], float | None]:
    """Print ``ChatGLM3: <answer>`` while it is generated; returns ``(response, history, first_token_time)``.

    The printed text is exactly the final response: a tool call (a dict) is printed once at the end, and text that
    may still change (the half of a ``[[训练时间]]`` placeholder that ``process_response`` fills in) is held back."""
    from common.chatglm3 import stream_chat

    printed, first_at, response, history = "", None, "", []
    hold = "[[训练时间]]"
    for response, history in stream_chat(model, tokenizer, prompt, history=None, **sampling):
        if first_at is None:
            first_at = time.perf_counter()
        if not isinstance(response, str):
            continue
        safe = response
        for k in range(len(hold) - 1, 0, -1):  # an unfinished placeholder at the end may still be replaced
            if safe.endswith(hold[:k]):
                safe = safe[:-k]
                break
        if not safe.startswith(printed) or safe == printed:
            continue
        if not printed:
            print("ChatGLM3: ", end="", flush=True)
        print(safe[len(printed):], end="", flush=True)
        printed = safe
    if isinstance(response, str) and response.startswith(printed):
        if not printed:
            print("ChatGLM3: ", end="")
        print(response[len(printed):])
    else:  # a tool call, or text that changed under us: the final response on a line of its own
        print(("\n" if printed else "") + f"ChatGLM3: {response}")
    return response, history, first_at


def main(cfg: Config) -> dict:
    t_main = time.perf_counter()
    import common.chatglm3  # noqa: F401  (torch + transformers: most of a cold start)
    t_imported = time.perf_counter()
    model, tokenizer = model_from_args(cfg)
    t_loaded = time.perf_counter()
    load_s = t_loaded - t_imported
    print(f"loaded {model.load_report['path']} ({cfg.precision}, {model.device}) in {load_s:.1f} s")
    print(f"用户: {cfg.prompt}")
    response, history, first_at = stream_answer(model, tokenizer, cfg.prompt, sampling_kwargs(cfg))
    t_done = time.perf_counter()
    gen_s = t_done - t_loaded
    n_tokens = len(tokenizer.encode(history[-1]["content"], add_special_tokens=False))
    print(f"[{n_tokens} tokens in {gen_s:.2f} s, {n_tokens / max(gen_s, 1e-9):.1f} tokens/s]")
    timing = {"python_start_s": python_start_s(), "script_imports_s": t_main - _STARTED,
              "torch_transformers_import_s": t_imported - t_main, "load_s": load_s,
              "first_token_s": (first_at or t_done) - t_loaded, "generate_s": gen_s,
              "to_first_token_s": (first_at or t_done) - _STARTED}
    if cfg.timing:
        start = timing["python_start_s"]
        print(f"[timing] python start {start:.2f} s | " if start is not None else "[timing] ", end="")
        print(f"script imports {timing['script_imports_s']:.2f} s | torch+transformers+common.chatglm3 "
              f"{timing['torch_transformers_import_s']:.2f} s | load model+tokenizer {load_s:.2f} s | prompt -> "
              f"first token {timing['first_token_s']:.2f} s | command -> first token "
              f"{timing['to_first_token_s'] + (start or 0):.2f} s | whole answer {gen_s:.2f} s")
    return {"response": response, "history": history, "load_s": load_s, "generate_s": gen_s, "timing": timing}


if __name__ == "__main__":
    run(main, Config, __doc__)
