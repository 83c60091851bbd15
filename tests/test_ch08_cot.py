"""Chapter 8: answer extraction, voting, the problem generator, and the evaluation wiring (fake + demo model)."""
from __future__ import annotations

import json

import pytest

from ch08_cot.answer import chinese_to_number, extract_answer, majority_vote, same_number
from ch08_cot.problems import DEFAULT_FILE, generate_problems, load_problems


@pytest.mark.parametrize("text,value", [
    ("所以答案是二十五个", 25), ("共需 3.5 元", 3.5), ("答：38元。", 38), ("The answer is 12.", 12),
    ("一共有三百零六条腿", 306), ("先算2×6=12，50-12=38，所以应找回38元", 38), ("答案：1,200元", 1200),
    ("答案：1050元（500×0.7=350）", 1050), ("Therefore, 3/4 of them", 0.75), ("增长了百分之二十", 0.2),
    ("约12.5%", 0.125), ("他一共走了两万三千步", 23000), ("答案：负五", -5), ("18 - 5 = 13\n答案：13", 13),
])
def test_extract_answer(text, value):
    assert same_number(extract_answer(text), value)


@pytest.mark.parametrize("text", ["", "我不知道", "答案是多少呢？"])
def test_extract_answer_none(text):
    assert extract_answer(text) is None


@pytest.mark.parametrize("text,value", [("十", 10), ("十五", 15), ("一百零三", 103), ("两千零六", 2006),
                                        ("一亿二千万", 120_000_000), ("三点一四", 3.14), ("二零二四", 2024)])
def test_chinese_numerals(text, value):
    assert same_number(chinese_to_number(text), value)


def test_extract_answer_never_runs_model_text():
    assert extract_answer("答案：__import__('os').system('echo hi') 7") == 7


def test_majority_vote():
    assert majority_vote([3, 4, 3, None, 4, 5]) == (3.0, 2)    # tie 3 vs 4: the first seen wins
    assert majority_vote([None, 2.0000000001, 2]) == (2.0, 2)
    assert majority_vote([None, None]) == (None, 0)


def test_generator_is_seeded_and_gold_answers_follow_from_the_steps():
    problems = generate_problems(120, 0)
    assert problems == generate_problems(120, 0) and problems != generate_problems(120, 1)
    assert len({p["question"] for p in problems}) == 120 and len({p["kind"] for p in problems}) >= 8
    for p in problems:  # the last number of the worked steps is the gold answer
        assert same_number(extract_answer(p["steps"]), p["answer"]), p
    bundled = [json.loads(line) for line in DEFAULT_FILE.read_text(encoding="utf-8").splitlines()]
    assert bundled == problems  # data/ch08/problems.jsonl is `python ch08_cot/problems.py` output


def test_load_problems_reports_bad_lines(tmp_path):
    from common.cli import UserError

    bad = tmp_path / "p.jsonl"
    bad.write_text('{"question": "1+1", "answer": 2}\n{"question": "x"}\n', encoding="utf-8")
    with pytest.raises(UserError, match="line 2"):
        load_problems(bad)
    with pytest.raises(UserError, match="no problem file"):
        load_problems(tmp_path / "missing.jsonl")


def test_solve_and_evaluate_with_a_fake_model():
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from ch08_cot.cot import build_messages, solve
    from ch08_cot.evaluate_cot import evaluate, format_table

    msgs = build_messages("1+1=?", "few_shot")
    assert msgs[-1].content.startswith("1+1=?") and len(msgs) == 2 + 2 * 3
    assert "一步一步" in build_messages("q", "zero_shot")[-1].content

    fake = FakeListChatModel(responses=["答案：3", "答案：4", "答案：3"])
    sol = solve(fake, "q", "self_consistency", k=3)
    assert (sol.answer, sol.votes, sorted(sol.samples)) == (3.0, 2, [3.0, 3.0, 4.0])

    problems = [{"id": 0, "question": "2+2", "answer": 4}, {"id": 1, "question": "3+3", "answer": 6}]
    fake = FakeListChatModel(responses=["4", "2+2=4，答案：4", "5", "3+3=6，答案：6"])
    summary, records = evaluate(fake, problems, methods=("direct", "zero_shot"))
    assert summary["direct"]["correct"] == 1 and summary["zero_shot"]["correct"] == 2
    assert len(records) == 4 and "| zero_shot | 100.0% (2/2)" in format_table(summary)


def test_evaluate_cot_runs_on_the_demo_model(tmp_path, monkeypatch):
    monkeypatch.delenv("CHATGLM3_MODEL", raising=False)
    monkeypatch.delenv("MODEL_PATH", raising=False)
    from ch08_cot.evaluate_cot import Config, main

    out = main(Config(limit=1, methods=["direct", "self_consistency"], k=2, max_new_tokens=12,
                      out=str(tmp_path / "r.jsonl")))
    assert out["summary"]["direct"]["n"] == 1 and out["summary"]["self_consistency"]["n"] == 1
    assert len((tmp_path / "r.jsonl").read_text(encoding="utf-8").splitlines()) == 2


@pytest.mark.real_model
def test_real_model_few_shot_cot_beats_chance():
    from ch08_cot.evaluate_cot import Config, main

    out = main(Config(limit=10, methods=["few_shot"]))
    assert out["summary"]["few_shot"]["accuracy"] >= 0.3
