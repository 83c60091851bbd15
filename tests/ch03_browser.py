"""Helpers for the chapter-3 browser tests: serve a gradio app on 127.0.0.1 and drive Debian's chromium.

Playwright only *drives* the system chromium (``/usr/bin/chromium``, apt package ``chromium``); it never
downloads a browser (no ``playwright install``). Tests using :data:`requires_chromium` skip cleanly without it.
"""
from __future__ import annotations

import importlib.util
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]

requires_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists() or importlib.util.find_spec("playwright") is None,
    reason="browser test: needs Debian chromium (apt-get install chromium) and pip install playwright")


@contextmanager
def serve(demo, cfg):
    """Launch ``demo`` without blocking (free port, 127.0.0.1) and close it afterwards; yields the URL."""
    from ch03_gradio.gradio_basics.launching import free_port, launch

    cfg.host, cfg.port = "127.0.0.1", free_port()
    url = launch(demo, cfg, block=False)
    try:
        yield url
    finally:
        demo.close()


@contextmanager
def chromium_page(width: int = 1280, height: int = 900):
    """A headless chromium page (Playwright sync API)."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=60_000)           # assertions wait as long as page actions
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(60_000)     # a loaded 2-core CI machine can be slow to start gradio
            yield page
        finally:
            browser.close()


def artifact(name: str) -> Path:
    """Where screenshots go: outputs/test-artifacts/<name> (ignored by git, kept for humans to look at)."""
    from common.paths import output_dir

    return output_dir("test-artifacts") / name
