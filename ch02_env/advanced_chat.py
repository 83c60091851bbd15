"""2.3.6 ChatGLM 的高级使用：streaming, multi-turn history, a system prompt, sampling parameters, repetition
penalty, and a tool call answered through an observation turn.

    python ch02_env/advanced_chat.py                  # runs every demonstration once
    python ch02_env/advanced_chat.py --interactive    # a small REPL: /clear, /system TEXT, /tools, /quit

With tools, the model answers with ``{"name": ..., "parameters": {...}}``; the script runs the (offline, fake)
tool from ``common.demo_tools`` and sends its JSON back with ``role="observation"``. The model's call is parsed,
never executed.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script (`python ch02_env/x.py`): make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.chatglm3 import chat, stream_chat
from common.cli import GenerationArgs, ModelArgs, arg, model_from_args, redefault, run, sampling_kwargs
from common.demo_tools import call_demo_tool
from common.prompts import example_tools, tool_system_message


@dataclass
class Config(ModelArgs, GenerationArgs):
    max_new_tokens: int = redefault(GenerationArgs, "max_new_tokens", 96)
    interactive: bool = arg(False, "chat in the terminal instead of the demo")


def run_tool_round(model, tokenizer, query: str, history: list | None, gen: dict) -> tuple[object, list, list]:
    """Ask ``query``; while the model calls tools, run them and feed the result back. Returns the final answer,
    the history and the list of (call, observation) pairs."""
    response, history = chat(model, tokenizer, query, history=history, **gen)
    calls = []
    for _ in range(3):  # 最多连续调用 3 次工具，防止死循环
        if not (isinstance(response, dict) and "parameters" in response):
            break
        observation = call_demo_tool(response["name"], response["parameters"])
        calls.append((response, observation))
        print(f"  -> tool call {response['name']}({response['parameters']}) returned {observation}")
        response, history = chat(model, tokenizer, observation, history=history, role="observation", **gen)
    return response, history, calls


# 默认输入：演示模型也答得出的问题（它只学过单轮问答，没学过系统提示词）
SYSTEM_PROMPT = "你是一个乐于助人的中文助手，回答简洁。"
HISTORY_QUESTIONS = ["你好", "你能做什么？"]
STREAM_QUESTION = "介绍一下你自己"
SAMPLING_QUESTION = "这本书讲什么？"
TOOL_QUESTIONS = ["北京今天天气怎么样？", "帮我查一下股票600519的价格"]


def demo(model, tokenizer, gen: dict, is_demo: bool = False) -> dict:
    out: dict = {}
    print("== 1. system prompt + multi-turn history ==")
    history = [{"role": "system", "content": SYSTEM_PROMPT}]
    if is_demo:
        print("[demo model] no system prompt here: the demo model was trained without one and answers it with "
              "nonsense; with real weights this part starts with: " + SYSTEM_PROMPT)
        history = []
    for q in HISTORY_QUESTIONS:
        r, history = chat(model, tokenizer, q, history=history, **gen)
        print(f"用户: {q}\n助手: {r}")
    out["history"] = history

    print("\n== 2. streaming ==")
    printed = 0
    final = ""
    for final, _ in stream_chat(model, tokenizer, STREAM_QUESTION, **gen):
        if isinstance(final, str):
            print(final[printed:], end="", flush=True)
            printed = len(final)
    print()
    out["streamed"] = final

    print("\n== 3. sampling parameters ==")
    settings = {"greedy (temperature=0)": dict(temperature=0.0),
                "sampling (temperature=0.8, top_p=0.8)": dict(temperature=0.8, top_p=0.8),
                "repetition_penalty=1.3": dict(temperature=0.0, repetition_penalty=1.3)}
    out["sampling"] = {}
    for name, s in settings.items():
        r, _ = chat(model, tokenizer, SAMPLING_QUESTION, **{**gen, **s, "do_sample": s["temperature"] > 0})
        out["sampling"][name] = r
        print(f"[{name}] {r}")
    if is_demo and len({str(r) for r in out["sampling"].values()}) == 1:
        print("[demo model] the three settings gave the same text: the demo model memorised its few answers; "
              "with real weights sampling varies the wording")

    print("\n== 4. tool call + observation ==")
    history = [tool_system_message(example_tools())]
    for q in TOOL_QUESTIONS:
        print(f"用户: {q}")
        r, _, calls = run_tool_round(model, tokenizer, q, history, {**gen, "temperature": 0.0, "do_sample": False})
        print(f"助手: {r}")
        out.setdefault("tools", []).append({"query": q, "calls": calls, "answer": r})
    return out


def interactive(model, tokenizer, gen: dict) -> dict:
    history: list = []
    print("输入问题；/clear 清空历史，/system 文本 设置系统提示，/tools 启用示例工具，/quit 退出")
    for line in sys.stdin:
        q = line.strip()
        if not q:
            continue
        if q == "/quit":
            break
        if q == "/clear":
            history = []
            continue
        if q.startswith("/system "):
            history = [{"role": "system", "content": q[len("/system "):]}]
            continue
        if q == "/tools":
            history = [tool_system_message(example_tools())]
            continue
        r, history, _ = run_tool_round(model, tokenizer, q, history, gen)
        print(f"助手: {r}")
    return {"history": history}


def main(cfg: Config) -> dict:
    from common.resolve import is_demo_model

    model, tokenizer = model_from_args(cfg)
    gen = sampling_kwargs(cfg)
    if cfg.interactive:
        return interactive(model, tokenizer, gen)
    return demo(model, tokenizer, gen, is_demo=is_demo_model(model.load_report["path"]))


if __name__ == "__main__":
    run(main, Config, __doc__)
