"""Chapter 11 benchmark: its questions are held out from the demo model's training data; scoring rules; a tiny run."""
from __future__ import annotations

import sys

from ch11_tools.bench_tools import (BEAUTY_CASES, CASES_FILE, STOCK_WORDINGS, WEATHER_WORDINGS, arguments_exact,
                                    consistent, load_cases, make_cases)
from common.paths import REPO_ROOT
from tests.ch11_fixtures import demo_loaded, one_torch_thread  # noqa: F401 - fixtures


def demo_build_modules():
    sys.path.insert(0, str(REPO_ROOT / "data" / "demo_model"))
    import dialogues
    import slots
    return dialogues, slots


def test_cases_file_matches_the_generator_and_has_enough_questions():
    cases = load_cases()
    assert cases == make_cases() and len(cases) >= 60
    assert {c["group"] for c in cases} == {"weather", "stock", "beauty", "no_tool"}
    assert CASES_FILE.stat().st_size < 50_000


def test_wordings_and_values_are_not_in_the_demo_models_training_data():
    dialogues, slots = demo_build_modules()
    trained = set(dialogues.WEATHER_TRAIN) | set(dialogues.STOCK_TRAIN)
    evaluated = set(dialogues.WEATHER_HELDOUT) | set(dialogues.STOCK_HELDOUT)
    affixes = [(p, s) for p in dialogues.PREFIXES for s in dialogues.SUFFIXES_Q]
    for wording in WEATHER_WORDINGS + STOCK_WORDINGS:
        assert wording not in trained and wording not in evaluated, wording
        for p, s in affixes:          # not a training template with a prefix/suffix the build adds
            if wording.startswith(p) and wording.endswith(s) and len(wording) > len(p) + len(s):
                assert wording[len(p):len(wording) - len(s) or None] not in trained, wording
    held = slots.heldout_values()
    eval_cases = dialogues.make_eval_cases()
    eval_values = {v for c in eval_cases["tool"] for v in c["parameters"].values()}
    train_cities, _ = slots.split_cities()
    for case in make_cases():
        if case["group"] in ("weather", "stock"):
            value = next(iter(case["arguments"].values()))
            assert value in held and value not in eval_values and value not in train_cities, value
    faq_questions = {q for item in dialogues.FAQ for q in item[0] + item[1]}
    assert not faq_questions & {c["question"] for c in make_cases()}


def test_scoring_rules():
    from ch11_tools.beauty import beauty_registry
    reg = beauty_registry()
    assert arguments_exact(reg, "search_products", {"category": "洁面", "max_price": 150.0, "limit": 5},
                           {"category": "洁面", "max_price": 150})          # a default and 150.0 == 150
    assert not arguments_exact(reg, "search_products", {"category": "洁面"}, {"category": "洁面", "max_price": 150})
    assert arguments_exact(reg, "check_ingredient_conflicts", {"products": ["B", "A"]}, {"products": ["A", "B"]})
    assert consistent("北京小雨，3℃", "get_weather", {"temperature": "3℃", "weather": "小雨"})
    assert not consistent("北京小雨", "get_weather", {"temperature": "3℃", "weather": "小雨"})
    assert all(tool in {"search_products", "product_detail", "check_ingredient_conflicts", "build_routine"}
               for _, tool, _ in BEAUTY_CASES)


def test_bench_runs_on_a_few_questions(monkeypatch, demo_loaded):
    import common.cli
    from ch11_tools.bench_tools import Config, main
    monkeypatch.setattr(common.cli, "model_from_args", lambda cfg, quiet=False: demo_loaded)
    out = main(Config(limit=1, groups=["weather", "no_tool"], max_new_tokens=48))
    assert set(out["table"]) == {"weather", "no_tool", "all"}
    assert out["table"]["all"]["n"] == 2 and all(r["seconds"] > 0 for r in out["rows"])
