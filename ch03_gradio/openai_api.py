"""3.4.1 ChatGLM3 私有云交互端口 — an OpenAI-compatible server for any ChatGLM3 model (FastAPI + uvicorn).

    python ch03_gradio/openai_api.py                         # built-in demo model, http://127.0.0.1:8000
    python ch03_gradio/openai_api.py --model /path/to/chatglm3-6b --device cuda --precision fp16 --api-key sk-xxx

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
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

if __package__ in (None, ""):  # `python ch03_gradio/openai_api.py` as well as `python -m ch03_gradio.openai_api`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass
class Config:
    model: str | None = None
    precision: str = "fp32"
    device: str = "cpu"
    threads: int = 0                     # torch CPU threads (0 = PyTorch default)
    host: str = "127.0.0.1"
    port: int = 8000
    api_key: str | None = None
    served_model_name: str | None = None
    embedding_model: str | None = None
    max_batch_size: int = 16
    max_waiting: int = 256
    max_body_mb: float = 4.0
    max_tokens_limit: int = 32768
    default_max_tokens: int = 1024
    cors_origin: list[str] = field(default_factory=list)
    log_level: str = "info"


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


def build(cfg: Config, model=None, tokenizer=None):
    """(app, engine) for ``cfg``; pass ``model``/``tokenizer`` to reuse loaded ones."""
    from common.chatglm3 import load_model_and_tokenizer
    from common.cli import apply_threads
    from common.resolve import resolve_model_path

    from ch03_gradio.server.app import ServerSettings, create_app
    from ch03_gradio.server.embeddings import ChatGLM3Embedder, SentenceTransformerEmbedder
    from ch03_gradio.server.engine import BatchEngine

    if model is None or tokenizer is None:
        apply_threads(cfg)
        model, tokenizer = load_model_and_tokenizer(cfg.model, cfg.precision, cfg.device)
        name = cfg.served_model_name or resolve_model_path(cfg.model).name
    else:
        name = cfg.served_model_name or "chatglm3"
    engine = BatchEngine(model, tokenizer, max_batch_size=cfg.max_batch_size, max_waiting=cfg.max_waiting).start()
    embedder = (SentenceTransformerEmbedder(cfg.embedding_model, device=str(model.device)) if cfg.embedding_model
                else ChatGLM3Embedder(engine))
    api_key = cfg.api_key or os.environ.get("CHATGLM3_API_KEY") or None
    settings = ServerSettings(model_name=name, api_key=api_key, max_body_bytes=int(cfg.max_body_mb * 1024 * 1024),
                              max_tokens_limit=cfg.max_tokens_limit, default_max_tokens=cfg.default_max_tokens,
                              cors_origins=list(cfg.cors_origin), embedder=embedder)
    if cfg.host not in LOOPBACK and not api_key:
        print(f"[warn] listening on {cfg.host} without --api-key: anyone who reaches this port can use the model",
              file=sys.stderr)
    return create_app(engine, settings), engine


def _uvicorn_server(app, cfg: Config):
    import uvicorn
    return uvicorn.Server(uvicorn.Config(app, host=cfg.host, port=cfg.port, log_level=cfg.log_level,
                                         timeout_graceful_shutdown=2))


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
          f"auth {'on' if app.state.settings.api_key else 'off'}) — Ctrl+C to stop")
    try:
        server.run()
    finally:
        engine.stop()
    return {"url": url, "model": app.state.settings.model_name, **engine.load()}


if __name__ == "__main__":
    from common.cli import add_model_args

    d = Config()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_model_args(parser)
    g = parser.add_argument_group("server")
    g.add_argument("--host", default=d.host, help="interface to bind; 0.0.0.0 exposes the API to your network "
                                                  "(then set --api-key)")
    g.add_argument("--port", type=int, default=d.port, help="TCP port")
    g.add_argument("--api-key", default=d.api_key,
                   help="require 'Authorization: Bearer KEY' on /v1/* and / (default: $CHATGLM3_API_KEY, else off)")
    g.add_argument("--served-model-name", default=d.served_model_name,
                   help="model id reported by /v1/models and in responses (default: the model folder name)")
    g.add_argument("--embedding-model", default=d.embedding_model,
                   help="local sentence-transformers folder for /v1/embeddings (e.g. bge-m3); default: "
                        "mean-pooled ChatGLM3 hidden states")
    g.add_argument("--max-batch-size", type=int, default=d.max_batch_size,
                   help="requests generated together in one batch (continuous batching)")
    g.add_argument("--max-waiting", type=int, default=d.max_waiting,
                   help="requests allowed to wait for a slot; more get 429")
    g.add_argument("--max-body-mb", type=float, default=d.max_body_mb, help="largest request body accepted (413)")
    g.add_argument("--max-tokens-limit", type=int, default=d.max_tokens_limit,
                   help="a larger max_tokens is refused (400); smaller values are clamped to the free context")
    g.add_argument("--default-max-tokens", type=int, default=d.default_max_tokens,
                   help="max_tokens when the request gives none")
    g.add_argument("--cors-origin", action="append", default=[], metavar="URL",
                   help="enable CORS for this browser origin (repeat for several); off by default")
    g.add_argument("--log-level", default=d.log_level, choices=["critical", "error", "warning", "info", "debug"],
                   help="uvicorn log level")
    main(Config(**vars(parser.parse_args())))
