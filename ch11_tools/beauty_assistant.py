"""11.3.2 美妆助手的使用实战 — the beauty assistant on the command line (tools: catalogue search, product detail,
ingredient conflicts, routines).

    python ch11_tools/beauty_assistant.py                       # demo model: a few sample questions
    python ch11_tools/beauty_assistant.py --question "视黄醇和果酸能一起用吗"
    python ch11_tools/beauty_assistant.py --interactive         # type questions; empty line or Ctrl+D ends
    python ch11_tools/beauty_assistant.py --model /path/to/chatglm3-6b --device cuda --precision fp16 \\
        --question "我是油皮，想控油祛痘，预算400元，帮我搭一套早晚护肤流程"
    python ch11_tools/beauty_assistant.py --base-url http://127.0.0.1:8000/v1 --router off

Answers come from tool results (``data/ch11`` via ``ch11_tools/beauty.py``), not from the model's memory: the model
is told so in a system message and every tool step is printed as it happens. ``--router``: ``off`` lets the model
choose tools (real weights); ``on`` uses the keyword router for the first step and writes the answer from the
tool result (the demo model never learned these tools); ``auto`` = ``on`` for the demo model, ``off`` otherwise.
Questions the router does not recognise (``你好``) go to the model without tools. Without the router the questions
form one conversation (each sees the earlier turns' history).
"""
from __future__ import annotations

import copy
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import GenerationArgs, ModelArgs, ServerArgs, UserError, arg, redefault, run

SAMPLE_QUESTIONS = ["你好", "油皮有什么200元以内的洁面推荐？", "视黄醇和果酸能一起用吗？",
                    "敏感肌想保湿，预算600元，帮我搭一套早晚护肤流程"]
DEMO_LINE = ("[demo model] it never learned the beauty tools: a keyword router picks the tool and the answer is "
             "written from the tool result; with --model (real weights) the model chooses and answers itself.")


class BeautyAssistant:
    """The beauty tools + an :class:`~ch11_tools.agent.Agent`; ``router=True`` replaces the model's decision and
    answer by :func:`~ch11_tools.beauty.route` / :func:`~ch11_tools.beauty.render_answer` for recognised questions."""

    def __init__(self, backend, router: bool = False, max_steps: int = 4, registry=None):
        from ch11_tools.agent import Agent
        from ch11_tools.beauty import BEAUTY_SYSTEM, beauty_registry

        self.backend, self.router = backend, router
        self.registry = registry or beauty_registry()
        self.agent = Agent(backend, self.registry, max_steps=max_steps, system=BEAUTY_SYSTEM)

    def stream(self, question: str, history: list[dict] | None = None) -> Iterator:
        from ch11_tools.agent import AgentEvent, AgentResult, TraceStep
        from ch11_tools.beauty import render_answer, route
        from common.toolcall import fenced_tool_call

        if not self.router:
            yield from self.agent.stream(question, history)
            return
        import time
        t0 = time.perf_counter()
        routed = route(question)
        if routed is None:               # a tool-free question: the model answers, without tools
            answer, hist = "", []
            for answer, hist in self.backend.stream([], question, "user"):
                pass
            answer = answer if isinstance(answer, str) else str(answer.get("content", ""))
            events = [AgentEvent("text", 0, text=answer), AgentEvent("answer", 0, text=answer)]
            yield from events
            result = AgentResult(question, answer, [], hist, None, time.perf_counter() - t0, events)
            yield AgentEvent("done", 0, text=answer, final=result)
            return
        name, args = routed
        events = [AgentEvent("call_start", 1, name=name), AgentEvent("call", 1, name=name, arguments=args)]
        yield from events
        obs = self.registry.call(name, args)
        events.append(AgentEvent("result", 1, name=name, arguments=args, observation=obs))
        yield events[-1]
        answer = render_answer(name, obs.value, None if obs.ok else obs.content)
        events += [AgentEvent("text", 1, text=answer), AgentEvent("answer", 1, text=answer)]
        yield from events[-2:]
        hist = self.agent.start_history(None) + [
            {"role": "user", "content": question},
            {"role": "assistant", "metadata": name, "content": fenced_tool_call(copy.deepcopy(args))},
            {"role": "observation", "content": obs.content},
            {"role": "assistant", "metadata": "", "content": answer}]
        trace = [TraceStep(1, name, args, obs.ok, obs.content, obs.error, obs.elapsed, 0.0)]
        result = AgentResult(question, answer, trace, hist, None, time.perf_counter() - t0, events)
        yield AgentEvent("done", 1, text=answer, final=result)

    def run(self, question: str, history: list[dict] | None = None):
        final = None
        for event in self.stream(question, history):
            final = event.final or final
        return final


def resolve_router(mode: str, cfg) -> bool:
    if mode == "on":
        return True
    if mode == "off":
        return False
    if getattr(cfg, "base_url", None):
        return False
    from common.resolve import is_demo_model, resolve_model_path
    return is_demo_model(resolve_model_path(getattr(cfg, "model", None)))


@dataclass
class Config(ModelArgs, GenerationArgs, ServerArgs):
    question: list[str] = arg([], "question(s) to ask (default: a few samples)")
    interactive: bool = arg(False, "read questions from the terminal until an empty line")
    router: str = arg("auto", "keyword router for the first step: auto (on for the demo model) | on | off",
                      choices=["auto", "on", "off"])
    max_steps: int = arg(4, "tool calls allowed per question")
    temperature: float = redefault(GenerationArgs, "temperature", 0.0)
    max_new_tokens: int = redefault(GenerationArgs, "max_new_tokens", 256)


def main(cfg: Config) -> dict:
    from ch11_tools.agent import backend_from_args, print_events

    questions = [q for q in cfg.question if q.strip()] or ([] if cfg.interactive else SAMPLE_QUESTIONS)
    if cfg.question and not questions:
        raise UserError("every --question is empty. To fix: --question '油皮适合什么洁面'")
    backend = backend_from_args(cfg)
    router = resolve_router(cfg.router, cfg)
    if router and cfg.router == "auto":
        print(DEMO_LINE)
    assistant = BeautyAssistant(backend, router=router, max_steps=cfg.max_steps)
    print(f"tools: {assistant.registry.names()}  router: {'on' if router else 'off'}")
    results = []
    history: list[dict] | None = None          # one conversation: each question sees the earlier turns

    def ask(q: str) -> None:
        nonlocal history
        print(f"\n用户 user: {q}\n助手 assistant: ", end="")
        result = print_events(assistant.stream(q, history))
        history = None if router else result.history
        results.append(result.as_dict())

    for q in questions:
        ask(q)
    if cfg.interactive:
        while True:
            try:
                q = input("\n用户 user (empty line ends): ").strip()
            except EOFError:
                break
            if not q:
                break
            ask(q)
    return {"router": router, "results": results}


if __name__ == "__main__":
    run(main, Config, __doc__)
