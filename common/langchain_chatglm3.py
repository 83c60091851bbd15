"""ChatGLM3 inside LangChain 1.x: an ``LLM``, a ``BaseChatModel`` and ``Embeddings``, in-process or via a server.

    from common.langchain_chatglm3 import ChatGLM3LLM, ChatGLM3ChatModel, ChatGLM3Embeddings
    llm = ChatGLM3LLM()                                          # in-process: --model / $CHATGLM3_MODEL / demo model
    chat = ChatGLM3ChatModel(base_url="http://127.0.0.1:8000/v1")  # the chapter-3 server, vLLM, any OpenAI API
    chat = chat_model_from_config(cfg)                           # what every chapter 4-13 script does

Both model classes accept either ``model_path=None`` (load in this process: the model is loaded once per
(path, precision, device) and shared by every instance; ``model=``/``tokenizer=`` pass already-loaded ones) or
``base_url=`` + ``api_key=`` (an OpenAI-compatible server, through the official ``openai`` client; a server that is
down, slow or answers 4xx/5xx raises :class:`ChatGLM3ServerError` naming the URL).

Messages are translated by ``common.openai_protocol`` (the same code the chapter-3 server uses): system -> system,
human -> user, ai -> assistant (its tool calls -> ChatGLM3 ``tool_call(...)`` turns), tool -> observation; bound
tools become the tool system message ChatGLM3 was trained on. Generation uses ``common.chatglm3``
(``generation_kwargs``, ``stream_generate_ids``); tool calls are parsed by ``common.toolcall`` — never executed.
"""
from __future__ import annotations

import json
import os
import threading
import uuid
from typing import Any, AsyncIterator, Callable, Iterator, Literal, Sequence

from langchain_core.callbacks import (AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun)
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.llms import LLM
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, convert_to_openai_messages
from langchain_core.messages.tool import invalid_tool_call, tool_call, tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult, GenerationChunk
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, model_validator

from common.cli import UserError

API_KEY_ENV_VARS = ("CHATGLM3_API_KEY", "OPENAI_API_KEY")
DEFAULT_TIMEOUT = 120.0


class ChatGLM3ServerError(UserError):
    """The OpenAI-compatible server could not be used (down, timeout, 4xx/5xx); the message names the URL."""


class ContextLengthError(UserError, ValueError):
    """The prompt does not fit into the in-process model's context (the server answers HTTP 400 instead)."""


# ============================================================================================== the shared model
_MODELS: dict[tuple, tuple[Any, Any]] = {}
_MODELS_LOCK = threading.Lock()


def shared_model_and_tokenizer(model_path: str | os.PathLike | None = None, precision: str = "fp32",
                               device: str = "cpu", quiet: bool = False, kernels: str = "plain") -> tuple[Any, Any]:
    """(model, tokenizer) loaded once per (resolved path, precision, device, CPU kernels) and shared by everyone in this
    process (every adapter instance, scripts that also need the raw model). Prints the demo-model line once."""
    from common.resolve import resolve_model_path

    resolved = resolve_model_path(model_path)
    key = (str(resolved.resolve()), precision, device, kernels)
    with _MODELS_LOCK:
        if key not in _MODELS:
            from common.chatglm3 import load_model_and_tokenizer
            _MODELS[key] = load_model_and_tokenizer(resolved, precision, device, quiet=quiet, kernels=kernels)
        return _MODELS[key]


def normalize_base_url(url: str) -> str:
    """``http://host:8000`` -> ``http://host:8000/v1``; a URL that already has a path is kept as it is."""
    from urllib.parse import urlparse

    url = url.strip().rstrip("/")
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise UserError(f"--base-url {url!r} is not an http(s) URL. To fix: pass e.g. http://127.0.0.1:8000/v1")
    return url if parsed.path not in ("", "/") else url + "/v1"


