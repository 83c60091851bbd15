"""3.4.1 ChatGLM3 私有云交互端口 — an OpenAI-compatible server for any ChatGLM3 model (FastAPI + uvicorn).

    python ch03_gradio/openai_api.py                         # built-in demo model, http://127.0.0.1:8000
    python ch03_gradio/openai_api.py --model /path/to/chatglm3-6b --device cuda --precision fp16 --api-key sk-xxx
    python ch03_gradio/openai_api.py --model /path/to/chatglm3-6b --precision int8 --cpu-kernels fast   # CPU

Endpoints (the same as OpenAI / vLLM, so the ``openai`` client and LangChain's ``ChatOpenAI`` work unchanged):

    GET  /health                 {"status": "ok", running/waiting requests, tokens served}
    GET  /v1/models              the served model
    POST /v1/chat/completions    messages (system/user/assistant/tool), stream (SSE), tools + tool_choice,
                                 legacy functions, n, stop, seed, max_tokens, temperature (0 = greedy), top_p;
                                 vLLM extras: top_k, min_tokens, ignore_eos, repetition_penalty
    POST /v1/embeddings          --embedding-model (sentence-transformers) or mean-pooled ChatGLM3 states
    POST /                       the book's simple endpoint {prompt, history} -> {response, history, status, time}
                                 (LangChain's community ``ChatGLM`` class)

Defaults as the official ``openai_api_demo``: temperature 0.8, top_p 0.8, max_tokens 1024 (clamped to what is left
of the context). Unlike it: requests are batched (continuous batching, see ``server/engine.py``), tools work (also
while streaming), tool calls are parsed without ``eval``, it listens on 127.0.0.1 only, with optional API key,
body-size and max_tokens limits, OpenAI-style 4xx errors, and no CORS unless you name the allowed origins.

Hardened against hostile clients (fuzzed: ``python tests/fuzz/run_fuzz.py``): every malformed request is a 4xx,
per-request limits (messages, n, stop strings, tools, embedding inputs/tokens, body size), slow or idle
connections are cut off (--header-timeout, --body-timeout, --keep-alive-timeout, --max-connections), and with
--api-key the /docs pages need the key too unless --public-docs.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

if __package__ in (None, ""):  # `python ch03_gradio/openai_api.py` as well as `python -m ch03_gradio.openai_api`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import GenerationArgs, ModelArgs, UserError, arg, redefault, run  # noqa: E402

LOOPBACK = ("127.0.0.1", "localhost", "::1")
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


@dataclass
class Config(ModelArgs):
    cpu_kernels: str = redefault(GenerationArgs, "cpu_kernels", "plain")
    host: str = arg("127.0.0.1", "interface to bind; 0.0.0.0 exposes the API to your network (then set --api-key)",
                    group="server")
    port: int = arg(8000, "TCP port (0 = any free port)", group="server")
    api_key: str | None = arg(None, "require 'Authorization: Bearer KEY' from clients on /v1/* and / "
                                    "(default: $CHATGLM3_API_KEY, else no key)", group="server")
    public_docs: bool | None = arg(None, "serve /docs, /redoc, /openapi.json without the key (default: open only "
                                         "when no key is set)", group="server")
    served_model_name: str | None = arg(None, "model id reported by /v1/models and in responses (default: the "
                                              "model folder name)", group="server")
    embedding_model: str | None = arg(None, "local sentence-transformers folder for /v1/embeddings (e.g. bge-m3); "
                                            "default: mean-pooled ChatGLM3 hidden states", group="server")
    cors_origin: list[str] = arg([], "enable CORS for these browser origins; off by default", group="server")
    log_level: str = arg("info", "uvicorn log level", choices=LOG_LEVELS, group="server")
    max_batch_size: int = arg(16, "requests generated together in one batch (continuous batching)", group="limits")
    max_waiting: int = arg(256, "requests allowed to wait for a slot; more get 429", group="limits")
    max_body_mb: float = arg(4.0, "largest request body accepted (413)", group="limits")
    max_tokens_limit: int = arg(32768, "a larger max_tokens is refused (400); smaller values are clamped to the "
                                       "free context", group="limits")
    default_max_tokens: int = arg(1024, "max_tokens when the request gives none", group="limits")
    max_messages: int = arg(512, "messages per chat request (and history items of POST /)", group="limits")
    max_n: int = arg(4, "choices (n) per chat request; each takes a batch slot", group="limits")
    max_embedding_inputs: int = arg(2048, "inputs per /v1/embeddings request", group="limits")
    max_embedding_tokens: int = arg(65536, "tokens per /v1/embeddings request, all inputs together", group="limits")
    header_timeout: float = arg(10.0, "seconds a connection may take to send a complete request head",
                                group="limits")
    body_timeout: float = arg(20.0, "seconds a request may take to send its whole body (else 408, closed)",
                              group="limits")
    keep_alive_timeout: int = arg(5, "an idle kept-alive connection is closed after this many seconds",
                                  group="limits")
    max_connections: int = arg(128, "connections/requests at once; more get 503 (put a reverse proxy in front "
                                    "of an exposed server)", group="limits")


@dataclass
class ServerHandle:
    """A server running in a background thread (tests, benchmarks, notebooks)."""

    url: str
    app: object
    engine: object
    server: object
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        self.engine.stop()


def check_config(cfg: Config) -> None:
    """Expected mistakes in the flags, as one line each."""
    for name in ("max_batch_size", "max_waiting", "max_tokens_limit", "default_max_tokens", "max_messages", "max_n",
                 "max_embedding_inputs", "max_embedding_tokens", "keep_alive_timeout", "max_connections"):
        if getattr(cfg, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(cfg, name)}")
    for name in ("max_body_mb", "header_timeout", "body_timeout"):
        if not getattr(cfg, name) > 0:
            raise UserError(f"--{name.replace('_', '-')} must be positive, got {getattr(cfg, name)}")


def build(cfg: Config, model=None, tokenizer=None):
    """(app, engine) for ``cfg``; pass ``model``/``tokenizer`` to reuse loaded ones."""
    from common.chatglm3 import load_model_and_tokenizer
    from common.cli import apply_threads
    from common.resolve import resolve_model_path

    from ch03_gradio.server.app import ServerSettings, create_app
    from ch03_gradio.server.embeddings import ChatGLM3Embedder, SentenceTransformerEmbedder
    from ch03_gradio.server.engine import BatchEngine

    check_config(cfg)
    if model is None or tokenizer is None:
        apply_threads(cfg)
        model, tokenizer = load_model_and_tokenizer(cfg.model, cfg.precision, cfg.device, kernels=cfg.cpu_kernels)
        name = cfg.served_model_name or resolve_model_path(cfg.model).name
    else:
        name = cfg.served_model_name or "chatglm3"
    engine = BatchEngine(model, tokenizer, max_batch_size=cfg.max_batch_size, max_waiting=cfg.max_waiting).start()
    embedder = (SentenceTransformerEmbedder(cfg.embedding_model, device=str(model.device)) if cfg.embedding_model
                else ChatGLM3Embedder(engine))
    api_key = cfg.api_key or os.environ.get("CHATGLM3_API_KEY") or None
    settings = ServerSettings(model_name=name, api_key=api_key, max_body_bytes=int(cfg.max_body_mb * 1024 * 1024),
                              max_tokens_limit=cfg.max_tokens_limit, default_max_tokens=cfg.default_max_tokens,
                              cors_origins=list(cfg.cors_origin), embedder=embedder, public_docs=cfg.public_docs,
                              body_timeout=cfg.body_timeout, max_messages=cfg.max_messages, max_n=cfg.max_n,
                              max_embedding_inputs=cfg.max_embedding_inputs,
                              max_embedding_tokens=cfg.max_embedding_tokens)
    if cfg.host not in LOOPBACK and not api_key:
        print(f"[warn] listening on {cfg.host} without --api-key: anyone who reaches this port can use the model",
              file=sys.stderr)
    return create_app(engine, settings), engine


def _uvicorn_server(app, cfg: Config):
    import uvicorn

    from ch03_gradio.server.connections import uvicorn_config
    return uvicorn.Server(uvicorn_config(app, cfg.host, cfg.port, cfg.log_level, header_timeout=cfg.header_timeout,
                                         keep_alive_timeout=cfg.keep_alive_timeout,
                                         max_connections=cfg.max_connections))


def start_in_thread(cfg: Config, model=None, tokenizer=None, timeout: float = 30.0) -> ServerHandle:
    """Start the server in a daemon thread and return once it accepts connections (``cfg.port=0``: any free port)."""
    app, engine = build(cfg, model, tokenizer)
    server = _uvicorn_server(app, cfg)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.time() + timeout
    while not server.started:
        if time.time() > deadline or not thread.is_alive():
            engine.stop()
            raise RuntimeError("the server did not start (is the port in use?)")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    return ServerHandle(f"http://{cfg.host}:{port}", app, engine, server, thread)


@contextlib.contextmanager
def server_url(url: str | None = None, **server_options) -> Iterator[str]:
    """The base URL (without ``/v1``) of ``url``, or of a server started here with ``Config(**server_options)``
    (any free port; stopped when the ``with`` block ends). Used by the client demo and the benchmark."""
    if url:
        yield url.rstrip("/").removesuffix("/v1")
        return
    handle = start_in_thread(Config(**{"port": 0, "log_level": "warning", **server_options}))
    print(f"started a server at {handle.url}")
    try:
        yield handle.url
    finally:
        handle.stop()


def main(cfg: Config) -> dict:
    """Serve until Ctrl+C; returns what was served (model name, URL, tokens)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app, engine = build(cfg)
    server = _uvicorn_server(app, cfg)
    url = f"http://{cfg.host}:{cfg.port}"
    print(f"OpenAI-compatible API at {url}/v1  (model {app.state.settings.model_name!r}; "
          f"auth {'on' if app.state.settings.api_key else 'off'}; /docs "
          f"{'open' if app.state.settings.docs_open else 'need the key'}) — Ctrl+C to stop")
    try:
        server.run()
    finally:
        engine.stop()
    return {"url": url, "model": app.state.settings.model_name, **engine.load()}


if __name__ == "__main__":
    run(main, Config, __doc__)
