"""11.3 美妆助手的工具 — catalogue, ingredient rules, the four tools, a keyword router and answer renderer.

The tools read the bundled reference data (``data/ch11/products.json``, ``ingredient_rules.json``, written by
``make_catalogue.py``), so every answer can be traced to a tool result instead of the model's memory:

* ``search_products(category, skin_type, max_price, concern, ingredient, limit)`` — filter the catalogue;
* ``product_detail(name)`` — one product (exact name, or the closest names when it is not found);
* ``check_ingredient_conflicts(products)`` — actives that should not be layered, and fragrance/alcohol flags;
* ``build_routine(skin_type, concerns, budget)`` — a morning/evening routine within a budget, without conflicts.

``beauty_registry()`` registers them on a :class:`~ch11_tools.registry.ToolRegistry` from plain type hints
(``Literal`` gives the model the allowed values; anything else is refused before the call).

The built-in demo model was never trained on these tools. :func:`route` is a transparent keyword router that maps a
question to one tool call, and :func:`render_answer` writes the answer from the tool result; the assistant uses
them on the demo model (``--router auto``) so the tools still run end to end. With real weights the model decides.
"""
from __future__ import annotations

import functools
import itertools
import json
import re
import sys
from pathlib import Path
from typing import Literal

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.paths import DATA_DIR

DATA = DATA_DIR / "ch11"
SkinType = Literal["油性", "干性", "混合性", "中性", "敏感性"]
Category = Literal["卸妆", "洁面", "化妆水", "精华", "乳液", "面霜", "眼霜", "防晒", "面膜"]
Concern = Literal["控油", "祛痘", "保湿", "修护", "美白", "抗老", "舒缓", "防晒", "清洁"]

BEAUTY_SYSTEM = ("你是美妆助手。回答产品、成分和护肤流程的问题时，先调用工具查询本店的产品目录和成分规则，"
                 "只根据工具返回的结果回答，不要凭记忆编造产品、价格或成分。")


@functools.lru_cache(maxsize=4)
def load_catalogue(folder: str | None = None) -> tuple[list[dict], dict]:
    """``(products, rules)`` from ``data/ch11`` (or ``folder``)."""
    base = Path(folder) if folder else DATA
    products = json.loads((base / "products.json").read_text(encoding="utf-8"))
    rules = json.loads((base / "ingredient_rules.json").read_text(encoding="utf-8"))
    return products, rules


def _summary(p: dict) -> dict:
    return {"name": p["name"], "brand": p["brand"], "category": p["category"], "price": p["price"],
            "volume": p["volume"], "key_ingredients": p["key_ingredients"], "skin_types": p["skin_types"]}


def find_product(name: str) -> dict | None:
    """Exact name, else the only product whose name contains ``name`` (or is contained in it)."""
    products, _ = load_catalogue()
    name = name.strip()
    for p in products:
        if p["name"] == name:
            return p
    hits = [p for p in products if name and (name in p["name"] or p["name"] in name)]
    return hits[0] if len(hits) == 1 else None


def _similar(name: str, k: int = 5) -> list[str]:
    products, _ = load_catalogue()
    chars = set(name)
    scored = sorted(products, key=lambda p: (-len(chars & set(p["name"])), p["name"]))
    return [p["name"] for p in scored[:k]]


# ============================================================================================== the four tools
def search_products(category: Category | None = None, skin_type: SkinType | None = None,
                    max_price: float | None = None, concern: Concern | None = None, ingredient: str | None = None,
                    limit: int = 5) -> dict:
    """Search the product catalogue. Returns the matching products, cheapest first.

    Args:
        category: product category (卸妆 洁面 化妆水 精华 乳液 面霜 眼霜 防晒 面膜)
        skin_type: only products suitable for this skin type
        max_price: highest price in yuan
        concern: what the product should help with (控油 祛痘 保湿 修护 美白 抗老 舒缓 防晒 清洁)
        ingredient: a key ingredient the product must contain, e.g. 烟酰胺
        limit: how many products to return (1-20)
    """
    products, _ = load_catalogue()
    limit = max(1, min(int(limit), 20))
    hits = [p for p in products
            if (category is None or p["category"] == category)
            and (skin_type is None or skin_type in p["skin_types"])
            and (max_price is None or p["price"] <= max_price)
            and (concern is None or concern in p["concerns"])
            and (not ingredient or any(ingredient in i for i in p["key_ingredients"]))]
    hits.sort(key=lambda p: (p["price"], p["id"]))
    query = {k: v for k, v in dict(category=category, skin_type=skin_type, max_price=max_price, concern=concern,
                                   ingredient=ingredient).items() if v is not None}
    return {"query": query, "total": len(hits), "products": [_summary(p) for p in hits[:limit]]}


