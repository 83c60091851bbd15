"""3.3.1 / 3.4.2 web demos: the gradio and streamlit chat UIs driven in headless Debian chromium (Playwright).

The model is the scripted tiny ChatGLM3 (see ``tests/test_ch03_server.py``): it greets, calls ``get_weather`` and
answers from the tool's result, so the screenshots show a real streamed conversation with a tool round trip.
Screenshots: ``outputs/test-artifacts/ch03_*.png``. Skipped when /usr/bin/chromium is absent.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from ch03_gradio.server.chat_client import ApiChat, GenSettings, InProcessChat, DEMO_TOOLS, chat_turn, \
    display_messages, scripted_dialogues
from common.paths import REPO_ROOT, output_dir

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]
GREETING = scripted_dialogues()[0][2]["content"]
WEATHER_ANSWER = scripted_dialogues()[3][2]["content"]
GREEDY = GenSettings(max_tokens=60, temperature=0.0)


@pytest.fixture(scope="module")
def scripted_model():
    from ch03_gradio.server.scripted import scripted_checkpoint
    return scripted_checkpoint()


@pytest.fixture(scope="module")
def loaded(scripted_model):
    from common.chatglm3 import load_model_and_tokenizer
    return load_model_and_tokenizer(scripted_model, quiet=True)


@pytest.fixture(scope="module")
def api_server(loaded):
    from ch03_gradio.openai_api import Config, start_in_thread
    handle = start_in_thread(Config(port=0, log_level="warning", served_model_name="scripted"), *loaded)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian chromium not installed (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    pw = sync_api.sync_playwright().start()
    b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield b
    b.close()
    pw.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_both_backends_give_the_same_tool_round_trip(loaded, api_server):
    question = [{"role": "user", "content": "北京天气怎么样？"}]
    results = []
    for backend in (InProcessChat(*loaded), ApiChat(api_server.url)):
        updates = list(chat_turn(backend, question, GREEDY, DEMO_TOOLS))
        final = updates[-1]
        assert [m["role"] for m in final] == ["assistant", "tool", "assistant"]
        assert final[0]["tool_calls"][0]["function"]["name"] == "get_weather"
        assert final[-1]["content"] == WEATHER_ANSWER
        assert len(updates) > 5                                   # the answer arrived in many pieces
        results.append([{k: v for k, v in m.items() if k not in ("tool_calls", "tool_call_id")} for m in final[1:]])
    assert results[0] == results[1]
    shown = display_messages(question + final)
    assert shown[1]["metadata"]["title"].endswith("get_weather") and shown[-1]["content"] == WEATHER_ANSWER


def _watch_streaming(page, root: str) -> None:
    """Record every distinct text of the last bot message while it grows."""
    page.evaluate("""(root) => {
        window.__seen = new Set();
        const el = document.querySelector(root);
        new MutationObserver(() => {
            const t = el.innerText; if (t) window.__seen.add(t);
        }).observe(el, {subtree: true, childList: true, characterData: true});
    }""", root)


def test_gradio_chat_ui(browser, loaded):
    from playwright.sync_api import expect

    from ch03_gradio.gradio_basics.launching import launch
    from ch03_gradio.web_demo_gradio import Config, build_demo
    cfg = Config(temperature=0.0, max_new_tokens=60, port=_free_port())
    demo = build_demo(InProcessChat(*loaded, name="scripted"), cfg)
    url = launch(demo, cfg, block=False)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(url)
        box = page.locator("#chatglm3-input textarea")
        box.wait_for(timeout=60_000)
        _watch_streaming(page, "#chatglm3-chatbot")
        box.fill("你好")
        box.press("Enter")
        expect(page.locator("#chatglm3-chatbot")).to_contain_text(GREETING, timeout=60_000)
        assert page.evaluate("window.__seen.size") >= 2      # the reply was drawn more than once: streamed
        page.screenshot(path=str(output_dir("test-artifacts") / "ch03_gradio_greeting.png"))
        page.get_by_role("button", name="清空 Clear").click()   # the scripted model knows one-turn chats only
        expect(page.locator("#chatglm3-chatbot")).not_to_contain_text(GREETING, timeout=30_000)
        page.locator("#chatglm3-tools input[type=checkbox]").check()
        box.fill("北京天气怎么样？")
        box.press("Enter")
        expect(page.locator("#chatglm3-chatbot")).to_contain_text(WEATHER_ANSWER, timeout=60_000)
        expect(page.locator("#chatglm3-chatbot")).to_contain_text("调用工具 get_weather")
        page.get_by_text("调用工具 get_weather").click()            # open the box: the call's JSON arguments
        expect(page.locator("#chatglm3-chatbot")).to_contain_text('"city_name": "北京"', timeout=10_000)
        page.wait_for_timeout(800)
        page.screenshot(path=str(output_dir("test-artifacts") / "ch03_gradio_chat.png"), full_page=True)
        page.get_by_role("button", name="重新生成 Regenerate").click()
        expect(page.locator("#chatglm3-chatbot")).not_to_contain_text(WEATHER_ANSWER, timeout=30_000)
        expect(page.locator("#chatglm3-chatbot")).to_contain_text(WEATHER_ANSWER, timeout=60_000)
    finally:
        page.close()
        demo.close()


def test_streamlit_chat_ui(browser, api_server):
    from playwright.sync_api import expect
    port = _free_port()
    env = dict(os.environ, STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
    cmd = [sys.executable, "-m", "streamlit", "run", str(REPO_ROOT / "ch03_gradio" / "web_demo_streamlit.py"),
           "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
           "--server.fileWatcherType", "none", "--", "--api-base", api_server.url, "--temperature", "0", "--tools"]
    log = open(output_dir("test-artifacts") / "ch03_streamlit.log", "w")
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        deadline = time.time() + 90
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).text == "ok":
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.time() < deadline, "streamlit did not start (see ch03_streamlit.log)"
            time.sleep(0.5)
        page.goto(f"http://127.0.0.1:{port}")
        box = page.locator('[data-testid="stChatInputTextArea"]')
        box.wait_for(timeout=90_000)
        box.fill("你好")
        box.press("Enter")
        expect(page.get_by_text(GREETING)).to_be_visible(timeout=90_000)
        page.screenshot(path=str(output_dir("test-artifacts") / "ch03_streamlit_greeting.png"))
        page.get_by_role("button", name="清空 Clear").click()    # the scripted model knows one-turn chats only
        expect(page.get_by_text(GREETING)).not_to_be_visible(timeout=30_000)
        box.fill("北京天气怎么样？")
        box.press("Enter")
        expect(page.get_by_text(WEATHER_ANSWER)).to_be_visible(timeout=90_000)
        expect(page.get_by_text("调用工具 get_weather")).to_be_visible()
        page.get_by_text("调用工具 get_weather").click()
        expect(page.get_by_text('"city_name": "北京"').first).to_be_visible(timeout=10_000)
        page.wait_for_timeout(800)   # let the expander finish opening
        page.screenshot(path=str(output_dir("test-artifacts") / "ch03_streamlit_chat.png"), full_page=True)
    finally:
        page.close()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_streamlit_usage_statistics_are_off_by_default():
    import importlib
    import tomllib

    mod = importlib.import_module("ch03_gradio.web_demo_streamlit")
    cmd = mod.relaunch_under_streamlit(["--temperature", "0"])
    assert cmd[cmd.index("--browser.gatherUsageStats") + 1] == "false" and cmd[-2:] == ["--temperature", "0"]
    config = tomllib.loads((REPO_ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["browser"]["gatherUsageStats"] is False
