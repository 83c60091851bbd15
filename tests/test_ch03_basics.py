"""3.1.1-3.1.5 gradio basics: every app builds with gradio 6, the functions behind the pages, launch options."""
from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest

from ch03_gradio.gradio_basics import launching

BASICS = ["g01_interface", "g02_io_components", "g03_launch_options", "g04_varied_components",
          "g05_blocks_events", "g06_chatbot", "g07_file_image_video", "g08_lineplot"]
APPS = [f"ch03_gradio.gradio_basics.{name}" for name in BASICS] + [
    "ch03_gradio.video_colorize.app", "ch03_gradio.cats_dogs.app"]


@pytest.mark.parametrize("module", APPS)
def test_every_app_builds_a_blocks_without_launching(module, tmp_path, monkeypatch):
    import gradio as gr

    monkeypatch.setenv("CHATGLM3_OUTPUT_DIR", str(tmp_path))
    mod = importlib.import_module(module)
    cfg = mod.Config(launch=False)
    if module.endswith("cats_dogs.app"):
        cfg.synthetic_per_class, cfg.image_size = 4, 32            # keep the example set tiny
    demo = mod.main(cfg)
    assert isinstance(demo, gr.Blocks)
    assert mod.__doc__ and f"python -m {module}" in mod.__doc__          # the docstring says how to run it


# ---------------------------------------------------------------------------------------------- launch options
def test_launch_flags_and_kwargs():
    from common.cli import UserError, parse

    cfg = parse(launching.LaunchConfig, None, ["--auth", "alice:pw1", "--auth", "bob:pw:with:colons", "--port",
                                               "7999", "--no-launch", "--concurrency", "2"])
    kw = launching.launch_kwargs(cfg, block=False)
    assert kw["server_name"] == "127.0.0.1" and kw["server_port"] == 7999 and kw["share"] is False
    assert kw["auth"] == [("alice", "pw1"), ("bob", "pw:with:colons")] and kw["prevent_thread_lock"] is True
    assert cfg.launch is False and cfg.concurrency == 2
    assert kw["allowed_paths"] and kw["allowed_paths"][0].endswith("ch03")
    defaults = launching.launch_kwargs(launching.LaunchConfig())
    assert defaults["auth"] is None and defaults["share"] is False and defaults["server_name"] == "127.0.0.1"
    with pytest.raises(UserError, match="USER:PASSWORD"):
        launching.parse_auth(["nopassword"])
    assert launching.free_port() > 0


def test_g03_masks_passwords():
    from ch03_gradio.gradio_basics.g03_launch_options import printable_launch_kwargs

    shown = printable_launch_kwargs(launching.LaunchConfig(auth=["reader:secret"]))
    assert shown["auth"] == [("reader", "***")] and "secret" not in str(shown)


# ---------------------------------------------------------------------------------------------- the functions
def test_g01_g02_functions():
    from ch03_gradio.gradio_basics.g01_interface import greet, greet_and_convert
    from ch03_gradio.gradio_basics.g02_io_components import apply_filter, describe_inputs, sample_image

    assert "张三" in greet("张三")
    text, c = greet_and_convert("A", True, 212)
    assert c == 100.0 and "Good morning" in text
    img = sample_image(32)
    assert np.array_equal(apply_filter(img, "flip 左右翻转", 1.0), img[:, ::-1])
    assert np.array_equal(apply_filter(img, "invert 反色", 1.0), 255 - img)
    assert np.array_equal(apply_filter(img, "sepia 怀旧", 0.0), img)           # strength 0 = unchanged
    assert apply_filter(None, "blur 模糊", 1.0) is None
    table, values = describe_inputs("t", 3, 0.5, True, "red", ["gradio"])
    assert list(table["python type"]) == ["str", "int", "float", "bool", "str", "list"] and values["count"] == 3


