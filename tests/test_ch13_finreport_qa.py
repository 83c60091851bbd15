"""Chapter 13: the field DB (build, resume, failures, Ray), indicators, solutions 1-3, the SQL guard, warnings,
the challenge metric and the bundled question set."""
from __future__ import annotations

import json
import shutil
import sqlite3

import pytest

from ch13_finreport_qa.build_db import DEFAULT_REPORTS, Config as BuildConfig, build, find_reports
from ch13_finreport_qa.indicators import compute_all, compute_growth, compute_ratio, round2
from ch13_finreport_qa.scoring import bigram_dice, final_score, same_or_not, score_answer
from ch13_finreport_qa.sql_guard import SQLRefused, check_sql, run_checked


@pytest.fixture(scope="session")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("ch13") / "fin.db"
    stats = build(BuildConfig(db=str(path)), progress=False)
    assert stats["done"] == 3 and stats["failed"] == 0
    return path


@pytest.fixture(scope="session")
def qa(db):
    from ch13_finreport_qa.solutions import FinReportQA
    return FinReportQA(db)


# ------------------------------------------------------------------ indicators
def test_indicator_formulas_and_rounding():
    assert round2(49.565) == 49.57 and round2(0.125) == 0.13 and round2(-1.005) == -1.01
    f = {"营业收入": 318024319.30, "营业成本": 157633818.13, "负债合计": 10.0, "资产总计": 40.0, "流动资产合计": 30.0,
         "存货": 6.0, "流动负债合计": 12.0, "研发人员": 74, "职工总数": 400}
    assert compute_ratio("毛利率", f).text() == "50.43%"            # the challenge's own example company
    assert compute_ratio("营业成本率", f).text() == "49.57%"
    assert compute_ratio("资产负债比率", f).text() == "25.00%"
    assert compute_ratio("速动比率", f).text() == "2.00" and not compute_ratio("速动比率", f).percent
    assert compute_ratio("研发人员占职工人数比例", f).value == 0.19
    g = compute_growth("营业收入", f, {"营业收入": 320070653.13})
    assert g.text() == "-0.64%" and g.inputs["上年营业收入"] == 320070653.13
    assert compute_ratio("净利润率", f) is None                      # missing input: no value, never a guess
    assert compute_ratio("毛利率", {"营业收入": 0, "营业成本": 1}) is None
    assert "营业收入增长率" not in compute_all(f)                    # no previous year given


# ------------------------------------------------------------------ database build
def test_build_is_resumable_and_records_bad_reports(tmp_path):
    folder = tmp_path / "reports"
    folder.mkdir()
    for p in find_reports(DEFAULT_REPORTS)[:2]:
        shutil.copy(p, folder / p.name)
    (folder / "2021-04-01__坏报告股份有限公司__000001__坏报告__2020年__年度报告.txt").write_text("not json\n{",
                                                                                          encoding="utf-8")
    db = tmp_path / "fin.db"
    first = build(BuildConfig(reports=str(folder), db=str(db), limit=1), progress=False)   # a run stopped early
    assert first["done"] + first["failed"] == 1
    second = build(BuildConfig(reports=str(folder), db=str(db)), progress=False)
    assert second["done"] + second["failed"] == 2                     # only what was missing
    con = sqlite3.connect(db)
    status = dict(con.execute("SELECT status, COUNT(*) FROM reports GROUP BY status").fetchall())
    assert status == {"done": 2, "failed": 1}
    err = con.execute("SELECT error FROM reports WHERE status = 'failed'").fetchone()[0]
    assert "no field could be extracted" in err
    n_fields = con.execute("SELECT COUNT(*) FROM fields").fetchone()[0]
    third = build(BuildConfig(reports=str(folder), db=str(db)), progress=False)           # nothing left to do
    assert third["done"] == third["failed"] == 0
    assert con.execute("SELECT COUNT(*) FROM fields").fetchone()[0] == n_fields        # no duplicates
    again = build(BuildConfig(reports=str(folder), db=str(db), retry_failed=True), progress=False)
    assert again["failed"] == 1 and again["done"] == 0


