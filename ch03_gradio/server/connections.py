"""Slow and idle clients are cut off: uvicorn settings plus a header deadline uvicorn does not have.

What uvicorn (0.3x+) gives by itself, set by :func:`uvicorn_config`:

* ``timeout_keep_alive``: an idle keep-alive connection (after a response) is closed after this many seconds;
* ``h11_max_incomplete_event_size``: request line + headers larger than this are refused (400);
* ``limit_concurrency``: more connections/requests than this at once get 503 (the only 5xx the server sends on
  purpose: it means "overloaded, retry", and a reverse proxy in front should queue before that);
* the pure-Python ``h11`` parser (not ``httptools``), so the behaviour below is the same on every install.

What it lacks and is added here:

* a **header deadline** (:class:`GuardedH11Protocol`): a new connection — or a kept-alive one after a response —
  must deliver a complete request head within ``header_timeout`` seconds, however slowly it trickles bytes
  (uvicorn cancels its keep-alive timer on every byte, so a client sending one byte every 2 s would be kept
  forever);
* a **body deadline** lives in the app (``GuardMiddleware.body_timeout`` in ``app.py``): the whole body must arrive
  within it, else 408 and the connection is closed (a stalled body, one shorter than its Content-Length).

For a server exposed beyond 127.0.0.1, put a reverse proxy (nginx, Caddy) in front anyway: it buffers slow
clients, terminates TLS and can limit per-client rates.
"""
from __future__ import annotations

import asyncio
from typing import Any


def guarded_h11_protocol(header_timeout: float):
    """An ``H11Protocol`` subclass that closes connections whose request head does not arrive in time."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class GuardedH11Protocol(H11Protocol):
        _head_timer: asyncio.TimerHandle | None = None

        def _arm_head_timer(self) -> None:
            self._disarm_head_timer()
            self._head_timer = self.loop.call_later(header_timeout, self._head_timeout)

        def _disarm_head_timer(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_timeout(self) -> None:
            self._head_timer = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.transport.close()    # no complete request head in time: drop the connection

        def connection_made(self, transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm_head_timer()

        def handle_events(self) -> None:
            super().handle_events()
            if self.conn.their_state is not h11.IDLE:   # a request head arrived
                self._disarm_head_timer()

        def on_response_complete(self) -> None:
            self._arm_head_timer()        # the next request head must come in time too (a pipelined one disarms)
            super().on_response_complete()

        def connection_lost(self, exc) -> None:
            self._disarm_head_timer()
            super().connection_lost(exc)

    GuardedH11Protocol.header_timeout = header_timeout
    return GuardedH11Protocol


def uvicorn_config(app, host: str, port: int, log_level: str = "info", header_timeout: float = 10.0,
                   keep_alive_timeout: int = 5, max_connections: int = 128, max_header_bytes: int = 64 * 1024,
                   **extra: Any):
    """``uvicorn.Config`` with the limits above (the body deadline is the app's)."""
    import uvicorn

    return uvicorn.Config(app, host=host, port=port, log_level=log_level, http=guarded_h11_protocol(header_timeout),
                          timeout_keep_alive=keep_alive_timeout, limit_concurrency=max_connections,
                          h11_max_incomplete_event_size=max_header_bytes, timeout_graceful_shutdown=2, **extra)
