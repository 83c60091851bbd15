"""3.1.5 gradio中常用的几个组件 (2) — ``gr.Chatbot``: the chat window ChatGLM3 will sit behind in 3.3.

gradio 6 speaks one chat format, the same as the OpenAI API:

    [{"role": "user", "content": "你好"}, {"role": "assistant", "content": "你好！"}]

You may *return* ``content`` as a plain string; what your handler *receives* back from the browser is normalised
to a list of parts (``[{"type": "text", "text": "你好"}]``, files as ``{"type": "file", ...}``) —
:func:`message_text` turns either form into a string.

A handler that ``yield``s is streamed: each yielded history replaces the chat window, so a reply can grow
token by token. The bot here is a rule-based stand-in (it echoes and counts), **not a language model**;
``ch03_gradio/web_demo_gradio.py`` (3.3.1) puts ChatGLM3 behind the same window.

Tab 1 wires Chatbot + Textbox + Buttons by hand in ``gr.Blocks``; tab 2 is the one-line ``gr.ChatInterface``.

Run:  python -m ch03_gradio.gradio_basics.g06_chatbot
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import gradio as gr

from ch03_gradio.gradio_basics.launching import LaunchConfig, serve
from common.cli import arg, run


@dataclass
class Config(LaunchConfig):
    delay_s: float = arg(0.02, "pause between streamed characters (shows the streaming)")


def message_text(message: dict) -> str:
    """The text of one chat message, whether ``content`` is a string or gradio 6's list of parts."""
    content = message.get("content", "")
    if isinstance(content, str):
        return content
    parts = content if isinstance(content, list) else [content]
    texts = []
    for part in parts:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, dict) and part.get("type") == "text":
            texts.append(part.get("text", ""))
        elif isinstance(part, dict) and part.get("type") == "file":
            texts.append(f"[file: {part.get('file', {}).get('path', '')}]")
    return "".join(texts)


def rule_bot_reply(message: str, turn: int) -> str:
    """A stand-in for a model: deterministic, instant, honest about what it is."""
    if any(w in message.lower() for w in ("你好", "hello", "hi")):
        return "你好！我是一个规则回声机器人（不是大模型）。Hello! I am a rule-based echo bot, not an LLM."
    return (f"第 {turn} 轮 / turn {turn}: 你说了 {len(message)} 个字符: 「{message}」。"
            f"倒过来是「{message[::-1]}」。")


def user_submit(message: str, history: list[dict]) -> tuple[str, list[dict]]:
    """Step 1: show the user's message at once and clear the textbox."""
    return "", history + [{"role": "user", "content": message}]


def bot_stream(history: list[dict], delay_s: float = 0.02) -> Iterator[list[dict]]:
    """Step 2: stream the reply character by character (a generator handler)."""
    question = message_text(history[-1]) if history else ""
    turn = sum(m["role"] == "user" for m in history)
    reply = rule_bot_reply(question, turn)
    history = history + [{"role": "assistant", "content": ""}]
    for ch in reply:
        history[-1]["content"] += ch
        time.sleep(delay_s)
        yield history


def main(cfg: Config) -> gr.Blocks:
    with gr.Blocks(title="3.1.5 Chatbot", analytics_enabled=False) as demo:
        gr.Markdown("# 3.1.5 Chatbot\n规则回声机器人（非大模型）— a rule-based echo bot, **not** a language model.")
        with gr.Tab("Blocks: Chatbot + Textbox"):
            chatbot = gr.Chatbot(label="对话 chat", height=360, placeholder="说点什么吧 say something")
            with gr.Row():
                box = gr.Textbox(show_label=False, placeholder="输入后回车 type and press Enter", scale=4)
                send = gr.Button("发送 Send", variant="primary", scale=1)
            clear = gr.Button("清空 Clear")

            def stream(history: list[dict]) -> Iterator[list[dict]]:
                yield from bot_stream(history, cfg.delay_s)

            gr.on([box.submit, send.click], user_submit, inputs=[box, chatbot], outputs=[box, chatbot]).then(
                stream, inputs=chatbot, outputs=chatbot)
            clear.click(lambda: [], outputs=chatbot)
        with gr.Tab("gr.ChatInterface"):
            def respond(message: str, history: list[dict]) -> Iterator[str]:
                # ChatInterface keeps the history itself; a generator yields the reply so far.
                reply = rule_bot_reply(message, len([m for m in history if m["role"] == "user"]) + 1)
                for i in range(1, len(reply) + 1):
                    time.sleep(cfg.delay_s)
                    yield reply[:i]

            gr.ChatInterface(respond, examples=["你好", "gradio 6 的消息格式是什么?"],
                             analytics_enabled=False)
    return serve(demo, cfg)   # starts the server unless --no-launch


if __name__ == "__main__":
    run(main, Config, __doc__)
