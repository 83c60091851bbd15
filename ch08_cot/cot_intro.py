"""8.1 思维链初探 / 8.2.1 思维链详解 — one problem asked four ways, with the prompt ChatGLM3 actually sees.

For each method it prints the messages (as the ChatGLM3 tokens' text: ``<|system|>…<|user|>…<|assistant|>``), the
model's reply, the number read from it and whether it is right — the whole chapter on one screen.

    python ch08_cot/cot_intro.py                                  # demo model, the first bundled problem
    python ch08_cot/cot_intro.py --question "小明有5个苹果，又买了3袋，每袋4个，现在有几个？" --answer 17
    python ch08_cot/cot_intro.py --model /path/to/chatglm3-6b --show-prompt
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import GenerationArgs, ModelArgs, ServerArgs, arg, run

from ch08_cot.cot import METHODS


@dataclass
class Config(ModelArgs, GenerationArgs, ServerArgs):
    question: str = arg("", "the word problem (default: the first bundled problem)")
    answer: float | None = arg(None, "its gold answer, to mark the replies right or wrong")
    methods: list = arg(list(METHODS), "which methods to show", choices=METHODS)
    k: int = arg(3, "samples for self-consistency")
    show_prompt: bool = arg(True, "print the ChatGLM3 prompt text of each method")
    max_new_tokens: int = arg(160, "at most this many new tokens per answer")


def chatglm3_prompt_text(messages) -> str:
    """The text of the ChatGLM3 prompt LangChain messages become (role tokens written out)."""
    roles = {"system": "system", "human": "user", "ai": "assistant"}
    return "".join(f"<|{roles[m.type]}|>\n{m.content}" for m in messages) + "<|assistant|>"


def main(cfg: Config) -> dict:
    from common.langchain_chatglm3 import chat_model_from_config, demo_line
    from ch08_cot.answer import same_number
    from ch08_cot.cot import build_messages, solve
    from ch08_cot.problems import load_problems

    question, gold = cfg.question, cfg.answer
    if not question:
        first = load_problems(limit=1)[0]
        question, gold = first["question"], float(first["answer"])
    chat_model = chat_model_from_config(cfg, quiet=True)  # demo_line below is the one notice
    line = demo_line(chat_model, "replies")
    if line:
        print(line)
    print(f"question: {question}" + (f"   (gold answer: {gold:g})" if gold is not None else ""))
    results = {}
    for method in cfg.methods:
        print(f"\n===== {method} =====")
        if cfg.show_prompt:
            print("--- prompt ---\n" + chatglm3_prompt_text(build_messages(question, method)))
        sol = solve(chat_model, question, method, k=cfg.k)
        for i, text in enumerate(sol.texts):
            print(f"--- reply{'' if len(sol.texts) == 1 else f' {i + 1}'} ---\n{text.strip()}")
        verdict = "" if gold is None else ("  right" if same_number(sol.answer, gold) else "  wrong")
        extra = f" ({sol.votes}/{len(sol.texts)} votes)" if method == "self_consistency" else ""
        print(f"--> answer read: {sol.answer}{extra}{verdict}; tokens spent: {sol.tokens}")
        results[method] = sol
    return {"question": question, "gold": gold, "solutions": results}


if __name__ == "__main__":
    run(main, Config, __doc__)
