"""3.1.6 video colourisation, the pipeline without the UI: video -> frames -> colourise -> H.264 MP4.

    python -m ch03_gradio.video_colorize.colorize                       # the built-in grey sample, pseudo-colour
    python -m ch03_gradio.video_colorize.colorize --input old_film.mp4 --max-seconds 5
    python -m ch03_gradio.video_colorize.colorize --input old_film.mp4 --model-dir models/colorization

``--colorizer auto`` uses a real model when ``--model-dir`` holds one (Zhang et al. caffe files, or a ModelScope
colorization model), otherwise the classical pseudo-colour fallback, which is **not** a learned colouriser
(see ``colorizers.py``). The result goes to ``outputs/ch03/video_colorize/`` and the summary line says which
colouriser produced it.
"""
from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ch03_gradio.video_colorize.colorizers import COLORIZERS, PALETTES, Colorizer, make_colorizer
from ch03_gradio.gradio_basics.video_io import iter_frames, make_sample_video, probe, write_video
from common.cli import arg, run
from common.paths import output_dir

ProgressFn = Callable[[int, int], None]


@dataclass
class ColorizerArgs:
    """Which colouriser runs (shared by this script and the app)."""

    colorizer: str = arg("auto", "auto = a real model if --model-dir has one, else classical pseudo-colour",
                         choices=COLORIZERS, group="colouriser")
    model_dir: str | None = arg(None, "folder with the Zhang et al. caffe files or a local ModelScope colorization "
                                      "model", group="colouriser")
    engine: str = arg("auto", "Zhang model runtime: OpenCV DNN (needs OpenCV 4.x) or the PyTorch port",
                      choices=["auto", "opencv", "torch"], group="colouriser")
    device: str = arg("cpu", "torch device for the Zhang PyTorch port (cpu, cuda)", group="colouriser")


@dataclass
class Config(ColorizerArgs):
    input: str | None = arg(None, "video to colourise (default: generate the grey sample clip)")
    output: str | None = arg(None, "output .mp4 (default: outputs/ch03/video_colorize/...)")
    palette: str = arg("split-tone", "pseudo-colour palette", choices=sorted(PALETTES))
    strength: float = arg(1.0, "pseudo-colour tint strength (0 = grey)")
    max_seconds: float | None = arg(10.0, "colourise at most this many seconds of video (keeps CPU runs short; "
                                          "0 = all)")
    batch_size: int = arg(8, "frames per colouriser call")


def default_output(in_path: str | Path) -> Path:
    return output_dir("ch03", "video_colorize") / f"{Path(in_path).stem}_color_{time.strftime('%Y%m%d-%H%M%S')}.mp4"


def colorize_video(in_path: str | Path, colorizer: Colorizer, out_path: str | Path | None = None,
                   max_seconds: float | None = None, batch_size: int = 8,
                   progress: ProgressFn | None = None) -> dict:
    """Colourise ``in_path`` frame by frame; returns a summary dict (output path, frames, fps, size, seconds)."""
    t0 = time.perf_counter()
    info = probe(in_path)
    out_path = Path(out_path) if out_path else default_output(in_path)
    max_frames = max(1, int(max_seconds * info.fps)) if max_seconds else None
    total = min(info.n_frames_estimate, max_frames) if max_frames else info.n_frames_estimate

    source: Path | str = in_path
    whole_file = getattr(colorizer, "colorize_file", None)
    if whole_file is not None:                       # e.g. a ModelScope video-colorization model
        produced = whole_file(in_path)
        if produced is not None:
            source, colorizer = produced, None       # only re-encode its result for the browser

    done = 0

    def frames():
        nonlocal done
        it = iter_frames(source, max_frames)
        while batch := list(itertools.islice(it, batch_size)):
            yield from (colorizer.colorize(batch) if colorizer is not None else batch)
            done += len(batch)
            if progress is not None:
                progress(done, max(total, done))

    write_video(out_path, frames(), fps=info.fps, audio_from=in_path if info.has_audio else None)
    return {"output": out_path, "frames": done, "fps": info.fps, "size": (info.width, info.height),
            "seconds": round(time.perf_counter() - t0, 2)}


def main(cfg: Config) -> dict:
    colorizer = make_colorizer(cfg.colorizer, cfg.model_dir, palette=cfg.palette, strength=cfg.strength,
                               engine=cfg.engine, device=cfg.device)
    in_path = cfg.input or make_sample_video()
    result = colorize_video(in_path, colorizer, cfg.output, cfg.max_seconds or None, cfg.batch_size,
                            progress=lambda i, n: print(f"\r  {i}/{n} frames", end="", flush=True))
    result["colorizer"], result["learned"] = colorizer.label, colorizer.learned
    print(f"\n{result['frames']} frames in {result['seconds']} s -> {result['output']}\n"
          f"colouriser: {colorizer.label}")
    return result


if __name__ == "__main__":
    run(main, Config, __doc__)
