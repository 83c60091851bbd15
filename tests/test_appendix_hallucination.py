"""Appendix: scoring, the grounding check, every mitigation on a scripted model, the gold set, demo-model wiring."""
from __future__ import annotations

import gzip
import json
import re
from types import SimpleNamespace

import pytest

from appendix_hallucination.measure_hallucination import (GOLD_FILE, METHODS, Config, load_gold, make_methods,
                                                          measure, select)
from appendix_hallucination.metrics import classify, grounding_problems, is_abstention
from ch06_rag.prompts import NO_ANSWER
from common.paths import DATA_DIR


def test_classify():
    assert classify("法定代表人是杨思卫[1]", ["杨思卫"]) == "correct"
    assert classify("营业收入为2,941,412,770.30元", ["2941412770.3"]) == "correct"
    assert classify(NO_ANSWER, ["杨思卫"]) == "abstained" and classify("我不知道。", []) == "abstained"
    assert classify("是张三", ["杨思卫"]) == "hallucinated" and classify("第15章讲量子计算", []) == "hallucinated"
    assert is_abstention("") and not is_abstention("杨思卫")


def test_grounding_check():
    passages = ["营业收入（元） 2,941,412,770.30；电子信箱 stock@hisoar.com；法定代表人 杨思卫"]
    assert grounding_problems("营业收入为2,941,412,770.30元[1]", passages, "营业收入是多少？") == []
    assert grounding_problems("电子信箱是stock@hisoar.com", passages) == []
    assert "'3,000' is not in the passages" in grounding_problems("营业收入为3,000元", passages)
    assert grounding_problems("公司位于火星基地东区", passages, "注册地址在哪里")  # wording not in the passages
    assert grounding_problems("法定代表人是杨思卫", passages, "法定代表人是谁") == []


def test_gold_set_is_answerable_from_the_bundled_documents():
    rows = load_gold()
    assert len(rows) >= 60 and sum(not r["answers"] for r in rows) >= 15
    texts = {"book_toc.zh.md": (DATA_DIR / "appendix" / "book_toc.zh.md").read_text(encoding="utf-8")}
    for f in (DATA_DIR / "finreports" / "reports").glob("*.txt.gz"):
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            texts[f.name.split("__")[3] + "2019年年度报告"] = "".join(json.loads(l)["inside"] for l in fh if l.strip())
    norm = lambda s: re.sub(r"[,，\s]", "", s)  # noqa: E731
    for r in rows:
        if r["answers"]:
            assert any(norm(a) in norm(texts[r["source"]]) for a in r["answers"]), r


def test_select_keeps_the_share_of_unanswerable_questions():
    rows = load_gold()
    picked = select(rows, 10)
    assert len(picked) == 10 and 1 <= sum(not r["answers"] for r in picked) <= 4
    assert select(rows, 0) == rows


def _tiny_retriever():
    from langchain_core.documents import Document

    from ch06_rag.retrieve import BM25Retriever, Corpus

    docs = [Document("海翔药业的法定代表人是杨思卫。注册地址是浙江省台州市椒江区外沙支路100号。",
                     metadata={"source": "hx.txt", "page": 6, "company": "海翔药业"}),
            Document("安靠智电2019年的营业收入为318,024,319.30元。", metadata={"source": "ak.txt", "page": 8,
                                                                         "company": "安靠智电"})]
    filler = [Document(t, metadata={"source": "book.md", "page": 1}) for t in
              ("第9章 GLM源码分析与文本生成实战", "第10章 低资源单GPU微调ChatGLM3实战", "附录 大模型的幻觉",
               "第6章 ChatGLM3多文本检索的增强生成实战")]  # Robertson idf needs more than two documents
    return BM25Retriever(Corpus(docs + filler))


