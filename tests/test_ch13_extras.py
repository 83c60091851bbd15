"""Chapter 13 extras: the 13.1.1 walk through chapter 12's LLM extraction step (scripted replies, no model) and the
benchmark's helpers on a tiny report set (1 worker, no Ray, no model)."""
from __future__ import annotations

import json
import shutil

import pytest

from ch12_finreport_extract.alltxt import parse_report_name
from ch12_finreport_extract.prompts import FIELD_EXTRACTION_PROMPT, build_field_prompt
from ch13_finreport_qa import bench_db, extract_with_llm
from ch13_finreport_qa.build_db import DEFAULT_REPORTS, find_reports
from common.cli import UserError

HAIXIANG = extract_with_llm.DEFAULT_REPORT_REL
ANKAO = "2020-01-21__江苏安靠智能输电工程科技股份有限公司__300617__安靠智电__2019年__年度报告.txt.gz"


@pytest.fixture(autouse=True)
def _outputs(tmp_path, monkeypatch):
    monkeypatch.setenv("CHATGLM3_OUTPUT_DIR", str(tmp_path / "outputs"))


def scripted(replies: dict):
    """A prompt -> reply function answering by the field the prompt asks for (and recording the prompts)."""
    prompts = []

    def llm(prompt: str) -> str:
        prompts.append(prompt)
        return next(text for field, text in replies.items() if f"「{field}」" in prompt)
    llm.prompts = prompts
    return llm


# ------------------------------------------------------------------ 13.1.1 extract_with_llm
def test_right_answers_are_kept_and_agree_with_the_rules(capsys):
    llm = scripted({"营业外收入": "营业外收入：1,125,654.53元", "法定代表人": "法定代表人：杨思卫"})
    out = extract_with_llm.main(extract_with_llm.Config(explain=False), llm=llm)
    steps = {s["field"]: s for s in out["steps"]}
    assert steps["营业外收入"]["verdict"] == "kept" and steps["营业外收入"]["value"] == 1125654.53
    assert steps["营业外收入"]["value"] == steps["营业外收入"]["rules_value"]
    assert steps["营业外收入"]["section"] == "合并利润表" and steps["营业外收入"]["unit"] == 1
    assert steps["法定代表人"]["verdict"] == "kept" and steps["法定代表人"]["value"] == "杨思卫"
    assert out["kept"] == ["营业外收入", "法定代表人"]
    # the model got chapter 12's prompt, unchanged, and the exact text is saved
    step = steps["法定代表人"]
    assert llm.prompts[1] == step["prompt"] == build_field_prompt("法定代表人", step["passage"],
                                                                    "浙江海翔药业股份有限公司", 2019)
    saved = [p for p in out["prompt_files"] if p.endswith("__法定代表人.prompt.txt")]
    assert saved and open(saved[0], encoding="utf-8").read() == step["prompt"]
    text = capsys.readouterr().out
    assert "KEPT -> 1125654.53" in text and "the same value" in text and "2 of 2 answers kept" in text
    assert "公司的法定代表人|杨思卫" in text          # the line the check found the value on


def test_invented_and_empty_answers_are_rejected(capsys):
    llm = scripted({"营业外收入": "营业外收入：9,999,999.99元", "法定代表人": "无"})
    out = extract_with_llm.main(extract_with_llm.Config(explain=False), llm=llm)
    steps = {s["field"]: s for s in out["steps"]}
    assert steps["营业外收入"]["verdict"] == "rejected" and steps["营业外收入"]["value"] is None
    assert steps["营业外收入"]["parsed"] == "9,999,999.99元"
    assert steps["法定代表人"]["verdict"] == "rejected" and steps["法定代表人"]["parsed"] is None
    assert "无" in steps["法定代表人"]["reason"]
    assert out["kept"] == []
    assert "0 of 2 answers kept" in capsys.readouterr().out


def test_typed_answer_needs_no_model_and_template_is_explained(capsys):
    cfg = extract_with_llm.Config(fields=["法定代表人"], answer="法定代表人：杨思卫", show_prompt="full")
    out = extract_with_llm.main(cfg)
    assert out["kept"] == ["法定代表人"]
    text = capsys.readouterr().out
    assert "[typed answer]" in text and "[demo model]" not in text
    assert "↳" in text and "FIELD_EXTRACTION_PROMPT" in text
    # --show-prompt full prints the whole passage (a line far into the section)
    assert "公司的法定代表人 | 杨思卫" in text


