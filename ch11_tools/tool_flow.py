"""11.1.2-11.1.3 ChatGLM3工具调用流程 — system message with tools -> the model's call -> observation -> answer.

    python ch11_tools/tool_flow.py                                   # demo model, official get_weather / track
    python ch11_tools/tool_flow.py --question "600519 现在多少钱"
    python ch11_tools/tool_flow.py --model /path/to/chatglm3-6b --device cuda --precision fp16

The official flow, written out (as ``tool_using/cli_demo.py`` does it, but the call is parsed, never ``eval``-ed):

1. ``history = [{"role": "system", "content": TOOL_SYSTEM_PROMPT, "tools": [...]}]``
2. ``response, history = chat(model, tok, question, history)`` -> ``{"name": ..., "parameters": {...}}``
3. ``observation = registry.dispatch(name, parameters)`` (JSON text; errors come back as JSON too)
4. ``response, history = chat(model, tok, observation, history, role="observation")`` -> the answer

Every history message is printed after each turn.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import GenerationArgs, ModelArgs, UserError, arg, redefault, run


@dataclass
class Config(ModelArgs, GenerationArgs):
    question: str = arg("帮我查一下昆明现在的天气", "what to ask")
    max_rounds: int = arg(3, "tool calls allowed before giving up")
    temperature: float = redefault(GenerationArgs, "temperature", 0.0)
    max_new_tokens: int = redefault(GenerationArgs, "max_new_tokens", 128)


def main(cfg: Config) -> dict:
    if not cfg.question.strip():
        raise UserError("--question is empty. To fix: --question '北京天气怎么样'")
    from ch11_tools.agent import format_message
    from ch11_tools.registry import demo_registry
    from common.chatglm3 import chat
    from common.cli import model_from_args, sampling_kwargs

    model, tok = model_from_args(cfg)
    gen = sampling_kwargs(cfg)
    registry = demo_registry()
    history = [registry.system_message()]                       # step 1
    print("== step 1: the system message announces the tools")
    print(format_message(history[0]))
    query, role = cfg.question, "user"
    calls, shown = [], 1
    response = ""
    for round_ in range(cfg.max_rounds + 1):
        response, history = chat(model, tok, query, history, role=role, **gen)   # steps 2 / 4
        print(f"\n== model turn {round_ + 1} (after a {role} message): history now has {len(history)} items")
        for item in history[shown:]:
            print(format_message(item))
        shown = len(history)
        if not isinstance(response, dict) or "parameters" not in response:
            break
        if round_ == cfg.max_rounds:
            response = f"(stopped after {cfg.max_rounds} tool calls)"
            break
        result = registry.call(response["name"], response["parameters"])        # step 3
        calls.append(result.as_dict())
        print(f"\n== the program runs {response['name']}(**{response['parameters']}) -> "
              f"{'ok' if result.ok else result.error}")
        query, role = result.content, "observation"
    print(f"\nanswer: {response}")
    return {"question": cfg.question, "answer": response, "calls": calls, "history": history}


if __name__ == "__main__":
    run(main, Config, __doc__)
