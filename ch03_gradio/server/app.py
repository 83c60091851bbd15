"""The FastAPI application: OpenAI chat completions / embeddings / models, health, and the book's simple endpoint.

``create_app(engine, ...)`` only wires HTTP to the :class:`~ch03_gradio.server.engine.BatchEngine`; the model runs
in the engine's thread, request handlers never touch it. Errors always come back in OpenAI's shape::

    {"error": {"message": "...", "type": "invalid_request_error", "param": "messages.0.role", "code": null}}

Hardening (every check happens before any model work, and a bad request is a 4xx, never a 5xx):

* :class:`GuardMiddleware` — API key; the whole body read under a deadline (``body_timeout``: a slow, stalled or
  short body gets 408 and the connection is closed) and a size limit (413); JSON bodies parsed strictly first
  (``common.openai_protocol.loads_strict``: NaN/Infinity, lone surrogates, 5,000-digit numbers, deep nesting -> 400);
  ``/docs``, ``/redoc``, ``/openapi.json`` need the key too unless ``public_docs``.
* per-request limits from :class:`ServerSettings` (messages, ``n``, tools, stop strings, embedding inputs and
  tokens, ``max_tokens``), sampling values clamped to what the sampler handles (temperature < 1e-5 is greedy).
* tokenizing runs in a worker thread, so a 4 MB prompt never blocks the event loop (``/health`` stays fast).
"""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, AsyncIterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from common.openai_protocol import ProtocolError, StreamParser, loads_strict, messages_to_history, parse_output, \
    prompt_ids, tools_to_chatglm
from .embeddings import encode_vector, truncate_dimensions
from .engine import BatchEngine, EngineFull, SamplingParams, Sequence
from .schemas import DEFAULT_MAX_TOKENS, DEFAULT_TEMPERATURE, DEFAULT_TOP_P, ChatCompletionRequest, \
    EmbeddingRequest, LegacyChatRequest

log = logging.getLogger("chatglm3.server")
MIN_TEMPERATURE = 1e-5          # as vLLM: a smaller temperature is greedy decoding (1e-40 would overflow the softmax)
MIN_REPETITION_PENALTY = 1e-2   # 1e-300 would turn logits into inf


