"""3.1 in a real browser: the video colouriser end to end (H.264 must decode in chromium) and a login page."""
from __future__ import annotations

import re

import pytest

from ch03_browser import artifact, chromium_page, requires_chromium, serve

pytestmark = [pytest.mark.browser, requires_chromium]


def test_video_colouriser_in_chromium(tmp_path, monkeypatch):
    from playwright.sync_api import expect

    from ch03_gradio.video_colorize import app
    from ch03_gradio.gradio_basics.video_io import make_sample_video

    shot = artifact("ch03_video_colorize.png")
    monkeypatch.setenv("CHATGLM3_OUTPUT_DIR", str(tmp_path))
    upload = make_sample_video(tmp_path / "upload_grey.mp4", seconds=1.0, fps=8, width=96, height=64)
    cfg = app.Config(launch=False)
    demo = app.main(cfg)
    with serve(demo, cfg) as url, chromium_page() as page:
        page.goto(url)
        expect(page.locator("#colorizer-banner")).to_contain_text("NOT a learned colouriser")
        page.locator("input[type=file]").first.set_input_files(str(upload))
        expect(page.locator("video").first).to_be_visible()              # the upload is shown as a player
        page.get_by_role("button", name="开始上色 Colorize").click()
        expect(page.locator("#summary")).to_contain_text(re.compile(r"8\D+frames"))
        out_video = page.locator("#video-out video")
        expect(out_video).to_have_count(1)
        # the browser really decodes our H.264: it knows the frame size once metadata is loaded
        page.wait_for_function("() => { const v = document.querySelector('#video-out video');"
                               " return v && v.readyState >= 1 && v.videoWidth === 96; }")
        page.screenshot(path=str(shot), full_page=True)


def test_login_page_with_auth(tmp_path):
    from playwright.sync_api import expect

    from ch03_gradio.gradio_basics import g03_launch_options as g03

    cfg = g03.Config(launch=False, auth=["reader:chatglm3"])
    demo = g03.main(cfg)
    with serve(demo, cfg) as url, chromium_page() as page:
        page.goto(url)
        page.locator("input[type=text], input[name=username]").first.fill("reader")
        page.locator("input[type=password]").first.fill("chatglm3")
        page.keyboard.press("Enter")
        page.get_by_role("button", name=re.compile("Who am I")).click()
        expect(page.get_by_text('"reader"').first).to_be_visible()      # gr.Request.username
        page.screenshot(path=str(artifact("ch03_launch_auth.png")), full_page=True)
