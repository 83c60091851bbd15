"""What the web demos (3.3.1 gradio, 3.4.2 streamlit) share: a chat backend, the demo tools, the tool loop.

* :class:`InProcessChat` runs the model inside the web app (``common.chatglm3.stream_chat``);
  :class:`ApiChat` talks to ``openai_api.py`` (or vLLM, or any OpenAI-compatible server) with the ``openai`` client.
  Both take the conversation as OpenAI messages and yield :class:`ChatUpdate` while the reply grows.
* :data:`DEMO_TOOLS` are the official example tools (``get_weather``, ``track``) with fake local implementations
  that return JSON, so a whole tool round trip (call -> result -> answer) runs offline.
* :func:`chat_turn` is the loop: ask the model, run the tools it calls, send the results back, until it answers.
* :func:`display_messages` turns the conversation into gradio-6 chat messages (tool calls as collapsible boxes).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Iterator

from common.cli import GenerationArgs, ModelArgs, arg, redefault
from common.demo_tools import call_demo_tool
from common.openai_protocol import messages_to_history, tools_to_chatglm
from common.prompts import example_tools
from common.toolcall import arguments_json


# ============================================================================================== demo tools
DEMO_TOOLS = [{"type": "function", "function": t} for t in example_tools()]


def run_tool(name: str, arguments: str | dict) -> str:
    """Run a demo tool (``common.demo_tools``); the result (or the error) is JSON text for the ``tool`` message.
    Never raises: bad arguments from the model are told back to it instead of crashing the UI."""
    try:
        args = json.loads(arguments) if isinstance(arguments, str) else dict(arguments)
    except (ValueError, TypeError) as exc:
        return json.dumps({"error": f"{type(exc).__name__}: {exc}"}, ensure_ascii=False)
    if not isinstance(args, dict):
        return json.dumps({"error": "tool arguments must be a JSON object"}, ensure_ascii=False)
    return call_demo_tool(name, args)


# ============================================================================================== backends
@dataclass
class ChatUpdate:
    content: str = ""
    tool_calls: list[dict] = field(default_factory=list)   # [{"id", "name", "arguments"}] (arguments: JSON text)
    finished: bool = False


@dataclass
class ChatUIConfig(ModelArgs, GenerationArgs):
    """Options both web demos share (gradio adds its launch options): the model flags, generation defaults, and
    where the model lives (in this process, or behind ``--api-base``)."""

    max_new_tokens: int = redefault(GenerationArgs, "max_new_tokens", 512)
    api_base: str | None = arg(None, "OpenAI-compatible server to use instead of loading the model here, e.g. "
                                     "http://127.0.0.1:8000 (openai_api.py) or a vLLM server", group="chat")
    api_key: str | None = arg(None, "API key for --api-base", group="chat")
    api_model: str | None = arg(None, "model id at --api-base (default: the first it serves)", group="chat")
    system: str = arg("", "initial system prompt", group="chat")
    tools: bool = arg(False, "start with the example tools enabled", group="chat")


def make_backend(cfg: ChatUIConfig):
    """``--api-base`` -> :class:`ApiChat`; otherwise the model loaded in this process (:class:`InProcessChat`)."""
    if cfg.api_base:
        return ApiChat(cfg.api_base, cfg.api_key, cfg.api_model)
    from common.cli import model_from_args
    from common.resolve import resolve_model_path
    if cfg.seed is not None:
        import torch
        torch.manual_seed(cfg.seed)
    model, tok = model_from_args(cfg)
    return InProcessChat(model, tok, name=resolve_model_path(cfg.model).name)


@dataclass
class GenSettings:
    max_tokens: int = 512
    temperature: float = 0.8
    top_p: float = 0.8
    repetition_penalty: float = 1.0


class InProcessChat:
    """The model in this process: OpenAI messages -> ChatGLM3 history -> ``stream_chat``."""

    def __init__(self, model, tokenizer, name: str = "in-process"):
        self.model, self.tokenizer, self.name = model, tokenizer, name

    def stream(self, messages: list[dict], tools: list[dict] | None, gen: GenSettings) -> Iterator[ChatUpdate]:
        from common.chatglm3 import stream_chat

        history = messages_to_history(messages, tools_to_chatglm(tools) if tools else None)
        last = history.pop()
        kwargs = dict(max_new_tokens=gen.max_tokens, temperature=gen.temperature, top_p=gen.top_p,
                      do_sample=gen.temperature > 0, repetition_penalty=gen.repetition_penalty)
        update = ChatUpdate()
        for response, _ in stream_chat(self.model, self.tokenizer, last["content"], history, role=last["role"],
                                       **kwargs):
            if isinstance(response, str):
                update = ChatUpdate(content=response)
            elif "parameters" in response:  # the finished, parsed call
                update = ChatUpdate(tool_calls=[{"id": "call_0", "name": response["name"],
                                                 "arguments": arguments_json(response["parameters"])}])
            else:  # a call being written: the name is known, the arguments are not yet
                update = ChatUpdate(tool_calls=[{"id": "call_0", "name": response["name"], "arguments": ""}])
            yield update
        update.finished = True
        yield update


class ApiChat:
    """Any OpenAI-compatible server (``openai_api.py``, vLLM, ...) through the ``openai`` client."""

    def __init__(self, base_url: str, api_key: str | None = None, model: str | None = None, timeout: float = 120):
        from openai import OpenAI

        base_url = base_url.rstrip("/")
        if not base_url.endswith("/v1"):
            base_url += "/v1"
        self.client = OpenAI(base_url=base_url, api_key=api_key or "EMPTY", timeout=timeout)
        self.model = model or self.client.models.list().data[0].id
        self.name = f"{self.model} @ {base_url}"

    def stream(self, messages: list[dict], tools: list[dict] | None, gen: GenSettings) -> Iterator[ChatUpdate]:
        extra = {"tools": tools} if tools else {}
        stream = self.client.chat.completions.create(
            model=self.model, messages=messages, stream=True, max_tokens=gen.max_tokens,
            temperature=gen.temperature, top_p=gen.top_p,
            extra_body={"repetition_penalty": gen.repetition_penalty}, **extra)
        update = ChatUpdate()
        try:
            for chunk in stream:
                if not chunk.choices:
                    continue
                delta = chunk.choices[0].delta
                if delta.content:
                    update.content += delta.content
                for tc in delta.tool_calls or []:
                    while len(update.tool_calls) <= tc.index:
                        update.tool_calls.append({"id": "", "name": "", "arguments": ""})
                    call = update.tool_calls[tc.index]
                    call["id"] = tc.id or call["id"]
                    if tc.function and tc.function.name:
                        call["name"] = tc.function.name
                    if tc.function and tc.function.arguments:
                        call["arguments"] += tc.function.arguments
                yield update
        finally:
            stream.close()   # stops generation on the server if the user pressed Stop
        update.finished = True
        yield update


# ============================================================================================== the tool loop
def chat_turn(backend, messages: list[dict], gen: GenSettings, tools: list[dict] | None = None,
              system: str = "", max_tool_rounds: int = 3) -> Iterator[list[dict]]:
    """Answer the last user message; yields the new OpenAI messages of this turn after every update.

    When the model calls a tool, the call and the tool's JSON result are appended and the model is asked again,
    at most ``max_tool_rounds`` times. ``system`` (if any) is sent first but not stored in the conversation."""
    new: list[dict] = []
    prefix = [{"role": "system", "content": system}] if system.strip() else []
    for _ in range(max_tool_rounds + 1):
        update = ChatUpdate()
        for update in backend.stream(prefix + messages + new, tools, gen):
            yield new + [_assistant_message(update)]
        if not update.tool_calls or not tools:
            new.append({"role": "assistant", "content": update.content})
            yield new
            return
        new.append(_assistant_message(update))
        for call in update.tool_calls:
            new.append({"role": "tool", "tool_call_id": call["id"], "content": run_tool(call["name"],
                                                                                       call["arguments"] or "{}")})
            yield new
    new.append({"role": "assistant", "content": f"(stopped after {max_tool_rounds} tool rounds)"})
    yield new


def _assistant_message(update: ChatUpdate) -> dict:
    if not update.tool_calls:
        return {"role": "assistant", "content": update.content}
    return {"role": "assistant", "content": update.content or None,
            "tool_calls": [{"id": c["id"] or f"call_{i}", "type": "function",
                            "function": {"name": c["name"], "arguments": c["arguments"]}}
                           for i, c in enumerate(update.tool_calls)]}


def display_messages(messages: list[dict]) -> list[dict]:
    """OpenAI messages -> gradio 6 ``Chatbot`` messages; tool calls/results become titled, collapsible boxes."""
    out: list[dict] = []
    for m in messages:
        role = m["role"]
        if role == "user":
            out.append({"role": "user", "content": m["content"]})
        elif role == "assistant":
            if m.get("content"):
                out.append({"role": "assistant", "content": m["content"]})
            for c in m.get("tool_calls") or []:
                fn = c["function"]
                out.append({"role": "assistant", "content": f"```json\n{fn['arguments'] or '…'}\n```",
                            "metadata": {"title": f"🛠️ 调用工具 {fn['name']}",
                                         "status": "done" if fn["arguments"] else "pending"}})
        elif role == "tool":
            out.append({"role": "assistant", "content": f"```json\n{m['content']}\n```",
                        "metadata": {"title": "📋 工具返回 tool result", "status": "done"}})
    return out


def scripted_dialogues() -> list[tuple[list[dict], list[dict] | None, dict]]:
    """The conversations the scripted tiny model learns (see ``scripted.py``): ``(messages, tools, reply)``.

    ``reply`` is ``{"content": text}`` or ``{"tool_call": (name, arguments)}``."""
    greeting = "你好！我是 ChatGLM3 演示助手。"
    question = "北京天气怎么样？"
    args = {"city_name": "北京"}
    obs = run_tool("get_weather", args)
    w = json.loads(obs)
    call = {"role": "assistant", "content": None,
            "tool_calls": [{"id": "call_0", "type": "function",
                            "function": {"name": "get_weather", "arguments": arguments_json(args)}}]}
    return [
        ([{"role": "user", "content": "你好"}], None, {"content": greeting}),
        ([{"role": "user", "content": "你好"}], DEMO_TOOLS, {"content": greeting}),
        ([{"role": "user", "content": question}], DEMO_TOOLS, {"tool_call": ("get_weather", args)}),
        ([{"role": "user", "content": question}, call, {"role": "tool", "tool_call_id": "call_0", "content": obs}],
         DEMO_TOOLS, {"content": f"北京今天{w['weather']}，气温 {w['temperature']}。"}),
    ]