def test_every_template_note_matches_a_line_of_chapter_12s_prompt():
    lines = FIELD_EXTRACTION_PROMPT.splitlines()
    for key, _ in extract_with_llm.TEMPLATE_NOTES:
        assert any(key in line for line in lines), f"note {key!r} matches no line of FIELD_EXTRACTION_PROMPT"


def test_bad_input_is_a_clear_error():
    with pytest.raises(UserError, match="unknown field"):
        extract_with_llm.main(extract_with_llm.Config(fields=["营业收入总额XYZ"], answer="无", explain=False))
    with pytest.raises(UserError, match="does not exist"):
        extract_with_llm.main(extract_with_llm.Config(report="no/such/report.txt.gz", answer="无"))


def test_a_field_without_a_section_is_not_asked():
    from ch12_finreport_extract.fields import FIELDS

    rnd = next((f.name for f in FIELDS if f.group == "rnd"), None)
    if rnd is None:
        pytest.skip("chapter 12 has no rnd-group field")
    llm = scripted({})
    _, steps = extract_with_llm.walk(extract_with_llm.resolve_report(HAIXIANG), [rnd], llm)
    assert steps[0].verdict == "not asked" and llm.prompts == []


# ------------------------------------------------------------------ bench_db
def test_replicate_reports_gives_distinct_official_names(tmp_path):
    originals = find_reports(DEFAULT_REPORTS)
    files = bench_db.replicate_reports(originals, 3, tmp_path / "r")
    assert len(files) == 3 * len(originals) == len(find_reports(tmp_path / "r"))
    metas = [parse_report_name(f.name) for f in files]
    assert all(m is not None and m.year == 2019 for m in metas)
    assert len({m.code for m in metas}) == len(files)


def test_bench_main_on_a_tiny_set(tmp_path, monkeypatch, capsys):
    import ch13_finreport_qa.build_db as build_db

    one = tmp_path / "one"
    one.mkdir()
    shutil.copy(DEFAULT_REPORTS / ANKAO, one / ANKAO)
    monkeypatch.setattr(build_db, "DEFAULT_REPORTS", one)
    questions = tmp_path / "q.jsonl"
    questions.write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in [
        {"id": 1, "type": "1", "question": "安靠智电2019年的营业收入是多少元？", "answer": "安靠智电2019年的营业收入是318024319.30元。",
         "values": ["318024319.30"], "keywords": ["营业收入"]},
        {"id": 2, "type": "2-1", "question": "安靠智电2019年的毛利率是多少？", "answer": "安靠智电2019年的毛利率是50.43%。",
         "values": ["50.43%"], "keywords": ["毛利率"]},
    ]) + "\n", encoding="utf-8")
    out = bench_db.main(bench_db.Config(copies=2, workers=[1], ray=False, llm_limit=0, questions=str(questions)))
    build = out["builds"]["local, 1 worker"]
    assert out["reports"] == 2 and build["done"] == 2 and build["failed"] == 0 and build["reports_per_s"] > 0
    assert out["solution1"]["n"] == 2 and out["scores"]["1"]["final"] > 50
    text = capsys.readouterr().out
    assert "| build_db local, 1 worker: reports/s |" in text and "projected for 11,588 reports" in text
    assert "solution 1: questions/s" in text


def test_bench_rejects_bad_flags():
    with pytest.raises(UserError):
        bench_db.main(bench_db.Config(copies=0, ray=False, llm_limit=0))


@pytest.mark.real_model
def test_real_model_reads_the_legal_representative():
    """ChatGLM3-6B (CHATGLM3_MODEL) answers 法定代表人 from the 公司信息 passage, and the check keeps it."""
    out = extract_with_llm.main(extract_with_llm.Config(fields=["法定代表人"], explain=False))
    assert out["kept"] == ["法定代表人"] and out["steps"][0]["value"] == "杨思卫"