class ApiError(Exception):
    """Any 4xx/5xx answer, rendered in OpenAI's error shape."""

    def __init__(self, status: int, message: str, type_: str = "invalid_request_error", param: str | None = None,
                 code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type_, param, code


def error_body(message: str, type_: str = "invalid_request_error", param: str | None = None,
               code: str | None = None) -> dict:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def _error_response(status: int, message: str, type_: str = "invalid_request_error", param=None, code=None,
                    headers: dict | None = None) -> JSONResponse:
    return JSONResponse(error_body(message, type_, param, code), status_code=status, headers=headers)


@dataclass
class ServerSettings:
    model_name: str = "chatglm3-6b"
    api_key: str | None = None
    max_body_bytes: int = 4 * 1024 * 1024
    max_tokens_limit: int = 32768          # larger max_tokens -> 400; smaller ones are clamped to the context
    default_max_tokens: int = DEFAULT_MAX_TOKENS
    cors_origins: list[str] = field(default_factory=list)
    embedder: Any = None
    public_docs: bool | None = None        # /docs, /redoc, /openapi.json without the key (default: only when no key)
    body_timeout: float = 20.0             # seconds to receive the whole body, else 408 and the connection closes
    max_messages: int = 512                # messages per chat request
    max_n: int = 4                         # choices per chat request (each takes a batch slot)
    max_embedding_inputs: int = 2048       # inputs per embeddings request (OpenAI's limit)
    max_embedding_tokens: int = 65536      # tokens per embeddings request, all inputs together

    @property
    def docs_open(self) -> bool:
        return (not self.api_key) if self.public_docs is None else bool(self.public_docs)


# ============================================================================================== ASGI guard
JSON_ROUTES = ("/v1/chat/completions", "/v1/embeddings", "/")
DOC_PATHS = ("/docs", "/openapi.json", "/redoc", "/docs/oauth2-redirect")


class GuardMiddleware:
    """API key check, body deadline and size limit, strict JSON — before FastAPI parses anything."""

    def __init__(self, app, settings: ServerSettings):
        self.app, self.settings = app, settings

    async def _reply(self, send, status: int, body: dict, headers: list | None = None) -> None:
        data = json.dumps(body).encode()
        try:
            await send({"type": "http.response.start", "status": status,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(data)).encode())] + (headers or [])})
            await send({"type": "http.response.body", "body": data})
        except Exception as exc:  # the connection broke meanwhile (h11 already answered a malformed body with 400)
            log.debug("could not send the %d reply: %s", status, exc)

    async def _read_body(self, receive, limit: int) -> bytes | str:
        """The whole body, or "disconnect" / "too_large" / "timeout"."""
        chunks, size = [], 0
        deadline = time.monotonic() + self.settings.body_timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return "timeout"
            try:
                message = await asyncio.wait_for(receive(), left)
            except asyncio.TimeoutError:
                return "timeout"
            if message["type"] == "http.disconnect":
                return "disconnect"
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > limit:
                return "too_large"
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        key = self.settings.api_key
        path = scope["path"]
        open_path = path == "/health" or (path in DOC_PATHS and self.settings.docs_open)
        if key and scope["method"] != "OPTIONS" and not open_path:
            auth = headers.get("authorization", "")
            token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
            if not hmac.compare_digest(token.encode("utf-8", "replace"), key.encode()):
                msg = ("Incorrect API key provided." if token else
                       "You didn't provide an API key: send the header 'Authorization: Bearer YOUR_KEY'.")
                return await self._reply(send, 401, error_body(msg, "invalid_request_error", None, "invalid_api_key"),
                                         [(b"www-authenticate", b"Bearer")])
        if not self.settings.docs_open and path in DOC_PATHS and not key:
            return await self._reply(send, 404, error_body("Not Found"))
        has_body = "transfer-encoding" in headers or headers.get("content-length", "0").strip() not in ("", "0")
        if scope["method"] not in ("POST", "PUT", "PATCH") and not has_body:
            return await self.app(scope, receive, send)
        limit = self.settings.max_body_bytes
        too_large = error_body(f"request body larger than {limit} bytes", "invalid_request_error", None,
                               "request_too_large")
        close = [(b"connection", b"close")]
        try:
            if int(headers.get("content-length", "0") or "0") > limit:
                return await self._reply(send, 413, too_large, close)
        except ValueError:
            return await self._reply(send, 400, error_body("invalid Content-Length header"), close)
        # read the whole body here (also chunked uploads without a length) under a deadline, then replay it
        body = await self._read_body(receive, limit)
        if body == "disconnect":
            return
        if body == "too_large":
            return await self._reply(send, 413, too_large, close)
        if body == "timeout":
            return await self._reply(send, 408, error_body(
                f"the request body did not arrive within {self.settings.body_timeout:g} s", "invalid_request_error",
                None, "request_timeout"), close)
        if scope["method"] == "POST" and path in JSON_ROUTES:
            try:
                if len(body) > 65536:   # parsing megabytes takes a while: not on the event loop
                    await asyncio.to_thread(loads_strict, body)
                else:
                    loads_strict(body)
            except ValueError as exc:
                return await self._reply(send, 400, error_body(f"request body is not valid JSON: {exc}"))
            ctype = headers.get("content-type", "").split(";")[0].strip().lower()
            if path == "/" and ctype in ("", "application/x-www-form-urlencoded", "text/plain"):
                # the book's `curl -d '{...}'` sends no JSON content type: read the body as JSON anyway
                scope = dict(scope, headers=[(k, v) for k, v in scope["headers"] if k.lower() != b"content-type"]
                             + [(b"content-type", b"application/json")])
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()   # afterwards: http.disconnect when the client goes away

        return await self.app(scope, replay, send)