def test_ray_engine_builds_the_same_rows(tmp_path, db):
    pytest.importorskip("ray")
    folder = tmp_path / "reports"
    folder.mkdir()
    one = find_reports(DEFAULT_REPORTS)[0]
    shutil.copy(one, folder / one.name)
    out = tmp_path / "ray.db"
    stats = build(BuildConfig(reports=str(folder), db=str(out), engine="ray", workers=2), progress=False)
    assert stats["done"] == 1
    q = "SELECT code, year, field, value_num, value_text FROM fields ORDER BY 1, 2, 3"
    ray_rows = sqlite3.connect(out).execute(q).fetchall()
    code = ray_rows[0][0]
    local_rows = [r for r in sqlite3.connect(db).execute(q).fetchall() if r[0] == code]
    assert ray_rows == local_rows


def test_readonly_connection_refuses_writes_even_without_the_guard(db):
    from ch13_finreport_qa.db import connect_readonly

    con = connect_readonly(db)
    for sql in ("DELETE FROM fields", "DROP TABLE fields", "PRAGMA writable_schema = 1", "ATTACH DATABASE ':memory:' AS x",
                "CREATE TABLE t(x)", "INSERT INTO companies VALUES ('1', '2', '3')"):
        with pytest.raises(sqlite3.DatabaseError):
            con.execute(sql)
    with pytest.raises(sqlite3.OperationalError, match="interrupted"):
        con._steps = 0
        con.execute("SELECT count(*) FROM fields a, fields b, fields c").fetchall()   # over the step budget
    assert sqlite3.connect(db).execute("SELECT COUNT(*) FROM fields").fetchone()[0] > 300


HOSTILE_SQL = [
    "DROP TABLE fields", "SELECT 1; DROP TABLE fields", "PRAGMA table_info(fields)", "ATTACH DATABASE 'x.db' AS x",
    "INSERT INTO fields VALUES (1)", "UPDATE fields SET value_num = 0", "DELETE FROM fields", "SELECT * FROM sqlite_master",
    "SELECT load_extension('x')", "SELECT * FROM main.fields", "CREATE TEMP TABLE t(x)", "VACUUM INTO 'x.db'",
    "SELECT writefile('x', 'a')", "SELECT * FROM reports", "SELECT * INTO x FROM fields", "REPLACE INTO fields VALUES(1)",
    "SELECT sqlite_version()", "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
    "SELECT count(*) FROM fields a, fields b, fields c", "", "SELECT " + "1 + " * 2000 + "1",
]


@pytest.mark.parametrize("sql", HOSTILE_SQL)
def test_sql_guard_refuses_hostile_sql(sql, db):
    from ch13_finreport_qa.db import connect_readonly

    with pytest.raises(SQLRefused):
        run_checked(connect_readonly(db), sql)


def test_sql_guard_accepts_ordinary_selects(db):
    from ch13_finreport_qa.db import connect_readonly

    sql = check_sql("SELECT c.short_name, f.value_num FROM fields f JOIN companies c ON c.code = f.code "
                    "WHERE f.field = '营业收入' AND f.year = 2019 ORDER BY f.value_num DESC LIMIT 1;")
    cols, rows = run_checked(connect_readonly(db), sql)
    assert cols == ["short_name", "value_num"] and rows[0][0] == "邮储银行"


