"""OpenAI chat messages <-> ChatGLM3 history, and ChatGLM3 output -> OpenAI content / tool_calls.

The OpenAI-style server (``ch03_gradio/openai_api.py``), the web demos and the LangChain wrappers of later chapters
all speak OpenAI's message format on the outside and ChatGLM3's history on the inside; this module is the one place
that translates between the two.

OpenAI -> ChatGLM3 (:func:`messages_to_history`)::

    {"role": "system"|"developer", "content": ...}      -> {"role": "system", "content": ...}
    {"role": "user", "content": "..." | [text parts]}    -> {"role": "user", "content": ...}
    {"role": "assistant", "content": "..."}              -> {"role": "assistant", "metadata": "", "content": ...}
    {"role": "assistant", "tool_calls": [{function: {name, arguments}}]}
                                                         -> one {"role": "assistant", "metadata": name,
                                                            "content": "```python\\ntool_call(k=v)\\n```"} per call
    {"role": "tool", "content": ...}  (or legacy "function")  -> {"role": "observation", "content": ...}
    tools=[{"type": "function", "function": {name, description, parameters}}]
                                                         -> first item {"role": "system", "content":
                                                            TOOL_SYSTEM_PROMPT, "tools": [{name, description,
                                                            parameters}]}  (exactly what the model was trained on)

A system message of the caller is kept as a second system turn after the tool system message (the official
``openai_api_demo`` drops it; dropping instructions silently is worse than one more system turn).

ChatGLM3 -> OpenAI (:func:`parse_output`, :class:`StreamParser`): the decoded assistant output is split on
``<|assistant|>`` like ``common.chatglm3.process_response``; each segment is ``metadata\\ncontent``. Empty metadata is
text; metadata naming a declared tool is a tool call whose ``tool_call(...)`` is parsed by ``common.toolcall`` (never
executed) into JSON ``arguments``; any other metadata (e.g. ``interpreter``) stays visible as text. A call whose
call is only a call when its name is among the request's tools *and* its arguments parse into an object that can be
written as strict JSON (``common.toolcall.check_json_value``); anything else — an undeclared name such as
``，天气温℃， get_weather``, unparsable or non-JSON arguments — is returned as text and the reason is collected in
``problems`` (the server logs it). While streaming, a call is held back until it is complete, so the stream and the
non-stream answer stay identical.

Requests are read with :func:`loads_strict` (no NaN/Infinity, no lone surrogates, bounded depth and number length),
and tool-call ``arguments`` sent back by the client are checked the same way, so a hostile request is a 400
(:class:`ProtocolError`), never a crash deeper in.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any, Iterable

from common.prompts import TOOL_SYSTEM_PROMPT
from common.toolcall import MAX_CALL_CHARS, MAX_DEPTH, ToolCallError, arguments_json, check_json_value, \
    fenced_tool_call, parse_tool_call

ASSISTANT_TOKEN = "<|assistant|>"
OPENAI_ROLES = ("system", "developer", "user", "assistant", "tool", "function")


class ProtocolError(ValueError):
    """A request that cannot be turned into a ChatGLM3 conversation; ``param`` names the offending field."""

    def __init__(self, message: str, param: str | None = None):
        super().__init__(message)
        self.param = param


# ============================================================================================== requests
def content_text(content: Any, param: str = "content") -> str:
    """Text of an OpenAI message ``content``: a string, or a list of ``{"type": "text", "text": ...}`` parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for i, part in enumerate(content):
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
                texts.append(part["text"])
            else:
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise ProtocolError(f"content part of type {kind!r} is not supported: ChatGLM3 reads text only",
                                    f"{param}.{i}")
        return "".join(texts)
    raise ProtocolError("content must be a string or a list of text parts", param)


def tool_schema(tool: dict, param: str = "tools") -> dict:
    """One ChatGLM3 tool dict ``{name, description, parameters}`` from an OpenAI tool or legacy function."""
    fn = tool.get("function", tool) if isinstance(tool, dict) else None
    if isinstance(tool, dict) and "function" in tool and tool.get("type", "function") != "function":
        raise ProtocolError(f"tool type {tool.get('type')!r} is not supported (only 'function')", param)
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
        raise ProtocolError("every tool needs a function with a non-empty string name", param)
    out = {"name": fn["name"]}
    if fn.get("description") is not None:
        out["description"] = fn["description"]
    params = fn.get("parameters")
    out["parameters"] = copy.deepcopy(params) if params is not None else {"type": "object", "properties": {}}
    return out


