"""11.3.2 美妆助手网页版 — a gradio 6 chat page that shows every tool step the moment it happens.

    python ch11_tools/beauty_web.py                              # demo model (keyword router), http://127.0.0.1:7860
    python ch11_tools/beauty_web.py --model /path/to/chatglm3-6b --device cuda --precision fp16 --router off
    python ch11_tools/beauty_web.py --base-url http://127.0.0.1:8000/v1 --router off
    python ch11_tools/beauty_web.py --no-launch                  # build the page and exit (a quick check)

Each tool step appears as a collapsible box in the chat while the assistant works: "🛠️ 调用工具 name" (pending
while the call is written, then its JSON arguments), "📋 工具返回 name" (the observation), then the answer streams
in. The side panel lists sample questions. The conversation's ChatGLM3 history is kept per browser session and
sent with the next question (without the router); 清空 Clear starts a new one.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ch03_gradio.gradio_basics.launching import LaunchConfig
from common.cli import GenerationArgs, ModelArgs, ServerArgs, arg, redefault, run

TOOL_TITLE = "🛠️ 调用工具 "
RESULT_TITLE = "📋 工具返回 "


def event_messages(question: str, events) -> Iterator[list[dict]]:
    """Chatbot messages (gradio 6 dicts) after every agent event: user, tool boxes, the answer growing."""
    msgs: list[dict] = [{"role": "user", "content": question}]
    answer_at = None
    for event in events:
        if event.kind == "call_start":
            msgs.append({"role": "assistant", "content": "…",
                         "metadata": {"title": TOOL_TITLE + event.name, "status": "pending"}})
            answer_at = None
        elif event.kind == "call":
            box = {"role": "assistant",
                   "content": "```json\n" + json.dumps(event.arguments, ensure_ascii=False, indent=1) + "\n```",
                   "metadata": {"title": TOOL_TITLE + event.name, "status": "done"}}
            if msgs and msgs[-1].get("metadata", {}).get("status") == "pending":
                msgs[-1] = box
            else:
                msgs.append(box)
        elif event.kind == "result":
            o = event.observation
            try:
                shown = json.dumps(json.loads(o.content), ensure_ascii=False, indent=1)
            except ValueError:
                shown = o.content
            msgs.append({"role": "assistant", "content": "```json\n" + shown + "\n```",
                         "metadata": {"title": RESULT_TITLE + event.name + ("" if o.ok else f" ({o.error})"),
                                      "status": "done"}})
        elif event.kind in ("text", "stopped"):
            if answer_at is None:
                msgs.append({"role": "assistant", "content": ""})
                answer_at = len(msgs) - 1
            msgs[answer_at] = {"role": "assistant", "content": msgs[answer_at]["content"] + event.text}
        elif event.kind == "done":
            if answer_at is None and event.text:
                msgs.append({"role": "assistant", "content": event.text})
        yield [dict(m) for m in msgs]


def build_demo(assistant, title_note: str = ""):
    """The Blocks app around a :class:`~ch11_tools.beauty_assistant.BeautyAssistant`."""
    import gradio as gr

    from ch11_tools.beauty_assistant import SAMPLE_QUESTIONS

    with gr.Blocks(title="美妆助手 beauty assistant (11.3)", analytics_enabled=False) as demo:
        gr.Markdown("## 美妆助手 · beauty assistant (11.3)\n工具：" + "、".join(assistant.registry.names()) +
                    (f"\n\n{title_note}" if title_note else ""))
        history = gr.State([])       # what the chatbot shows
        glm_history = gr.State(None)  # the ChatGLM3 history of the conversation (router off)
        with gr.Row():
            with gr.Column(scale=4):
                chatbot = gr.Chatbot(label="对话 chat", height=560, elem_id="beauty-chatbot",
                                     placeholder="问问产品、成分冲突或护肤流程 · ask about products")
                with gr.Row():
                    box = gr.Textbox(show_label=False, scale=5, elem_id="beauty-input",
                                     placeholder="例如：油皮有什么200元以内的洁面推荐？（回车发送）")
                    send = gr.Button("发送 Send", variant="primary", scale=1)
                clear = gr.Button("清空 Clear")
            with gr.Column(scale=2):
                gr.Examples(examples=[[q] for q in SAMPLE_QUESTIONS], inputs=[box], label="示例问题 examples")

        def respond(question: str, shown: list[dict], glm: list[dict] | None):
            question = (question or "").strip()
            if not question:
                yield "", shown, shown, glm
                return
            before = list(shown or [])
            msgs = before + [{"role": "user", "content": question}]
            yield "", msgs, msgs, glm
            final: list = []

            def events():
                for event in assistant.stream(question, glm):
                    if event.final is not None:
                        final.append(event.final)
                    yield event

            try:
                for msgs_now in event_messages(question, events()):
                    msgs = before + msgs_now
                    yield "", msgs, msgs, glm
            except Exception as exc:  # show the problem in the page instead of a silent failure
                raise gr.Error(f"{type(exc).__name__}: {exc}") from exc
            new_glm = final[-1].history if final and not assistant.router else None
            yield "", msgs, msgs, new_glm

        gr.on([box.submit, send.click], respond, inputs=[box, history, glm_history],
              outputs=[box, chatbot, history, glm_history])
        clear.click(lambda: ([], [], None), outputs=[chatbot, history, glm_history])
    return demo


@dataclass
class Config(LaunchConfig, ModelArgs, GenerationArgs, ServerArgs):
    router: str = arg("auto", "keyword router for the first step: auto (on for the demo model) | on | off",
                      choices=["auto", "on", "off"])
    max_steps: int = arg(4, "tool calls allowed per question")
    temperature: float = redefault(GenerationArgs, "temperature", 0.0)
    max_new_tokens: int = redefault(GenerationArgs, "max_new_tokens", 256)


def main(cfg: Config):
    from ch03_gradio.gradio_basics.launching import launch
    from ch11_tools.agent import backend_from_args
    from ch11_tools.beauty_assistant import DEMO_LINE, BeautyAssistant, resolve_router

    backend = backend_from_args(cfg)
    router = resolve_router(cfg.router, cfg)
    note = DEMO_LINE if router and cfg.router == "auto" else ""
    if note:
        print(note)
    demo = build_demo(BeautyAssistant(backend, router=router, max_steps=cfg.max_steps), note)
    if cfg.launch:
        url = launch(demo, cfg)
        return {"url": url}
    print("built the page (--no-launch): not serving")
    return {"demo": demo, "router": router}


if __name__ == "__main__":
    run(main, Config, __doc__)
