"""3.1.3 启动gradio的launch — host, port, login, queue, share.

``demo.launch(...)`` starts a web server (FastAPI + uvicorn inside gradio). The options that matter when the app
leaves your laptop:

    server_name="127.0.0.1"   only this machine; "0.0.0.0" = every network interface (LAN, cloud VM)
    server_port=7860          None = first free port from 7860 (or $GRADIO_SERVER_PORT)
    auth=[("user", "pw")]     a login page; also a function (user, pw) -> bool for your own user store
    share=True                a temporary public https://*.gradio.live link through gradio's relay
                              (needs internet; off by default here — never share a model server by accident)
    demo.queue(default_concurrency_limit=1, max_size=32)
                              requests become queued jobs: progress bars, streaming and "one GPU job at a time"

The page shows what the server knows about *your* request (login name, client address), so you can try
``--auth reader:chatglm3`` and ``--host 0.0.0.0`` and see the difference. Every other chapter-3 app takes the
same flags (see ``launching.py``).

Run:  python -m ch03_gradio.gradio_basics.g03_launch_options --auth reader:chatglm3 --port 7861
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import gradio as gr

from ch03_gradio.gradio_basics.launching import LaunchConfig, launch, launch_kwargs
from common.cli import run


@dataclass
class Config(LaunchConfig):
    pass


def describe_request(request: gr.Request) -> dict:
    """A parameter annotated ``gr.Request`` is filled by gradio (it is not a component)."""
    return {
        "username (with --auth)": request.username,
        "client address": request.client.host if request.client else None,
        "Host header": request.headers.get("host"),
        "user agent": request.headers.get("user-agent", "")[:80],
    }


def printable_launch_kwargs(cfg: LaunchConfig) -> dict:
    """launch kwargs with passwords masked (for the page and the console)."""
    kwargs = launch_kwargs(cfg)
    if kwargs["server_port"] is None:
        kwargs["server_port"] = "None (= first free port from 7860)"
    if kwargs["auth"]:
        kwargs["auth"] = [(user, "***") for user, _ in kwargs["auth"]]
    return kwargs


def main(cfg: Config) -> gr.Blocks:
    shown = printable_launch_kwargs(cfg)
    with gr.Blocks(title="3.1.3 launch", analytics_enabled=False) as demo:
        gr.Markdown("## 3.1.3 launch() 的参数\nThis server was started with:")
        queue = {"default_concurrency_limit": cfg.concurrency, "max_size": cfg.max_queue}
        gr.Code(json.dumps({"demo.queue": queue, "demo.launch": shown}, ensure_ascii=False, indent=2, default=str),
                language="json", label="demo.queue(...).launch(...)")
        btn = gr.Button("我是谁? Who am I to this server?", variant="primary")
        out = gr.JSON(label="gr.Request")
        btn.click(describe_request, inputs=None, outputs=out)
    if cfg.launch:
        print("launch kwargs:", shown)
        launch(demo, cfg)
    return demo


if __name__ == "__main__":
    run(main, Config, __doc__)
