"""3.1.5 gradio中常用的几个组件 (4) — ``gr.LinePlot``: curves from a DataFrame, redrawn live with ``gr.Timer``.

``gr.LinePlot(value=df, x="step", y="loss", color="series")`` draws one line per value of the ``color`` column
(the plot is rendered in the browser with Vega-Lite; you only hand over a pandas DataFrame). Returning a new
DataFrame from a handler redraws it — this is how the cats-vs-dogs trainer in 3.2 shows its loss curve.

  * 函数曲线 Functions : frequency/phase sliders -> sin and cos as two series (``.change`` on every slider move)
  * 实时曲线 Live      : ``gr.Timer`` ticks every 0.5 s and appends a point of a simulated training loss;
                          Start/Stop turn the timer on and off by returning ``gr.Timer(active=...)``

Run:  python -m ch03_gradio.gradio_basics.g08_lineplot
"""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import numpy as np
import pandas as pd

from ch03_gradio.gradio_basics.launching import LaunchConfig, serve
from common.cli import arg, run



def empty_table() -> pd.DataFrame:
    """Typed empty frame: with object columns Vega would treat ``loss`` as text and draw no line."""
    return pd.DataFrame({"step": pd.Series(dtype="int64"), "loss": pd.Series(dtype="float64"),
                         "series": pd.Series(dtype="str")})


@dataclass
class Config(LaunchConfig):
    tick_s: float = arg(0.5, "seconds between live-plot updates")
    seed: int = arg(0, "seed of the simulated loss noise")


def wave_table(freq: float, phase: float, points: int = 120) -> pd.DataFrame:
    """Long format: one row per (x, series) — what LinePlot's ``color=`` expects."""
    x = np.linspace(0, 2 * np.pi, points)
    return pd.concat([pd.DataFrame({"x": x, "y": np.sin(freq * x + phase), "series": "sin"}),
                      pd.DataFrame({"x": x, "y": np.cos(freq * x + phase), "series": "cos"})], ignore_index=True)


def next_points(df: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Append one step of a noisy, decaying 'train' and 'val' loss (deterministic per step)."""
    step = int(df["step"].max()) + 1 if len(df) else 0
    rng = np.random.default_rng(seed + step)
    base = 2.0 * np.exp(-step / 15) + 0.2
    new = pd.DataFrame({"step": [step, step], "loss": [base + 0.03 * rng.standard_normal(),
                                                     base + 0.1 + 0.05 * rng.standard_normal()],
                        "series": ["train", "val"]})
    return pd.concat([df, new], ignore_index=True).astype({"step": "int64", "loss": "float64"}) if len(df) else new


def main(cfg: Config) -> gr.Blocks:
    with gr.Blocks(title="3.1.5 LinePlot", analytics_enabled=False) as demo:
        gr.Markdown("# 3.1.5 LinePlot")
        with gr.Tab("函数曲线 Functions"):
            with gr.Row():
                freq = gr.Slider(0.5, 5, value=1, step=0.5, label="频率 frequency")
                phase = gr.Slider(0, 3.14, value=0, step=0.01, label="相位 phase")
            waves = gr.LinePlot(wave_table(1, 0), x="x", y="y", color="series", title="sin / cos", height=320)
            gr.on([freq.change, phase.change], wave_table, inputs=[freq, phase], outputs=waves)
        with gr.Tab("实时曲线 Live"):
            data = gr.State(empty_table())
            timer = gr.Timer(cfg.tick_s, active=False)
            with gr.Row():
                start = gr.Button("开始 Start", variant="primary")
                stop = gr.Button("停止 Stop")
                reset = gr.Button("清空 Reset")
            # start from None, not an empty DataFrame: a LinePlot born empty draws no lines later (gradio 6.x)
            live = gr.LinePlot(None, x="step", y="loss", color="series",
                               color_map={"train": "#2563eb", "val": "#f97316"},   # fixed colours per series
                               title="模拟训练损失 simulated loss", height=320, elem_id="live-plot")

            def tick(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
                df = next_points(df, cfg.seed)
                return df, df

            timer.tick(tick, inputs=data, outputs=[data, live])
            start.click(lambda: gr.Timer(active=True), outputs=timer)
            stop.click(lambda: gr.Timer(active=False), outputs=timer)
            reset.click(lambda: (empty_table(), None), outputs=[data, live])
    return serve(demo, cfg)   # starts the server unless --no-launch


if __name__ == "__main__":
    run(main, Config, __doc__)