def resolve_api_key(value: SecretStr | str | None = None) -> str:
    """The key given, else $CHATGLM3_API_KEY / $OPENAI_API_KEY, else \"EMPTY\" (servers without auth ignore it)."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return value or next((os.environ[v] for v in API_KEY_ENV_VARS if os.environ.get(v)), None) or "EMPTY"


def _server_error(exc: BaseException, url: str, timeout: float) -> ChatGLM3ServerError:
    import openai

    if isinstance(exc, openai.APITimeoutError):
        msg = (f"the server at {url} did not answer within {timeout:g} s. To fix: check that it is not stuck, "
               "ask for fewer tokens, or pass a larger timeout")
    elif isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc
        msg = (f"cannot reach the server at {url} ({type(cause).__name__}: {cause}). To fix: start it with "
               "`python ch03_gradio/openai_api.py`, or correct --base-url")
    elif isinstance(exc, openai.APIStatusError):
        detail = exc.message
        if isinstance(exc.body, dict):
            detail = (exc.body.get("error") or exc.body).get("message", detail) if isinstance(
                exc.body.get("error", exc.body), dict) else detail
        hint = " (wrong or missing --api-key)" if exc.status_code in (401, 403) else ""
        msg = f"the server at {url} answered HTTP {exc.status_code}{hint}: {detail}"
    else:
        msg = f"the server at {url} failed: {type(exc).__name__}: {exc}"
    err = ChatGLM3ServerError(msg)
    err.status_code = getattr(exc, "status_code", None)
    return err


# ============================================================================================== tools
def tool_to_openai(tool: Any) -> dict:
    """A LangChain tool, pydantic model, TypedDict, plain function or dict -> an OpenAI ``tools`` item."""
    if isinstance(tool, dict) and tool.get("type") == "function" and "function" in tool:
        return tool
    return convert_to_openai_tool(tool)


def tool_to_chatglm(tool: Any) -> dict:
    """The ChatGLM3 tool schema ``{name, description, parameters}`` (what the model reads in its system turn)."""
    from common.openai_protocol import tool_schema
    return tool_schema(tool_to_openai(tool))


def _normalize_tool_choice(choice: Any, names: list[str]) -> Any:
    """LangChain's tool_choice spellings -> OpenAI's: None/auto, none, required, {"type": "function", ...}."""
    if choice in (None, "auto", False):
        return None
    if choice == "none":
        return "none"
    if choice in ("any", "required", True):
        return "required"
    if isinstance(choice, str):
        if choice not in names:
            raise ValueError(f"tool_choice {choice!r} is not among the bound tools {names}")
        return {"type": "function", "function": {"name": choice}}
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name") or choice.get("name")
        if name not in names:
            raise ValueError(f"tool_choice {choice!r} names no bound tool (tools: {names})")
        return {"type": "function", "function": {"name": name}}
    raise ValueError(f"unsupported tool_choice {choice!r}")


def _new_call_id() -> str:
    return "call_" + uuid.uuid4().hex[:24]


# ============================================================================================== in-process engine
def _stop_criterion(tokenizer, prompt_len: int, stops: Sequence[str]):
    """A ``StoppingCriteria`` that ends generation once the new text contains a stop string."""
    import torch
    from transformers import StoppingCriteria

    tail = max(16, 4 * max(len(s) for s in stops))

    class StopOnText(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            new = input_ids[0, prompt_len:].tolist()[-tail:]
            hit = any(s in tokenizer.decode(new) for s in stops)
            return torch.full((input_ids.shape[0],), hit, dtype=torch.bool, device=input_ids.device)

    return StopOnText()


def _cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


def _hold_back(text: str, stops: Sequence[str]) -> str:
    """``text`` without a tail that may still grow into a stop string (streaming must not emit it yet)."""
    for s in stops:
        for k in range(min(len(s) - 1, len(text)), 0, -1):
            if text.endswith(s[:k]):
                text = text[:-k]
                break
    return text


def _score_tool_names(model, ids: list[int], cands: list[list[int]]) -> int:
    """Index of the tool name the model itself finds most likely after ``<|assistant|>`` (tool_choice=required
    with several tools; the chapter-3 server decides the same way)."""
    import torch

    length = len(ids) + max(len(c) for c in cands)
    x = torch.zeros(len(cands), length, dtype=torch.long)
    for i, c in enumerate(cands):
        x[i, :len(ids) + len(c)] = torch.tensor(ids + c)
    with torch.inference_mode():
        logp = model(input_ids=x.to(model.device)).logits.float().log_softmax(-1)
    scores = [float(sum(logp[i, len(ids) - 1 + j, t] for j, t in enumerate(c))) for i, c in enumerate(cands)]
    return max(range(len(cands)), key=scores.__getitem__)


class _InProcess:
    """Generation with a loaded model: OpenAI-style messages in, ChatGLM3 output parsed the server's way out."""

    def __init__(self, model, tokenizer):
        self.model, self.tokenizer = model, tokenizer

    def prepare(self, messages: list[dict], tools: list[dict], tool_choice: Any) -> tuple[list[int], tuple, str]:
        from common.openai_protocol import ProtocolError, messages_to_history, prompt_ids, tools_to_chatglm

        try:
            glm_tools = tools_to_chatglm(tools) if tools and tool_choice != "none" else []
            history = messages_to_history(messages, glm_tools)
        except ProtocolError as exc:
            raise ValueError(f"these messages cannot be sent to ChatGLM3: {exc}") from None
        tok = self.tokenizer
        ids = prompt_ids(tok, history)
        names = [t["name"] for t in glm_tools]
        forced = None
        if isinstance(tool_choice, dict):
            forced = tool_choice["function"]["name"]
        elif tool_choice == "required" and names:
            cands = [tok.build_single_message("assistant", n, "")[1:] for n in names]
            forced = names[0] if len(names) == 1 else names[_score_tool_names(self.model, ids, cands)]
        prefix = ""
        if forced:  # the assistant turn starts with "name\n": the model only writes the call's arguments
            ids = ids + tok.build_single_message("assistant", forced, "")[1:]
            prefix = forced + "\n"
        if len(ids) >= self.context:
            raise ContextLengthError(f"the prompt is {len(ids)} tokens but this model's context is {self.context}. "
                                     "To fix: shorten the messages/documents or use a long-context model "
                                     "(e.g. chatglm3-6b-32k)")
        return ids, tuple(names), prefix

    @property
    def context(self) -> int:
        return int(getattr(getattr(self.model, "config", None), "max_position_embeddings", None) or 8192)

    def _gen(self, params: dict, prompt_len: int, stops: Sequence[str]) -> dict:
        import torch
        from transformers import StoppingCriteriaList

        from common.chatglm3 import generation_kwargs

        if params.get("seed") is not None:
            torch.manual_seed(params["seed"])
        room = self.context - prompt_len  # never generate past the model's context
        max_new = min(params.get("max_tokens") or room, room)
        gen = generation_kwargs(self.tokenizer, max_new_tokens=max_new, max_length=None,
                                temperature=params.get("temperature", 0.8), top_p=params.get("top_p", 0.8),
                                repetition_penalty=params.get("repetition_penalty", 1.0))
        if params.get("min_tokens"):
            gen["min_new_tokens"] = params["min_tokens"]
        if stops:
            gen["stopping_criteria"] = StoppingCriteriaList([_stop_criterion(self.tokenizer, prompt_len, stops)])
        return gen

    def generate(self, messages, tools, tool_choice, params: dict, stops: Sequence[str]) -> dict:
        import torch

        from common.openai_protocol import parse_output

        ids, names, prefix = self.prepare(messages, tools, tool_choice)
        gen = self._gen(params, len(ids), stops)
        x = torch.tensor([ids], dtype=torch.long, device=self.model.device)
        with torch.inference_mode():
            out = self.model.generate(input_ids=x, attention_mask=torch.ones_like(x), **gen)
        new = out[0, len(ids):].tolist()
        stop_ids = self.tokenizer.stop_token_ids
        finish = "length"
        if new and new[-1] in stop_ids:
            new, finish = new[:-1], "stop"
        text, hit = _cut_at_stop(self.tokenizer.decode(new), stops)
        finish = "stop" if hit else finish
        content, calls = parse_output(prefix + text, names)
        found = [(_new_call_id(), c.name, c.arguments, c.error) for c in calls]
        if prefix and not calls:  # a forced call the model did not write correctly: an invalid call, not text
            content, found = "", [(_new_call_id(), prefix.strip(), text, "the forced tool call could not be parsed")]
        return {"content": content, "finish_reason": "tool_calls" if found else finish,
                "tool_calls": found,
                "usage": (len(ids), len(new) + (1 if finish == "stop" and not hit else 0))}

    def stream(self, messages, tools, tool_choice, params: dict, stops: Sequence[str]) -> Iterator[tuple]:
        """Events: ("content", delta) | ("tool", index, id, name, args_piece) | ("end", finish, (in, out))."""
        import torch

        from common.chatglm3 import stream_generate_ids
        from common.openai_protocol import StreamParser

        ids, names, prefix = self.prepare(messages, tools, tool_choice)
        gen = self._gen(params, len(ids), stops)
        x = torch.tensor([ids], dtype=torch.long, device=self.model.device)
        parser = StreamParser(names)
        stop_ids = self.tokenizer.stop_token_ids
        text, n_new, finish = "", 0, "length"
        if prefix:
            yield from self._events(parser.feed(prefix, final=False))
        for new in stream_generate_ids(self.model, {"input_ids": x, "attention_mask": torch.ones_like(x)}, **gen):
            n_new = len(new)
            ended = new[-1] in stop_ids
            if ended:
                new, finish = new[:-1], "stop"
            decoded = self.tokenizer.decode(new)
            if decoded.endswith("\ufffd") and not ended:  # half of a multi-byte character: wait for the rest
                continue
            text, hit = _cut_at_stop(decoded, stops)
            if hit:
                finish = "stop"
                break  # closing the generator stops generation at the next token
            yield from self._events(parser.feed(prefix + _hold_back(text, stops), final=False))
            if ended:
                break
        final = parser.feed(prefix + text, final=True)
        if prefix and not parser.sent_calls:  # forced call not parseable: send it as an (invalid) tool call chunk
            final = [e for e in final if e[0] != "content"]
            yield ("tool", 0, _new_call_id(), prefix.strip(), text)
            finish = "tool_calls"
        yield from self._events(final)
        yield ("end", "tool_calls" if parser.sent_calls else finish, (len(ids), n_new))

    @staticmethod
    def _events(events: list[tuple]) -> Iterator[tuple]:
        for ev in events:
            if ev[0] == "content":
                yield ev
            elif ev[0] == "tool_call":
                yield ("tool", ev[1], _new_call_id(), ev[2], "")
            else:  # arguments, complete
                yield ("tool", ev[1], None, None, ev[2])