def product_detail(name: str) -> dict:
    """Everything the catalogue says about one product: brand, category, skin types, key ingredients, price, volume,
    fragrance/alcohol flags.

    Args:
        name: the product name (as search_products returns it)
    """
    p = find_product(name)
    if p is None:
        return {"found": False, "name": name, "did_you_mean": _similar(name)}
    return {"found": True, **p}


def check_ingredient_conflicts(products: list[str]) -> dict:
    """Check whether products (or ingredients) can be used together: conflicting actives, fragrance and alcohol.

    Args:
        products: two or more product names (ingredient names such as 视黄醇 are accepted too)
    """
    _, rules = load_catalogue()
    items, unknown = [], []
    for name in products:
        p = find_product(name)
        if p is not None:
            items.append((p["name"], p["key_ingredients"]))
        elif name in rules["ingredients"]:
            items.append((name, [name]))
        else:
            unknown.append(name)
    conflicts = []
    for (n1, ing1), (n2, ing2) in itertools.combinations(items, 2):
        for rule in rules["conflicts"]:
            pair = {rule["a"], rule["b"]}
            if any({x, y} == pair for x in ing1 for y in ing2):
                conflicts.append({"products": [n1, n2], "ingredients": [rule["a"], rule["b"]],
                                  "severity": rule["severity"], "reason": rule["reason"], "advice": rule["advice"]})
    flags = [{"product": n, "ingredient": i, "flag": rules["flags"][i]}
             for n, ing in items for i in ing if i in rules["flags"]]
    verdict = ("不建议同时使用" if any(c["severity"] == "high" for c in conflicts)
               else "可以同时使用，但注意建议" if conflicts else "没有发现冲突")
    return {"checked": [n for n, _ in items], "unknown": unknown, "conflicts": conflicts, "flags": flags,
            "verdict": verdict}


ROUTINE_STEPS = {"am": ["洁面", "精华", "乳液", "防晒"], "pm": ["卸妆", "洁面", "精华", "面霜"]}
OPTIONAL = {"精华", "乳液", "卸妆"}


def build_routine(skin_type: SkinType, concerns: list[Concern] | None = None, budget: float = 500) -> dict:
    """Build a morning and evening skincare routine from the catalogue for a skin type, concerns and a budget
    (yuan, for all products together). Actives that conflict are never put in the same routine.

    Args:
        skin_type: the user's skin type
        concerns: what to work on, e.g. ["祛痘", "控油"]
        budget: the most the products may cost together, in yuan
    """
    products, rules = load_catalogue()
    concerns = list(concerns or [])
    conflict_pairs = [{r["a"], r["b"]} for r in rules["conflicts"] if r["severity"] in ("high", "medium")]

    def clashes(p: dict, chosen: list[dict]) -> bool:
        return any({x, y} in conflict_pairs for q in chosen for x in p["key_ingredients"] for y in q["key_ingredients"])

    def score(p: dict) -> tuple:
        return (-len(set(concerns) & set(p["concerns"])), p["price"], p["id"])

    picked: dict[str, list[dict]] = {"am": [], "pm": []}
    bought: dict[str, dict] = {}                 # category -> product (one cleanser serves both routines)
    steps = [(when, cat) for when in ("am", "pm") for cat in ROUTINE_STEPS[when]]
    required_left = lambda i: sum(  # noqa: E731 - the cheapest price of the required steps still to fill
        min((p["price"] for p in products if p["category"] == c and skin_type in p["skin_types"]), default=0)
        for w, c in steps[i + 1:] if c not in OPTIONAL and c not in bought)
    spent, skipped = 0.0, []
    for i, (when, cat) in enumerate(steps):
        if cat in bought and cat != "精华":
            picked[when].append(bought[cat])
            continue
        cands = sorted((p for p in products if p["category"] == cat and skin_type in p["skin_types"]
                        and not clashes(p, picked[when])
                        and not (cat == "精华" and when == "am" and "视黄醇" in p["key_ingredients"])), key=score)
        room = budget - spent - required_left(i)
        choice = next((p for p in cands if p["price"] <= room and p not in bought.values()), None)
        if choice is None:
            choice = next((p for p in cands if p["price"] <= room), None)
        if choice is None:
            skipped.append(f"{when}:{cat}")
            continue
        picked[when].append(choice)
        if choice["id"] not in {b["id"] for b in bought.values()}:
            spent += choice["price"]
        bought.setdefault(cat if cat != "精华" else f"精华-{when}", choice)
    fmt = lambda ps: [{"step": p["category"], "name": p["name"], "price": p["price"],  # noqa: E731
                       "key_ingredients": p["key_ingredients"]} for p in ps]
    return {"skin_type": skin_type, "concerns": concerns, "budget": budget, "total_price": round(spent, 2),
            "morning": fmt(picked["am"]), "evening": fmt(picked["pm"]), "skipped_for_budget": skipped,
            "avoid_for_skin_type": rules["skin_types"][skin_type]["avoid"]}