# ============================================================================================== helpers
def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    errors = exc.errors()
    if not errors:
        return "invalid request", None
    err = errors[0]
    loc = [str(x) for x in err.get("loc", ()) if x != "body"]
    if err.get("type") == "json_invalid":
        return f"request body is not valid JSON: {err.get('ctx', {}).get('error', err.get('msg'))}", None
    param = ".".join(loc) or None
    msg = err.get("msg", "invalid value")
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return (f"{param}: {msg}" if param else msg) + more, param


def _now() -> int:
    return int(time.time())


class _Waiter:
    """An asyncio.Event the engine thread can set (once per new token, coalesced)."""

    def __init__(self):
        self.loop = asyncio.get_running_loop()
        self.event = asyncio.Event()

    def __call__(self, seq: Sequence) -> None:
        try:
            self.loop.call_soon_threadsafe(self.event.set)
        except RuntimeError:  # loop closed: the server is stopping
            pass

    async def wait(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self.event.wait(), timeout)
        except asyncio.TimeoutError:
            pass
        self.event.clear()


@dataclass
class _Plan:
    """What one chat request turned into: prompt ids, tools, sampling settings per choice."""

    ids: list[int]
    tool_names: tuple[str, ...]
    forced_prefix: str
    params: list[SamplingParams]
    legacy_functions: bool


