"""3.1.5 gradio中常用的几个组件 (1) — ``gr.Blocks`` layouts and events.

``gr.Interface`` decides the layout for you; ``gr.Blocks`` lets you place components yourself and wire any
event of any component to any function:

    with gr.Blocks() as demo:          # everything created inside belongs to this page
        with gr.Tab("..."):            # tabs; gr.Row() puts children side by side, gr.Column() stacks them
            with gr.Row():
                with gr.Column(scale=2): ...
        btn.click(fn, inputs=[...], outputs=[...])      # also .change .submit .input .select ...
           .then(fn2, ...)                               # run after the first one finished
        gr.on([box.submit, btn.click], fn, ...)          # one handler for several triggers
        gr.State(0)                                      # per-browser-tab memory that is not shown

Returning a component (``gr.Textbox(visible=True)``) from a handler updates that component's *properties*
instead of its value — the gradio 4+/6 replacement of the old ``gr.update(...)``.

Run:  python -m ch03_gradio.gradio_basics.g05_blocks_events
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import gradio as gr

from ch03_gradio.gradio_basics.launching import LaunchConfig, serve
from common.cli import arg, run


@dataclass
class Config(LaunchConfig):
    slow_step_s: float = arg(0.8, "seconds the simulated slow job sleeps")


def text_stats(text: str) -> tuple[int, int, int]:
    """Characters, non-space characters, lines."""
    return len(text), sum(not c.isspace() for c in text), text.count("\n") + 1 if text else 0


def transform(text: str, mode: str, strip: bool) -> str:
    text = text.strip() if strip else text
    return {"大写 UPPER": text.upper(), "小写 lower": text.lower(), "反转 reverse": text[::-1]}.get(mode, text)


def add(count: int, step: int) -> tuple[int, str]:
    """A ``gr.State`` input arrives as a plain value; returning it stores the new value."""
    count += step
    return count, f"计数 count = {count}"


def main(cfg: Config) -> gr.Blocks:
    with gr.Blocks(title="3.1.5 Blocks", analytics_enabled=False) as demo:
        gr.Markdown("# 3.1.5 Blocks: 布局与事件 layout and events")
        with gr.Tab("布局 Layout"):
            with gr.Row():
                with gr.Column(scale=2):
                    text = gr.Textbox(label="输入文本 text", lines=5, value="Hello ChatGLM3\n你好，gradio Blocks")
                    with gr.Row():
                        mode = gr.Radio(["大写 UPPER", "小写 lower", "反转 reverse"], value="大写 UPPER",
                                        label="转换 transform", scale=3)
                        go = gr.Button("转换 Transform", variant="primary", scale=1)
                    with gr.Accordion("高级选项 advanced", open=False):
                        strip = gr.Checkbox(label="去掉首尾空白 strip", value=True)
                    result = gr.Textbox(label="结果 result", lines=5)
                with gr.Column(scale=1):
                    n_chars = gr.Number(label="字符数 characters")
                    n_visible = gr.Number(label="非空白字符 non-space")
                    n_lines = gr.Number(label="行数 lines")
        with gr.Tab("事件 Events"):
            count = gr.State(0)
            with gr.Row():
                step = gr.Slider(1, 10, value=1, step=1, label="步长 step")
                plus = gr.Button("+ step")
                reset = gr.Button("归零 reset")
            count_text = gr.Markdown("计数 count = 0")
            slow = gr.Button("两步任务 two-step job (.then)")
            status = gr.Textbox(label="状态 status", interactive=False)
            show = gr.Checkbox(label="显示隐藏的文本框 show the hidden box")
            hidden = gr.Textbox(value="我原本是隐藏的 I was hidden", visible=False, label="hidden")

        # Layout tab: .change fires on every edit; gr.on joins two triggers to one handler.
        text.change(text_stats, inputs=text, outputs=[n_chars, n_visible, n_lines])
        gr.on([go.click, text.submit], transform, inputs=[text, mode, strip], outputs=result)
        demo.load(text_stats, inputs=text, outputs=[n_chars, n_visible, n_lines])   # when the page opens

        # Events tab: State, chained steps, property updates.
        plus.click(add, inputs=[count, step], outputs=[count, count_text])
        reset.click(lambda: (0, "计数 count = 0"), outputs=[count, count_text])

        def slow_job() -> str:
            time.sleep(cfg.slow_step_s)          # stands for real work (a model call)
            return "完成 done"

        slow.click(lambda: "处理中 working…", outputs=status).then(slow_job, outputs=status)
        show.change(lambda v: gr.Textbox(visible=v), inputs=show, outputs=hidden)
    return serve(demo, cfg)   # starts the server unless --no-launch


if __name__ == "__main__":
    run(main, Config, __doc__)