# ============================================================================================== server client
def _server_payload(model_name: str | None, messages: list[dict], tools: list[dict], tool_choice: Any,
                    params: dict, stops: Sequence[str]) -> dict:
    body: dict[str, Any] = {"model": model_name or "chatglm3", "messages": messages}
    if tools:
        body["tools"] = tools
        if tool_choice is not None:
            body["tool_choice"] = tool_choice
    for key in ("temperature", "top_p", "max_tokens", "seed"):
        if params.get(key) is not None:
            body[key] = params[key]
    if stops:
        body["stop"] = list(stops)
    extra = dict(params.get("extra_body") or {})
    if params.get("repetition_penalty", 1.0) != 1.0:  # vLLM / chapter-3 server extras
        extra.setdefault("repetition_penalty", params["repetition_penalty"])
    if params.get("min_tokens"):
        extra.setdefault("min_tokens", params["min_tokens"])
    if extra:
        body["extra_body"] = extra
    return body


def _result_from_completion(resp) -> dict:
    choice = resp.choices[0]
    msg = choice.message
    calls = []
    for c in msg.tool_calls or []:
        calls.append((c.id or _new_call_id(), c.function.name, c.function.arguments, None))
    usage = (resp.usage.prompt_tokens, resp.usage.completion_tokens) if resp.usage else None
    return {"content": msg.content or "", "finish_reason": choice.finish_reason, "tool_calls": calls,
            "usage": usage, "model_name": resp.model}