BEAUTY_TOOLS = (search_products, product_detail, check_ingredient_conflicts, build_routine)


def beauty_registry(timeout: float | None = 10.0, with_demo_tools: bool = False):
    """A :class:`ToolRegistry` with the four beauty tools (schemas read from the type hints and docstrings)."""
    from ch11_tools.registry import ToolRegistry, demo_registry

    reg = demo_registry(timeout) if with_demo_tools else ToolRegistry(timeout=timeout)
    for fn in BEAUTY_TOOLS:
        reg.register(fn)
    return reg


# ============================================================================================== router + renderer
SKIN_WORDS = {"油性": ["油性", "油皮", "大油田", "oily"], "干性": ["干性", "干皮", "dry"],
              "混合性": ["混合性", "混油", "混干", "混合皮", "混合肌", "combination"],
              "中性": ["中性", "中性皮", "normal"], "敏感性": ["敏感", "敏感肌", "sensitive"]}
CATEGORY_WORDS = {"卸妆": ["卸妆"], "洁面": ["洁面", "洗面奶", "洗脸", "cleanser"], "化妆水": ["化妆水", "爽肤水", "toner"],
                  "精华": ["精华", "serum"], "乳液": ["乳液", "lotion"], "面霜": ["面霜", "cream"],
                  "眼霜": ["眼霜"], "防晒": ["防晒", "sunscreen", "spf"], "面膜": ["面膜", "泥膜", "mask"]}
CONCERN_WORDS = {"控油": ["控油", "出油"], "祛痘": ["祛痘", "痘", "acne"], "保湿": ["保湿", "补水", "干燥"],
                 "修护": ["修护", "屏障"], "美白": ["美白", "提亮", "淡斑", "暗沉"], "抗老": ["抗老", "抗皱", "细纹", "紧致"],
                 "舒缓": ["舒缓", "泛红", "镇静"], "清洁": ["清洁", "黑头"]}


def _first(words: dict[str, list[str]], text: str) -> str | None:
    low = text.lower()
    best = None
    for key, ws in words.items():
        for w in ws:
            pos = low.find(w.lower())
            if pos >= 0 and (best is None or pos < best[0]):
                best = (pos, key)
    return best[1] if best else None


def _all(words: dict[str, list[str]], text: str) -> list[str]:
    low = text.lower()
    return [k for k, ws in words.items() if any(w.lower() in low for w in ws)]


def _price(text: str) -> float | None:
    m = re.search(r"(\d+(?:\.\d+)?)\s*(?:元|块|rmb|yuan)?\s*(?:以内|以下|之内|内|左右)", text, re.I) \
        or re.search(r"(?:预算|不超过|低于|under|below|budget)\s*(\d+(?:\.\d+)?)", text, re.I)
    return float(m.group(1)) if m else None


def mentioned_products(text: str) -> list[str]:
    products, rules = load_catalogue()
    names = [p["name"] for p in products if p["name"] in text]
    names += [i for i in rules["ingredients"] if i in text and not any(i in n for n in names)]
    return names


