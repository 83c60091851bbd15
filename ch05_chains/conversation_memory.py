"""5.4.1 ConversationChain会话链的使用 — the same dialogue with buffer, window and summary memory.

``ConversationChain`` (langchain-classic) puts the memory's ``{history}`` into the prompt before each turn.
Three memories, same turns: ``ConversationBufferMemory`` keeps everything, ``ConversationBufferWindowMemory``
keeps the last ``--window`` exchanges (so the model forgets the name given in turn 1), and
``ConversationSummaryMemory`` asks the LLM to fold each exchange into a running summary (one extra LLM call per
turn). After every turn the script prints what the memory will feed into the next prompt.

    python ch05_chains/conversation_memory.py
    python ch05_chains/conversation_memory.py --memory window --window 1
    python ch05_chains/conversation_memory.py --base-url http://127.0.0.1:8000/v1
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import GenerationArgs, ModelArgs, ServerArgs, UserError, arg, redefault, run

MEMORIES = ("buffer", "window", "summary")


@dataclass
class Config(ModelArgs, GenerationArgs, ServerArgs):
    memory: list = arg(list(MEMORIES), "which memories to run", choices=MEMORIES)
    window: int = arg(2, "exchanges kept by the window memory")
    turns: list = arg([], "what the human says, turn by turn (default: four bundled turns)")
    max_new_tokens: int = redefault(GenerationArgs, "max_new_tokens", 48)


def make_memory(kind: str, llm, window: int = 2):
    from langchain_classic.memory import (ConversationBufferMemory, ConversationBufferWindowMemory,
                                          ConversationSummaryMemory)
    from langchain_core.prompts import PromptTemplate

    from ch05_chains.prompts import SUMMARY_TEMPLATE

    names = {"human_prefix": "人类", "ai_prefix": "AI"}  # 与对话模板里的称呼一致
    if kind == "buffer":
        return ConversationBufferMemory(**names)
    if kind == "window":
        return ConversationBufferWindowMemory(k=window, **names)
    if kind == "summary":
        return ConversationSummaryMemory(llm=llm, prompt=PromptTemplate.from_template(SUMMARY_TEMPLATE), **names)
    raise UserError(f"unknown memory {kind!r}. To fix: one of {', '.join(MEMORIES)}")


def conversation_chain(llm, memory):
    from langchain_classic.chains import ConversationChain
    from langchain_core.prompts import PromptTemplate

    from ch05_chains.prompts import CONVERSATION_TEMPLATE

    return ConversationChain(llm=llm, memory=memory, prompt=PromptTemplate.from_template(CONVERSATION_TEMPLATE))


def run_dialogue(llm, kind: str, turns: list[str], window: int = 2, echo: bool = True) -> list[dict]:
    """Each turn's reply and the history the memory holds afterwards."""
    memory = make_memory(kind, llm, window)
    chain = conversation_chain(llm, memory)
    rows = []
    for text in turns:
        reply = chain.invoke({"input": text})["response"]
        history = memory.load_memory_variables({})["history"]
        rows.append({"input": text, "response": reply, "history": history})
        if echo:
            print(f"人类：{text}\nAI：{reply.strip()}")
            print("  [memory -> next prompt] " + (history.strip().replace("\n", "\n  ") or "(empty)"))
    return rows


def main(cfg: Config) -> dict:
    from ch05_chains.prompts import CONVERSATION_TURNS

    if cfg.window < 1:
        raise UserError(f"--window must be >= 1, got {cfg.window}")
    turns = cfg.turns or CONVERSATION_TURNS
    if any(not t.strip() for t in turns):
        raise UserError("--turns contains an empty turn. To fix: pass non-empty sentences")
    from ch05_chains.models import make_llm, print_stand_in

    llm = make_llm(cfg)
    print_stand_in(llm)
    results = {}
    for kind in cfg.memory:
        print(f"========== {kind} memory" + (f" (k={cfg.window})" if kind == "window" else ""))
        results[kind] = run_dialogue(llm, kind, turns, cfg.window)
    return {"dialogues": results}


if __name__ == "__main__":
    run(main, Config, __doc__)