def _events_from_chunk(chunk) -> Iterator[tuple]:
    if chunk.choices:
        choice = chunk.choices[0]
        delta = choice.delta
        if delta is not None:
            if delta.content:
                yield ("content", delta.content)
            for c in delta.tool_calls or []:
                fn = c.function
                yield ("tool", c.index, c.id, fn.name if fn else None, (fn.arguments or "") if fn else "")
        if choice.finish_reason:
            yield ("finish", choice.finish_reason)
    if getattr(chunk, "usage", None):
        yield ("usage", (chunk.usage.prompt_tokens, chunk.usage.completion_tokens))


# ============================================================================================== shared parameters
class _ChatGLM3Params(BaseModel):
    """What both model classes accept (an in-process model or a server) and the generation options."""

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True, protected_namespaces=())

    model_path: str | None = Field(None, description="model folder or cached hub id; None: --model/env/demo model")
    precision: str = "fp32"
    device: str = "cpu"
    cpu_kernels: str = Field("plain", description="plain | fast (common/cpu_kernels.py)")
    loaded_model: Any = Field(None, exclude=True, repr=False, description="an already-loaded GlmForCausalLM")
    tokenizer: Any = Field(None, exclude=True, repr=False, description="its ChatGLM3Tokenizer")
    base_url: str | None = Field(None, description="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1")
    api_key: SecretStr | None = Field(None, description="bearer key (default $CHATGLM3_API_KEY, $OPENAI_API_KEY)")
    model_name: str | None = Field(None, alias="model", description="model id sent to the server (default: "
                                                                    "the server's first /v1/models entry)")
    temperature: float = 0.8
    top_p: float = 0.8
    max_tokens: int | None = Field(256, alias="max_new_tokens")
    repetition_penalty: float = 1.0
    seed: int | None = None
    stop: list[str] | None = Field(None, alias="stop_sequences")
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = 1
    quiet: bool = Field(False, description="do not print the demo-model line when loading")

    _engine: Any = PrivateAttr(None)
    _clients: dict = PrivateAttr(default_factory=dict)
    _server_model: str | None = PrivateAttr(None)

    @model_validator(mode="before")
    @classmethod
    def _loaded_model_as_model(cls, values: Any) -> Any:
        """``ChatGLM3ChatModel(model=<GlmForCausalLM>, tokenizer=tok)``: a non-string ``model`` is a loaded model."""
        if isinstance(values, dict) and values.get("model") is not None and not isinstance(values["model"], str):
            values = dict(values)
            values["loaded_model"] = values.pop("model")
        return values

    @model_validator(mode="after")
    def _check_source(self):
        if self.base_url:
            if self.loaded_model is not None or self.model_path:
                raise ValueError("pass either base_url (a server) or model_path/model (in-process), not both")
            self.base_url = normalize_base_url(self.base_url)
        elif (self.loaded_model is None) != (self.tokenizer is None):
            raise ValueError("pass both model= and tokenizer= (already loaded), or neither")
        return self

    # ------------------------------------------------------------------ in-process
    @property
    def in_process(self) -> bool:
        return not self.base_url

    def _local(self) -> _InProcess:
        if self._engine is None:
            if self.loaded_model is not None:
                self._engine = _InProcess(self.loaded_model, self.tokenizer)
            else:
                self._engine = _InProcess(*shared_model_and_tokenizer(self.model_path, self.precision, self.device,
                                                                      quiet=self.quiet, kernels=self.cpu_kernels))
        return self._engine

    def model_and_tokenizer(self) -> tuple[Any, Any]:
        """The in-process (model, tokenizer), loading them on first use (shared; see shared_model_and_tokenizer)."""
        if not self.in_process:
            raise ValueError(f"this instance talks to {self.base_url}; it has no in-process model")
        engine = self._local()
        return engine.model, engine.tokenizer

    def server_model_id(self) -> str:
        """The model id sent to the server (asked from /v1/models once when not given)."""
        return self._model_id()

    def uses_demo_model(self) -> bool:
        """True when the answers come from the built-in tiny demo model (in-process or behind the server)."""
        from common.paths import DEMO_MODEL_DIR
        from common.resolve import is_demo_model, resolve_model_path

        if self.in_process:
            if self.loaded_model is not None:
                path = getattr(self.loaded_model, "load_report", {}).get("path")
                return bool(path) and is_demo_model(path)
            return is_demo_model(resolve_model_path(self.model_path))
        try:
            return self._model_id() == DEMO_MODEL_DIR.name
        except ChatGLM3ServerError:
            return False

    # ------------------------------------------------------------------ server
    def _client(self, asynchronous: bool = False):
        """The ``openai`` client (one per instance; the async one per event loop, since its connections belong
        to the loop that opened them)."""
        import openai

        if not asynchronous:
            if "sync" not in self._clients:
                self._clients["sync"] = openai.OpenAI(base_url=self.base_url, api_key=resolve_api_key(self.api_key),
                                                      timeout=self.timeout, max_retries=self.max_retries)
            return self._clients["sync"]
        import asyncio
        import weakref

        per_loop = self._clients.setdefault("async", weakref.WeakKeyDictionary())
        loop = asyncio.get_running_loop()
        if loop not in per_loop:
            per_loop[loop] = openai.AsyncOpenAI(base_url=self.base_url, api_key=resolve_api_key(self.api_key),
                                                timeout=self.timeout, max_retries=self.max_retries)
        return per_loop[loop]

    def _model_id(self) -> str:
        """``model`` for requests: the one given, else the server's first model (asked once)."""
        if self.model_name:
            return self.model_name
        if self._server_model is None:
            try:
                models = self._client().models.list().data
            except Exception as exc:  # noqa: BLE001 — turned into one clear error naming the URL
                raise _server_error(exc, self.base_url, self.timeout) from exc
            self._server_model = models[0].id if models else "chatglm3"
        return self._server_model

    async def _amodel_id(self) -> str:
        if self.model_name or self._server_model is not None:
            return self.model_name or self._server_model
        try:
            models = (await self._client(True).models.list()).data
        except Exception as exc:  # noqa: BLE001
            raise _server_error(exc, self.base_url, self.timeout) from exc
        self._server_model = models[0].id if models else "chatglm3"
        return self._server_model

    def _wrap(self, exc: BaseException) -> BaseException:
        import openai
        return _server_error(exc, self.base_url, self.timeout) if isinstance(exc, openai.OpenAIError) else exc

    # ------------------------------------------------------------------ options
    def _params(self, kwargs: dict) -> dict:
        params = {"temperature": self.temperature, "top_p": self.top_p, "max_tokens": self.max_tokens,
                  "repetition_penalty": self.repetition_penalty, "seed": self.seed}
        if "max_new_tokens" in kwargs:
            kwargs["max_tokens"] = kwargs.pop("max_new_tokens")
        if "min_new_tokens" in kwargs:
            kwargs["min_tokens"] = kwargs.pop("min_new_tokens")
        for key in list(params):
            if kwargs.get(key) is not None:
                params[key] = kwargs.pop(key)
        # per call only: min_tokens (no stop before that many tokens; benchmarks), extra_body (server extras)
        for key in ("min_tokens", "extra_body"):
            if kwargs.get(key) is not None:
                params[key] = kwargs.pop(key)
        return params

    def _stops(self, stop: list[str] | None) -> list[str]:
        stops = list(stop) if stop is not None else list(self.stop or [])
        return [s for s in stops if s]

    def _display_name(self) -> str:
        """A short model name for traces: the server model id, or the model folder's name (never a full path)."""
        if self.model_name:
            return self.model_name
        if self.base_url:
            return self._server_model or "chatglm3"
        if self.loaded_model is not None:
            path = getattr(self.loaded_model, "load_report", {}).get("path")
            return os.path.basename(str(path).rstrip("/")) if path else "chatglm3"
        return os.path.basename(str(self.model_path).rstrip("/")) if self.model_path else "chatglm3"

    def _ident(self) -> dict[str, Any]:
        where = {"base_url": self.base_url, "model": self.model_name} if self.base_url else {
            "model_path": self.model_path or ("<loaded>" if self.loaded_model is not None else _resolved_name()),
            "precision": self.precision, "device": self.device}
        return {**where, "temperature": self.temperature, "top_p": self.top_p, "max_tokens": self.max_tokens,
                "repetition_penalty": self.repetition_penalty}


