"""3.1.5 gradio中常用的几个组件 (3) — ``gr.File``, ``gr.Image``, ``gr.Video``: uploads in, files out.

Uploaded files reach your function as paths of temporary copies on the server; to send a file back, return a
path (gradio copies it to its cache and serves it — only from the working directory, the temp dir or
``allowed_paths``; ``launching.py`` allows ``outputs/ch03``).

  * 文件 File  : several files in (``file_count="multiple"``) -> a table of name/size/lines/sha256 + a report file
  * 图像 Image : ``type="pil"`` -> greyscale, edges and a thumbnail (Pillow only)
  * 视频 Video : a video path in -> its metadata (ffmpeg probe) and three frames out; a button makes a sample

Run:  python -m ch03_gradio.gradio_basics.g07_file_image_video
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import pandas as pd
from PIL import Image, ImageFilter, ImageOps

from ch03_gradio.gradio_basics.launching import LaunchConfig, serve
from common.cli import run
from ch03_gradio.gradio_basics.video_io import iter_frames, make_sample_video, probe
from common.paths import output_dir


@dataclass
class Config(LaunchConfig):
    pass


def describe_files(paths: list[str] | None) -> tuple[pd.DataFrame, str | None]:
    """``gr.File(file_count="multiple")`` passes a list of paths (``type="filepath"``)."""
    rows = []
    for p in paths or []:
        data = Path(p).read_bytes()
        rows.append({"name": Path(p).name, "bytes": len(data), "lines": data.count(b"\n") + (1 if data else 0),
                     "sha256[:16]": hashlib.sha256(data).hexdigest()[:16]})
    table = pd.DataFrame(rows, columns=["name", "bytes", "lines", "sha256[:16]"])
    if not rows:
        return table, None
    report = output_dir("ch03", "g07") / "files_report.csv"
    table.to_csv(report, index=False)
    return table, str(report)


def image_variants(img: Image.Image | None) -> tuple[Image.Image, Image.Image, Image.Image] | tuple[None, None, None]:
    """``gr.Image(type="pil")`` passes a PIL image; outputs accept PIL images as well."""
    if img is None:
        return None, None, None
    grey = ImageOps.grayscale(img)
    edges = grey.filter(ImageFilter.FIND_EDGES)
    thumb = img.copy()
    thumb.thumbnail((96, 96))
    return grey, edges, thumb


def video_summary(path: str | None) -> tuple[dict, list]:
    """``gr.Video`` passes the path of the uploaded file."""
    if not path:
        return {}, []
    info = probe(path)
    n = max(1, info.n_frames_estimate)
    wanted = {0, n // 2, n - 1}
    frames = [(f, f"frame {i}") for i, f in enumerate(iter_frames(path)) if i in wanted]
    meta = {"width": info.width, "height": info.height, "fps": info.fps, "duration_s": info.duration,
            "codec": info.codec, "audio": info.has_audio, "frames (fps x duration)": info.n_frames_estimate}
    return meta, frames


def main(cfg: Config) -> gr.Blocks:
    with gr.Blocks(title="3.1.5 File / Image / Video", analytics_enabled=False) as demo:
        gr.Markdown("# 3.1.5 File · Image · Video")
        with gr.Tab("文件 File"):
            files = gr.File(label="上传文件 upload files", file_count="multiple", type="filepath")
            table = gr.Dataframe(label="文件信息 file info")
            report = gr.File(label="下载报告 report (CSV)")
            files.change(describe_files, inputs=files, outputs=[table, report])
        with gr.Tab("图像 Image"):
            with gr.Row():
                img = gr.Image(type="pil", label="上传图片 upload an image")
                grey = gr.Image(label="灰度 greyscale")
                edges = gr.Image(label="边缘 edges")
                thumb = gr.Image(label="缩略图 thumbnail (96px)")
            img.change(image_variants, inputs=img, outputs=[grey, edges, thumb])
        with gr.Tab("视频 Video"):
            with gr.Row():
                video = gr.Video(label="上传视频 upload a video", sources=["upload"])
                with gr.Column():
                    sample = gr.Button("生成示例视频 make a sample clip")
                    meta = gr.JSON(label="视频信息 metadata")
            frames = gr.Gallery(label="首帧/中间帧/末帧 first/middle/last frame", columns=3, height=200)
            sample.click(lambda: str(make_sample_video(output_dir("ch03", "g07") / "sample.mp4", grey=False)),
                         outputs=video)
            video.change(video_summary, inputs=video, outputs=[meta, frames])
    return serve(demo, cfg)   # starts the server unless --no-launch


if __name__ == "__main__":
    run(main, Config, __doc__)
