"""11.2.5 ChatGLM3调用工具实战演示 — our registry + the multi-step agent loop, streamed and traced.

    python ch11_tools/agent_demo.py                                    # demo model, get_weather / track
    python ch11_tools/agent_demo.py --scripted                         # a scripted model: 2 calls, then compare
    python ch11_tools/agent_demo.py --base-url http://127.0.0.1:8000/v1    # the ch03 server (openai client, tools=)
    python ch11_tools/agent_demo.py --model /path/to/chatglm3-6b --question "北京和上海今天哪个更暖和？"

The loop (``ch11_tools/agent.py``): ask the model; if it writes a call, validate and run it through the registry
(unknown tool / bad arguments / exception / timeout -> an error observation), send the observation back, repeat up
to ``--max-steps`` calls; events are printed the moment they happen (text pieces, call start, parsed call, result,
answer); the trace is printed at the end and returned. The demo model was trained for one call per question, so a
two-city comparison usually stops after one city on it; ``--scripted`` shows the full loop with fixed replies.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import GenerationArgs, ModelArgs, ServerArgs, UserError, arg, redefault, run


@dataclass
class Config(ModelArgs, GenerationArgs, ServerArgs):
    question: str = arg("北京和上海今天哪个更暖和？", "what to ask")
    max_steps: int = arg(4, "tool calls allowed per question")
    tools: str = arg("demo", "which tools to offer", choices=["demo", "beauty", "all"])
    scripted: bool = arg(False, "use a scripted model (two weather calls, then a comparison) instead of a real one")
    tool_timeout: float = arg(10.0, "seconds a tool may run before it becomes an error observation")
    temperature: float = redefault(GenerationArgs, "temperature", 0.0)
    max_new_tokens: int = redefault(GenerationArgs, "max_new_tokens", 128)


def make_registry(which: str, timeout: float):
    from ch11_tools.beauty import beauty_registry
    from ch11_tools.registry import demo_registry
    if which == "demo":
        return demo_registry(timeout)
    return beauty_registry(timeout, with_demo_tools=(which == "all"))


def scripted_comparison(history: list[dict], query: str, role: str):
    """Replies of the --scripted model: weather of 北京, of 上海, then an answer computed from the observations."""
    observations = [json.loads(h["content"]) for h in history if h["role"] == "observation"]
    if role == "observation":
        observations.append(json.loads(query))
    if len(observations) == 0:
        return ("get_weather", {"city_name": "北京"})
    if len(observations) == 1:
        return ("get_weather", {"city_name": "上海"})
    a, b = observations[:2]
    ta, tb = (int(o["temperature"].rstrip("℃")) for o in (a, b))
    warmer = a if ta >= tb else b
    return f"{a['city']}{a['temperature']}，{b['city']}{b['temperature']}：{warmer['city']}更暖和。"


def main(cfg: Config) -> dict:
    if not cfg.question.strip():
        raise UserError("--question is empty. To fix: --question '北京天气怎么样'")
    if cfg.max_steps < 0:
        raise UserError("--max-steps must be >= 0")
    from ch11_tools.agent import Agent, ScriptedBackend, backend_from_args, format_trace

    registry = make_registry(cfg.tools, cfg.tool_timeout)
    if cfg.scripted:
        backend = ScriptedBackend(scripted_comparison)
    else:
        backend = backend_from_args(cfg)
    print(f"tools offered: {registry.names()}  backend: {backend.name}  max steps: {cfg.max_steps}")
    agent = Agent(backend, registry, max_steps=cfg.max_steps)
    kinds: list[str] = []
    final = None
    for event in agent.stream(cfg.question):
        kinds.append(event.kind)
        if event.kind == "text":
            print(event.text, end="", flush=True)
        elif event.kind == "call_start":
            print(f"\n[step {event.step}] model is writing a call of {event.name} ...", flush=True)
        elif event.kind == "call":
            print(f"[step {event.step}] call {event.name}({json.dumps(event.arguments, ensure_ascii=False)})")
        elif event.kind == "result":
            o = event.observation
            print(f"[step {event.step}] {'ok' if o.ok else 'ERROR ' + o.error} in {o.elapsed * 1000:.1f} ms: "
                  f"{o.content[:200]}")
        elif event.kind == "stopped":
            print(f"\n[stopped] {event.text}")
        elif event.kind == "done":
            final = event.final
    print("\n\n== trace")
    print(format_trace(final))
    from common.resolve import is_demo_model, resolve_model_path
    if not cfg.scripted and not cfg.base_url and is_demo_model(resolve_model_path(cfg.model)):
        print("[demo model] trained for one call per question on get_weather/track only: multi-step plans and "
              "the beauty tools need real weights (--model) — try --scripted to see the full loop.")
    return {**final.as_dict(), "event_kinds": kinds}


if __name__ == "__main__":
    run(main, Config, __doc__)