def _resolved_name() -> str:
    """The folder name --model/$CHATGLM3_MODEL/the demo model resolves to (for traces; never a full path)."""
    from common.resolve import resolve_model_path
    try:
        return resolve_model_path(None).name
    except FileNotFoundError:
        return "<unresolved>"


def _usage(pair: tuple[int, int] | None) -> dict | None:
    if not pair:
        return None
    return {"input_tokens": pair[0], "output_tokens": pair[1], "total_tokens": pair[0] + pair[1]}


# ============================================================================================== the LLM
class ChatGLM3LLM(_ChatGLM3Params, LLM):
    """ChatGLM3 as a LangChain ``LLM`` (book 4.1.3 "LLM终端"): a prompt string in, the reply text out.

    The string is ChatGLM3's user turn (``[gMASK]sop<|user|>\\n{prompt}<|assistant|>``), as in the book's
    ``model.chat(tokenizer, prompt, history=[])``; ``stop`` cuts the reply at the first stop string."""

    @property
    def _llm_type(self) -> str:
        return "chatglm3"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return self._ident()

    def _messages(self, prompt: str) -> list[dict]:
        return [{"role": "user", "content": prompt}]

    def _call(self, prompt: str, stop: list[str] | None = None,
              run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> str:
        params, stops = self._params(kwargs), self._stops(stop)
        if self.in_process:
            return self._local().generate(self._messages(prompt), [], None, params, stops)["content"]
        body = _server_payload(self._model_id(), self._messages(prompt), [], None, params, stops)
        try:
            return _result_from_completion(self._client().chat.completions.create(**body))["content"]
        except Exception as exc:
            raise self._wrap(exc) from exc

    async def _acall(self, prompt: str, stop: list[str] | None = None,
                     run_manager: AsyncCallbackManagerForLLMRun | None = None, **kwargs: Any) -> str:
        if self.in_process:
            return await super()._acall(prompt, stop, run_manager, **kwargs)
        params, stops = self._params(kwargs), self._stops(stop)
        body = _server_payload(await self._amodel_id(), self._messages(prompt), [], None, params, stops)
        try:
            return _result_from_completion(await self._client(True).chat.completions.create(**body))["content"]
        except Exception as exc:
            raise self._wrap(exc) from exc

    def _stream(self, prompt: str, stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[GenerationChunk]:
        params, stops = self._params(kwargs), self._stops(stop)
        if self.in_process:
            events = self._local().stream(self._messages(prompt), [], None, params, stops)
        else:
            events = self._server_events(prompt, params, stops)
        for ev in events:
            if ev[0] == "content":
                chunk = GenerationChunk(text=ev[1])
                if run_manager:
                    run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                yield chunk

    def _server_events(self, prompt: str, params: dict, stops: list[str]) -> Iterator[tuple]:
        body = _server_payload(self._model_id(), self._messages(prompt), [], None, params, stops)
        try:
            for chunk in self._client().chat.completions.create(**body, stream=True):
                yield from _events_from_chunk(chunk)
        except Exception as exc:
            raise self._wrap(exc) from exc

    async def _astream(self, prompt: str, stop: list[str] | None = None,
                       run_manager: AsyncCallbackManagerForLLMRun | None = None,
                       **kwargs: Any) -> AsyncIterator[GenerationChunk]:
        if self.in_process:
            async for chunk in super()._astream(prompt, stop, run_manager, **kwargs):
                yield chunk
            return
        params, stops = self._params(kwargs), self._stops(stop)
        body = _server_payload(await self._amodel_id(), self._messages(prompt), [], None, params, stops)
        try:
            async for chunk in await self._client(True).chat.completions.create(**body, stream=True):
                for ev in _events_from_chunk(chunk):
                    if ev[0] == "content":
                        gc = GenerationChunk(text=ev[1])
                        if run_manager:
                            await run_manager.on_llm_new_token(gc.text, chunk=gc)
                        yield gc
        except Exception as exc:
            raise self._wrap(exc) from exc


# ============================================================================================== the chat model
class ChatGLM3ChatModel(_ChatGLM3Params, BaseChatModel):
    """ChatGLM3 as a LangChain chat model: messages, tools, streaming, structured output, usage, async.

    Role mapping: ``SystemMessage`` -> ``<|system|>``, ``HumanMessage`` -> ``<|user|>``, ``AIMessage`` ->
    ``<|assistant|>`` (each of its tool calls is one ``<|assistant|>name`` turn with ``tool_call(...)``),
    ``ToolMessage`` -> ``<|observation|>``. ``bind_tools`` puts the tools into ChatGLM3's tool system message;
    the model's calls come back as ``AIMessage.tool_calls`` (with ids) and, while streaming, as
    ``tool_call_chunks``. ``tool_choice``: "auto" (default), "none", "any"/"required", or a tool name."""

    streaming: bool = False

    @property
    def _llm_type(self) -> str:
        return "chatglm3-chat"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return self._ident()

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any):
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = "chatglm3"
        params["ls_model_name"] = kwargs.get("model") or self._display_name()
        return params

    def bind_tools(self, tools: Sequence[dict[str, Any] | type | Callable | Any], *,
                   tool_choice: str | dict | bool | None = None, **kwargs: Any) -> Runnable[LanguageModelInput,
                                                                                              AIMessage]:
        """Tools (LangChain tools, pydantic models, TypedDicts, functions, OpenAI dicts) for the next calls."""
        formatted = [tool_to_openai(t) for t in tools]
        names = [t["function"]["name"] for t in formatted]
        choice = _normalize_tool_choice(tool_choice, names)
        extra = {"tool_choice": choice} if choice is not None else {}
        return super().bind(tools=formatted, **extra, **kwargs)

    # ------------------------------------------------------------------ helpers
    def _split(self, messages: list[BaseMessage], kwargs: dict) -> tuple[list[dict], list[dict], Any, Any]:
        tools = [tool_to_openai(t) for t in (kwargs.pop("tools", None) or [])]
        choice = kwargs.pop("tool_choice", None)
        if choice is not None and not (isinstance(choice, dict) or choice in ("none", "required")):
            choice = _normalize_tool_choice(choice, [t["function"]["name"] for t in tools])
        kwargs.pop("ls_structured_output_format", None)
        override = kwargs.pop("model", None)  # a per-call model id (server requests)
        kwargs.pop("parallel_tool_calls", None)
        return convert_to_openai_messages(messages), tools, choice, override

    def _message(self, result: dict) -> AIMessage:
        calls, invalid = [], []
        for call_id, name, args, error in result["tool_calls"]:
            try:
                parsed = json.loads(args) if args else {}
                if error or not isinstance(parsed, dict):
                    raise ValueError(error or "arguments are not a JSON object")
                calls.append(tool_call(name=name, args=parsed, id=call_id))
            except ValueError as exc:
                invalid.append(invalid_tool_call(name=name, args=args, id=call_id, error=str(exc)))
        meta = {"finish_reason": result["finish_reason"],
                "model_name": result.get("model_name") or self._display_name(),
                "model_provider": "chatglm3"}
        return AIMessage(content=result["content"], tool_calls=calls, invalid_tool_calls=invalid,
                         usage_metadata=_usage(result["usage"]), response_metadata=meta)

    def _chunk(self, ev: tuple, model_name: str) -> ChatGenerationChunk | None:
        kind = ev[0]
        if kind == "content":
            return ChatGenerationChunk(message=AIMessageChunk(content=ev[1]))
        if kind == "tool":
            _, index, call_id, name, args = ev
            return ChatGenerationChunk(message=AIMessageChunk(
                content="", tool_call_chunks=[tool_call_chunk(name=name, args=args, id=call_id, index=index)]))
        if kind in ("end", "finish"):
            meta = {"finish_reason": ev[1], "model_name": model_name, "model_provider": "chatglm3"}
            usage = _usage(ev[2]) if kind == "end" else None
            return ChatGenerationChunk(message=AIMessageChunk(content="", usage_metadata=usage,
                                                              response_metadata=meta),
                                       generation_info={"finish_reason": ev[1]})
        if kind == "usage":
            return ChatGenerationChunk(message=AIMessageChunk(content="", usage_metadata=_usage(ev[1])))
        return None

    # ------------------------------------------------------------------ sync
    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        if self.streaming:
            from langchain_core.language_models.chat_models import generate_from_stream
            return generate_from_stream(self._stream(messages, stop, run_manager, **kwargs))
        msgs, tools, choice, override = self._split(messages, kwargs)
        params, stops = self._params(kwargs), self._stops(stop)
        if self.in_process:
            result = self._local().generate(msgs, tools, choice, params, stops)
        else:
            body = _server_payload(override or self._model_id(), msgs, tools, choice, params, stops)
            try:
                result = _result_from_completion(self._client().chat.completions.create(**body))
            except Exception as exc:
                raise self._wrap(exc) from exc
        return ChatResult(generations=[ChatGeneration(message=self._message(result),
                                                      generation_info={"finish_reason": result["finish_reason"]})])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        msgs, tools, choice, override = self._split(messages, kwargs)
        params, stops = self._params(kwargs), self._stops(stop)
        if self.in_process:
            events, name = self._local().stream(msgs, tools, choice, params, stops), self._display_name()
        else:
            name = override or self._model_id()
            events = self._server_stream(_server_payload(name, msgs, tools, choice, params, stops))
        for ev in events:
            chunk = self._chunk(ev, name)
            if chunk is None:
                continue
            if run_manager and ev[0] == "content":
                run_manager.on_llm_new_token(ev[1], chunk=chunk)
            yield chunk

    def _server_stream(self, body: dict) -> Iterator[tuple]:
        try:
            stream = self._client().chat.completions.create(**body, stream=True,
                                                             stream_options={"include_usage": True})
            for chunk in stream:
                yield from _events_from_chunk(chunk)
        except Exception as exc:
            raise self._wrap(exc) from exc

    # ------------------------------------------------------------------ async (real concurrency via the server)
    async def _agenerate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                         run_manager: AsyncCallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        if self.in_process or self.streaming:
            return await super()._agenerate(messages, stop, run_manager, **kwargs)
        msgs, tools, choice, override = self._split(messages, kwargs)
        params, stops = self._params(kwargs), self._stops(stop)
        body = _server_payload(override or await self._amodel_id(), msgs, tools, choice, params, stops)
        try:
            result = _result_from_completion(await self._client(True).chat.completions.create(**body))
        except Exception as exc:
            raise self._wrap(exc) from exc
        return ChatResult(generations=[ChatGeneration(message=self._message(result),
                                                      generation_info={"finish_reason": result["finish_reason"]})])

    async def _astream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                       run_manager: AsyncCallbackManagerForLLMRun | None = None,
                       **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
        if self.in_process:
            async for chunk in super()._astream(messages, stop, run_manager, **kwargs):
                yield chunk
            return
        msgs, tools, choice, override = self._split(messages, kwargs)
        params, stops = self._params(kwargs), self._stops(stop)
        name = override or await self._amodel_id()
        body = _server_payload(name, msgs, tools, choice, params, stops)
        try:
            stream = await self._client(True).chat.completions.create(**body, stream=True,
                                                                       stream_options={"include_usage": True})
            async for raw in stream:
                for ev in _events_from_chunk(raw):
                    chunk = self._chunk(ev, name)
                    if chunk is None:
                        continue
                    if run_manager and ev[0] == "content":
                        await run_manager.on_llm_new_token(ev[1], chunk=chunk)
                    yield chunk
        except Exception as exc:
            raise self._wrap(exc) from exc


# ============================================================================================== embeddings
class ChatGLM3Embeddings(BaseModel, Embeddings):
    """LangChain ``Embeddings`` from ChatGLM3: mean-pooled hidden states in-process (``common.embeddings``), or the
    ``/v1/embeddings`` endpoint of a server (``base_url=``; the chapter-3 server computes the same vectors, or
    those of its ``--embedding-model``)."""

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True, protected_namespaces=())

    model_path: str | None = None
    precision: str = "fp32"
    device: str = "cpu"
    cpu_kernels: str = "plain"
    loaded_model: Any = Field(None, exclude=True, repr=False)
    tokenizer: Any = Field(None, exclude=True, repr=False)
    base_url: str | None = None
    api_key: SecretStr | None = None
    model_name: str | None = Field(None, alias="model")
    batch_size: int = 16
    max_tokens: int = 512
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = 1
    quiet: bool = False

    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    @model_validator(mode="before")
    @classmethod
    def _loaded_model_as_model(cls, values: Any) -> Any:
        return _ChatGLM3Params._loaded_model_as_model.__func__(cls, values)

    @model_validator(mode="after")
    def _check(self):
        if self.base_url:
            self.base_url = normalize_base_url(self.base_url)
        return self

    def _embed(self, texts: list[str]) -> list[list[float]]:
        texts = list(texts)
        if not texts:
            return []
        if self.base_url:
            import openai
            client = openai.OpenAI(base_url=self.base_url, api_key=resolve_api_key(self.api_key), timeout=self.timeout,
                                   max_retries=self.max_retries)
            try:
                out = []
                for start in range(0, len(texts), self.batch_size):
                    resp = client.embeddings.create(model=self.model_name or "chatglm3",
                                                    input=texts[start:start + self.batch_size],
                                                    encoding_format="float")
                    out.extend(d.embedding for d in sorted(resp.data, key=lambda d: d.index))
                return [list(map(float, v)) for v in out]
            except openai.OpenAIError as exc:
                raise _server_error(exc, self.base_url, self.timeout) from exc
        from common.embeddings import embed_texts

        if self.loaded_model is not None:
            model, tok = self.loaded_model, self.tokenizer
        else:
            model, tok = shared_model_and_tokenizer(self.model_path, self.precision, self.device, quiet=self.quiet,
                                                    kernels=self.cpu_kernels)
        with self._lock:
            matrix = embed_texts(model, tok, texts, batch_size=self.batch_size, max_tokens=self.max_tokens)
        return matrix.tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._embed(texts)

    def embed_query(self, text: str) -> list[float]:
        return self._embed([text])[0]


