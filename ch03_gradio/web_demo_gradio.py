"""3.3.1 使用 gradio 搭建 ChatGLM3 网页客户端 — a streaming chat UI with tools, in gradio 6.

    python ch03_gradio/web_demo_gradio.py                                   # built-in demo model, in this process
    python ch03_gradio/web_demo_gradio.py --model /path/to/chatglm3-6b --device cuda --precision fp16
    python ch03_gradio/web_demo_gradio.py --api-base http://127.0.0.1:8000   # talk to openai_api.py (or vLLM)

What it shows: the reply streams in token by token; the conversation is multi-turn; a system prompt; sliders for
max tokens / top_p / temperature / repetition penalty; Stop, Regenerate and Clear; and, with "启用工具" ticked,
the official example tools ``get_weather`` / ``track`` (fake local implementations returning JSON): the model's
call and the tool's result appear as collapsible boxes, then the model answers from the result.

The conversation is kept as OpenAI messages (``gr.State``) and shown through ``display_messages``; the in-process
backend and the ``--api-base`` backend receive exactly the same messages (``server/chat_client.py``).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gradio as gr  # noqa: E402  (light enough; the model is loaded in main)

from ch03_gradio.gradio_basics.launching import LaunchConfig, serve  # noqa: E402
from ch03_gradio.server.chat_client import DEMO_TOOLS, ChatUIConfig, GenSettings, chat_turn, display_messages, \
    make_backend  # noqa: E402
from common.cli import run  # noqa: E402


@dataclass
class Config(LaunchConfig, ChatUIConfig):
    """Launch options (host, port, auth ...) + the chat options shared with the streamlit demo."""


def last_user_index(messages: list[dict]) -> int:
    return max((i for i, m in enumerate(messages) if m["role"] == "user"), default=-1)


def build_demo(backend, cfg: Config) -> gr.Blocks:
    """The Blocks app around ``backend`` (anything with ``stream(messages, tools, gen)``)."""
    with gr.Blocks(title="ChatGLM3 网页客户端 (3.3.1)", analytics_enabled=False) as demo:
        gr.Markdown(f"## ChatGLM3 网页客户端 · 3.3.1\n模型 model: `{backend.name}`")
        state = gr.State([])   # the conversation as OpenAI messages
        with gr.Row():
            with gr.Column(scale=4):
                chatbot = gr.Chatbot(label="对话 chat", height=520, placeholder="输入问题开始对话 · ask something",
                                     elem_id="chatglm3-chatbot")
                with gr.Row():
                    box = gr.Textbox(show_label=False, placeholder="输入后回车发送 type and press Enter", scale=5,
                                     elem_id="chatglm3-input")
                    send = gr.Button("发送 Send", variant="primary", scale=1)
                with gr.Row():
                    stop = gr.Button("停止 Stop")
                    regen = gr.Button("重新生成 Regenerate")
                    clear = gr.Button("清空 Clear")
            with gr.Column(scale=2):
                system = gr.Textbox(label="系统提示词 system prompt", value=cfg.system, lines=3,
                                    placeholder="例如：你是一个乐于助人的助手。")
                tools_on = gr.Checkbox(label="启用工具 get_weather / track (fake data)", value=cfg.tools,
                                       elem_id="chatglm3-tools")
                max_tokens = gr.Slider(1, 4096, value=cfg.max_new_tokens, step=1, label="max tokens")
                top_p = gr.Slider(0.0, 1.0, value=cfg.top_p, step=0.01, label="top_p")
                temperature = gr.Slider(0.0, 2.0, value=cfg.temperature, step=0.01, label="temperature (0 = greedy)")
                repetition = gr.Slider(1.0, 2.0, value=cfg.repetition_penalty, step=0.01, label="repetition penalty")

        def add_user(text: str, messages: list[dict]):
            if not text.strip():
                return "", messages, display_messages(messages)
            messages = messages + [{"role": "user", "content": text}]
            return "", messages, display_messages(messages)

        def respond(messages: list[dict], system_prompt: str, use_tools: bool, n_tokens: float, p: float,
                    temp: float, rep: float) -> Iterator[tuple[list[dict], list[dict]]]:
            if not messages or messages[-1]["role"] != "user":
                yield display_messages(messages), messages
                return
            gen = GenSettings(max_tokens=int(n_tokens), temperature=temp, top_p=p, repetition_penalty=rep)
            try:
                for new in chat_turn(backend, messages, gen, DEMO_TOOLS if use_tools else None, system_prompt):
                    yield display_messages(messages + new), messages + new
            except Exception as exc:  # show the problem in the page instead of a silent failure
                raise gr.Error(f"{type(exc).__name__}: {exc}") from exc

        def drop_last_answer(messages: list[dict]):
            i = last_user_index(messages)
            messages = messages[:i + 1] if i >= 0 else []
            return messages, display_messages(messages)

        settings = [system, tools_on, max_tokens, top_p, temperature, repetition]
        submit = gr.on([box.submit, send.click], add_user, inputs=[box, state], outputs=[box, state, chatbot]) \
            .then(respond, inputs=[state] + settings, outputs=[chatbot, state])
        again = regen.click(drop_last_answer, inputs=state, outputs=[state, chatbot]) \
            .then(respond, inputs=[state] + settings, outputs=[chatbot, state])
        stop.click(None, cancels=[submit, again])
        clear.click(lambda: ([], []), outputs=[state, chatbot], cancels=[submit, again])
    return demo


def main(cfg: Config) -> gr.Blocks:
    backend = make_backend(cfg)
    demo = build_demo(backend, cfg)
    return serve(demo, cfg)   # starts the server unless --no-launch


if __name__ == "__main__":
    run(main, Config, __doc__)   # --host/--port/--auth ... as every chapter-3 app, plus the chat flags
