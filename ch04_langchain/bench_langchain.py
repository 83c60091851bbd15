"""Benchmark for chapter 4: what the LangChain layer costs. On the same model, in one run: direct
``common.chatglm3.chat`` vs ``ChatGLM3LLM`` vs ``ChatGLM3ChatModel`` in-process vs ``ChatGLM3ChatModel`` through the
chapter-3 server (started here, sharing the loaded model): time per call and first-token latency when streaming;
then ``abatch`` of 8 prompts through the server (which batches them) vs the same 8 calls one after another.

    python ch04_langchain/bench_langchain.py                      # demo model, greedy, 32 new tokens per call
    python ch04_langchain/bench_langchain.py --repeats 10 --threads 1
    python ch04_langchain/bench_langchain.py --model /path/to/chatglm3-6b --device cuda --precision fp16

Every call is greedy with a fixed number of new tokens, so every path generates the same tokens.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import ModelArgs, UserError, arg, run

PROMPTS = ["你好，请介绍一下你自己。", "ChatGLM3是什么？", "如何下载ChatGLM3-6B？", "北京有什么好玩的？",
           "什么是量化？", "LangChain能做什么？", "推荐一本书。", "今天心情不错。"]


@dataclass
class Config(ModelArgs):
    new_tokens: int = arg(32, "new tokens per call (greedy, no early stop)")
    repeats: int = arg(5, "timed calls per row (after one warm-up call)")
    batch: int = arg(8, "prompts in the abatch-vs-sequential comparison")


def _median(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2


def _time(fn, repeats: int) -> float:
    fn()  # warm-up
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return _median(out)


def _first_token(make_iter, repeats: int) -> float:
    def once():
        t = time.perf_counter()
        it = make_iter()
        for chunk in it:
            if chunk:
                break
        dt = time.perf_counter() - t
        close = getattr(it, "close", None)
        if close:
            close()
        return dt
    once()
    return _median([once() for _ in range(repeats)])


def main(cfg: Config) -> dict:
    if cfg.new_tokens < 1 or cfg.repeats < 1 or cfg.batch < 1:
        raise UserError("--new-tokens, --repeats and --batch must be >= 1")
    import asyncio

    from ch03_gradio.openai_api import Config as ServerConfig, start_in_thread
    from common.chatglm3 import chat, stream_chat
    from common.cli import apply_threads
    from common.langchain_chatglm3 import ChatGLM3ChatModel, ChatGLM3LLM, shared_model_and_tokenizer

    apply_threads(cfg)
    model, tok = shared_model_and_tokenizer(cfg.model, cfg.precision, cfg.device,
                                            kernels=getattr(cfg, "cpu_kernels", "plain"))
    n, prompt = cfg.new_tokens, PROMPTS[0]
    # 固定生成长度：关闭停止词（min_new_tokens），保证每条路径生成同样多的 token
    direct_kw = {"max_new_tokens": n, "do_sample": False, "min_new_tokens": n}
    gen = {"temperature": 0, "max_tokens": n}
    llm = ChatGLM3LLM(model=model, tokenizer=tok, **gen)
    chat_model = ChatGLM3ChatModel(model=model, tokenizer=tok, **gen)
    handle = start_in_thread(ServerConfig(port=0, log_level="warning", max_batch_size=max(16, cfg.batch)),
                             model, tok)
    try:
        served = ChatGLM3ChatModel(base_url=handle.url, model="chatglm3", **gen)
        served_kwargs = {"min_tokens": n}  # sent as the vLLM-style extra: no early stop on the server either

        def served_call(p=prompt):
            return served.invoke(p, **served_kwargs)

        rows = []
        print(f"model {model.load_report['path'].rsplit('/', 1)[-1]}, {n} new tokens per call, median of "
              f"{cfg.repeats}; timing...")
        t_direct = _time(lambda: chat(model, tok, prompt, **direct_kw), cfg.repeats)
        rows.append(("direct common.chatglm3.chat", t_direct,
                     _first_token(lambda: stream_chat(model, tok, prompt, **direct_kw), cfg.repeats)))
        rows.append(("ChatGLM3LLM (in-process)", _time(lambda: llm.invoke(prompt, min_tokens=n), cfg.repeats),
                     _first_token(lambda: llm.stream(prompt, min_tokens=n), cfg.repeats)))
        rows.append(("ChatGLM3ChatModel (in-process)",
                     _time(lambda: chat_model.invoke(prompt, min_tokens=n), cfg.repeats),
                     _first_token(lambda: (c.content for c in chat_model.stream(prompt, min_tokens=n)),
                                  cfg.repeats)))
        rows.append(("ChatGLM3ChatModel -> ch03 server", _time(served_call, cfg.repeats),
                     _first_token(lambda: (c.content for c in served.stream(prompt, **served_kwargs)),
                                  cfg.repeats)))
        prompts = (PROMPTS * (cfg.batch // len(PROMPTS) + 1))[:cfg.batch]
        served_call()
        t = time.perf_counter()
        for p in prompts:
            served_call(p)
        t_seq = time.perf_counter() - t
        t = time.perf_counter()
        asyncio.run(served.abatch(prompts, **served_kwargs))
        t_batch = time.perf_counter() - t
    finally:
        handle.stop()
    print(f"\n{'path':<34} {'s/call':>8} {'overhead':>9} {'first token':>12}")
    for name, sec, ftl in rows:
        print(f"{name:<34} {sec:>8.3f} {(sec - t_direct) / t_direct:>+9.1%} {ftl * 1000:>9.0f} ms")
    print(f"\n{cfg.batch} prompts through the server: sequential {t_seq:.2f} s "
          f"({cfg.batch * n / t_seq:.0f} tok/s), abatch {t_batch:.2f} s ({cfg.batch * n / t_batch:.0f} tok/s) -> "
          f"{t_seq / t_batch:.1f}x throughput")
    return {"rows": [{"path": a, "seconds": b, "first_token_s": c} for a, b, c in rows],
            "sequential_s": t_seq, "abatch_s": t_batch, "speedup": t_seq / t_batch}


if __name__ == "__main__":
    run(main, Config, __doc__)
