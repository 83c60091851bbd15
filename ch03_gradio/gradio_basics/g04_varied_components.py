"""3.1.4 gradio中多样化的输入和输出组件 — sound, highlighted text, galleries, colours, tables, downloads.

Five small interfaces, one per tab; every one runs offline on data it makes itself:

  * 音频 Audio        : frequency + duration sliders -> ``gr.Audio`` plays a synthesised tone ((rate, np.ndarray))
  * 高亮 Highlight     : text + keywords -> ``gr.HighlightedText`` marks each keyword with its label
  * 图库 Gallery       : a colour picked with ``gr.ColorPicker`` -> ``gr.Gallery`` of lighter/darker swatches
  * 表格 Table         : an editable ``gr.Dataframe`` in -> summary ``gr.Markdown`` + a CSV ``gr.File`` to download
  * 网页 HTML          : ``gr.HTML`` renders markup you build in Python

Run:  python -m ch03_gradio.gradio_basics.g04_varied_components
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass

import gradio as gr
import numpy as np
import pandas as pd

from ch03_gradio.gradio_basics.launching import LaunchConfig, serve
from common.cli import run
from common.paths import output_dir

SAMPLE_RATE = 16_000


@dataclass
class Config(LaunchConfig):
    pass


def synth_tone(frequency: float, seconds: float, vibrato: bool) -> tuple[int, np.ndarray]:
    """``gr.Audio`` accepts ``(sample_rate, int16 array)``; no file needed."""
    t = np.arange(int(SAMPLE_RATE * seconds)) / SAMPLE_RATE
    f = frequency * (1 + 0.02 * np.sin(2 * np.pi * 5 * t)) if vibrato else frequency
    wave = 0.4 * np.sin(2 * np.pi * np.cumsum(np.broadcast_to(f, t.shape)) / SAMPLE_RATE)
    fade = np.minimum(1, np.minimum(t, t[-1] - t) / 0.02) if len(t) else t   # no clicks at the ends
    return SAMPLE_RATE, (wave * fade * 32767).astype(np.int16)


def highlight(text: str, keywords: str) -> list[tuple[str, str | None]]:
    """``gr.HighlightedText`` takes ``[(span, label or None), ...]`` covering the whole text."""
    words = [w.strip() for w in re.split(r"[,，\s]+", keywords) if w.strip()]
    if not words or not text:
        return [(text, None)]
    pattern = re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)))
    spans, pos = [], 0
    for m in pattern.finditer(text):
        if m.start() > pos:
            spans.append((text[pos:m.start()], None))
        spans.append((m.group(), m.group()))
        pos = m.end()
    if pos < len(text):
        spans.append((text[pos:], None))
    return spans


def parse_color(color: str) -> np.ndarray:
    """``gr.ColorPicker`` returns '#rrggbb' (some browsers send 'rgba(r, g, b, a)')."""
    color = color.strip()
    if color.startswith("#") and len(color) >= 7:
        return np.array([int(color[i:i + 2], 16) for i in (1, 3, 5)], np.float32)
    nums = re.findall(r"[\d.]+", color)
    return np.array([float(n) for n in nums[:3]], np.float32)


def swatches(color: str, n: int) -> list[tuple[np.ndarray, str]]:
    """``gr.Gallery`` takes a list of images or ``(image, caption)`` pairs."""
    base = parse_color(color)
    out = []
    for k in np.linspace(-0.8, 0.8, int(n)):
        rgb = base + (255 - base) * k if k > 0 else base * (1 + k)
        tile = np.broadcast_to(rgb.clip(0, 255).astype(np.uint8), (64, 64, 3)).copy()
        out.append((tile, "#%02x%02x%02x" % tuple(int(v) for v in tile[0, 0])))
    return out


def summarize_table(df: pd.DataFrame) -> tuple[str, str]:
    """An editable ``gr.Dataframe`` arrives as a pandas DataFrame; ``gr.File`` output wants a path."""
    df = df.copy()
    df["score"] = pd.to_numeric(df["score"], errors="coerce")
    path = output_dir("ch03", "g04") / "table.csv"
    df.to_csv(path, index=False)
    best = df.loc[df["score"].idxmax()] if df["score"].notna().any() else None
    md = f"**{len(df)}** rows, mean score **{df['score'].mean():.2f}**"
    if best is not None:
        md += f", best: **{best['name']}** ({best['score']:g})"
    return md, str(path)


def badge_html(name: str, level: int) -> str:
    """``gr.HTML`` renders the string as markup; escape user text so it cannot inject tags."""
    stars = "★" * int(level) + "☆" * (5 - int(level))
    return (f"<div style='padding:12px;border-radius:8px;background:#fef3c7;font-size:20px'>"
            f"<b>{html.escape(name)}</b> {stars}</div>")


def main(cfg: Config) -> gr.Blocks:
    tabs = [
        gr.Interface(synth_tone,
                     [gr.Slider(110, 880, value=440, step=1, label="频率 frequency (Hz)"),
                      gr.Slider(0.2, 3, value=1, step=0.1, label="时长 seconds"),
                      gr.Checkbox(label="颤音 vibrato")],
                     gr.Audio(label="合成的声音 tone", type="numpy"),
                     flagging_mode="never", analytics_enabled=False),
        gr.Interface(highlight,
                     [gr.Textbox(label="文本 text", lines=3,
                                 value="ChatGLM3 可以用 gradio 做网页，也可以用 FastAPI 做接口。"),
                      gr.Textbox(label="关键词 keywords (逗号分隔)", value="ChatGLM3, gradio, FastAPI")],
                     gr.HighlightedText(label="高亮结果", combine_adjacent=False),
                     flagging_mode="never", analytics_enabled=False),
        gr.Interface(swatches,
                     [gr.ColorPicker(value="#3b82f6", label="颜色 colour"),
                      gr.Slider(3, 9, value=5, step=1, label="色块数 swatches")],
                     gr.Gallery(label="深浅变化 shades", columns=5, height=220),
                     flagging_mode="never", analytics_enabled=False),
        gr.Interface(summarize_table,
                     gr.Dataframe(value=pd.DataFrame({"name": ["张三", "李四", "王五"], "score": [88, 92, 79]}),
                                  label="可编辑的表格 editable table", interactive=True),
                     [gr.Markdown(), gr.File(label="下载 CSV")],
                     flagging_mode="never", analytics_enabled=False),
        gr.Interface(badge_html,
                     [gr.Textbox(label="名字 name", value="gradio"), gr.Slider(0, 5, value=4, step=1, label="星级")],
                     gr.HTML(), flagging_mode="never", analytics_enabled=False),
    ]
    demo = gr.TabbedInterface(tabs, ["音频 Audio", "高亮 Highlight", "图库 Gallery", "表格 Table", "网页 HTML"],
                              title="3.1.4 多样化的输入和输出组件", analytics_enabled=False)
    return serve(demo, cfg)   # starts the server unless --no-launch


if __name__ == "__main__":
    run(main, Config, __doc__)
