"""The v3 skills of the demo model (``data/demo_model/skills.py``): held-out splits, the chapters' own prompts, the
client serialisations of tools and the scorer of ``evaluate_demo_model.py``. Data and wiring only — no training."""
from __future__ import annotations

import json
import random
import sys

import pytest

from common.paths import DEMO_MODEL_DIR, REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "data" / "demo_model"))

import skills  # noqa: E402

POOL = "天地人和春秋山水风云花月东南西北江河湖海金木火土"
TEXTS = ["床前明月光，疑是地上霜。", "白日依山尽，黄河入海流。"]


def _records(n=600, seed=3):
    rng = random.Random(seed)
    pools = {"tool": skills._tool_pools(), "qa": skills._qa_pools(), "json": skills._json_pools(),
             "math": skills._math_pools()}
    return [skills._one(rng, k, POOL, "train", TEXTS, pools) for _ in range(n // 4) for k in skills.SKILLS]


def test_word_lists_split_three_ways_without_overlap():
    pools = [skills._tool_pools(), skills._qa_pools(), skills._json_pools(), skills._math_pools()]
    for group in pools:
        for name, parts in group.items():
            a, b, t = (set(map(str, parts[s])) for s in ("A", "B", "train"))
            assert a and b and t, name
            assert not (a & b) and not (a & t) and not (b & t), name


def test_heldout_tools_never_seen_in_training():
    train_names, train_params, train_desc = set(), set(), set()
    for rec, case in _records(400):
        for t in rec.get("tools", []):
            train_names.add(t["name"])
            train_desc.add(t.get("description", ""))
            train_params |= set(t["parameters"].get("properties", {}))
    official = {"get_weather", "track"}
    for split in ("A", "B"):
        cases = skills.make_skill_cases(split, POOL, TEXTS, n=20)
        for c in cases["tool"]:
            made_up = [t for t in c["tools"] if t["name"] not in official]
            assert not {t["name"] for t in made_up} & train_names
            assert not {t["description"] for t in made_up} & train_desc
            for t in made_up:
                assert not set(t["parameters"]["properties"]) & (train_params - {"city_name", "symbol"})


def test_heldout_sentences_and_math_frames_are_unseen():
    """Relations, field names and operator phrases are shared (the task is unseen sentences); the sentence forms,
    question frames and word problems of A and B never occur in training."""
    jp, mp = skills._json_pools(), skills._math_pools()
    for split in ("A", "B"):
        for group, key in ((jp, "triple"), (jp, "forms"), (mp, "frames_zh"), (mp, "frames_en"), (mp, "stories")):
            assert not set(map(str, group[key][split])) & set(map(str, group[key]["train"])), key
        cases = skills.make_skill_cases(split, POOL, TEXTS, n=30)
        frames = [f.replace("{op}", "") for f in mp["frames_zh"]["train"] + mp["frames_en"]["train"]]
        for c in cases["math"]:
            q = c["question"].rstrip("？?。！ 请计算")
            assert not any(q == f for f in frames)


def test_records_are_official_jsonl_and_use_the_chapters_prompts():
    from ch04_langchain.prompts import KG_SYSTEM
    from ch05_chains.prompts import MATH_PROMPT
    from common.sft import validate_record

    seen = set()
    for rec, case in _records(200):
        validate_record(rec)
        user = next(m for m in rec["conversations"] if m["role"] == "user")["content"]
        if case["kind"] == "qa":
            assert user.startswith("资料：\n[1]") and "方括号标出编号" in user
            seen.add("qa")
        elif case["kind"] == "triples":
            assert rec["conversations"][0]["content"] == KG_SYSTEM and "知识三元组" in user
            seen.add("triples")
        elif case["kind"] == "fields":
            assert user.startswith("从下面的句子中抽取") and ("```json" in user or "JSON" in user)
            seen.add("fields")
        elif case["kind"] == "math":
            assert user.startswith(MATH_PROMPT.split("\n")[0]) or "numexpr" in user
            assert rec["conversations"][-1]["content"].startswith("```text\n")
            seen.add("math")
    assert seen == {"qa", "triples", "fields", "math"}


def test_client_serialisations_keep_the_tool():
    rng = random.Random(0)
    pools = skills._tool_pools()
    tool = skills.make_tool(rng, pools["topics"]["train"][0], pools["params"]["train"], english=False)
    texts = set()
    for style in ("official", "openai", "langchain", "shuffled"):
        s = skills.serialise(rng, tool, style)
        assert s["name"] == tool["name"] and s["description"] == tool["description"]
        assert set(s["parameters"]["properties"]) == set(tool["parameters"]["properties"])
        assert s["parameters"]["required"] == tool["parameters"]["required"]
        texts.add(json.dumps(s, indent=4, ensure_ascii=False))
    assert len(texts) >= 3                                   # the JSON text really differs between clients


def test_client_forms_of_the_official_tools():
    from evaluate_demo_model import client_forms

    forms = client_forms()
    for name, tools in forms.items():
        assert [t["name"] for t in tools] == ["get_weather", "track"], name
    sdk = forms["openai_sdk"][0]["parameters"]["properties"]["city_name"]
    assert list(sdk) == ["type", "description"]              # not the official key order
    lc = forms["langchain_bind_tools"][0]["parameters"]
    assert list(lc)[0] == "properties" and lc["properties"]["city_name"]["description"]


def test_scorer_counts_right_and_wrong_replies():
    """``skill_results`` with an oracle that replies the trained answer scores 100 %; a wrong one 0 %."""
    from evaluate_demo_model import skill_results

    cases = skills.make_skill_cases("A", POOL, TEXTS, n=6)
    cases["official_questions"] = []
    by_prompt = {}
    for c in cases["tool"]:
        by_prompt[c["query"]] = ({"name": c["name"], "parameters": c["parameters"]} if c["name"] else "没有工具")
        if c.get("observation"):
            by_prompt[c["observation"]] = "结果：" + "，".join(c["must_mention"])
    for k in ("qa", "json", "math"):
        for c in cases[k]:
            by_prompt[c["prompt"]] = c["reply"]

    rates, failures = skill_results(lambda q, h, role="user": by_prompt[q], cases, {})
    for key in ("tool_exact", "qa_answer", "json_valid", "json_exact", "math_correct"):
        assert rates[key] == 1.0, (key, failures[:3])
    bad, _ = skill_results(lambda q, h, role="user": "？", cases, {})
    assert bad["tool_exact"] == 0 and bad["json_valid"] == 0 and bad["math_correct"] == 0 and bad["qa_answer"] == 0


def test_committed_model_was_trained_on_the_current_chapter_prompts():
    """A chapter that edits a prompt the demo model was trained on must rebuild the model (or restore the text)."""
    stored = json.loads((DEMO_MODEL_DIR / skills.PROMPTS_FILE).read_text(encoding="utf-8"))
    assert stored == skills.prompt_fingerprints(), (
        "a chapter prompt changed since the demo model was built: run python data/demo_model/build.py")


def test_short_records_of_the_length_curriculum_are_short_and_the_same_kind():
    """``short=True`` (the first part of the length curriculum): official records with 1-2 declared tools or 1-2
    passages, shorter than the default ones."""
    from common.sft import validate_record

    short = skills.make_skill_records(300, 5, POOL, TEXTS, short=True)
    n_qa = n_tool = 0
    for rec in short:
        validate_record(rec)
        user = next(m for m in rec["conversations"] if m["role"] == "user")["content"]
        if user.startswith("资料：\n[1]"):
            n_qa += 1
            assert "[3]" not in user.split("问题")[0]
        if rec.get("tools") and not any(t.get("name") in ("get_weather", "track") for t in rec["tools"]):
            n_tool += 1
            assert 1 <= len(rec["tools"]) <= 2
    assert n_qa > 30 and n_tool > 30
    full = skills.make_skill_records(300, 5, POOL, TEXTS)
    assert sum(len(json.dumps(r, ensure_ascii=False)) for r in short) < 0.8 * sum(
        len(json.dumps(r, ensure_ascii=False)) for r in full)