# ============================================================================================== the app
def create_app(engine: BatchEngine, settings: ServerSettings | None = None) -> FastAPI:
    settings = settings or ServerSettings()
    tok = engine.tokenizer
    app = FastAPI(title="ChatGLM3 OpenAI-style API", version="1.0",
                  description="书中 3.4.1：ChatGLM3 私有云交互端口（OpenAI 兼容）")
    app.state.engine, app.state.settings = engine, settings
    app.add_middleware(GuardMiddleware, settings=settings)
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])

    # ------------------------------------------------------------------ errors
    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        msg, param = _validation_message(exc)
        return _error_response(400, msg, param=param)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return _error_response(exc.status, exc.message, exc.type, exc.param, exc.code)

    @app.exception_handler(ProtocolError)
    async def _protocol(request: Request, exc: ProtocolError):
        return _error_response(400, str(exc), param=exc.param)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        type_ = "invalid_request_error" if exc.status_code < 500 else "server_error"
        return _error_response(exc.status_code, str(exc.detail), type_, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception):
        log.exception("unhandled error")
        return _error_response(500, "internal server error", "server_error")

    # ------------------------------------------------------------------ small endpoints
    @app.get("/health")
    async def health():
        return {"status": "ok", "model": settings.model_name, **engine.load()}

    @app.get("/v1/models")
    async def models():
        data = [{"id": settings.model_name, "object": "model", "created": _now(), "owned_by": "chatglm3-book",
                 "max_model_len": engine.max_context}]
        if settings.embedder is not None and getattr(settings.embedder, "name", None) != "chatglm3-mean-pool":
            data.append({"id": settings.embedder.name, "object": "model", "created": _now(),
                         "owned_by": "sentence-transformers"})
        return {"object": "list", "data": data}

    # ------------------------------------------------------------------ chat completions
    async def score_tool_names(ids: list[int], names: list[str]) -> str:
        """tool_choice='required' with several tools: the name the model itself finds most likely.

        The prompt is run once (its KV cache kept); each candidate ``<|assistant|>name\n`` then costs a few tokens."""
        import torch
        from transformers import DynamicCache

        cands = [tok.build_single_message("assistant", n, "")[1:] for n in names]

        def score(model) -> list[float]:
            dev = model.device
            cache = DynamicCache(config=model.config)
            x = torch.tensor([ids], device=dev)
            out = model(input_ids=x, position_ids=torch.arange(len(ids), device=dev)[None], cache=cache,
                        use_cache=True, logits_to_keep=1)
            first = out.logits[0, -1].float().log_softmax(-1)
            scores = []
            for c in cands:
                total = float(first[c[0]])
                if len(c) > 1:
                    y = torch.tensor([c[:-1]], device=dev)
                    pos = torch.arange(len(ids), len(ids) + len(c) - 1, device=dev)[None]
                    logp = model(input_ids=y, position_ids=pos, cache=cache,
                                 use_cache=True).logits[0].float().log_softmax(-1)
                    total += float(sum(logp[j, t] for j, t in enumerate(c[1:])))
                    cache.crop(-(len(c) - 1))   # back to the prompt alone
                scores.append(total)
            return scores

        scores = await asyncio.wrap_future(engine.run_exclusive(score))
        return names[max(range(len(names)), key=scores.__getitem__)]

    def _build_prompt(req: ChatCompletionRequest, tools: list[dict]) -> list[int]:
        """History and prompt ids (runs in a worker thread: tokenizing a 4 MB body takes a while)."""
        msgs = [m.model_dump(exclude_none=True) for m in req.messages]
        return prompt_ids(tok, messages_to_history(msgs, tools))

    async def plan_chat(req: ChatCompletionRequest) -> _Plan:
        # ---- cheap checks first: nothing below them touches the model
        if len(req.messages) > settings.max_messages:
            raise ApiError(400, f"at most {settings.max_messages} messages per request", param="messages")
        if req.n > settings.max_n:
            raise ApiError(400, f"n must be at most {settings.max_n} on this server", param="n")
        asked = req.max_completion_tokens or req.max_tokens
        if asked is not None and asked > settings.max_tokens_limit:
            raise ApiError(400, f"max_tokens is too large: {asked} > the server limit {settings.max_tokens_limit}",
                           param="max_completion_tokens" if req.max_completion_tokens else "max_tokens")
        legacy = bool(req.functions)
        raw_tools = ([t.model_dump(exclude_none=True) for t in req.tools] if req.tools else
                     [f.model_dump(exclude_none=True) for f in req.functions] if req.functions else [])
        tools = tools_to_chatglm(raw_tools)
        names = [t["name"] for t in tools]
        choice = req.function_call if legacy else req.tool_choice
        choice_param = "function_call" if legacy else "tool_choice"
        forced: str | None = None
        if choice is None:
            choice = "auto"
        if not isinstance(choice, str):
            forced = choice.name if legacy else choice.function.name
            if forced not in names:
                raise ApiError(400, f"{choice_param} names {forced!r}, which is not among the tools", param=choice_param)
        elif choice == "required":
            if not tools:
                raise ApiError(400, "tool_choice 'required' needs tools", param="tool_choice")
        elif choice == "none":
            tools = []
        ids = await asyncio.to_thread(_build_prompt, req, tools)
        extra = max((len(tok.build_single_message("assistant", n, "")) - 1 for n in names), default=0) \
            if choice == "required" or forced else 0
        room = engine.max_context - len(ids) - extra
        if room < 1:
            raise ApiError(400, f"This model's maximum context length is {engine.max_context} tokens; the "
                                f"messages are {len(ids) + extra} tokens.", param="messages",
                           code="context_length_exceeded")
        max_tokens = min(asked or settings.default_max_tokens, room)
        if req.min_tokens > max_tokens:
            raise ApiError(400, f"min_tokens ({req.min_tokens}) is larger than max_tokens ({max_tokens})",
                           param="min_tokens")
        # ---- model work only from here on
        if choice == "required":
            forced = names[0] if len(names) == 1 else await score_tool_names(ids, names)
        prefix = ""
        if forced:  # the assistant turn starts with "name\n": the model only writes the call's arguments
            ids = ids + tok.build_single_message("assistant", forced, "")[1:]
            prefix = forced + "\n"
        params = []
        temperature = DEFAULT_TEMPERATURE if req.temperature is None else req.temperature
        for i in range(req.n):
            params.append(SamplingParams(
                max_tokens=max_tokens,
                temperature=0.0 if temperature < MIN_TEMPERATURE else temperature,   # vLLM: < 1e-5 is greedy
                top_p=DEFAULT_TOP_P if req.top_p is None else req.top_p,
                top_k=max(req.top_k, 0), repetition_penalty=max(req.repetition_penalty, MIN_REPETITION_PENALTY),
                presence_penalty=req.presence_penalty, frequency_penalty=req.frequency_penalty,
                stop=tuple(req.stop or ()), ignore_eos=req.ignore_eos, min_tokens=req.min_tokens,
                seed=None if req.seed is None else req.seed + i))
        return _Plan(ids, tuple(t["name"] for t in tools), prefix, params, legacy)

    def submit_all(plan: _Plan, waiter: _Waiter) -> list[Sequence]:
        seqs = []
        try:
            for p in plan.params:
                seqs.append(engine.submit(Sequence(plan.ids, p, on_update=waiter)))
        except EngineFull as exc:
            for s in seqs:
                s.cancel()
            raise ApiError(429, str(exc), "rate_limit_error", code="server_busy") from None
        return seqs

    def _parse(plan: _Plan, text: str):
        problems: list[str] = []
        content, calls = parse_output(plan.forced_prefix + text, plan.tool_names, problems)
        for problem in problems:
            log.warning("model output: %s", problem)
        return content, calls

    @app.post("/v1/chat/completions")
    async def chat_completions(req: ChatCompletionRequest, request: Request):
        plan = await plan_chat(req)
        waiter = _Waiter()
        seqs = submit_all(plan, waiter)
        cid, created = f"chatcmpl-{uuid.uuid4().hex}", _now()
        if req.stream:
            include_usage = bool(req.stream_options and req.stream_options.include_usage)
            return StreamingResponse(_stream(request, plan, seqs, waiter, cid, created, include_usage),
                                     media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        try:
            while not all(s.finished for s in seqs):
                await waiter.wait(0.5)
                if not all(s.finished for s in seqs) and await request.is_disconnected():
                    break
        finally:
            for s in seqs:
                if not s.finished:
                    s.cancel()
        choices = []
        for i, s in enumerate(seqs):
            if s.finish_reason == "error":
                raise ApiError(500, f"generation failed: {s.error}", "server_error")
            content, calls = _parse(plan, s.text)
            message: dict[str, Any] = {"role": "assistant", "content": content or (None if calls else "")}
            finish = s.finish_reason if s.finish_reason in ("stop", "length") else "stop"
            if calls and plan.legacy_functions:
                message["function_call"] = {"name": calls[0].name, "arguments": calls[0].arguments}
                finish = "function_call"
            elif calls:
                message["tool_calls"] = [{"id": f"call_{uuid.uuid4().hex[:24]}", "type": "function",
                                          "function": {"name": c.name, "arguments": c.arguments}} for c in calls]
                finish = "tool_calls"
            choices.append({"index": i, "message": message, "logprobs": None, "finish_reason": finish})
        completion = sum(len(s.output_ids) for s in seqs)
        return {"id": cid, "object": "chat.completion", "created": created, "model": settings.model_name,
                "system_fingerprint": None, "choices": choices,
                "usage": {"prompt_tokens": len(plan.ids), "completion_tokens": completion,
                          "total_tokens": len(plan.ids) + completion}}

    async def _stream(request: Request, plan: _Plan, seqs: list[Sequence], waiter: _Waiter, cid: str,
                      created: int, include_usage: bool) -> AsyncIterator[str]:
        def chunk(choices: list[dict], usage: Any = None) -> str:
            body = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": settings.model_name,
                    "system_fingerprint": None, "choices": choices}
            if include_usage:
                body["usage"] = usage
            return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

        def delta(i: int, d: dict, finish: str | None = None) -> dict:
            return {"index": i, "delta": d, "logprobs": None, "finish_reason": finish}

        parsers = [StreamParser(plan.tool_names) for _ in seqs]
        seen = [None] * len(seqs)
        done = [False] * len(seqs)
        call_ids: dict[tuple[int, int], str] = {}
        last_check = time.monotonic()
        try:
            for i in range(len(seqs)):
                yield chunk([delta(i, {"role": "assistant", "content": ""})])
            while not all(done):
                await waiter.wait(0.5)
                for i, s in enumerate(seqs):
                    snap = s.snapshot
                    if done[i] or snap == seen[i]:
                        continue
                    seen[i] = snap
                    _, text, finish = snap
                    if finish == "error":
                        yield f"data: {json.dumps(error_body('generation failed: ' + str(s.error), 'server_error'))}\n\n"
                        done[i] = True
                        continue
                    for ev in parsers[i].feed(plan.forced_prefix + text, final=finish is not None):
                        if ev[0] == "content":
                            yield chunk([delta(i, {"content": ev[1]})])
                        elif plan.legacy_functions:
                            if ev[1] > 0:
                                continue   # the legacy API has one function_call per message
                            d = ({"name": ev[2], "arguments": ""} if ev[0] == "tool_call" else {"arguments": ev[2]})
                            yield chunk([delta(i, {"function_call": d})])
                        elif ev[0] == "tool_call":
                            call_ids[i, ev[1]] = f"call_{uuid.uuid4().hex[:24]}"
                            yield chunk([delta(i, {"tool_calls": [{"index": ev[1], "id": call_ids[i, ev[1]],
                                                                   "type": "function",
                                                                   "function": {"name": ev[2], "arguments": ""}}]})])
                        else:
                            yield chunk([delta(i, {"tool_calls": [{"index": ev[1],
                                                                   "function": {"arguments": ev[2]}}]})])
                    for err in parsers[i].errors:
                        log.warning("model output: %s", err)
                    parsers[i].errors.clear()
                    if finish is not None:
                        done[i] = True
                        reason = finish if finish in ("stop", "length") else "stop"
                        if parsers[i].sent_calls:
                            reason = "function_call" if plan.legacy_functions else "tool_calls"
                        yield chunk([delta(i, {}, reason)])
                if not all(done) and time.monotonic() - last_check > 0.25:
                    last_check = time.monotonic()
                    if await request.is_disconnected():
                        return
            if include_usage:
                completion = sum(len(s.output_ids) for s in seqs)
                yield chunk([], {"prompt_tokens": len(plan.ids), "completion_tokens": completion,
                                 "total_tokens": len(plan.ids) + completion})
            yield "data: [DONE]\n\n"
        except Exception as exc:   # a bug here must still end the stream in a way clients understand
            log.exception("stream failed")
            yield f"data: {json.dumps(error_body(f'stream failed: {type(exc).__name__}', 'server_error'))}\n\n"
            yield "data: [DONE]\n\n"
        finally:  # client gone (or finished): free the slots
            for s in seqs:
                if not s.finished:
                    s.cancel()

    # ------------------------------------------------------------------ embeddings
    @app.post("/v1/embeddings")
    async def embeddings(req: EmbeddingRequest):
        emb = settings.embedder
        if emb is None:
            raise ApiError(404, "this server has no embedding model", code="model_not_found")
        inputs = req.input
        n_inputs = 1 if isinstance(inputs, str) or isinstance(inputs[0], int) else len(inputs)
        if n_inputs > settings.max_embedding_inputs:
            raise ApiError(400, f"at most {settings.max_embedding_inputs} inputs per request", param="input")
        if req.dimensions is not None and req.dimensions > emb.dimension:
            raise ApiError(400, f"dimensions must be at most {emb.dimension}", param="dimensions")
        budget = settings.max_embedding_tokens
        if isinstance(inputs, str) or isinstance(inputs[0], str):
            texts = [inputs] if isinstance(inputs, str) else list(inputs)
            if sum(len(t) for t in texts) > 8 * budget:   # far more characters than the token budget allows
                raise ApiError(400, f"the inputs are longer than the limit of {budget} tokens per request",
                               param="input", code="context_length_exceeded")
            batches = await asyncio.to_thread(lambda: [emb.tokenize(x) for x in texts])
        elif isinstance(inputs[0], int):
            batches = [list(inputs)]
        else:
            batches = [list(x) for x in inputs]
        vocab = len(getattr(emb, "tokenizer", []) or []) or None
        for i, ids in enumerate(batches):
            if len(ids) > emb.max_tokens:
                raise ApiError(400, f"input {i} has {len(ids)} tokens, more than the limit {emb.max_tokens}",
                               param="input", code="context_length_exceeded")
            if isinstance(inputs, list) and not isinstance(inputs[0], str):
                if any(t < 0 or (vocab and t >= vocab) for t in ids):
                    raise ApiError(400, f"input {i} holds token ids outside the vocabulary", param="input")
        n_tokens = sum(len(x) for x in batches)
        if n_tokens > budget:
            raise ApiError(400, f"the inputs have {n_tokens} tokens, more than the limit of {budget} per request",
                           param="input", code="context_length_exceeded")
        vectors = truncate_dimensions(await emb.aembed(batches), req.dimensions)
        return {"object": "list", "model": req.model or emb.name,
                "data": [{"object": "embedding", "index": i, "embedding": encode_vector(v, req.encoding_format)}
                         for i, v in enumerate(vectors)],
                "usage": {"prompt_tokens": n_tokens, "total_tokens": n_tokens}}

    # ------------------------------------------------------------------ the book's simple endpoint
    def _simple_history(req: LegacyChatRequest) -> list[dict]:
        history: list[dict] = []
        if len(req.history) > settings.max_messages:
            raise ApiError(400, f"at most {settings.max_messages} history items", param="history")
        for i, h in enumerate(req.history):
            if isinstance(h, list):
                if len(h) != 2 or not all(isinstance(x, str) for x in h):
                    raise ApiError(400, "a history pair must be [question, answer]", param=f"history.{i}")
                history += [{"role": "user", "content": h[0]}, {"role": "assistant", "metadata": "", "content": h[1]}]
            else:
                if h.get("role") not in ("system", "user", "assistant", "observation") or \
                        not isinstance(h.get("content"), str) or not isinstance(h.get("metadata", ""), str):
                    raise ApiError(400, "a history item needs a ChatGLM3 role, string content (and string metadata)",
                                   param=f"history.{i}")
                tools = h.get("tools")
                if tools is not None and (h["role"] != "system" or not isinstance(tools, list)
                                          or not all(isinstance(t, dict) for t in tools)):
                    raise ApiError(400, "'tools' belongs to a system item and is a list of objects",
                                   param=f"history.{i}.tools")
                history.append({k: v for k, v in h.items() if k in ("role", "content", "metadata", "tools")})
        return history

    @app.post("/")
    async def simple_chat(req: LegacyChatRequest, request: Request):
        """``{"prompt", "history"}`` -> ``{"response", "history", "status", "time"}`` (LangChain's ``ChatGLM``).

        ``history`` may be ChatGLM2-style pairs ``[[question, answer], ...]`` (what LangChain keeps) or ChatGLM3
        dicts; it comes back in the same style with this turn appended."""
        pairs = all(isinstance(h, list) for h in req.history)
        history = _simple_history(req)
        ids = await asyncio.to_thread(tok.build_chat_ids, req.prompt, history)
        room = engine.max_context - len(ids)
        if room < 1:
            raise ApiError(400, "prompt and history are longer than the context", param="prompt",
                           code="context_length_exceeded")
        total = req.max_length or len(ids) + settings.default_max_tokens
        max_tokens = max(1, min(total - len(ids), room, settings.max_tokens_limit))
        temperature = 0.0 if req.temperature < MIN_TEMPERATURE else req.temperature
        waiter = _Waiter()
        [seq] = submit_all(_Plan(ids, (), "", [SamplingParams(max_tokens=max_tokens, temperature=temperature,
                                                              top_p=req.top_p)], False), waiter)
        try:
            while not seq.finished:
                await waiter.wait(0.5)
                if not seq.finished and await request.is_disconnected():
                    break
        finally:
            if not seq.finished:
                seq.cancel()
        if seq.finish_reason == "error":
            raise ApiError(500, f"generation failed: {seq.error}", "server_error")
        response, _ = parse_output(seq.text)
        if pairs:
            new_history: list = [list(h) for h in req.history] + [[req.prompt, response]]
        else:
            new_history = history + [{"role": "user", "content": req.prompt},
                                     {"role": "assistant", "metadata": "", "content": response}]
        return {"response": response, "history": new_history, "status": 200,
                "time": time.strftime("%Y-%m-%d %H:%M:%S")}

    return app
