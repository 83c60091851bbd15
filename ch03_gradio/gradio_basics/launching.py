"""How every chapter-3 app is launched: one set of flags, one ``launch()`` call (book 3.1.3).

``g03_launch_options.py`` walks through these options one by one; every app in ``ch03_gradio`` inherits
:class:`LaunchConfig` in its ``Config`` dataclass (``common.cli.run`` turns the fields into flags) and calls
``serve(demo, cfg)`` at the end of ``main``, so the flags read the same everywhere:

    --host 127.0.0.1   only this machine can connect (use 0.0.0.0 to serve your LAN / a cloud VM)
    --port 7860        fixed port; default: the first free port from 7860 (or $GRADIO_SERVER_PORT)
    --auth user:pass   HTTP login (repeat for several users)
    --share            public *.gradio.live link; needs internet, so it is off by default
    --concurrency 1    how many requests a handler runs at once (the rest wait in the queue)
    --no-launch        build the app and exit (what tests and ``--help`` checks use)
"""
from __future__ import annotations

import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from common.cli import UserError, arg
from common.paths import output_dir

if TYPE_CHECKING:          # gradio is only needed by the apps themselves; keep this module light
    import gradio as gr


G = "launch (gradio server)"


@dataclass
class LaunchConfig:
    """Options shared by every app (the ``launch`` flag group); script configs inherit from it."""

    host: str = arg("127.0.0.1", "interface to listen on; 0.0.0.0 exposes the app to other machines (then use "
                                 "--auth)", group=G)
    port: int | None = arg(None, "port to listen on; default: first free port from 7860 (or $GRADIO_SERVER_PORT)",
                           group=G)
    share: bool = arg(False, "also create a public *.gradio.live tunnel (needs internet access)", group=G)
    auth: list[str] = arg([], "require a login; repeat the flag for several users", group=G,
                          metavar="USER:PASSWORD", action="append", nargs=None)
    concurrency: int = arg(1, "requests one event handler serves at the same time (queue "
                              "default_concurrency_limit)", group=G)
    max_queue: int = arg(32, "how many requests may wait in the queue before new ones are refused", group=G)
    max_file_size: str = arg("200mb", "largest upload the server accepts, e.g. 20mb, 1gb", group=G)
    inbrowser: bool = arg(False, "open the app in the default browser", group=G)
    launch: bool = arg(True, "start the server; --no-launch only builds the app (checks that it constructs) and "
                             "exits", group=G)


def parse_auth(items: list[str] | None) -> list[tuple[str, str]] | None:
    """``["alice:secret"]`` -> ``[("alice", "secret")]``; empty -> ``None`` (no login)."""
    pairs = []
    for item in items or []:
        user, sep, password = item.partition(":")
        if not sep or not user or not password:
            raise UserError(f"--auth expects USER:PASSWORD, got {item!r}. To fix: --auth reader:secret")
        pairs.append((user, password))
    return pairs or None


def launch_kwargs(cfg: LaunchConfig, block: bool = True, allowed_paths: list[str] | None = None) -> dict:
    """The keyword arguments passed to ``gr.Blocks.launch`` (gradio 6 names).

    ``allowed_paths``: folders whose files handlers may return; default: ``outputs/ch03`` (where the chapter's
    apps write videos, CSVs and sample images — gradio refuses to serve other files).
    """
    if allowed_paths is None:
        allowed_paths = [str(output_dir("ch03"))]
    return dict(
        server_name=cfg.host,
        server_port=cfg.port,
        share=cfg.share,
        auth=parse_auth(cfg.auth),
        auth_message="请输入用户名和密码 / please log in" if cfg.auth else None,
        max_file_size=cfg.max_file_size,
        inbrowser=cfg.inbrowser,
        prevent_thread_lock=not block,   # False: launch() blocks until Ctrl+C
        show_error=True,                 # exceptions raised in handlers appear in the browser
        allowed_paths=allowed_paths,
    )


def launch(demo: gr.Blocks, cfg: LaunchConfig, block: bool = True, allowed_paths: list[str] | None = None) -> str:
    """Enable the queue and start the server; returns the local URL.

    ``block=False`` returns right after the server is up (tests, notebooks); call ``demo.close()`` to stop it.
    """
    if cfg.host not in ("127.0.0.1", "localhost") and not cfg.auth:
        print(f"[warn] listening on {cfg.host} without --auth: anyone who can reach this port can use the app")
    # The queue turns every request into a job: progress bars, streaming generators and concurrency limits need it.
    demo.queue(default_concurrency_limit=cfg.concurrency, max_size=cfg.max_queue)
    # quiet=True: gradio's own banner says "set `share=True` in `launch()`"; our flag is --share, so we print our own
    demo.launch(**{**launch_kwargs(cfg, block=False, allowed_paths=allowed_paths), "quiet": True})
    print(f"* Running on local URL:  {demo.local_url}", flush=True)
    print(f"* Public URL: {demo.share_url}" if demo.share_url else
          "* No public link (add --share for a temporary *.gradio.live link; needs internet)", flush=True)
    if block:
        print("* Press Ctrl+C to stop", flush=True)
        demo.block_thread()
    return demo.local_url


def serve(demo: gr.Blocks, cfg: LaunchConfig) -> gr.Blocks:
    """The end of every app's ``main``: launch (blocking until Ctrl+C) unless ``--no-launch``; return the app."""
    if cfg.launch:
        launch(demo, cfg)
    else:
        title = getattr(demo, "title", "") or type(demo).__name__
        print(f"built the app '{title}' ({len(demo.blocks)} components); not started because of --no-launch. "
              f"Leave out --no-launch to serve it on http://{cfg.host}:{cfg.port or 7860}"
              + ("" if cfg.port else " (or the next free port)"))
    return demo


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (for tests that start a server)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]