# ============================================================================================== factories
def _source_kwargs(cfg: Any) -> dict:
    base_url = getattr(cfg, "base_url", None)
    if base_url:
        return {"base_url": base_url, "api_key": getattr(cfg, "api_key", None)}
    from common.cli import apply_threads
    apply_threads(cfg)
    return {"model_path": getattr(cfg, "model", None), "precision": getattr(cfg, "precision", "fp32"),
            "device": getattr(cfg, "device", "cpu"), "cpu_kernels": getattr(cfg, "cpu_kernels", "plain")}


def _generation_kwargs(cfg: Any) -> dict:
    out = {}
    for src, dst in (("max_new_tokens", "max_tokens"), ("temperature", "temperature"), ("top_p", "top_p"),
                     ("repetition_penalty", "repetition_penalty"), ("seed", "seed")):
        if getattr(cfg, src, None) is not None:
            out[dst] = getattr(cfg, src)
    return out


def chat_model_from_config(cfg: Any, **overrides: Any) -> ChatGLM3ChatModel:
    """The chat model a script's ``Config`` (ModelArgs + GenerationArgs + ServerArgs) asks for: in-process when
    ``cfg.base_url`` is empty, else the server. ``overrides`` win (e.g. ``temperature=0``)."""
    return ChatGLM3ChatModel(**{**_source_kwargs(cfg), **_generation_kwargs(cfg), **overrides})


