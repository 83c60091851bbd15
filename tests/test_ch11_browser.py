"""11.3.2 the beauty assistant's gradio page in headless Debian chromium (Playwright): a tool step appears on the
page while the assistant works, then the answer written from the tool result. Screenshot:
outputs/test-artifacts/ch11_beauty_web.png. Skipped without /usr/bin/chromium."""
from __future__ import annotations

import json
import time

import pytest

from tests.ch03_browser import artifact, chromium_page, requires_chromium, serve
from tests.ch11_fixtures import one_torch_thread  # noqa: F401 - fixture


def slow_scripted_model():
    """The model calls search_products, then answers from the observation; it pauses so the page can be seen
    mid-way (the tool box is on the page before the answer exists)."""
    def reply(history, query, role):
        if role == "user" and any(h["role"] == "observation" for h in history):   # a follow-up: history kept
            return f"不客气！这是我们的第{sum(h['role'] == 'user' for h in history) + 1}个问题。"
        if role == "user":
            return ("search_products", {"category": "洁面", "skin_type": "油性", "max_price": 200, "limit": 2})
        time.sleep(1.5)
        names = [p["name"] for p in json.loads(query)["products"]]
        return "推荐：" + "、".join(names)
    return reply


@pytest.mark.browser
@requires_chromium
def test_beauty_page_shows_tool_steps_as_they_happen():
    from playwright.sync_api import expect

    from ch11_tools.agent import ScriptedBackend
    from ch11_tools.beauty import search_products
    from ch11_tools.beauty_assistant import BeautyAssistant
    from ch11_tools.beauty_web import Config, build_demo

    expected = [p["name"] for p in search_products(category="洁面", skin_type="油性", max_price=200,
                                                   limit=2)["products"]]
    assistant = BeautyAssistant(ScriptedBackend(slow_scripted_model(), chunk=4), router=False)
    demo = build_demo(assistant)
    with serve(demo, Config()) as url, chromium_page() as page:
        page.goto(url)
        box = page.locator("#beauty-input textarea")
        box.wait_for()
        box.fill("油皮有什么200元以内的洁面推荐？")
        box.press("Enter")
        chat = page.locator("#beauty-chatbot")
        expect(chat).to_contain_text("调用工具 search_products", timeout=60_000)
        expect(chat).to_contain_text("工具返回 search_products", timeout=60_000)
        assert "推荐：" not in chat.inner_text()          # the step was on the page before the answer
        expect(chat).to_contain_text("推荐：" + "、".join(expected), timeout=60_000)
        page.get_by_text("工具返回 search_products").click()   # open the box: the observation's JSON
        expect(chat).to_contain_text(expected[0])
        page.wait_for_timeout(500)
        page.screenshot(path=str(artifact("ch11_beauty_web.png")), full_page=True)
        box.fill("谢谢")
        box.press("Enter")
        expect(chat).to_contain_text("这是我们的第2个问题", timeout=60_000)   # the conversation's history was sent