def route(question: str) -> tuple[str, dict] | None:
    """One tool call for a beauty question by keywords, or ``None`` (a tool-free question: the model answers).

    A stand-in for the model's own decision on the demo model, written to be read: every rule is one line."""
    q = question.strip()
    skin, cat, price = _first(SKIN_WORDS, q), _first(CATEGORY_WORDS, q), _price(q)
    named = mentioned_products(q)
    if len(named) >= 2 or (named and re.search(r"冲突|一起用|同时用|叠加|搭配|conflict", q)):
        return "check_ingredient_conflicts", {"products": named}
    if re.search(r"流程|步骤|routine|方案|早晚|怎么护肤|护肤搭配", q, re.I) and skin:
        args: dict = {"skin_type": skin, "concerns": _all(CONCERN_WORDS, q)}
        if price is not None:
            args["budget"] = price
        return "build_routine", args
    if len(named) == 1 and find_product(named[0]) is not None:
        return "product_detail", {"name": named[0]}
    if cat or skin or price is not None or re.search(r"推荐|有没有|找|search|recommend", q, re.I):
        if not (cat or skin or price is not None or _first(CONCERN_WORDS, q)):
            return None
        args = {k: v for k, v in dict(category=cat, skin_type=skin, max_price=price,
                                      concern=_first(CONCERN_WORDS, q)).items() if v is not None}
        return "search_products", args
    return None


def render_answer(name: str, value: dict | None, error: str | None = None) -> str:
    """A plain answer written from one tool result (what the demo-model assistant says; real weights write their
    own). Everything in it comes from ``value``."""
    if error or value is None:
        return f"工具 {name} 出错：{error}"
    if name == "search_products":
        if not value["total"]:
            return f"目录里没有符合条件（{value['query']}）的产品。"
        lines = [f"找到 {value['total']} 款符合条件的产品，最便宜的 {len(value['products'])} 款："]
        lines += [f"- {p['name']}（{p['category']}，{p['price']:g} 元 / {p['volume']}，"
                  f"关键成分：{'、'.join(p['key_ingredients'])}）" for p in value["products"]]
        return "\n".join(lines)
    if name == "product_detail":
        if not value.get("found"):
            return f"目录里没有「{value['name']}」。你是不是想找：{'、'.join(value['did_you_mean'])}？"
        flags = [w for w, ok in (("含香精", not value["fragrance_free"]), ("含酒精", not value["alcohol_free"])) if ok]
        return (f"{value['name']}：{value['brand']}的{value['category']}，{value['price']:g} 元 / {value['volume']}；"
                f"关键成分 {'、'.join(value['key_ingredients'])}；适合 {'、'.join(value['skin_types']) or '（无）'}肌肤"
                f"{'；' + '、'.join(flags) if flags else '；无香精、无酒精'}。")
    if name == "check_ingredient_conflicts":
        lines = [f"结论：{value['verdict']}。"]
        lines += [f"- {c['products'][0]} + {c['products'][1]}：{c['ingredients'][0]}与{c['ingredients'][1]}"
                  f"（{c['severity']}）{c['reason']}；建议{c['advice']}。" for c in value["conflicts"]]
        lines += [f"- 提示：{f['product']} 含{f['ingredient']}（{f['flag']}），敏感肌注意。" for f in value["flags"]]
        if value["unknown"]:
            lines.append(f"- 目录里找不到：{'、'.join(value['unknown'])}")
        return "\n".join(lines)
    if name == "build_routine":
        am = " → ".join(f"{s['step']}：{s['name']}" for s in value["morning"]) or "（预算不足）"
        pm = " → ".join(f"{s['step']}：{s['name']}" for s in value["evening"]) or "（预算不足）"
        text = f"{value['skin_type']}肌肤的护肤流程（合计 {value['total_price']:g} 元，预算 {value['budget']:g} 元）：\n" \
               f"早上：{am}\n晚上：{pm}"
        if value["skipped_for_budget"]:
            text += f"\n预算不够而省略的步骤：{'、'.join(value['skipped_for_budget'])}"
        return text
    return json.dumps(value, ensure_ascii=False)
