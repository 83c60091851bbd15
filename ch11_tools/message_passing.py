"""11.1.5 ChatGLM3消息传递方式 — the history across turns, with and without tools, and its OpenAI form.

    python ch11_tools/message_passing.py                     # demo model; also starts the ch03 server in-process
    python ch11_tools/message_passing.py --base-url http://127.0.0.1:8000/v1    # a server you started yourself
    python ch11_tools/message_passing.py --no-serve          # skip the OpenAI part

ChatGLM3 keeps a conversation as a list of ``{"role", "content", "metadata"?, "tools"?}`` items and rebuilds the
whole prompt from it every turn (``build_chat_input``): nothing is remembered inside the model. This script prints

1. the history after a turn without tools (system?/user/assistant);
2. the history of a tool turn (system+tools / user / assistant *metadata=tool name* / observation / assistant) and
   of a follow-up question that uses the earlier turn;
3. what the OpenAI protocol turns the same history into (``common.openai_protocol.history_to_messages``):
   ``tool_calls`` on the assistant message and ``role: "tool"`` for the observation, tools as ``tools=``; then a
   real round trip through the chapter-3 server with the ``openai`` client (the server turns it back into a
   ChatGLM3 history, the model calls the tool, ``finish_reason == "tool_calls"``).
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import GenerationArgs, ModelArgs, ServerArgs, arg, redefault, run


@dataclass
class Config(ModelArgs, GenerationArgs, ServerArgs):
    question: str = arg("帮我查查洛阳今天的天气", "the tool question of part 2")
    follow_up: str = arg("那股票600519呢", "a second question in the same conversation")
    serve: bool = arg(True, "part 3: start the chapter-3 server in this process (loopback, any free port) when "
                            "--base-url is not given")
    temperature: float = redefault(GenerationArgs, "temperature", 0.0)
    max_new_tokens: int = redefault(GenerationArgs, "max_new_tokens", 96)


def show(title: str, history: list[dict]) -> None:
    from ch11_tools.agent import format_message
    print(f"\n== {title} ({len(history)} items)")
    for i, item in enumerate(history):
        print(f"[{i}] " + format_message(item, width=160))


def main(cfg: Config) -> dict:
    from ch11_tools.agent import Agent, LocalBackend, OpenAIBackend
    from ch11_tools.registry import demo_registry
    from common.chatglm3 import chat
    from common.cli import model_from_args, sampling_kwargs
    from common.openai_protocol import history_to_messages

    model, tok = model_from_args(cfg)
    gen = sampling_kwargs(cfg)
    registry = demo_registry()

    # 1. 不带工具的多轮
    _, plain = chat(model, tok, "你好", None, **gen)
    _, plain = chat(model, tok, "你能做什么", plain, **gen)
    show("1. two turns without tools", plain)

    # 2. 带工具：一次调用 + 追问
    agent = Agent(LocalBackend(model, tok, **gen), registry, max_steps=2)
    first = agent.run(cfg.question)
    second = agent.run(cfg.follow_up, history=first.history)
    show("2. a tool turn, then a follow-up in the same history", second.history)

    # 3. OpenAI 协议下的同一段对话
    messages = history_to_messages(second.history)
    print("\n== 3. the same conversation as OpenAI messages (tools go to tools=):")
    for m in messages:
        print("   " + json.dumps(m, ensure_ascii=False)[:220])
    result = {"plain_history": plain, "tool_history": second.history, "openai_messages": messages,
              "answers": [first.answer, second.answer]}
    if not (cfg.base_url or cfg.serve):
        return result
    handle = None
    if cfg.base_url:
        url = cfg.base_url
    else:
        from ch03_gradio.openai_api import Config as ServerConfig, start_in_thread
        handle = start_in_thread(ServerConfig(port=0, log_level="warning", served_model_name="chatglm3-ch11"),
                                 model, tok)
        url = handle.url
        print(f"\n   started the chapter-3 server at {url}/v1 (in this process)")
    try:
        backend = OpenAIBackend(url, cfg.api_key, max_tokens=cfg.max_new_tokens, temperature=cfg.temperature)
        remote = Agent(backend, registry, max_steps=2)
        events = []
        for event in remote.stream(cfg.question):
            if event.kind in ("call", "result", "answer"):
                events.append(event)
            if event.kind == "call":
                print("   request body sent for that turn (openai client):")
                print("   " + json.dumps(backend.last_request, ensure_ascii=False)[:400] + " ...")
                print(f"   <- tool_calls: {event.name} {json.dumps(event.arguments, ensure_ascii=False)}")
            elif event.kind == "result":
                print(f"   -> role 'tool' message: {event.observation.content[:160]}")
            elif event.kind == "answer":
                print("   messages of the request after the tool ran (assistant tool_calls + role 'tool'):")
                for m in backend.last_request["messages"]:
                    print("     " + json.dumps(m, ensure_ascii=False)[:200])
                print(f"   <- answer: {event.text}")
        final = events[-1].text if events else ""
        result.update(server_url=url, server_answer=final,
                      server_calls=[{"name": e.name, "arguments": e.arguments} for e in events if e.kind == "call"],
                      last_request=backend.last_request)
    finally:
        if handle is not None:
            handle.stop()
    return result


if __name__ == "__main__":
    run(main, Config, __doc__)