def test_every_mitigation_on_a_scripted_model():
    """A model that answers the answerable question right, invents an answer for the unanswerable one, and
    disagrees with itself when sampled: each method must score exactly as designed."""
    rows = [{"id": 0, "question": "海翔药业的法定代表人是谁？", "answers": ["杨思卫"]},
            {"id": 1, "question": "海翔药业2021年的研发人员有多少？", "answers": []}]

    def ask(prompt: str) -> str:
        if "杨思卫" in prompt and "法定代表人是谁" in prompt:
            return "法定代表人是杨思卫[1]。"
        return "大约有356人。"                       # invented: 356 is in no passage

    draws = iter(["杨思卫", "杨思卫", "王五", "有356人", "有412人", "有98人"] * 10)

    def sample(prompt: str, k: int) -> list[str]:
        return [next(draws) for _ in range(k)]

    cfg = SimpleNamespace(top_k=2, threshold=0.0, k=3, methods=list(METHODS))
    rates, records = measure(make_methods(ask, sample, _tiny_retriever(), cfg), rows)
    outcome = {(r["method"], r["id"]): r["outcome"] for r in records}
    assert outcome[("closed_book", 0)] == "hallucinated"     # no passages: the scripted model invents
    assert outcome[("rag", 0)] == "correct" and outcome[("rag", 1)] == "hallucinated"
    assert outcome[("rag_abstain", 1)] == "hallucinated"
    assert outcome[("self_consistency", 0)] == "correct"      # 2 of 3 samples agree
    assert outcome[("self_consistency", 1)] == "abstained"    # no majority
    assert outcome[("grounded", 0)] == "correct" and outcome[("grounded", 1)] == "abstained"
    assert rates["grounded"]["hallucinated"] == 0 and rates["rag"]["hallucinated"] == 0.5


def test_weak_retrieval_is_refused_before_the_model_is_asked():
    calls = []
    cfg = SimpleNamespace(top_k=2, threshold=0.9, k=3, methods=["rag_abstain"])
    methods = make_methods(lambda p: calls.append(p) or "x", lambda p, k: ["x"] * k, _tiny_retriever(), cfg)
    answer, n = methods["rag_abstain"]("贵州茅台的董事长是谁？")
    assert answer == NO_ANSWER and n == 0 and not calls


def test_measure_hallucination_runs_on_the_demo_model(tmp_path, monkeypatch):
    monkeypatch.delenv("CHATGLM3_MODEL", raising=False)
    monkeypatch.delenv("MODEL_PATH", raising=False)
    from appendix_hallucination.measure_hallucination import main

    out = main(Config(docs=[str(DATA_DIR / "appendix" / "book_toc.zh.md")], limit=2,
                      methods=["closed_book", "grounded"], max_new_tokens=8, out=str(tmp_path / "h.jsonl")))
    assert set(out["rates"]) == {"closed_book", "grounded"} and out["rates"]["grounded"]["n"] == 2
    assert len((tmp_path / "h.jsonl").read_text(encoding="utf-8").splitlines()) == 4


def test_missing_gold_file_is_one_clear_error(tmp_path):
    from common.cli import UserError

    with pytest.raises(UserError, match="gold QA file not found"):
        load_gold(tmp_path / "nope.jsonl")
    assert GOLD_FILE.is_file()


@pytest.mark.real_model
def test_real_model_grounding_reduces_hallucination():
    from appendix_hallucination.measure_hallucination import main

    rates = main(Config(limit=20, methods=["rag", "grounded"]))["rates"]
    assert rates["grounded"]["hallucinated"] <= rates["rag"]["hallucinated"]


def test_a_prompt_the_model_cannot_take_is_counted_as_no_answer():
    rows = [{"id": 0, "question": "海翔药业的法定代表人是谁？", "answers": ["杨思卫"]}]
    cfg = SimpleNamespace(top_k=2, threshold=0.0, k=2, methods=list(METHODS))
    rates, records = measure(make_methods(lambda p: None, lambda p, k: [None] * k, _tiny_retriever(), cfg), rows)
    assert {r["outcome"] for r in records} == {"error"} and rates["grounded"]["error"] == 1.0
    assert classify(None, ["x"]) == "error"
