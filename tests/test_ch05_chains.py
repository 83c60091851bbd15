"""Chapter 5: templates, example selectors, math/checker chains, memory, sequential chains.

Exact chain outputs are checked with LangChain's fake models (FakeListLLM, FakeListChatModel); the scripts' wiring
runs once on the demo model with a few new tokens.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from common.paths import REPO_ROOT

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def fake_llm(responses):
    from langchain_core.language_models.fake import FakeListLLM
    return FakeListLLM(responses=list(responses))


# ---------------------------------------------------------------- 5.3.1 the safe calculator
@pytest.mark.parametrize("text,value", [
    ("37593 * 67", 2518731), ("37593**(1/5)", 37593 ** (1 / 5)), ("280 * 0.85", 238.0), ("2^10", 1024),
    ("(1 + 2) * 3 - 4 / 2", 7.0), ("7 // 2 + 7 % 2", 4), ("-3 ** 2", -9), ("sqrt(16) + log(e)", 5.0),
    ("pi * 3**2", 28.274333882308138), ("3 × 4 ÷ 2", 6.0), ("factorial(5)", 120),
])
def test_safe_eval_computes(text, value):
    from ch05_chains.safe_math import safe_eval
    assert safe_eval(text) == pytest.approx(value)


def test_every_hostile_expression_is_refused_with_a_reason():
    from ch05_chains.safe_math import HOSTILE_EXPRESSIONS, UnsafeExpression, safe_eval
    for text in HOSTILE_EXPRESSIONS + ["1/0", "exp(100000)", "round.__call__(1)", "abs(*[1])", "{1: 2}",
                                       "(lambda: 1)()", "sin(1)(2)", "True + 1", "", "1; 2"]:
        with pytest.raises(UnsafeExpression, match="^refused: "):
            safe_eval(text)


def test_hostile_model_output_is_never_executed(monkeypatch):
    """Both the classic LLMMathChain and the LCEL chain refuse what a hostile model writes; numexpr and the
    shell are never reached."""
    import numexpr

    from ch05_chains.math_chain import classic_chain, lcel_chain, run_classic
    from ch05_chains.safe_math import HOSTILE_EXPRESSIONS

    calls = []
    real_evaluate = numexpr.evaluate
    monkeypatch.setattr(numexpr, "evaluate", lambda *a, **k: calls.append(a) or real_evaluate(*a, **k))
    monkeypatch.setattr(os, "system", lambda *a: pytest.fail("os.system was called"))
    outputs = [f"```text\n{e}\n```" for e in HOSTILE_EXPRESSIONS]
    classic, lcel = classic_chain(fake_llm(outputs)), lcel_chain(fake_llm(outputs))
    for text in HOSTILE_EXPRESSIONS:
        a = run_classic(classic, "q")
        b = lcel.invoke({"question": "q"})
        assert a["answer"] is None and a["error"].startswith("refused: "), (text, a)
        assert b["answer"] is None and b["error"].startswith("refused: ") and b["expression"] == text.strip()
    assert calls == []


def test_math_chains_agree_on_good_outputs():
    from ch05_chains.math_chain import classic_chain, lcel_chain, run_classic
    outputs = ["```text\n280 * 0.85\n```\n", "Answer: 42", "no idea"]
    classic, lcel = classic_chain(fake_llm(outputs)), lcel_chain(fake_llm(outputs))
    assert run_classic(classic, "q") == {"answer": "Answer: 238.0", "error": None}
    assert lcel.invoke({"question": "q"}) == {"expression": "280 * 0.85", "answer": "238", "error": None}
    assert run_classic(classic, "q")["answer"] == "Answer: 42"
    assert lcel.invoke({"question": "q"})["answer"] == "42"
    assert "unknown format" in run_classic(classic, "q")["error"]
    assert "no ```text block" in lcel.invoke({"question": "q"})["error"]


# ---------------------------------------------------------------- 5.1 templates
def test_four_template_types_and_jinja2():
    from ch05_chains.template_types import Config, build_templates, format_all
    out = format_all(build_templates(), Config(concept="RAG", field="检索", word="勇敢"))
    assert out["prompt_fstring"] == "请用一句话解释：RAG"
    assert out["prompt_jinja2"] == "请用一句话解释：RAG（听众：初学者）"
    assert out["chat"] == [("system", "你是一位检索领域的专家，回答简洁准确。"), ("human", "请用一句话解释：RAG")]
    assert out["few_shot"].startswith("给出每个词语的反义词。\n\n词语：高\n反义词：矮") and out["few_shot"].endswith(
        "词语：勇敢\n反义词：")
    assert out["custom"] == "请为“RAG”写一张知识卡片，依次覆盖：\n1. 定义\n2. 例子\n3. 常见错误\n卡片："


def test_nested_templates_three_ways_agree():
    from ch05_chains.nested_templates import Config, main
    result = main(Config(ask=False))
    assert result["same"] and result["texts"]["added"].startswith("你正在扮演李白。\n\n下面是一段对话示例")


def test_length_selector_uses_fewer_examples_for_longer_input():
    from ch05_chains.length_examples import Config, main
    rows = main(Config(ask=False))["rows"]
    counts = [r["n_examples"] for r in rows]
    assert counts == sorted(counts, reverse=True) and counts[0] > counts[-1] >= 1


def test_similarity_selector_picks_k_examples_from_in_memory_store():
    from langchain_core.embeddings import DeterministicFakeEmbedding

    from ch05_chains.prompts import TOPIC_EXAMPLES
    from ch05_chains.similar_examples import build_prompt
    prompt, selector = build_prompt(DeterministicFakeEmbedding(size=32), k=3)
    chosen = selector.select_examples({"question": "明天北京会下雨吗？"})
    assert len(chosen) == 3 and all(c in TOPIC_EXAMPLES for c in chosen)
    assert chosen[0] == TOPIC_EXAMPLES[0]  # the identical question is nearest
    assert prompt.format(question="x").endswith("问题：x\n类别：")


# ---------------------------------------------------------------- 5.3.2 checker
def test_checker_chain_shows_every_step():
    from ch05_chains.checker_chain import checker_chain, run_steps
    replies = ["草稿", "- 假设一\n- 假设二", "假设一：真；假设二：假", "修订后的答案"]
    steps = run_steps(checker_chain(fake_llm(replies)), "问题")
    assert [steps[k] for k in ("statement", "assertions", "checked_assertions", "revised_statement")] == replies
    assert checker_chain(fake_llm(replies)).invoke({"query": "问题"})["result"] == "修订后的答案"


# ---------------------------------------------------------------- 5.4 memory
def test_buffer_window_and_summary_memory():
    from ch05_chains.conversation_memory import run_dialogue
    turns = ["我叫小明", "第二句", "第三句"]
    buffer = run_dialogue(fake_llm(["甲", "乙", "丙"]), "buffer", turns, echo=False)
    assert buffer[-1]["history"] == "人类: 我叫小明\nAI: 甲\n人类: 第二句\nAI: 乙\n人类: 第三句\nAI: 丙"
    window = run_dialogue(fake_llm(["甲", "乙", "丙"]), "window", turns, window=1, echo=False)
    assert window[-1]["history"] == "人类: 第三句\nAI: 丙" and "小明" not in window[-1]["history"]
    # summary memory: reply, then one summarising call per turn (same fake LLM)
    summary = run_dialogue(fake_llm(["甲", "摘要1", "乙", "摘要2", "丙", "摘要3"]), "summary", turns, echo=False)
    assert [r["response"] for r in summary] == ["甲", "乙", "丙"] and summary[-1]["history"] == "摘要3"


def test_sqlite_history_survives_a_restart(tmp_path):
    """Two separate Python processes, same session id and database: the second sees the first one's turn."""
    db = tmp_path / "history.sqlite"
    code = textwrap.dedent("""
        import json, sys
        sys.path.insert(0, sys.argv[1])
        from langchain_core.language_models.fake_chat_models import FakeListChatModel
        from ch05_chains.sqlite_memory import chain_with_history, chat_turn, stored_messages
        db, text, reply = sys.argv[2], sys.argv[3], sys.argv[4]
        chain = chain_with_history(FakeListChatModel(responses=[reply]), db)
        out = chat_turn(chain, "xiaoming", text)
        print(json.dumps({"reply": out, "stored": stored_messages(db, "xiaoming")}, ensure_ascii=False))
    """)
    runs = []
    for text, reply in (("你好，我叫小明", "你好小明"), ("我叫什么？", "你叫小明")):
        proc = subprocess.run([sys.executable, "-c", code, str(REPO_ROOT), str(db), text, reply],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr[-2000:]
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert runs[0]["stored"] == [["human", "你好，我叫小明"], ["ai", "你好小明"]]
    assert runs[1]["stored"] == runs[0]["stored"] + [["human", "我叫什么？"], ["ai", "你叫小明"]]
    from ch05_chains.sqlite_memory import stored_messages
    assert stored_messages(db, "someone-else") == []


def test_history_reaches_the_prompt(tmp_path):
    """The second turn's prompt holds the first exchange (read back from SQLite by a fresh chain)."""
    from langchain_core.callbacks import BaseCallbackHandler
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from ch05_chains.sqlite_memory import chain_with_history, chat_turn

    class Record(BaseCallbackHandler):
        def __init__(self):
            self.prompts = []

        def on_chat_model_start(self, serialized, messages, **kwargs):
            self.prompts.append([(m.type, m.content) for m in messages[0]])

    db = tmp_path / "h.sqlite"
    chat_turn(chain_with_history(FakeListChatModel(responses=["好的"]), db), "s", "记住 42")
    rec = Record()
    chain = chain_with_history(FakeListChatModel(responses=["42"]), db)
    chain.invoke({"input": "刚才的数字？"}, config={"configurable": {"session_id": "s"}, "callbacks": [rec]})
    assert rec.prompts[0][1:] == [("human", "记住 42"), ("ai", "好的"), ("human", "刚才的数字？")]


# ---------------------------------------------------------------- 5.5 sequential chains
def _prompt_recorder():
    from langchain_core.callbacks import BaseCallbackHandler

    class Recorder(BaseCallbackHandler):
        def __init__(self):
            self.prompts = []

        def on_llm_start(self, serialized, prompts, **kwargs):
            self.prompts.extend(prompts)
    return Recorder()


@pytest.mark.parametrize("kind", ["simple", "named", "extra"])
def test_classic_and_lcel_sequential_chains_agree(kind):
    """Same outputs, and the same prompts sent step by step (recorded by a callback on each fake LLM)."""
    from langchain_core.language_models.fake import FakeListLLM

    from ch05_chains import story
    from ch05_chains.prompts import STORY_EXTRAS, STORY_TITLE

    replies = ["梗概文本", "评论文本", "文案文本"]
    rec_a, rec_b = _prompt_recorder(), _prompt_recorder()
    a, b = FakeListLLM(responses=replies, callbacks=[rec_a]), FakeListLLM(responses=replies, callbacks=[rec_b])
    if kind == "simple":
        result = story.run_pair(story.classic_simple(a), story.lcel_simple(b), STORY_TITLE)
        assert result == {"classic": "评论文本", "lcel": "评论文本", "same": True}
    else:
        extra = kind == "extra"
        inputs = {"title": STORY_TITLE, **(STORY_EXTRAS if extra else {})}
        result = story.run_pair(story.classic_named(a, extra), story.lcel_named(b, extra), inputs)
        assert result["same"] and result["classic"] == dict(zip(story.NAMED_STEPS, replies))
    assert rec_a.prompts == rec_b.prompts and len(rec_a.prompts) == (2 if kind == "simple" else 3)
    assert STORY_TITLE in rec_a.prompts[0] and "梗概文本" in rec_a.prompts[1]
    if kind == "extra":
        assert STORY_EXTRAS["era"] in rec_a.prompts[0] and STORY_EXTRAS["platform"] in rec_a.prompts[2]
        assert "梗概文本" in rec_a.prompts[2] and "评论文本" in rec_a.prompts[2]


# ---------------------------------------------------------------- the scripts on the demo model (wiring)
def test_scripts_run_on_the_demo_model(tmp_path, capsys, monkeypatch):
    """Wiring only (the demo model's texts are stand-ins): one model load shared by three scripts."""
    monkeypatch.delenv("CHATGLM3_MODEL", raising=False)
    monkeypatch.delenv("MODEL_PATH", raising=False)
    from ch05_chains import math_chain, sequential_extra, sqlite_memory

    out = sequential_extra.main(sequential_extra.Config(max_new_tokens=4))
    assert out["same"] and set(out["classic"]) == {"synopsis", "review", "post"}
    db = tmp_path / "demo.sqlite"
    sqlite_memory.main(sqlite_memory.Config(session_id="t", message=["你好"], db=str(db), max_new_tokens=4))
    out = sqlite_memory.main(sqlite_memory.Config(session_id="t", show=True, db=str(db)))
    assert [role for role, _ in out["history"]] == ["human", "ai"]
    out = math_chain.main(math_chain.Config(question=["2 的 10 次方是多少？"], max_new_tokens=4))
    assert len(out["rows"]) == 1 and all(r["refused"] for r in out["hostile"])
    text = capsys.readouterr().out
    assert "[demo model]" in text and "none executed" in text


def test_user_errors_are_clear():
    from common.cli import UserError
    from ch05_chains import conversation_memory, length_examples, similar_examples
    with pytest.raises(UserError, match="--max-length"):
        length_examples.main(length_examples.Config(max_length=0, ask=False))
    with pytest.raises(UserError, match="--k"):
        similar_examples.main(similar_examples.Config(k=0))
    with pytest.raises(UserError, match="--embedding-model .* is not a folder"):
        similar_examples.main(similar_examples.Config(embedding_model="no/such/folder"))
    with pytest.raises(UserError, match="--window"):
        conversation_memory.main(conversation_memory.Config(window=0))


@pytest.mark.real_model
def test_real_model_math_chain():
    from ch05_chains.math_chain import Config, main
    row = main(Config(question=["2 的 10 次方是多少？"], hostile=False))["rows"][0]
    assert "1024" in (row["lcel"]["answer"] or "") or "1024" in (row["classic"]["answer"] or "")
