"""Video in, frames out, frames in, browser-playable video out — with the ffmpeg that imageio-ffmpeg ships.

* :func:`probe` / :func:`iter_frames` decode any format ffmpeg reads into RGB ``uint8`` arrays (H, W, 3);
* :func:`write_video` encodes frames as H.264 / yuv420p MP4 with ``+faststart`` — the combination every browser
  plays inside ``<video>`` (gr.Video) — and copies the source's audio track when there is one;
* :func:`make_sample_video` draws a small greyscale clip (a sun crossing a sky over a house) so the
  colourisation demo and the tests have an input without any download.

Run as a script it writes the sample clip:  python -m ch03_gradio.gradio_basics.video_io
"""
from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from common.cli import arg, run
from common.paths import output_dir


@dataclass
class VideoInfo:
    width: int
    height: int
    fps: float
    duration: float
    has_audio: bool
    codec: str

    @property
    def n_frames_estimate(self) -> int:
        return int(round(self.fps * self.duration))


def probe(path: str | Path) -> VideoInfo:
    """Read the header (size after rotation, fps, duration, audio) without decoding the whole file."""
    gen = imageio_ffmpeg.read_frames(str(path))
    try:
        meta = next(gen)
    finally:
        gen.close()
    w, h = meta["size"]
    return VideoInfo(width=w, height=h, fps=float(meta.get("fps") or 25.0),
                     duration=float(meta.get("duration") or 0.0),
                     has_audio=bool(meta.get("audio_codec")), codec=str(meta.get("codec", "")))


def iter_frames(path: str | Path, max_frames: int | None = None) -> Iterator[np.ndarray]:
    """Yield RGB uint8 frames (H, W, 3); stop after ``max_frames`` if given."""
    gen = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
    try:
        meta = next(gen)
        w, h = meta["size"]
        for i, raw in enumerate(gen):
            if max_frames is not None and i >= max_frames:
                break
            yield np.frombuffer(raw, np.uint8).reshape(h, w, 3)
    finally:
        gen.close()   # stops the ffmpeg process when we leave early


def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: float,
                audio_from: str | Path | None = None, crf: int = 20) -> Path:
    """Encode RGB frames (all the same size) as browser-playable H.264 MP4; returns the path.

    Odd widths/heights are scaled up by one pixel (yuv420p needs even sizes). ``audio_from``: a file whose
    first audio track is copied in (cut to the video's length).
    """
    path = Path(path)
    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        raise ValueError("write_video: no frames to write")
    h, w = first.shape[:2]
    output_params = ["-crf", str(crf), "-preset", "veryfast", "-movflags", "+faststart"]
    if audio_from is not None:
        output_params += ["-shortest"]
    writer = imageio_ffmpeg.write_frames(
        str(path), (w, h), fps=fps, codec="libx264", pix_fmt_in="rgb24", pix_fmt_out="yuv420p",
        quality=None, macro_block_size=2, output_params=output_params,
        audio_path=str(audio_from) if audio_from is not None else None, ffmpeg_log_level="error",
    )
    writer.send(None)   # start ffmpeg
    try:
        for frame in itertools.chain([first], frames):
            if frame.shape[:2] != (h, w):
                raise ValueError(f"frame size changed from {(h, w)} to {frame.shape[:2]}")
            writer.send(np.ascontiguousarray(frame[..., :3], dtype=np.uint8))
    finally:
        writer.close()
    return path


def sample_frame(t: float, width: int = 160, height: int = 120) -> np.ndarray:
    """One RGB frame of the sample scene at time ``t`` in [0, 1] (sky, moving sun, grass, red-roofed house)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.zeros((height, width, 3), np.float32)
    horizon = int(height * 0.65)
    sky = (y / horizon)[..., None]
    img[:] = (1 - sky) * np.array([70, 130, 220]) + sky * np.array([190, 220, 250])
    sun_x, sun_y = width * (0.1 + 0.8 * t), height * (0.45 - 0.3 * np.sin(np.pi * t))
    sun = (x - sun_x) ** 2 + (y - sun_y) ** 2 < (height * 0.09) ** 2
    img[sun] = [255, 210, 60]
    img[horizon:] = np.array([60, 150, 60]) + 20 * np.sin(x[horizon:, :, None] / 3.0)
    hx0, hx1, hy0 = int(width * 0.55), int(width * 0.8), int(height * 0.45)
    img[hy0:horizon, hx0:hx1] = [200, 180, 140]                               # walls
    roof = (y < hy0) & (y > hy0 - (hx1 - hx0) / 2 + np.abs(x - (hx0 + hx1) / 2))
    img[roof] = [170, 40, 30]                                                 # roof
    img[int(height * 0.53):horizon, int(width * 0.64):int(width * 0.7)] = [90, 60, 40]   # door
    return img.clip(0, 255).astype(np.uint8)


def to_grey(frame: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma, repeated on three channels (what an old black-and-white film looks like)."""
    luma = frame[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    return np.repeat(luma.clip(0, 255).astype(np.uint8)[..., None], 3, axis=-1)


def make_sample_video(path: str | Path | None = None, seconds: float = 2.0, fps: float = 12.0,
                      width: int = 160, height: int = 120, grey: bool = True) -> Path:
    """Write the sample scene as a (greyscale) H.264 MP4; deterministic, well under a second."""
    path = Path(path) if path else output_dir("ch03", "video_colorize") / "sample_grey.mp4"
    n = max(1, int(round(seconds * fps)))
    frames = (sample_frame(i / max(1, n - 1), width, height) for i in range(n))
    return write_video(path, (to_grey(f) if grey else f for f in frames), fps=fps)


@dataclass
class Config:
    out: str | None = arg(None, "output .mp4 (default: outputs/ch03/video_colorize/sample_grey.mp4)")
    seconds: float = arg(2.0, "clip length")
    fps: float = arg(12.0, "frames per second")
    width: int = arg(160, "frame width in pixels")
    height: int = arg(120, "frame height in pixels")
    color: bool = arg(False, "keep the colours (the ground truth for comparison)")


def main(cfg: Config) -> dict:
    path = make_sample_video(cfg.out, cfg.seconds, cfg.fps, cfg.width, cfg.height, grey=not cfg.color)
    info = probe(path)
    print(f"wrote {path}: {info.width}x{info.height}, {info.fps:g} fps, {info.duration:.2f} s")
    return {"path": path, "info": info}


if __name__ == "__main__":
    run(main, Config, __doc__)
