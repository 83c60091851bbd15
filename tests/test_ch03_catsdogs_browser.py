"""3.2 in a real browser: press "train", watch the curves and the log update each epoch, then predict an upload."""
from __future__ import annotations

import re

import pytest

from ch03_browser import artifact, chromium_page, requires_chromium, serve

pytestmark = [pytest.mark.browser, requires_chromium]


def test_train_then_predict_in_chromium(tmp_path, monkeypatch):
    from playwright.sync_api import expect

    from ch03_gradio.cats_dogs import app
    from ch03_gradio.cats_dogs.data import synthetic_image

    shot_train, shot_predict = artifact("ch03_catsdogs_train.png"), artifact("ch03_catsdogs_predict.png")
    monkeypatch.setenv("CHATGLM3_OUTPUT_DIR", str(tmp_path))          # synthetic set + weights in tmp
    cfg = app.Config(launch=False, epochs=3, synthetic_per_class=16, image_size=32, width=8, batch_size=8,
                     weights=str(tmp_path / "w.safetensors"))
    demo = app.main(cfg)
    upload = tmp_path / "upload_cat.png"
    synthetic_image(0, 1234, size=96).save(upload)

    with serve(demo, cfg) as url, chromium_page() as page:
        page.goto(url)
        expect(page.locator("#data-banner")).to_contain_text("SYNTHETIC")

        page.locator("#train-btn").click()
        log = page.locator("#train-log textarea")
        expect(log).to_have_value(re.compile(r"epoch 1/3"))                # first epoch streamed in ...
        expect(log).to_have_value(re.compile(r"epoch 3/3[^\n]*"), timeout=90_000)   # ... and the last one
        # Vega draws each LinePlot as SVG: one line mark per split (train, val), each with a real path
        for plot in ("#loss-plot", "#acc-plot"):
            lines = page.locator(f"{plot} svg g.mark-line path")
            expect(lines).to_have_count(2)
            assert all(len(lines.nth(i).get_attribute("d") or "") > 20 for i in range(2))
        expect(log).to_have_value(re.compile(r"best val acc"), timeout=30_000)   # the summary line comes last
        page.screenshot(path=str(shot_train), full_page=True)

        page.get_by_role("tab", name="预测 Predict").click()
        expect(page.locator("#model-status")).to_contain_text("SYNTHETIC")
        page.locator("#predict-image input[type=file]").set_input_files(str(upload))
        page.locator("#predict-btn").click()
        label = page.locator("#predict-label")
        expect(label).to_contain_text(re.compile(r"\d+%"))
        expect(label).to_contain_text("cat")
        expect(label).to_contain_text("dog")
        page.screenshot(path=str(shot_predict), full_page=True)
    assert shot_train.stat().st_size > 10_000 and shot_predict.stat().st_size > 10_000
