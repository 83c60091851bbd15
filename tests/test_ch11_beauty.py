"""Chapter 11.3 — the beauty assistant: bundled data, the four tools, the router, the assistant end to end."""
from __future__ import annotations

import itertools
import json

import pytest

from ch11_tools.beauty import (beauty_registry, build_routine, check_ingredient_conflicts, load_catalogue,
                               product_detail, render_answer, route, search_products)
from common.paths import DATA_DIR
from tests.ch11_fixtures import demo_loaded, one_torch_thread  # noqa: F401 - fixtures


def test_catalogue_is_complete_and_rebuilt_byte_for_byte(tmp_path):
    products, rules = load_catalogue()
    assert len(products) >= 120 and len({p["name"] for p in products}) == len(products)
    for p in products:
        assert {"brand", "category", "skin_types", "key_ingredients", "price", "volume"} <= set(p)
        assert p["category"] in rules["categories"] and p["price"] > 0 and p["skin_types"]
        assert all(i in rules["ingredients"] for i in p["key_ingredients"])
        for t in p["skin_types"]:     # a product is never listed for a skin type whose avoid-list it hits
            assert not set(p["key_ingredients"]) & set(rules["skin_types"][t]["avoid"]), p["name"]
    from ch11_tools.make_catalogue import Config, main
    main(Config(out_dir=str(tmp_path)))
    for name in ("products.json", "ingredient_rules.json"):
        assert (tmp_path / name).read_bytes() == (DATA_DIR / "ch11" / name).read_bytes()


def test_search_products_filters_and_sorts():
    r = search_products(category="洁面", skin_type="油性", max_price=100, limit=20)
    assert r["total"] == len(r["products"]) > 0
    assert all(p["category"] == "洁面" and "油性" in p["skin_types"] and p["price"] <= 100 for p in r["products"])
    assert [p["price"] for p in r["products"]] == sorted(p["price"] for p in r["products"])
    assert search_products(category="精华", ingredient="烟酰胺")["total"] > 0
    assert search_products(max_price=1)["total"] == 0


def test_product_detail_and_suggestions():
    name = load_catalogue()[0][0]["name"]
    assert product_detail(name)["found"] and product_detail(name)["name"] == name
    missing = product_detail("不存在的神奇面霜")
    assert not missing["found"] and len(missing["did_you_mean"]) == 5


def test_ingredient_conflicts_and_flags():
    r = check_ingredient_conflicts(["视黄醇", "果酸"])
    assert r["verdict"] == "不建议同时使用" and r["conflicts"][0]["severity"] == "high"
    products, _ = load_catalogue()
    retinol = next(p["name"] for p in products if "视黄醇" in p["key_ingredients"])
    bha = next(p["name"] for p in products if "水杨酸" in p["key_ingredients"])
    r = check_ingredient_conflicts([retinol, bha, "没有这个"])
    assert r["conflicts"] and r["unknown"] == ["没有这个"]
    scented = next(p["name"] for p in products if not p["fragrance_free"])
    assert any(f["flag"] == "fragrance" for f in check_ingredient_conflicts([scented])["flags"])
    assert check_ingredient_conflicts(["玻尿酸", "神经酰胺"])["verdict"] == "没有发现冲突"


@pytest.mark.parametrize("skin, concerns, budget", [("油性", ["祛痘", "控油"], 400), ("敏感性", ["保湿"], 600),
                                                    ("干性", ["抗老"], 2000), ("中性", [], 120)])
def test_build_routine_respects_budget_skin_type_and_conflicts(skin, concerns, budget):
    products, rules = load_catalogue()
    by_name = {p["name"]: p for p in products}
    r = build_routine(skin, concerns, budget)
    assert r["total_price"] <= budget
    bad = [{x["a"], x["b"]} for x in rules["conflicts"] if x["severity"] in ("high", "medium")]
    for routine in (r["morning"], r["evening"]):
        chosen = [by_name[s["name"]] for s in routine]
        assert all(skin in p["skin_types"] for p in chosen)
        for p, q in itertools.combinations(chosen, 2):
            assert not any({x, y} in bad for x in p["key_ingredients"] for y in q["key_ingredients"])
    assert not any("视黄醇" in s["key_ingredients"] for s in r["morning"])
    assert any(s["step"] == "防晒" for s in r["morning"]) or "am:防晒" in r["skipped_for_budget"]


def test_beauty_tools_schema_and_validation():
    reg = beauty_registry()
    assert reg.names() == ["search_products", "product_detail", "check_ingredient_conflicts", "build_routine"]
    props = reg.get("search_products").parameters["properties"]
    assert "油性" in props["skin_type"]["enum"] and props["max_price"]["type"] == ["number", "null"]
    r = reg.call("search_products", {"skin_type": "油皮"})        # not an allowed value: refused, values listed
    assert r.error == "invalid_arguments" and "油性" in r.content
    assert reg.call("build_routine", {"skin_type": "干性", "budget": "很多"}).error == "invalid_arguments"


@pytest.mark.parametrize("question, tool", [
    ("油皮有什么200元以内的洁面推荐？", "search_products"),
    ("视黄醇和果酸能一起用吗？", "check_ingredient_conflicts"),
    ("敏感肌想保湿，预算600元，帮我搭一套早晚护肤流程", "build_routine"),
    ("介绍一下初禾温和卸妆油", "product_detail"),
    ("你好", None),
])
def test_router_and_rendered_answers_come_from_the_tool_result(question, tool):
    routed = route(question)
    assert (routed[0] if routed else None) == tool
    if routed:
        reg = beauty_registry()
        res = reg.call(*routed)
        assert res.ok, res.content
        answer = render_answer(routed[0], res.value)
        value = res.value
        if tool == "search_products":
            assert all(p["name"] in answer for p in value["products"])
        elif tool == "build_routine":
            assert all(s["name"] in answer for s in value["morning"] + value["evening"])
        elif tool == "check_ingredient_conflicts":
            assert value["verdict"] in answer
        else:
            assert value["name"] in answer and f"{value['price']:g}" in answer


def test_assistant_lets_the_model_choose_tools_when_the_router_is_off():
    from ch11_tools.agent import ScriptedBackend
    from ch11_tools.beauty_assistant import BeautyAssistant

    def model(history, query, role):
        if role == "user":
            return ("search_products", {"category": "防晒", "skin_type": "敏感性", "limit": 1})
        top = json.loads(query)["products"][0]
        return f"推荐{top['name']}，{top['price']:g}元。"

    backend = ScriptedBackend(model)
    result = BeautyAssistant(backend, router=False).run("敏感肌用什么防晒？")
    top = search_products(category="防晒", skin_type="敏感性", limit=1)["products"][0]
    assert result.answer == f"推荐{top['name']}，{top['price']:g}元。"
    assert result.trace[0].name == "search_products" and result.trace[0].ok
    assert backend.seen[0][0][1]["content"].startswith("你是美妆助手")     # the instruction system message


def test_beauty_cli_on_the_demo_model(monkeypatch, demo_loaded):
    import common.cli
    from ch11_tools.beauty_assistant import Config, main
    monkeypatch.setattr(common.cli, "model_from_args", lambda cfg, quiet=False: demo_loaded)
    out = main(Config(question=["你好", "视黄醇和果酸能一起用吗？"]))
    assert out["router"] is True
    hello, conflict = out["results"]
    assert hello["steps"] == 0 and hello["answer"]                       # a tool-free answer from the model
    assert conflict["trace"][0]["name"] == "check_ingredient_conflicts" and "不建议" in conflict["answer"]
