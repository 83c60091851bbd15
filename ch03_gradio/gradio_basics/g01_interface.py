"""3.1.1 从gradio的Interface开始 — a Python function becomes a web page.

``gr.Interface(fn, inputs, outputs)`` looks at the components you name, builds the page, and calls ``fn`` with
one argument per input component; whatever ``fn`` returns fills the output components in order.

Two interfaces, shown as two tabs:
  * "Hello": one text box in, one text box out (``inputs="text"`` is shorthand for ``gr.Textbox()``);
  * "多输入多输出": three inputs (text, checkbox, slider) -> two outputs (text, number), with clickable examples.

Run:  python -m ch03_gradio.gradio_basics.g01_interface      then open http://127.0.0.1:7860
"""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from ch03_gradio.gradio_basics.launching import LaunchConfig, serve
from common.cli import arg, run


@dataclass
class Config(LaunchConfig):
    title: str = arg("3.1.1 gradio Interface", "page title")


def greet(name: str) -> str:
    """The function behind the page: plain Python, testable without a browser."""
    return f"你好，{name or '读者'}！Hello, {name or 'reader'}!"


def greet_and_convert(name: str, is_morning: bool, temperature_f: float) -> tuple[str, float]:
    """Several inputs -> several outputs: a greeting and a Fahrenheit -> Celsius conversion."""
    salutation = "早上好 Good morning" if is_morning else "晚上好 Good evening"
    celsius = round((temperature_f - 32) * 5 / 9, 1)
    return f"{salutation}, {name or 'reader'}! 今天 {temperature_f:.0f}°F = {celsius}°C", celsius


def main(cfg: Config) -> gr.Blocks:
    hello = gr.Interface(
        fn=greet,
        inputs="text",                       # shorthand for gr.Textbox()
        outputs="text",
        title="Hello, gradio",
        description="输入名字，点击 Submit。Type a name and press Submit.",
        flagging_mode="never",               # no "Flag" button, nothing written to .gradio/flagged
        analytics_enabled=False,             # no telemetry / version check (we run offline)
    )
    multi = gr.Interface(
        fn=greet_and_convert,
        inputs=[
            gr.Textbox(label="名字 name", placeholder="ChatGLM3"),
            gr.Checkbox(label="现在是早上吗? morning?", value=True),
            gr.Slider(-40, 120, value=68, step=1, label="温度 temperature (°F)"),
        ],
        outputs=[gr.Textbox(label="问候 greeting"), gr.Number(label="摄氏度 °C")],
        examples=[["张三", True, 32], ["Alice", False, 98.6]],
        title="多输入多输出 several inputs and outputs",
        flagging_mode="never",
        analytics_enabled=False,
    )
    demo = gr.TabbedInterface([hello, multi], ["Hello", "多输入多输出"], title=cfg.title,
                              analytics_enabled=False)
    return serve(demo, cfg)   # starts the server unless --no-launch


if __name__ == "__main__":
    run(main, Config, __doc__)
