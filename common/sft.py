"""Supervised fine-tuning (SFT) data in the official ChatGLM3 format: read, check, encode, mask, pad.

One JSON object per line (the format of the official ``finetune_demo``)::

    {"conversations": [{"role": "system"|"user"|"assistant"|"observation", "content": "..."},
                       {"role": "tool", "name": "get_weather", "parameters": {"city_name": "北京"},
                        "observation": {"temperature": 20}}, ...],
     "tools": [ {tool schema}, ... ]}                    # optional

Rules (the official ones, plus the tool data that the current official script rejects with an error):

* A ``tool`` item expands to two messages: an assistant message with ``metadata = name`` and content
  ``"```python\\n" + "tool_call(k=v, ...)" + "\\n```"`` (trained), then an ``observation`` message with the
  observation (``json.dumps(..., ensure_ascii=False)`` when it is not a string; not trained). The call text is
  built as an ``ast.Call`` and printed with ``ast.unparse`` (values as Python literals), exactly like the
  official ``format_function_call``; nothing is ever evaluated.
* ``"tools"`` on the record puts ``{"role": "system", "content": TOOL_SYSTEM_PROMPT, "tools": tools}`` first,
  or attaches the tools to the conversation's own first system message. A system message with tools is
  encoded like ``build_chat_input`` does: ``content + "\\n" + json.dumps(tools, indent=4, ensure_ascii=False)``.
* Tokens = ``[gMASK] sop`` + ``build_single_message(role, metadata, content)`` per message + ``eos``.
  Only assistant messages are trained (a message may say ``"loss": false`` to opt out). The labels use the
  official shift ``label[i] = token[i] if mask[i-1] else -100``: the ``<|assistant|>`` role token is not a target,
  the answer is, and so is the token right after the answer (the next role token, or the final ``eos``) —
  that is how the model learns to end its turn. (The model shifts labels once more inside its loss.)
* Too long for ``max_length``: whole trailing turns are dropped (a cut is only made after a finished answer,
  never inside one); a record whose first answer cannot fit is dropped. Counts are reported.
* A bad line (invalid JSON, wrong types, unknown role, tool item missing a field) is reported with its line
  number and skipped.

The AdvertiseGen text-generation format ``{"content": ..., "summary": ...}`` is accepted too: it becomes a
one-turn conversation (user = content, assistant = summary), so the prompt is masked and only the summary is
trained — the conversion the official ``finetune_demo`` README asks for.

``SFTCollator`` pads on the right (pad id 0, labels -100, attention mask 0): right padding is what training wants
(positions of real tokens start at 0); generation pads on the left and goes through the tokenizer instead.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from common.prompts import TOOL_SYSTEM_PROMPT
from common.toolcall import ToolCallError
from common.toolcall import format_tool_call as _format_tool_call

IGNORE_INDEX = -100
ROLES = ("system", "user", "assistant", "observation", "tool")
TOOL_CALL_PREFIX = "```python\n"
TOOL_CALL_SUFFIX = "\n```"
TOOL_CALL_NAME = "tool_call"


class DataError(ValueError):
    """A record that does not follow the fine-tuning format (the message says what is wrong)."""


# --------------------------------------------------------------------------------------------- tool calls
def format_tool_call(parameters: dict, func_name: str = TOOL_CALL_NAME) -> str:
    """``tool_call(city_name='北京')`` (``common.toolcall.format_tool_call``; bad parameters are a DataError)."""
    try:
        return _format_tool_call(parameters, func_name)
    except ToolCallError as exc:
        raise DataError(str(exc)) from None


def tool_call_content(parameters: dict) -> str:
    """The assistant content of a tool call: the call inside a python code fence."""
    return f"{TOOL_CALL_PREFIX}{format_tool_call(parameters)}{TOOL_CALL_SUFFIX}"


# ---------------------------------------------------------------------------------------------- records
def advertisegen_to_record(obj: dict) -> dict:
    """``{"content": ..., "summary": ...}`` -> a one-turn conversation (the prompt is masked, the summary trained)."""
    return {"conversations": [{"role": "user", "content": obj["content"]},
                              {"role": "assistant", "content": obj["summary"]}]}


def _check_message(i: int, msg: Any) -> None:
    where = f"conversations[{i}]"
    if not isinstance(msg, dict):
        raise DataError(f"{where} is not an object")
    role = msg.get("role")
    if role not in ROLES:
        raise DataError(f"{where}: unknown role {role!r} (expected one of {', '.join(ROLES)})")
    if "loss" in msg and not isinstance(msg["loss"], bool):
        raise DataError(f"{where}: 'loss' must be true or false")
    if role == "tool":
        for key in ("name", "parameters", "observation"):
            if key not in msg:
                raise DataError(f"{where}: tool item missing '{key}'")
        if not isinstance(msg["name"], str) or not msg["name"]:
            raise DataError(f"{where}: tool 'name' must be a non-empty string")
        try:
            format_tool_call(msg["parameters"])
        except DataError as e:
            raise DataError(f"{where}: {e}") from None
        return
    if not isinstance(msg.get("content"), str):
        raise DataError(f"{where}: 'content' must be a string")
    if "metadata" in msg and not isinstance(msg["metadata"], str):
        raise DataError(f"{where}: 'metadata' must be a string")
    if "tools" in msg:
        if role != "system":
            raise DataError(f"{where}: only a system message may carry 'tools'")
        if not isinstance(msg["tools"], list):
            raise DataError(f"{where}: 'tools' must be a list")
    if role == "system" and i != 0:
        raise DataError(f"{where}: a system message may only come first")


def validate_record(obj: Any) -> dict:
    """Return a checked copy of one record (AdvertiseGen records converted); raise ``DataError`` if it is bad."""
    if not isinstance(obj, dict):
        raise DataError("a line must hold a JSON object")
    if "conversations" not in obj:
        if isinstance(obj.get("content"), str) and isinstance(obj.get("summary"), str):
            return advertisegen_to_record(obj)
        raise DataError("missing 'conversations' (or 'content' + 'summary' strings)")
    conv = obj["conversations"]
    if not isinstance(conv, list) or not conv:
        raise DataError("'conversations' must be a non-empty list")
    for i, msg in enumerate(conv):
        _check_message(i, msg)
    if not any(m["role"] in ("assistant", "tool") for m in conv):
        raise DataError("no assistant message to train on")
    tools = obj.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise DataError("'tools' must be a list")
        if conv[0]["role"] == "system" and "tools" in conv[0] and conv[0]["tools"] != tools:
            raise DataError("tools given twice (on the record and on its system message), and they differ")
    out = {"conversations": copy.deepcopy(conv)}
    if tools is not None:
        out["tools"] = copy.deepcopy(tools)
    return out


def expand_record(record: dict) -> list[dict]:
    """Messages ready to encode: ``{"role", "metadata", "content", "loss"}`` (+ ``"tools"`` on a system message,
    + ``"tool_call": {"name", "parameters"}`` on an expanded tool call). ``record`` must be validated."""
    conv = record["conversations"]
    messages: list[dict] = []
    tools = record.get("tools")
    if tools is not None:
        if conv[0]["role"] == "system":
            first = dict(conv[0])
            first["tools"] = tools
            conv = [first] + list(conv[1:])
        else:
            messages.append({"role": "system", "metadata": "", "content": TOOL_SYSTEM_PROMPT,
                             "tools": copy.deepcopy(tools), "loss": False})
    for msg in conv:
        role = msg["role"]
        if role == "tool":
            messages.append({"role": "assistant", "metadata": msg["name"],
                             "content": tool_call_content(msg["parameters"]),
                             "loss": msg.get("loss", True),
                             "tool_call": {"name": msg["name"], "parameters": copy.deepcopy(msg["parameters"])}})
            obs = msg["observation"]
            if not isinstance(obs, str):
                obs = json.dumps(obs, ensure_ascii=False)
            messages.append({"role": "observation", "metadata": "", "content": obs, "loss": False})
            continue
        out = {"role": role, "metadata": msg.get("metadata", ""), "content": msg["content"],
               "loss": role == "assistant" and msg.get("loss", True)}
        if role == "system" and msg.get("tools") is not None:
            out["tools"] = copy.deepcopy(msg["tools"])
        messages.append(out)
    return messages


def message_text(msg: dict) -> str:
    """What ``build_single_message`` receives as content (a system message's tools appended like
    ``build_chat_input`` does)."""
    if msg["role"] == "system" and msg.get("tools") is not None:
        return msg["content"] + "\n" + json.dumps(msg["tools"], indent=4, ensure_ascii=False)
    return msg["content"]


def to_history(messages: Iterable[dict]) -> list[dict]:
    """Expanded messages -> the history format ``common.chatglm3.chat`` takes (role/content/metadata/tools)."""
    out = []
    for m in messages:
        h = {"role": m["role"], "content": m["content"]}
        if m.get("metadata"):
            h["metadata"] = m["metadata"]
        if m.get("tools") is not None:
            h["tools"] = copy.deepcopy(m["tools"])
        out.append(h)
    return out


# ------------------------------------------------------------------------------------------------ encode
def shift_labels(input_ids: list[int], loss_mask: list[bool]) -> list[int]:
    """The official shift: ``label[i] = input_ids[i] if loss_mask[i-1] else -100`` (``label[0] = -100``)."""
    return [IGNORE_INDEX] + [t if m else IGNORE_INDEX for t, m in zip(input_ids[1:], loss_mask[:-1])]


def encode_messages(messages: list[dict], tokenizer) -> list[tuple[list[int], bool]]:
    """One ``(token ids, trained)`` pair per message (without the ``[gMASK] sop`` prefix and the final eos)."""
    return [(list(tokenizer.build_single_message(m["role"], m.get("metadata", ""), message_text(m))),
             bool(m["loss"])) for m in messages]


def _cut_points(messages: list[dict]) -> list[int]:
    # a cut may follow a finished answer only: an assistant message followed by a user turn (or the end).
    # Cutting after a tool call would teach "eos" where the model must say <|observation|>.
    n = len(messages)
    return [k for k, m in enumerate(messages)
            if m["role"] == "assistant" and (k == n - 1 or messages[k + 1]["role"] == "user")]


def encode_record(record: dict, tokenizer, max_length: int | None = None) -> tuple[dict | None, str]:
    """Encode one validated record -> ``({"input_ids", "labels"}, status)``; status is ``kept``, ``truncated``
    or ``dropped: <why>`` (then the example is ``None``)."""
    messages = expand_record(record)
    segments = encode_messages(messages, tokenizer)
    prefix = [tokenizer.get_command("[gMASK]"), tokenizer.get_command("sop")]
    eos = tokenizer.eos_token_id

    def build(n_messages: int) -> dict:
        ids, mask = list(prefix), [False, False]
        for seg, trained in segments[:n_messages]:
            ids += seg
            mask += [trained] * len(seg)
        ids.append(eos)
        mask.append(False)
        return {"input_ids": ids, "labels": shift_labels(ids, mask)}

    def trains(n_messages: int) -> bool:
        return any(trained and seg for seg, trained in segments[:n_messages])

    total = len(prefix) + sum(len(s) for s, _ in segments) + 1
    if max_length is None or total <= max_length:
        if not trains(len(segments)):
            return None, "dropped: nothing to train"
        return build(len(segments)), "kept"
    lengths = [len(prefix)]
    for seg, _ in segments:
        lengths.append(lengths[-1] + len(seg))
    for k in reversed(_cut_points(messages)):
        if lengths[k + 1] + 1 <= max_length and trains(k + 1):
            return build(k + 1), "truncated"
    return None, f"dropped: first answer does not fit in {max_length} tokens ({total} in all)"


# ------------------------------------------------------------------------------------------------- files
@dataclass
class SFTStats:
    """What happened to each line of a file: kept whole, truncated (trailing turns dropped), dropped, bad."""
    source: str = "<records>"
    kept: int = 0
    truncated: int = 0
    dropped: list[tuple[int, str]] = field(default_factory=list)   # (line number, why)
    bad: list[tuple[int, str]] = field(default_factory=list)       # (line number, why)
    tokens: int = 0
    trained_tokens: int = 0

    @property
    def n_examples(self) -> int:
        return self.kept + self.truncated

    def summary(self, max_lines: int = 5) -> str:
        head = (f"{self.source}: {self.n_examples} examples ({self.kept} kept, {self.truncated} truncated), "
                f"{len(self.dropped)} dropped, {len(self.bad)} bad lines; "
                f"{self.tokens} tokens, {self.trained_tokens} trained")
        notes = [f"  line {n}: dropped: {why}" for n, why in self.dropped[:max_lines]]
        notes += [f"  line {n}: bad: {why}" for n, why in self.bad[:max_lines]]
        if len(self.dropped) > max_lines or len(self.bad) > max_lines:
            notes.append("  ...")
        return "\n".join([head] + notes)

    def as_dict(self) -> dict:
        return {"source": self.source, "examples": self.n_examples, "kept": self.kept,
                "truncated": self.truncated, "dropped": len(self.dropped), "bad": len(self.bad),
                "tokens": self.tokens, "trained_tokens": self.trained_tokens}


def read_jsonl(path: str | Path) -> tuple[list[tuple[int, dict]], list[tuple[int, str]]]:
    """Checked records of a JSONL file -> ``([(line number, record)], [(line number, why bad)])``. Blank lines
    are skipped; nothing raises on bad content."""
    good, bad = [], []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line.rstrip("\r\n"))   # without the newline a cut-off line reports its own column
            except json.JSONDecodeError as e:
                bad.append((n, f"invalid JSON ({e.msg} at column {e.colno})"))
                continue
            try:
                good.append((n, validate_record(obj)))
            except DataError as e:
                bad.append((n, str(e)))
    return good, bad


def load_sft_examples(source: str | Path | Iterable[dict], tokenizer, max_length: int | None = None,
                      ) -> tuple[list[dict], SFTStats]:
    """Encode a JSONL file (or an iterable of record dicts) -> ``(examples, stats)``.

    Each example is ``{"input_ids": [...], "labels": [...]}`` (lists; ``SFTCollator`` pads them).
    """
    if isinstance(source, (str, Path)):
        stats = SFTStats(source=str(source))
        numbered, stats.bad = read_jsonl(source)
    else:
        stats = SFTStats()
        numbered = []
        for n, obj in enumerate(source, start=1):
            try:
                numbered.append((n, validate_record(obj)))
            except DataError as e:
                stats.bad.append((n, str(e)))
    examples = []
    for n, record in numbered:
        ex, status = encode_record(record, tokenizer, max_length)
        if ex is None:
            stats.dropped.append((n, status.removeprefix("dropped: ")))
            continue
        if status == "kept":
            stats.kept += 1
        else:
            stats.truncated += 1
        stats.tokens += len(ex["input_ids"])
        stats.trained_tokens += sum(label != IGNORE_INDEX for label in ex["labels"])
        examples.append(ex)
    return examples, stats


def chat_turns(record: dict) -> list[dict]:
    """The trained answers of a validated record as chat questions, for evaluation and before/after demos.

    Each item: ``{"history": [...], "query": str, "role": "user"|"observation", "answer": str | dict}`` where
    ``answer`` is the reference text, or ``{"name", "parameters"}`` for a tool call (what ``chat`` returns).
    """
    messages = expand_record(record)
    turns = []
    for k, m in enumerate(messages):
        if m["role"] != "assistant" or not m["loss"] or k == 0:
            continue
        prev = messages[k - 1]
        if prev["role"] not in ("user", "observation"):
            continue   # e.g. two assistant messages in a row: no single query to ask
        answer = copy.deepcopy(m["tool_call"]) if "tool_call" in m else m["content"]
        turns.append({"history": to_history(messages[:k - 1]), "query": prev["content"],
                      "role": prev["role"], "answer": answer})
    return turns


# -------------------------------------------------------------------------------------------------- pad
@dataclass
class SFTCollator:
    """Pad a list of examples on the right: ``input_ids`` with ``pad_id`` (0), ``labels`` with -100, and an
    ``attention_mask`` of 1/0. Returns torch tensors. Right padding keeps real tokens at positions 0..n-1,
    which is what training wants; for generation pad on the left (the tokenizer does)."""
    pad_id: int = 0
    pad_to_multiple_of: int | None = None
    max_length: int | None = None   # a hard cap (examples from load_sft_examples already fit)

    def __call__(self, features: list[dict]) -> dict:
        import torch

        ids_list = [list(f["input_ids"])[: self.max_length] if self.max_length else list(f["input_ids"])
                    for f in features]
        lab_list = [list(f["labels"])[: len(ids)] for f, ids in zip(features, ids_list)]
        width = max(len(ids) for ids in ids_list)
        if self.pad_to_multiple_of:
            m = self.pad_to_multiple_of
            width = (width + m - 1) // m * m
        input_ids = torch.full((len(features), width), self.pad_id, dtype=torch.long)
        labels = torch.full((len(features), width), IGNORE_INDEX, dtype=torch.long)
        attention_mask = torch.zeros((len(features), width), dtype=torch.long)
        for i, (ids, lab) in enumerate(zip(ids_list, lab_list)):
            input_ids[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            labels[i, : len(lab)] = torch.tensor(lab, dtype=torch.long)
            attention_mask[i, : len(ids)] = 1
        return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}
