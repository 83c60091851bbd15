"""11.2.5 The agent loop — ask, call a tool, observe, repeat (up to N steps), answer; streamed and traced.

The official ``tool_using/cli_demo.py`` runs one call per question and cannot stream it. :class:`Agent` runs
several (weather in two cities, then compare), yields :class:`AgentEvent` objects as they happen (text deltas, a
call starting, the parsed call, its result, the answer) and returns an :class:`AgentResult` with the whole trace.
The model is a *backend* with one method, ``stream(history, query, role)``, yielding ``(response, history)``
exactly like ``common.chatglm3.stream_chat``; three are provided:

* :class:`LocalBackend` — the model in this process (``stream_chat``);
* :class:`OpenAIBackend` — any OpenAI-compatible server (``ch03_gradio/openai_api.py``, vLLM) via the ``openai``
  client with ``tools=``;
* :class:`ScriptedBackend` — replies written in advance (tests, docs), streamed through the same parser.

    from ch11_tools.agent import Agent, LocalBackend
    from ch11_tools.registry import demo_registry
    agent = Agent(LocalBackend(model, tok, max_new_tokens=128), demo_registry(), max_steps=4)
    for event in agent.stream("北京和上海哪个更热？"): print(event)
    result = agent.run("北京天气怎么样")      # result.answer, result.trace, result.history
"""
from __future__ import annotations

import copy
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ch11_tools.registry import ToolRegistry, ToolResult
from common.prompts import TOOL_SYSTEM_PROMPT

ResponseStream = Iterator[tuple[Any, list[dict]]]


class Backend(Protocol):
    def stream(self, history: list[dict], query: str, role: str) -> ResponseStream: ...


# ============================================================================================== events and results
@dataclass
class AgentEvent:
    """One thing that happened. ``kind``:

    ``text`` (``text`` = the new piece of the reply) · ``call_start`` (``name``: the model began a call) ·
    ``call`` (``name``, ``arguments``: the parsed call) · ``result`` (``observation``: the :class:`ToolResult`) ·
    ``answer`` (``text`` = the final answer) · ``stopped`` (``text`` says why the loop stopped early) ·
    ``done`` (``final``: the :class:`AgentResult`; always last)."""

    kind: str
    step: int
    text: str = ""
    name: str = ""
    arguments: Any = None
    observation: ToolResult | None = None
    final: "AgentResult | None" = None

    def __str__(self) -> str:
        if self.kind == "text":
            return f"[{self.step}] text {self.text!r}"
        if self.kind in ("call_start", "call"):
            return f"[{self.step}] {self.kind} {self.name} {self.arguments if self.arguments is not None else ''}"
        if self.kind == "result":
            o = self.observation
            return f"[{self.step}] result {'ok' if o.ok else o.error} {o.content[:120]}"
        return f"[{self.step}] {self.kind} {self.text[:200]}"


@dataclass
class TraceStep:
    """One tool step of the trace."""

    step: int
    name: str
    arguments: Any
    ok: bool
    observation: str
    error: str | None
    elapsed_s: float
    model_s: float                     # time the model took to write the call

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class AgentResult:
    question: str
    answer: str
    trace: list[TraceStep]
    history: list[dict]
    stopped: str | None = None          # None | "max_steps" | "repeated_call"
    elapsed_s: float = 0.0
    events: list[AgentEvent] = field(default_factory=list)

    @property
    def steps(self) -> int:
        return len(self.trace)

    def as_dict(self) -> dict:
        return {"question": self.question, "answer": self.answer, "steps": self.steps, "stopped": self.stopped,
                "elapsed_s": round(self.elapsed_s, 3), "trace": [t.as_dict() for t in self.trace]}


def format_trace(result: AgentResult) -> str:
    """A readable trace: one line per tool step, then the answer."""
    lines = [f"Q: {result.question}"]
    for t in result.trace:
        status = "ok" if t.ok else f"ERROR {t.error}"
        lines.append(f"  step {t.step}: {t.name}({t.arguments}) -> {status} {t.observation[:160]}")
    if result.stopped:
        lines.append(f"  stopped: {result.stopped}")
    lines.append(f"A: {result.answer}")
    return "\n".join(lines)