def llm_from_config(cfg: Any, **overrides: Any) -> ChatGLM3LLM:
    """Same as :func:`chat_model_from_config`, for the string-in/string-out ``ChatGLM3LLM``."""
    return ChatGLM3LLM(**{**_source_kwargs(cfg), **_generation_kwargs(cfg), **overrides})


def embeddings_from_config(cfg: Any, **overrides: Any) -> ChatGLM3Embeddings:
    """``ChatGLM3Embeddings`` in-process, or the server's ``/v1/embeddings`` when ``cfg.base_url`` is set."""
    return ChatGLM3Embeddings(**{**_source_kwargs(cfg), **overrides})


def ask_fn(model: Any) -> Callable[[str], str]:
    """``prompt -> text`` for a LangChain LLM / chat model (``invoke``) or a plain ``str -> str`` callable — the one
    way chapters that only need "ask the model this text" call it (a chat model's tool call comes back as text)."""
    if hasattr(model, "invoke"):
        def ask(prompt: str) -> str:
            out = model.invoke(prompt)
            return out if isinstance(out, str) else str(getattr(out, "content", out))
        return ask
    if callable(model):
        return lambda prompt: str(model(prompt))
    raise TypeError(f"not a model: {type(model).__name__} (expected a LangChain model or a prompt -> str callable)")


def demo_line(model: _ChatGLM3Params, what: str = "answers") -> str | None:
    """The one line a script prints when its output only stands in for the real model's: None in-process (the
    loader has already printed its demo-model line) and for real weights."""
    if model.in_process and not model.quiet:
        return None
    if model.uses_demo_model():
        where = f" behind {model.base_url}" if model.base_url else ""
        return (f"[demo model] the {what} come from the 7M-parameter demo model{where}: they only show the wiring; "
                "serve real ChatGLM3-6B weights (or pass --model) for real output.")
    return None


__all__ = ["ChatGLM3LLM", "ChatGLM3ChatModel", "ChatGLM3Embeddings", "ChatGLM3ServerError", "ContextLengthError",
           "chat_model_from_config", "llm_from_config", "embeddings_from_config", "shared_model_and_tokenizer",
           "tool_to_chatglm", "tool_to_openai", "normalize_base_url", "demo_line", "resolve_api_key"]
