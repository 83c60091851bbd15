"""3.1.6 使用gradio搭建视频上色服务 — upload a (black-and-white) video, watch the progress bar, play the colour one.

    python -m ch03_gradio.video_colorize.app                                  # offline: classical pseudo-colour
    python -m ch03_gradio.video_colorize.app --model-dir models/colorization  # Zhang et al. (or ModelScope) model

The handler: video file -> frames (ffmpeg) -> colouriser (in batches, ``gr.Progress`` updated per batch) ->
H.264 MP4 (plays in every browser) -> ``gr.Video``; plus a before/after picture of the middle frame.

Which colouriser runs is printed at start and shown at the top of the page. Without model files it is the
classical pseudo-colour fallback — a brightness->tint lookup that is **not** a learned colouriser; the page says so
and shows its palette controls. See ``colorizers.py`` for the model files and the ``--model-dir`` layout.
"""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import numpy as np

from ch03_gradio.gradio_basics.launching import LaunchConfig, serve
from ch03_gradio.video_colorize.colorize import ColorizerArgs, colorize_video
from ch03_gradio.video_colorize.colorizers import PALETTES, Colorizer, PseudoColorizer, make_colorizer
from ch03_gradio.gradio_basics.video_io import iter_frames, make_sample_video
from common.cli import arg, run


@dataclass
class Config(LaunchConfig, ColorizerArgs):
    max_seconds: float = arg(10.0, "initial value of the 'max seconds' slider")


def middle_frame(path: str, index: int) -> np.ndarray | None:
    frame = None
    for frame in iter_frames(path, max_frames=index + 1):
        pass
    return frame


def run_colorize(video: str | None, max_seconds: float, palette: str, strength: float,
                 colorizer: Colorizer, progress=None) -> tuple[str, np.ndarray | None, str]:
    """The click handler (also called directly by tests): returns (video path, before|after image, summary)."""
    if not video:
        raise gr.Error("请先上传视频或点击示例 / upload a video or click the example first")
    if not colorizer.learned:     # the fallback has no weights: rebuild it with the chosen palette (instant)
        colorizer = PseudoColorizer(palette, strength)

    def report(done: int, total: int) -> None:
        if progress is not None:
            progress((done, total), desc="上色中 colourising", unit="frames")

    res = colorize_video(video, colorizer, max_seconds=max_seconds or None, progress=report)
    mid = max(0, res["frames"] // 2)
    before, after = middle_frame(video, mid), middle_frame(str(res["output"]), mid)
    compare = np.concatenate([before, after], axis=1) if before is not None and after is not None else None
    w, h = res["size"]
    summary = (f"**{res['frames']}** 帧 frames, {w}x{h}, {res['fps']:g} fps, {res['seconds']} s\n\n"
               f"上色器 colouriser: {colorizer.label}")
    return str(res["output"]), compare, summary


def banner(colorizer: Colorizer) -> str:
    if colorizer.learned:
        return f"上色模型 model: **{colorizer.label}**"
    return (f"⚠️ 未提供上色模型，使用 **经典伪彩色**（按亮度查表上色调，不是学习得到的上色模型）。"
            f"No model given: **{colorizer.label}**. Start with `--model-dir` (Zhang et al. caffe files or a "
            f"ModelScope colorization model) for learned colours.")


def main(cfg: Config) -> gr.Blocks:
    colorizer = make_colorizer(cfg.colorizer, cfg.model_dir, engine=cfg.engine, device=cfg.device)
    print(f"[video_colorize] colouriser: {colorizer.label}")
    sample = str(make_sample_video())            # a 2-second grey clip, so the page works without uploads

    with gr.Blocks(title="3.1.6 视频上色", analytics_enabled=False) as demo:
        gr.Markdown("# 3.1.6 视频上色服务 video colourisation")
        gr.Markdown(banner(colorizer), elem_id="colorizer-banner")
        with gr.Row():
            with gr.Column():
                video_in = gr.Video(label="输入视频 input (灰度或彩色 grey or colour)", sources=["upload"])
                gr.Examples([[sample]], inputs=video_in, label="示例 sample (灰度合成视频 synthetic grey clip)")
                max_seconds = gr.Slider(1, 120, value=cfg.max_seconds, step=1,
                                        label="最多处理的秒数 max seconds (CPU 上上色很慢 / CPU is slow)")
                with gr.Accordion("伪彩色参数 pseudo-colour settings", open=True, visible=not colorizer.learned):
                    palette = gr.Radio(sorted(PALETTES), value="split-tone", label="调色板 palette")
                    strength = gr.Slider(0, 1.5, value=1.0, step=0.05, label="强度 strength")
                run = gr.Button("开始上色 Colorize", variant="primary")
            with gr.Column():
                video_out = gr.Video(label="上色结果 result (H.264 MP4)", autoplay=True, elem_id="video-out")
                compare = gr.Image(label="中间帧对比 middle frame: before | after", type="numpy")
                summary = gr.Markdown(elem_id="summary")

        def on_click(video, secs, pal, stren, progress=gr.Progress()):
            return run_colorize(video, secs, pal, stren, colorizer, progress)

        run.click(on_click, inputs=[video_in, max_seconds, palette, strength],
                  outputs=[video_out, compare, summary])
    return serve(demo, cfg)   # starts the server unless --no-launch


if __name__ == "__main__":
    run(main, Config, __doc__)