# ------------------------------------------------------------------ solution 1: every question type
@pytest.mark.parametrize("question,kind,expected", [
    ("海翔药业2019年的营业收入是多少元？", "1", ["2941412770.30元"]),
    ("002099.SZ 2019年的法定代表人是谁？", "1", ["杨思卫"]),
    ("海翔那家药企2019年的电子信箱是什么？", "1", ["stock@hisoar.com"]),
    ("安靠智电2019年的研发人员和营业收入分别是多少？", "1-2", ["74人", "318024319.30元"]),
    ("安靠智电2019年的毛利率是多少？保留2位小数。", "2-1", ["50.43%", "318024319.30", "157633818.13"]),
    ("海翔药业2019年的营业收入增长率是多少？", "2-1", ["8.20%", "2718608796.51"]),
    ("安靠智电2018年和2019年的营业收入是否相同？", "2-2", ["不相同", "320070653.13", "318024319.30"]),
    ("2019年营业收入最高的公司是哪家？", "rank", ["邮储银行"]),
    ("2019年资产总计最低的公司是哪家？", "rank", ["安靠智电"]),
    ("什么是资产负债率？", "3-2", ["总负债/资产总额"]),
    ("海翔药业2019年的衍生金融资产是多少？", "1", ["没有查到"]),
    ("简要介绍安靠智电2019年的核心竞争力情况。", "3-1", ["安靠智电2019年年报第"]),
])
def test_solution1_answers_every_type(qa, question, kind, expected):
    result = qa.answer(question, 1)
    assert result["type"] == kind, result
    for text in expected:
        assert text in result["answer"].replace(",", ""), result["answer"]


def test_solution1_scores_on_the_bundled_questions(qa):
    """Accuracy floor: the value check of the metric passes on the questions the database can answer."""
    from ch13_finreport_qa.questions import load_questions

    questions = [q for q in load_questions() if q["type"] in ("1", "1-2", "2-1", "2-2")]
    ok = sum(score_answer(q, qa.answer(q["question"], 1)["answer"]) > 0 for q in questions)
    assert ok / len(questions) >= 0.9, f"{ok}/{len(questions)}"


def test_question_set():
    from collections import Counter

    from ch13_finreport_qa.questions import load_questions

    questions = load_questions()
    kinds = Counter(q["type"] for q in questions)
    assert len(questions) >= 120 and set(kinds) == {"1", "1-2", "2-1", "2-2", "3-1", "3-2"}


# ------------------------------------------------------------------ solutions 2 and 3 with scripted models
def test_solution2_runs_checked_sql_and_refuses_hostile_sql(db):
    from ch13_finreport_qa.solutions import FinReportQA

    replies = iter(["```sql\nSELECT c.short_name FROM fields f JOIN companies c ON c.code = f.code WHERE "
                    "f.field = '净利润' AND f.year = 2019 ORDER BY f.value_num DESC LIMIT 1\n```",
                    "2019年净利润最高的是邮储银行。",
                    "SELECT 1; DROP TABLE fields"])
    prompts = []
    qa = FinReportQA(db, llm=lambda p: prompts.append(p) or next(replies))
    good = qa.answer("2019年净利润最高的公司是哪家？", 2)
    assert good["rows"] == [("邮储银行",)] and good["answer"] == "2019年净利润最高的是邮储银行。"
    assert "companies(code" in prompts[0] and "邮储银行" in prompts[1]
    bad = qa.answer("删掉所有数据", 2)
    assert "refused" in bad and "2 statements" in bad["refused"]
    assert sqlite3.connect(db).execute("SELECT COUNT(*) FROM fields").fetchone()[0] > 300


def test_solution3_calls_the_database_tools(db):
    from ch11_tools.agent import ScriptedBackend
    from ch13_finreport_qa.solutions import FinReportQA

    backend = ScriptedBackend([("compute_indicator", {"company": "安靠智电", "year": 2019, "indicator": "毛利率"}),
                               lambda h, q, r: f"毛利率是{json.loads(q)['value']}。"])
    backend.replies = [backend.replies[0], "placeholder"]
    seen = []

    def replies(history, query, role):
        seen.append((role, query))
        if role == "user":
            return ("compute_indicator", {"company": "安靠智电", "year": 2019, "indicator": "毛利率"})
        return f"安靠智电2019年的毛利率是{json.loads(query)['value']}。"

    qa = FinReportQA(db, agent_backend=ScriptedBackend(replies))
    result = qa.answer("安靠智电2019年的毛利率是多少？", 3)
    assert result["answer"] == "安靠智电2019年的毛利率是50.43%。"
    assert seen[1][0] == "observation" and "50.43%" in seen[1][1]
    tools = qa.registry()
    assert set(tools.names()) == {"query_field", "compute_indicator", "compare_years", "rank_companies",
                                  "search_report"}
    assert "不相同" in tools.call("compare_years", {"company": "安靠智电", "field": "营业收入", "year1": 2018,
                                                   "year2": 2019}).content
    assert not tools.call("query_field", {"company": "安靠智电", "year": "x", "field": "营业收入"}).ok


