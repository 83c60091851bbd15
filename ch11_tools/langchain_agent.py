"""11.2.5 (LangChain) — the same registry as a LangChain 1.x agent: ``create_agent`` over ``ChatGLM3ChatModel``.

    python ch11_tools/langchain_agent.py                                  # demo model, in-process
    python ch11_tools/langchain_agent.py --base-url http://127.0.0.1:8000/v1
    python ch11_tools/langchain_agent.py --fake                           # a fake chat model emitting tool calls
    python ch11_tools/langchain_agent.py --model /path/to/chatglm3-6b --tools beauty \\
        --question "油皮200元以内的洁面有哪些？"

``ToolRegistry.langchain_tools()`` turns every registered tool into a LangChain ``StructuredTool`` whose function
goes through ``ToolRegistry.call`` — the JSON Schema validation, timeout, truncation and error observations stay the
same; LangChain's agent (a LangGraph graph: model node -> tools node -> model ...) runs the loop. ``ChatGLM3ChatModel``
(``common/langchain_chatglm3.py``) binds the tools into ChatGLM3's tool system message and returns
``AIMessage.tool_calls``. Every message of the run is printed.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import GenerationArgs, ModelArgs, ServerArgs, UserError, arg, redefault, run


@dataclass
class Config(ModelArgs, GenerationArgs, ServerArgs):
    question: str = arg("帮我查查洛阳今天的天气", "what to ask")
    tools: str = arg("demo", "which tools to offer", choices=["demo", "beauty", "all"])
    fake: bool = arg(False, "use a fake chat model that emits scripted tool calls (no ChatGLM3 at all)")
    recursion_limit: int = arg(12, "LangGraph's limit on model/tool node visits (stops a looping agent)")
    temperature: float = redefault(GenerationArgs, "temperature", 0.0)
    max_new_tokens: int = redefault(GenerationArgs, "max_new_tokens", 128)


def fake_tool_calling_model(messages: list):
    """LangChain's ``GenericFakeChatModel`` replaying ``messages`` (``AIMessage`` objects, with ``tool_calls`` where
    wanted); ``bind_tools`` returns the model itself, which is all ``create_agent`` needs from it."""
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel

    class FakeToolCallingModel(GenericFakeChatModel):
        def bind_tools(self, tools: Any, **kwargs: Any):
            return self

    return FakeToolCallingModel(messages=iter(messages))


def default_fake_messages(question: str) -> list:
    from langchain_core.messages import AIMessage
    return [AIMessage(content="", tool_calls=[{"name": "get_weather", "args": {"city_name": "洛阳"}, "id": "call_1"}]),
            AIMessage(content="洛阳今天的天气见上面的工具结果。")]


def main(cfg: Config) -> dict:
    if not cfg.question.strip():
        raise UserError("--question is empty. To fix: --question '北京天气怎么样'")
    from langchain.agents import create_agent

    from ch11_tools.agent_demo import make_registry

    registry = make_registry(cfg.tools, 10.0)
    demo = None
    if cfg.fake:
        model = fake_tool_calling_model(default_fake_messages(cfg.question))
    else:
        from common.langchain_chatglm3 import chat_model_from_config, demo_line
        model = chat_model_from_config(cfg)
        demo = demo_line(model, "tool calls and answers")
        if demo:
            print(demo)
    agent = create_agent(model, tools=registry.langchain_tools())
    out = agent.invoke({"messages": [{"role": "user", "content": cfg.question}]},
                       config={"recursion_limit": cfg.recursion_limit})
    rows = []
    for m in out["messages"]:
        calls = [{"name": c["name"], "args": c["args"]} for c in getattr(m, "tool_calls", None) or []]
        rows.append({"type": m.type, "content": m.content if isinstance(m.content, str) else str(m.content),
                     "tool_calls": calls})
        line = f"{m.type:6s} {rows[-1]['content'][:200]!r}"
        if calls:
            line += f"  tool_calls={calls}"
        print(line)
    answer = rows[-1]["content"] if rows else ""
    return {"messages": rows, "answer": answer,
            "tool_calls": [c for r in rows for c in r["tool_calls"]],
            "tool_results": [r["content"] for r in rows if r["type"] == "tool"]}


if __name__ == "__main__":
    run(main, Config, __doc__)