# ============================================================================================== the loop
class Agent:
    """The tool loop over any backend. ``max_steps``: tool calls allowed per question; ``system``: extra
    instructions sent as a second system message after the tools message (ChatGLM3's tools prompt stays as the
    model was trained on it)."""

    def __init__(self, backend: Backend, registry: ToolRegistry, max_steps: int = 4, system: str | None = None,
                 on_event: Callable[[AgentEvent], None] | None = None, stop_on_repeat: bool = True):
        if max_steps < 0:
            raise ValueError("max_steps must be >= 0")
        self.backend, self.registry, self.max_steps = backend, registry, max_steps
        self.system, self.on_event, self.stop_on_repeat = system, on_event, stop_on_repeat

    def start_history(self, history: list[dict] | None = None) -> list[dict]:
        """``history`` with the tools system message first (added when missing, refreshed when present)."""
        history = copy.deepcopy(history) if history else []
        if history and history[0].get("role") == "system" and "tools" in history[0]:
            history[0] = self.registry.system_message(history[0].get("content") or TOOL_SYSTEM_PROMPT)
        else:
            head = [self.registry.system_message()]
            if self.system:
                head.append({"role": "system", "content": self.system})
            history = head + history
        return history

    def run(self, question: str, history: list[dict] | None = None) -> AgentResult:
        """Run to the end; the result holds the answer, the trace, the new history and every event."""
        final = None
        for event in self.stream(question, history):
            final = event.final or final
        return final

    def stream(self, question: str, history: list[dict] | None = None) -> Iterator[AgentEvent]:
        """Yield :class:`AgentEvent` objects while the agent works; the last one is ``done`` with the result."""
        t0 = time.perf_counter()
        events: list[AgentEvent] = []

        def emit(event: AgentEvent) -> AgentEvent:
            events.append(event)
            if self.on_event:
                self.on_event(event)
            return event

        history = self.start_history(history)
        names = tuple(self.registry.names())
        query, role = question, "user"
        trace: list[TraceStep] = []
        seen_calls: set[str] = set()
        answer, stopped = "", None
        step = 0
        while True:
            t_model = time.perf_counter()
            response: Any = ""
            new_history = history
            sent = ""                         # text already emitted for this model turn
            call_started = False
            for response, new_history in self.backend.stream(history, query, role):
                if isinstance(response, dict):
                    if not call_started:
                        call_started = True
                        yield emit(AgentEvent("call_start", step + 1, name=response.get("name", "")))
                    continue
                visible = _visible_text(response, names)
                if visible.startswith(sent) and len(visible) > len(sent):
                    yield emit(AgentEvent("text", step, text=visible[len(sent):]))
                    sent = visible
            model_s = time.perf_counter() - t_model
            history = new_history
            if isinstance(response, dict) and "parameters" in response:
                name, arguments = response["name"], response["parameters"]
                if step >= self.max_steps:
                    stopped = "max_steps"
                    answer = f"(stopped: the model asked for more than {self.max_steps} tool step(s))"
                    yield emit(AgentEvent("stopped", step, text=answer, name=name, arguments=arguments))
                    break
                key = f"{name}:{_canonical(arguments)}"
                if self.stop_on_repeat and key in seen_calls:
                    stopped = "repeated_call"
                    answer = f"(stopped: the model repeated the call {name}({arguments}))"
                    yield emit(AgentEvent("stopped", step, text=answer, name=name, arguments=arguments))
                    break
                seen_calls.add(key)
                step += 1
                yield emit(AgentEvent("call", step, name=name, arguments=arguments))
                result = self.registry.call(name, arguments)
                yield emit(AgentEvent("result", step, name=name, arguments=arguments, observation=result))
                trace.append(TraceStep(step, name, arguments, result.ok, result.content, result.error,
                                       result.elapsed, model_s))
                query, role = result.content, "observation"
                continue
            if isinstance(response, dict):   # metadata the registry cannot use (e.g. "interpreter" without tools)
                response = response.get("content", "")
            answer = str(response)
            if answer.startswith(sent) and len(answer) > len(sent):
                yield emit(AgentEvent("text", step, text=answer[len(sent):]))
            yield emit(AgentEvent("answer", step, text=answer))
            break
        result = AgentResult(question, answer, trace, history, stopped, time.perf_counter() - t0, events)
        yield emit(AgentEvent("done", step, text=answer, final=result))