# ------------------------------------------------------------------ scoring
def test_metric_on_hand_made_cases():
    q = {"type": "1", "answer": "安靠智电2019年的营业成本是157633818.13元。", "values": ["157633818.13"],
         "keywords": ["安靠智电", "2019", "营业成本"]}
    assert score_answer(q, q["answer"]) == pytest.approx(1.0)
    assert score_answer(q, "安靠智电2019年的营业成本是1.58亿元。") == 0.0           # rescaled: value check fails
    assert score_answer(q, "157,633,818.13") == pytest.approx(0.25 + 0.5 * bigram_dice("157,633,818.13", q["answer"]))
    q22 = {"type": "2-2", "answer": "…不相同。", "values": ["不相同"], "keywords": []}
    assert same_or_not("两年的法定代表人不一样") == "不相同" and same_or_not("相同") == "相同"
    assert score_answer(q22, "相同") == 0.0 and score_answer(q22, "不相同") > 0.25
    assert score_answer({"type": "3-2", "answer": "abc"}, "abc") == 1.0
    assert final_score({"1": 1.0, "2-1": 0.5, "3-1": 0.0, "3-2": 1.0}) == pytest.approx(100 * (0.3 + 0.2 + 0 + 0.1))
    assert final_score({"1": 1.0}) == 100.0                                     # missing groups renormalised


# ------------------------------------------------------------------ warnings
def test_warning_rules_flags_and_checked_summary(qa, tmp_path):
    from common.cli import UserError
    from ch13_finreport_qa.warning import check, checked_summary, load_rules, template_summary

    rules = load_rules()
    assert {r["group"] for r in rules} >= {"leverage", "liquidity", "profitability", "growth", "expenses"}
    results = {r["indicator"]: r for r in check(qa, "002099", 2019, rules)}
    assert results["流动负债比率"]["triggered"] is True and results["流动负债比率"]["value"] == 91.94
    assert results["资产负债比率"]["triggered"] is False
    text = template_summary("海翔药业", 2019, list(results.values()))
    assert "流动负债比率为91.94%" in text
    _, invented = checked_summary("流动负债比率91.94%，负债高达88.8%", "流动负债比率 = 91.94%（预警线 > 90%）")
    assert invented == ["88.8"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("leverage:\n  - {indicator: 资产负债比率}\n", encoding="utf-8")
    with pytest.raises(UserError, match="exactly one of"):
        load_rules(bad)


def test_ask_and_warning_scripts_run_on_the_demo_model(db, monkeypatch, capsys):
    monkeypatch.delenv("CHATGLM3_MODEL", raising=False)
    monkeypatch.delenv("MODEL_PATH", raising=False)
    from ch13_finreport_qa.ask import Config as AskConfig, main as ask
    from ch13_finreport_qa.warning import Config as WarnConfig, main as warn

    out = ask(AskConfig(question="海翔药业2019年的营业收入是多少元？", db=str(db), use_llm=False))
    assert "2941412770.30" in out["answer"]
    two = ask(AskConfig(question="2019年营业收入最高的公司是哪家？", db=str(db), solution=2, max_new_tokens=24))
    assert two["answer"]                     # the demo model's SQL is checked (usually refused), never run blindly
    w = warn(WarnConfig(db=str(db), max_new_tokens=16))
    assert w["summary_source"] in ("llm", "template") and not w["invented_numbers"] or w["summary_source"] == "template"


@pytest.mark.real_model
def test_real_model_nl2sql(db):
    from ch13_finreport_qa.ask import Config as AskConfig, main as ask

    out = ask(AskConfig(question="2019年营业收入最高的公司是哪家？", db=str(db), solution=2))
    assert "邮储银行" in out["answer"]