def tools_to_chatglm(tools: Iterable[dict] | None) -> list[dict]:
    """OpenAI ``tools`` (or legacy ``functions``) -> the tool list ChatGLM3 reads in its system message."""
    out = [tool_schema(t, f"tools.{i}") for i, t in enumerate(tools or [])]
    names = [t["name"] for t in out]
    if len(set(names)) != len(names):
        raise ProtocolError("tool names must be unique", "tools")
    return out


MAX_JSON_DEPTH = 64
MAX_NUMBER_CHARS = 400


def _no_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _parse_int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise ValueError(f"a number with {len(text)} digits")
    return int(text)


def _parse_float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise ValueError(f"a number with {len(text)} characters")
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text} overflows a double")
    return value


def check_strict(value: Any, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Raise ``ValueError`` when a parsed JSON value nests deeper than ``max_depth`` or holds a string (or key) that
    is not valid Unicode (a lone surrogate such as ``"\\ud800"``, which JSON escapes allow). Iterative: no recursion."""
    stack = [(value, 0)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("a string holds a lone surrogate (invalid Unicode)") from None
        elif isinstance(v, (list, dict)):
            if depth >= max_depth:
                raise ValueError(f"JSON nested deeper than {max_depth} levels")
            if isinstance(v, dict):
                stack.extend((k, depth + 1) for k in v)
                stack.extend((x, depth + 1) for x in v.values())
            else:
                stack.extend((x, depth + 1) for x in v)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise ValueError(f"key {dup[:40]!r} appears twice in one object")
    return out


def loads_strict(text: str | bytes, max_depth: int = MAX_JSON_DEPTH, unique_keys: bool = False) -> Any:
    """``json.loads`` for untrusted input: NaN/Infinity, numbers longer than ``MAX_NUMBER_CHARS``, lone surrogates
    and nesting deeper than ``max_depth`` are a ``ValueError`` (so is invalid JSON, and with ``unique_keys`` an object
    with a duplicate key) — never a crash later."""
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_int=_parse_int, parse_float=_parse_float,
                           object_pairs_hook=_unique_keys if unique_keys else None)
    except RecursionError:
        raise ValueError(f"JSON nested deeper than {max_depth} levels") from None
    except UnicodeDecodeError:
        raise ValueError("the body is not UTF-8 text") from None
    check_strict(value, max_depth)
    return value


def _arguments_dict(arguments: Any, param: str) -> dict:
    if isinstance(arguments, str) and len(arguments) > MAX_CALL_CHARS:
        raise ProtocolError(f"tool call arguments longer than {MAX_CALL_CHARS} characters", param)
    if isinstance(arguments, dict):
        value = arguments
    elif arguments is None or (isinstance(arguments, str) and not arguments.strip()):
        value = {}
    elif isinstance(arguments, str):
        try:
            value = loads_strict(arguments, MAX_DEPTH + 1, unique_keys=True)
        except ValueError as exc:
            raise ProtocolError(f"tool call arguments must be a JSON object string ({exc})", param) from None
    else:
        raise ProtocolError("tool call arguments must be a JSON object string", param)
    if not isinstance(value, dict):
        raise ProtocolError("tool call arguments must be a JSON object", param)
    try:
        check_json_value(value)
    except ToolCallError as exc:
        raise ProtocolError(f"tool call arguments cannot be sent to ChatGLM3: {exc}", param) from None
    return value


def messages_to_history(messages: list[dict], tools: list[dict] | None = None) -> list[dict]:
    """OpenAI ``messages`` (+ ChatGLM3 ``tools`` from :func:`tools_to_chatglm`) -> a full ChatGLM3 history.

    The result includes the last message; :func:`prompt_ids` turns it into the prompt of the next assistant turn.
    """
    if not isinstance(messages, list) or not messages:
        raise ProtocolError("messages must be a non-empty list", "messages")
    history: list[dict] = []
    if tools:
        history.append({"role": "system", "content": TOOL_SYSTEM_PROMPT, "tools": copy.deepcopy(tools)})
    pending_calls: dict[str, str] = {}   # tool_call_id -> name, for the observations that answer them
    for i, msg in enumerate(messages):
        p = f"messages.{i}"
        if not isinstance(msg, dict):
            raise ProtocolError("every message must be an object", p)
        role = msg.get("role")
        if role not in OPENAI_ROLES:
            raise ProtocolError(f"unknown role {role!r}; expected one of {', '.join(OPENAI_ROLES)}", f"{p}.role")
        if role in ("system", "developer", "user"):
            if msg.get("content") is None:
                raise ProtocolError(f"a {role} message needs content", f"{p}.content")
            history.append({"role": "system" if role == "developer" else role,
                            "content": content_text(msg["content"], f"{p}.content")})
        elif role == "assistant":
            text = content_text(msg.get("content"), f"{p}.content")
            calls = list(msg.get("tool_calls") or [])
            if msg.get("function_call"):
                calls.append({"id": None, "type": "function", "function": msg["function_call"]})
            if not calls and msg.get("content") is None:
                raise ProtocolError("an assistant message needs content or tool_calls", f"{p}.content")
            if text or not calls:
                history.append({"role": "assistant", "metadata": "", "content": text})
            for j, call in enumerate(calls):
                fn = call.get("function") if isinstance(call, dict) else None
                if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"].strip():
                    raise ProtocolError("a tool call needs function.name", f"{p}.tool_calls.{j}.function")
                name = fn["name"].strip()
                if "\n" in name:
                    raise ProtocolError("a tool name cannot contain a newline", f"{p}.tool_calls.{j}.function.name")
                args = _arguments_dict(fn.get("arguments"), f"{p}.tool_calls.{j}.function.arguments")
                try:
                    content = fenced_tool_call(args)
                except (TypeError, ValueError, RecursionError) as exc:
                    raise ProtocolError(f"tool call arguments cannot be written as a ChatGLM3 call: {exc}",
                                        f"{p}.tool_calls.{j}.function.arguments") from None
                history.append({"role": "assistant", "metadata": name, "content": content})
                if call.get("id"):
                    pending_calls[call["id"]] = name
        else:  # tool / function -> observation
            if msg.get("content") is None:
                raise ProtocolError(f"a {role} message needs content", f"{p}.content")
            if role == "tool" and not isinstance(msg.get("tool_call_id"), str):
                raise ProtocolError("a tool message needs tool_call_id", f"{p}.tool_call_id")
            history.append({"role": "observation", "content": content_text(msg["content"], f"{p}.content")})
    last = history[-1]
    if last["role"] == "assistant" and last.get("metadata"):
        raise ProtocolError("the last message is an assistant tool call: send the tool result (role 'tool') next",
                            f"messages.{len(messages) - 1}")
    if not any(h["role"] in ("user", "observation") for h in history):
        raise ProtocolError("messages need at least one user message", "messages")
    return history


def prompt_ids(tokenizer, history: list[dict]) -> list[int]:
    """Token ids that ask for the next assistant turn after ``history`` (as ``build_chat_input`` builds them)."""
    last = history[-1]
    return tokenizer.build_chat_ids(tokenizer.message_content(last), history[:-1], role=last["role"])


def history_to_messages(history: list[dict]) -> list[dict]:
    """ChatGLM3 history -> OpenAI messages (the reverse of :func:`messages_to_history`; tools are dropped from
    the system item — pass them as ``tools=`` instead)."""
    out: list[dict] = []
    n_call = 0
    for item in history:
        role = item["role"]
        if role == "system":
            if "tools" in item and item.get("content") == TOOL_SYSTEM_PROMPT:
                continue
            out.append({"role": "system", "content": item["content"]})
        elif role == "user":
            out.append({"role": "user", "content": item["content"]})
        elif role == "observation":
            call_id = out[-1]["tool_calls"][-1]["id"] if out and out[-1].get("tool_calls") else f"call_{n_call}"
            out.append({"role": "tool", "tool_call_id": call_id, "content": item["content"]})
        elif role == "assistant" and item.get("metadata", "").strip():
            try:
                args = arguments_json(parse_tool_call(item["content"]))
            except ToolCallError:
                args = "{}"
            n_call += 1
            call = {"id": f"call_{n_call}", "type": "function",
                    "function": {"name": item["metadata"].strip(), "arguments": args}}
            if out and out[-1]["role"] == "assistant" and out[-1].get("tool_calls") is not None:
                out[-1]["tool_calls"].append(call)
            else:
                out.append({"role": "assistant", "content": None, "tool_calls": [call]})
        else:
            out.append({"role": "assistant", "content": item["content"]})
    return out


# ============================================================================================== outputs
@dataclass
class ToolCallOut:
    """One parsed tool call of the model's output (``arguments`` is a JSON object string)."""

    name: str
    arguments: str | None = None   # None while the call is still being written
    error: str | None = None       # kept for callers that log it; a call that cannot be parsed is text now


def _segment(seg: str) -> tuple[str | None, str]:
    """``(metadata, content)`` of one segment; metadata None when the metadata line is not finished yet."""
    if "\n" not in seg:
        return None, seg
    meta, body = seg.split("\n", 1)
    return meta, body


def render(text: str, tool_names: Iterable[str] = (), final: bool = True,
           problems: list[str] | None = None) -> tuple[str, list[ToolCallOut]]:
    """``(content, tool_calls)`` of ChatGLM3 output ``text``.

    A segment is a tool call only when its metadata names one of ``tool_names`` and its ``tool_call(...)`` parses
    into strict-JSON arguments; otherwise it is text, and the reason is appended to ``problems`` (if given).
    ``final=False`` renders an unfinished stream conservatively: what it returns is always a prefix of what the
    finished text will give (trailing whitespace, a first line that may still become a tool name and an unfinished
    call are held back; a call appears, name and arguments together, once it is complete)."""
    names = set(tool_names)
    if not final:  # the role token may be half-way written as text: wait for the rest
        for k in range(len(ASSISTANT_TOKEN) - 1, 0, -1):
            if text.endswith(ASSISTANT_TOKEN[:k]):
                text = text[:-k]
                break
    parts: list[str] = []
    calls: list[ToolCallOut] = []
    segments = text.split(ASSISTANT_TOKEN)
    for k, seg in enumerate(segments):
        done = final or k < len(segments) - 1
        meta, body = _segment(seg)
        if meta is None:  # no newline yet: text, unless it may still turn into "tool_name\n"
            head = seg.strip()
            if not done and names and (not head or any(n.startswith(head) for n in names)):
                continue
            visible = seg.strip() if done else seg.lstrip().rstrip()
        elif not meta.strip():
            visible = body.strip()
        elif meta.strip() in names:
            if not done:          # the call is still being written: show nothing yet
                continue
            try:
                arguments = arguments_json(parse_tool_call(body))
            except (ToolCallError, ValueError) as exc:
                if problems is not None:
                    problems.append(f"{meta.strip()}: {exc}; returned as text")
                visible = seg.strip()
            else:
                calls.append(ToolCallOut(meta.strip(), arguments))
                continue
        else:  # metadata that is not a declared tool (e.g. "interpreter" or garbage): keep it visible as text
            if names and problems is not None and done:
                problems.append(f"{meta.strip()[:60]!r} is not a declared tool; returned as text")
            visible = seg.strip()
        if visible:
            parts.append(visible)
    return "\n".join(parts), calls


def parse_output(text: str, tool_names: Iterable[str] = (),
                 problems: list[str] | None = None) -> tuple[str, list[ToolCallOut]]:
    """Final ``(content, tool_calls)`` of a finished generation (see :func:`render`)."""
    return render(text, tool_names, final=True, problems=problems)


class StreamParser:
    """Turns growing snapshots of the decoded output into OpenAI stream deltas.

    ``feed(text, final)`` returns a list of events, each one of::

        ("content", delta_text)
        ("tool_call", index, name)          # a call is complete and valid: its name ...
        ("arguments", index, json_string)   # ... and right after it its arguments

    The concatenated content deltas equal :func:`parse_output`'s content exactly; ``errors`` collects why a
    would-be call was returned as text (for the log)."""

    def __init__(self, tool_names: Iterable[str] = ()):
        self.tool_names = tuple(tool_names)
        self.sent_content = ""
        self.sent_calls: list[ToolCallOut] = []
        self.errors: list[str] = []

    def feed(self, text: str, final: bool = False) -> list[tuple]:
        problems: list[str] = []
        content, calls = render(text, self.tool_names, final=final, problems=problems)
        if final:
            self.errors.extend(problems)
        events: list[tuple] = []
        if content.startswith(self.sent_content):
            if len(content) > len(self.sent_content):
                events.append(("content", content[len(self.sent_content):]))
                self.sent_content = content
        for i, call in enumerate(calls):
            if i >= len(self.sent_calls):
                self.sent_calls.append(ToolCallOut(call.name, call.arguments))
                events.append(("tool_call", i, call.name))
                events.append(("arguments", i, call.arguments))
        return events