def test_g04_functions(tmp_path, monkeypatch):
    from ch03_gradio.gradio_basics import g04_varied_components as g04

    rate, wave = g04.synth_tone(440, 0.5, vibrato=True)
    assert rate == g04.SAMPLE_RATE and wave.dtype == np.int16 and len(wave) == rate // 2
    spans = g04.highlight("用 gradio 和 FastAPI", "gradio, FastAPI")
    assert "".join(s for s, _ in spans) == "用 gradio 和 FastAPI" and ("gradio", "gradio") in spans
    tiles = g04.swatches("#3b82f6", 3)
    assert len(tiles) == 3 and tiles[1][1] == "#3b82f6" and tiles[0][0].shape == (64, 64, 3)
    assert list(g04.parse_color("rgba(10, 20, 30, 1)")) == [10, 20, 30]
    monkeypatch.setenv("CHATGLM3_OUTPUT_DIR", str(tmp_path))
    md, path = g04.summarize_table(pd.DataFrame({"name": ["a", "b"], "score": ["1", "3"]}))
    assert "best: **b**" in md and path.endswith("table.csv")
    assert "&lt;b&gt;" in g04.badge_html("<b>", 2)


def test_g05_g06_functions():
    from ch03_gradio.gradio_basics.g05_blocks_events import add, text_stats, transform
    from ch03_gradio.gradio_basics.g06_chatbot import bot_stream, message_text, user_submit

    assert text_stats("ab c\nd") == (6, 4, 2) and text_stats("") == (0, 0, 0)
    assert transform("  Hi ", "反转 reverse", True) == "iH" and add(2, 3) == (5, "计数 count = 5")
    assert message_text({"role": "user", "content": [{"type": "text", "text": "你"}, {"type": "text", "text": "好"}]}) == "你好"
    assert message_text({"role": "user", "content": "hi"}) == "hi"
    box, history = user_submit("你好", [])
    assert box == "" and history == [{"role": "user", "content": "你好"}]
    states = list(bot_stream(history, delay_s=0))
    assert states[-1][-1]["role"] == "assistant" and "不是大模型" in states[-1][-1]["content"]
    assert len(states) == len(states[-1][-1]["content"])                         # one yield per character


def test_g07_g08_functions(tmp_path, monkeypatch):
    from PIL import Image

    from ch03_gradio.gradio_basics.g07_file_image_video import describe_files, image_variants, video_summary
    from ch03_gradio.gradio_basics.g08_lineplot import empty_table, next_points, wave_table
    from ch03_gradio.gradio_basics.video_io import make_sample_video

    monkeypatch.setenv("CHATGLM3_OUTPUT_DIR", str(tmp_path))
    f = tmp_path / "a.txt"
    f.write_text("x\ny\n")
    table, report = describe_files([str(f)])
    assert table.loc[0, "bytes"] == 4 and report.endswith(".csv")
    assert describe_files(None)[1] is None
    grey, edges, thumb = image_variants(Image.new("RGB", (200, 100), "red"))
    assert grey.mode == "L" and max(thumb.size) == 96
    meta, frames = video_summary(str(make_sample_video(tmp_path / "v.mp4", seconds=1, fps=6, width=32, height=24)))
    assert meta["width"] == 32 and len(frames) == 3 and frames[0][1] == "frame 0"
    assert set(wave_table(1, 0)["series"]) == {"sin", "cos"}
    df = next_points(next_points(empty_table()))
    assert list(df["step"]) == [0, 0, 1, 1] and df["loss"].dtype == np.float64


def test_video_app_handler_runs_pseudo_colour(tmp_path, monkeypatch):
    from ch03_gradio.video_colorize.app import run_colorize
    from ch03_gradio.video_colorize.colorizers import PseudoColorizer
    from ch03_gradio.gradio_basics.video_io import make_sample_video

    monkeypatch.setenv("CHATGLM3_OUTPUT_DIR", str(tmp_path))
    src = make_sample_video(tmp_path / "g.mp4", seconds=1, fps=6, width=32, height=24)
    calls = []
    out, compare, summary = run_colorize(str(src), 0, "sepia", 1.0, PseudoColorizer(),
                                         progress=lambda *a, **k: calls.append(a[0]))
    assert out.endswith(".mp4") and compare.shape == (24, 64, 3) and "NOT a learned" in summary
    assert calls[-1] == (6, 6)
