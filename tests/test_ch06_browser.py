"""6.2.5 document-QA page in a real browser (Playwright driving Debian chromium): the answer and its cited passages.

The model is scripted (it answers citing [1]); retrieval is the real BM25 over the sample documents. Screenshot:
``outputs/test-artifacts/ch06_doc_qa.png``. Skipped without /usr/bin/chromium.
"""
from __future__ import annotations

import pytest

from ch03_browser import artifact, chromium_page, requires_chromium, serve

pytestmark = [pytest.mark.browser, requires_chromium]


def test_doc_qa_page_shows_answer_and_cited_passages(tmp_path):
    from playwright.sync_api import expect

    from ch06_rag import webui
    from ch06_rag.make_sample_docs import make_sample_docs
    from ch06_rag.prompts import NO_ANSWER
    from ch06_rag.retrieve import BM25Retriever, build_corpus

    folder = make_sample_docs(tmp_path / "docs")["utf8"].parent
    corpus, _ = build_corpus(folder, chunk_size=120, chunk_overlap=20, verbose=False)
    asked = []
    demo = webui.build_app(BM25Retriever(corpus), lambda p: asked.append(p) or "k1 一般取 1.2 到 2.0 [1]。",
                           note="scripted model", k=3)
    cfg = webui.Config(launch=False)
    with serve(demo, cfg) as url, chromium_page() as page:
        page.goto(url)
        page.locator("#question textarea").fill("BM25 的参数 k1 一般取多少？")
        page.get_by_role("button", name="提问 Ask").click()
        expect(page.locator("#answer")).to_contain_text("k1 一般取 1.2 到 2.0 [1]")
        expect(page.locator("#answer")).to_contain_text("bm25_params_gbk.txt p.1")
        cited = page.locator("#passages .passage.cited")
        expect(cited).to_have_count(1)
        expect(cited).to_contain_text("bm25_params_gbk.txt")
        expect(cited).to_contain_text("控制词频饱和")
        page.screenshot(path=str(artifact("ch06_doc_qa.png")), full_page=True)
        n_asked = len(asked)
        page.locator("#question textarea").fill("火星的首都是哪里？")
        page.get_by_role("button", name="提问 Ask").click()
        expect(page.locator("#answer")).to_contain_text(NO_ANSWER)
        assert len(asked) == n_asked                      # refused without asking the model