def _visible_text(text: str, tool_names: tuple[str, ...]) -> str:
    """Hold back a first line that may still become ``tool_name\\n`` (a call being written)."""
    head = text.strip()
    if "\n" not in text and tool_names and (not head or any(n.startswith(head) for n in tool_names)):
        return ""
    return text


def _canonical(arguments: Any) -> str:
    import json
    try:
        return json.dumps(arguments, sort_keys=True, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(arguments)


# ============================================================================================== backends
class LocalBackend:
    """The model in this process: ``common.chatglm3.stream_chat`` with fixed generation options."""

    def __init__(self, model, tokenizer, **generate_kwargs: Any):
        self.model, self.tokenizer, self.generate_kwargs = model, tokenizer, generate_kwargs
        self.name = "in-process"

    def stream(self, history: list[dict], query: str, role: str) -> ResponseStream:
        from common.chatglm3 import stream_chat
        yield from stream_chat(self.model, self.tokenizer, query, history, role=role, **self.generate_kwargs)


class OpenAIBackend:
    """An OpenAI-compatible server through the ``openai`` client (chapter 3's ``ApiChat``): the ChatGLM3 history
    becomes ``messages`` (``common.openai_protocol.history_to_messages``), the tools of ``history[0]`` become
    ``tools=``, and the streamed ``tool_calls`` come back as ChatGLM3 calls. One call per turn, as ChatGLM3 writes
    them."""

    def __init__(self, base_url: str, api_key: str | None = None, model: str | None = None,
                 max_tokens: int = 256, temperature: float = 0.8, top_p: float = 0.8, timeout: float = 120.0,
                 repetition_penalty: float = 1.0):
        import os

        from ch03_gradio.server.chat_client import ApiChat, GenSettings

        key = api_key or os.environ.get("CHATGLM3_API_KEY") or os.environ.get("OPENAI_API_KEY")
        self.chat = ApiChat(base_url, key, model, timeout=timeout)
        self.model, self.name = self.chat.model, self.chat.name
        self.gen = GenSettings(max_tokens=max_tokens, temperature=temperature, top_p=top_p,
                               repetition_penalty=repetition_penalty)
        self.last_request: dict | None = None     # what was sent last (11.1.5 prints it)

    def request(self, history: list[dict], query: str, role: str) -> dict:
        """The chat-completions request body for this turn (as ``ApiChat`` sends it, without ``stream``)."""
        from common.openai_protocol import history_to_messages

        full = history + [{"role": role, "content": query}]
        body: dict = {"model": self.model, "messages": history_to_messages(full), "max_tokens": self.gen.max_tokens,
                      "temperature": self.gen.temperature, "top_p": self.gen.top_p,
                      "repetition_penalty": self.gen.repetition_penalty}
        tools = history[0].get("tools") if history and history[0].get("role") == "system" else None
        if tools:
            body["tools"] = [{"type": "function", "function": t} for t in tools]
        return body

    def stream(self, history: list[dict], query: str, role: str) -> ResponseStream:
        import json

        from common.toolcall import fenced_tool_call

        body = self.request(history, query, role)
        self.last_request = body
        full = copy.deepcopy(history) + [{"role": role, "content": query}]
        update = None
        for update in self.chat.stream(body["messages"], body.get("tools"), self.gen):
            if update.tool_calls:
                yield {"name": update.tool_calls[0]["name"], "content": ""}, full
            elif update.content:
                yield update.content, full + [{"role": "assistant", "metadata": "", "content": update.content}]
        if update is not None and update.tool_calls:
            name, raw = update.tool_calls[0]["name"], update.tool_calls[0]["arguments"] or ""
            try:
                params = json.loads(raw) if raw.strip() else {}
            except json.JSONDecodeError:
                params = None
            if not isinstance(params, dict):
                params = {"_unparsed_arguments": raw[:200]}   # refused by the registry's validation
            try:
                content = fenced_tool_call(params)
            except ValueError:
                content = raw
            yield {"name": name, "parameters": params}, full + [{"role": "assistant", "metadata": name,
                                                                 "content": content}]
        else:
            text = update.content if update is not None else ""
            yield text, full + [{"role": "assistant", "metadata": "", "content": text}]


@dataclass
class Raw:
    """A scripted reply given as raw ChatGLM3 output text (``metadata\\ncontent``), e.g. a hostile call."""

    text: str


def chatglm3_output(reply: Any) -> str:
    """The text ChatGLM3 would decode after ``<|assistant|>`` for a scripted reply: a string is a plain answer,
    ``(name, parameters)`` a tool call, :class:`Raw` is used as it is."""
    from common.toolcall import fenced_tool_call

    if isinstance(reply, Raw):
        return reply.text
    if isinstance(reply, tuple):
        name, params = reply
        return f"{name}\n{fenced_tool_call(params)}"
    return "\n" + str(reply)


class ScriptedBackend:
    """Replies written in advance, one per model turn, streamed in ``chunk``-character pieces through
    ``common.chatglm3.process_response`` — the same parser the real model's output goes through.

    ``replies``: a list, or a function ``(history, query, role) -> reply``. Every prompt the "model" saw is kept
    in ``self.seen`` (tests check what the loop sent)."""

    def __init__(self, replies: list | Callable[[list[dict], str, str], Any], chunk: int = 3):
        self.replies = replies if callable(replies) else list(replies)
        self.chunk = max(1, chunk)
        self.seen: list[tuple[list[dict], str, str]] = []
        self.name = "scripted"

    def stream(self, history: list[dict], query: str, role: str) -> ResponseStream:
        from common.chatglm3 import process_response

        self.seen.append((copy.deepcopy(history), query, role))
        if callable(self.replies):
            reply = self.replies(history, query, role)
        else:
            if not self.replies:
                raise RuntimeError("ScriptedBackend ran out of replies")
            reply = self.replies.pop(0)
        text = chatglm3_output(reply)
        hist = copy.deepcopy(history) + [{"role": role, "content": query}]
        for end in range(self.chunk, len(text), self.chunk):
            yield process_response(text[:end], hist, partial=True)
        yield process_response(text, hist)


def backend_from_args(cfg: Any, quiet: bool = False) -> Backend:
    """``--base-url`` -> :class:`OpenAIBackend`; otherwise the model of ``--model`` in this process."""
    from common.cli import model_from_args, sampling_kwargs

    gen = sampling_kwargs(cfg)
    if getattr(cfg, "base_url", None):
        return OpenAIBackend(cfg.base_url, getattr(cfg, "api_key", None), max_tokens=gen["max_new_tokens"],
                             temperature=gen["temperature"], top_p=gen["top_p"],
                             repetition_penalty=gen["repetition_penalty"])
    model, tok = model_from_args(cfg, quiet=quiet)
    return LocalBackend(model, tok, **gen)


def format_message(item: dict, width: int = 300) -> str:
    """One ChatGLM3 history item as a line: ``<|role|> metadata | content`` (tools listed by name)."""
    role = item.get("role", "?")
    text = str(item.get("content", ""))
    if len(text) > width:
        text = text[:width] + f"…(+{len(text) - width} chars)"
    meta = item.get("metadata") or ""
    extra = f" tools={[t.get('name') for t in item['tools']]}" if "tools" in item else ""
    return f"<|{role}|>{' ' + meta if meta else ''}{extra}\n    {text!r}"


def print_events(events: Iterator[AgentEvent], out=None) -> AgentResult | None:
    """Print events as they come (text streams in place, each tool step on its own lines); return the result."""
    import json
    out = out or sys.stdout
    final = None
    for event in events:
        if event.kind == "text":
            print(event.text, end="", flush=True, file=out)
        elif event.kind == "call_start":
            print(f"\n[step {event.step}] calling {event.name} ...", flush=True, file=out)
        elif event.kind == "call":
            print(f"[step {event.step}] {event.name}({json.dumps(event.arguments, ensure_ascii=False)})", file=out)
        elif event.kind == "result":
            o = event.observation
            print(f"[step {event.step}] {'ok' if o.ok else 'ERROR ' + str(o.error)} ({o.elapsed * 1000:.1f} ms): "
                  f"{o.content[:300]}", file=out)
        elif event.kind == "stopped":
            print(f"\n[stopped] {event.text}", file=out)
        elif event.kind == "done":
            final = event.final
            print(file=out)
    return final
