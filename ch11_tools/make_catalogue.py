"""11.3.1 背景和参考资料设定 — write the beauty assistant's reference data (product catalogue + ingredient rules).

    python ch11_tools/make_catalogue.py                  # rewrites data/ch11/products.json and ingredient_rules.json
    python ch11_tools/make_catalogue.py --out-dir outputs/ch11/catalogue   # somewhere else (tests compare bytes)

The brands are **made up** and prices are invented, so nothing here is advice about a real product. The
ingredient rules are the common, conservative guidance of skincare references (which actives should not be
layered in one routine, which suit which skin type, fragrance and drying alcohol as flags for sensitive skin);
each rule carries its reason, and the tools quote it. Same seed -> byte-identical files.
"""
from __future__ import annotations

import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import UserError, arg, run
from common.paths import DATA_DIR

SKIN_TYPES = ["油性", "干性", "混合性", "中性", "敏感性"]
CATEGORIES = ["卸妆", "洁面", "化妆水", "精华", "乳液", "面霜", "眼霜", "防晒", "面膜"]
CONCERNS = ["控油", "祛痘", "保湿", "修护", "美白", "抗老", "舒缓", "防晒", "清洁"]
BRANDS = ["澄光", "森屿", "木槿集", "素言", "沁研", "白芷堂", "蔚蓝湾", "初禾", "霁月", "青黛", "暖阳社", "若溪"]

# 成分：标准名 -> 英文 / 类别说明
INGREDIENTS = {
    "水杨酸": {"en": "salicylic acid (BHA)", "kind": "酸类去角质", "active": True},
    "果酸": {"en": "glycolic / lactic acid (AHA)", "kind": "酸类去角质", "active": True},
    "壬二酸": {"en": "azelaic acid", "kind": "祛痘淡印", "active": True},
    "视黄醇": {"en": "retinol (vitamin A)", "kind": "抗老", "active": True},
    "维生素C": {"en": "L-ascorbic acid (vitamin C)", "kind": "抗氧化美白", "active": True},
    "过氧化苯甲酰": {"en": "benzoyl peroxide", "kind": "祛痘", "active": True},
    "烟酰胺": {"en": "niacinamide", "kind": "控油提亮", "active": True},
    "熊果苷": {"en": "arbutin", "kind": "美白", "active": True},
    "胜肽": {"en": "peptides", "kind": "抗老", "active": False},
    "玻尿酸": {"en": "hyaluronic acid", "kind": "保湿", "active": False},
    "神经酰胺": {"en": "ceramides", "kind": "屏障修护", "active": False},
    "角鲨烷": {"en": "squalane", "kind": "润肤", "active": False},
    "积雪草": {"en": "centella asiatica", "kind": "舒缓", "active": False},
    "泛醇": {"en": "panthenol (pro-vitamin B5)", "kind": "舒缓修护", "active": False},
    "乳木果油": {"en": "shea butter", "kind": "封闭润肤", "active": False},
    "咖啡因": {"en": "caffeine", "kind": "眼周消肿", "active": False},
    "氨基酸表活": {"en": "amino-acid surfactants", "kind": "温和清洁", "active": False},
    "皂基": {"en": "soap base (fatty-acid salts)", "kind": "强力清洁", "active": False},
    "高岭土": {"en": "kaolin clay", "kind": "吸油清洁", "active": False},
    "氧化锌": {"en": "zinc oxide", "kind": "物理防晒", "active": False},
    "化学防晒剂": {"en": "organic UV filters", "kind": "化学防晒", "active": False},
    "茶树精油": {"en": "tea tree oil", "kind": "精油", "active": False},
    "香精": {"en": "fragrance (parfum)", "kind": "香精", "active": False},
    "酒精": {"en": "alcohol denat.", "kind": "挥发性醇", "active": False},
}

CONFLICTS = [  # (a, b, severity, reason, advice)
    ("视黄醇", "果酸", "high", "两者都刺激角质层，叠加容易泛红脱皮、屏障受损", "分开晚上隔天使用"),
    ("视黄醇", "水杨酸", "high", "叠加去角质与A醇，刺激明显加重", "分开晚上隔天使用"),
    ("视黄醇", "过氧化苯甲酰", "high", "过氧化苯甲酰会氧化视黄醇，使其失效并加重干燥", "早晚分开或隔天使用"),
    ("果酸", "水杨酸", "medium", "两种酸叠加，过度去角质", "一次只用一种酸"),
    ("维生素C", "过氧化苯甲酰", "medium", "过氧化苯甲酰会氧化维生素C", "维C早上用，过氧化苯甲酰晚上用"),
    ("维生素C", "果酸", "medium", "都是低pH活性成分，叠加刺激", "维C早上，果酸晚上"),
    ("维生素C", "水杨酸", "medium", "低pH成分叠加，刺激风险增加", "维C早上，水杨酸晚上"),
    ("视黄醇", "维生素C", "low", "同时用刺激稍增，且各自最佳pH不同", "维C早上、视黄醇晚上"),
    ("烟酰胺", "维生素C", "low", "老说法称会失效；现代配方一般可同用，少数人会泛红", "敏感时早晚分开"),
]

SKIN_RULES = {  # 肤质 -> 适合 / 避免（带原因）
    "油性": {"good": ["水杨酸", "烟酰胺", "高岭土", "壬二酸", "玻尿酸"],
             "avoid": {"乳木果油": "质地厚重，易闷痘"}},
    "干性": {"good": ["玻尿酸", "神经酰胺", "角鲨烷", "乳木果油", "泛醇"],
             "avoid": {"皂基": "清洁力强，带走皮脂加重干燥", "酒精": "挥发带走水分", "高岭土": "吸油，加重干燥"}},
    "混合性": {"good": ["烟酰胺", "玻尿酸", "水杨酸", "神经酰胺"],
               "avoid": {"皂基": "两颊易干燥紧绷"}},
    "中性": {"good": ["玻尿酸", "维生素C", "胜肽", "烟酰胺"], "avoid": {}},
    "敏感性": {"good": ["积雪草", "泛醇", "神经酰胺", "玻尿酸", "氧化锌"],
               "avoid": {"香精": "常见致敏原", "酒精": "刺激、破坏屏障", "果酸": "刺激", "视黄醇": "刺激，需建立耐受",
                         "皂基": "清洁过度", "茶树精油": "精油可能致敏", "过氧化苯甲酰": "刺激干燥",
                         "水杨酸": "刺激"}},
}
FLAGS = {"香精": "fragrance", "茶树精油": "fragrance", "酒精": "alcohol"}

# 配方模板：品类 -> [(产品描述, 关键成分, 功效, 适合肤质, 价格区间, 规格)]
ALL = SKIN_TYPES
NON_SENS = ["油性", "干性", "混合性", "中性"]
FORMULAS = {
    "卸妆": [("温和卸妆油", ["角鲨烷"], ["清洁"], ["干性", "中性", "混合性", "敏感性"], (59, 169), "150ml"),
             ("清爽卸妆水", ["泛醇"], ["清洁", "舒缓"], ALL, (39, 119), "400ml"),
             ("净澈卸妆膏", ["角鲨烷", "乳木果油"], ["清洁"], ["干性", "中性"], (69, 189), "100g")],
    "洁面": [("氨基酸温和洁面", ["氨基酸表活", "泛醇"], ["清洁", "保湿"], ALL, (39, 139), "120g"),
             ("水杨酸控油洁面", ["水杨酸", "氨基酸表活"], ["控油", "祛痘", "清洁"], ["油性", "混合性"], (49, 129), "100g"),
             ("深层净化皂基洁面", ["皂基", "高岭土"], ["清洁", "控油"], ["油性"], (29, 89), "120g"),
             ("积雪草舒缓洁面", ["积雪草", "氨基酸表活"], ["舒缓", "清洁"], ["敏感性", "干性", "中性"], (59, 159), "100ml"),
             ("神经酰胺保湿洁面乳", ["神经酰胺", "氨基酸表活"], ["保湿", "修护"], ["干性", "敏感性", "中性"], (69, 149), "150ml")],
    "化妆水": [("玻尿酸补水爽肤水", ["玻尿酸", "泛醇"], ["保湿"], ALL, (49, 199), "200ml"),
               ("果酸焕肤水", ["果酸"], ["美白", "祛痘"], ["油性", "混合性", "中性"], (79, 229), "150ml"),
               ("积雪草舒缓化妆水", ["积雪草", "泛醇"], ["舒缓", "修护"], ALL, (59, 179), "200ml"),
               ("烟酰胺控油收敛水", ["烟酰胺", "酒精"], ["控油"], ["油性", "混合性"], (49, 139), "200ml")],
    "精华": [("维C亮肤精华", ["维生素C"], ["美白", "抗老"], NON_SENS, (129, 459), "30ml"),
             ("视黄醇抗老精华", ["视黄醇", "角鲨烷"], ["抗老"], ["油性", "干性", "混合性", "中性"], (159, 599), "30ml"),
             ("烟酰胺提亮精华", ["烟酰胺", "玻尿酸"], ["美白", "控油"], ["油性", "混合性", "中性", "干性"], (89, 329), "30ml"),
             ("水杨酸净痘精华", ["水杨酸", "烟酰胺"], ["祛痘", "控油"], ["油性", "混合性"], (99, 259), "30ml"),
             ("积雪草修护精华", ["积雪草", "泛醇", "神经酰胺"], ["修护", "舒缓"], ALL, (119, 369), "30ml"),
             ("熊果苷淡斑精华", ["熊果苷", "烟酰胺"], ["美白"], NON_SENS, (139, 399), "30ml"),
             ("胜肽紧致精华", ["胜肽", "玻尿酸"], ["抗老", "保湿"], ALL, (199, 699), "30ml"),
             ("壬二酸祛痘精华", ["壬二酸"], ["祛痘", "美白"], ["油性", "混合性", "中性"], (109, 289), "30ml")],
    "乳液": [("清透保湿乳", ["玻尿酸", "烟酰胺"], ["保湿", "控油"], ["油性", "混合性", "中性"], (69, 219), "120ml"),
             ("修护舒缓乳", ["神经酰胺", "积雪草"], ["修护", "舒缓"], ALL, (89, 259), "100ml"),
             ("角鲨烷滋润乳", ["角鲨烷", "玻尿酸"], ["保湿"], ["干性", "中性", "混合性"], (79, 239), "120ml")],
    "面霜": [("神经酰胺修护霜", ["神经酰胺", "角鲨烷", "泛醇"], ["修护", "保湿"], ALL, (99, 399), "50g"),
             ("乳木果滋养霜", ["乳木果油", "角鲨烷"], ["保湿"], ["干性", "中性"], (89, 329), "50g"),
             ("清爽控油凝霜", ["烟酰胺", "玻尿酸"], ["控油", "保湿"], ["油性", "混合性"], (79, 259), "50g"),
             ("胜肽抗老面霜", ["胜肽", "视黄醇"], ["抗老"], ["干性", "中性", "混合性"], (199, 799), "50g")],
    "眼霜": [("咖啡因眼霜", ["咖啡因", "玻尿酸"], ["保湿"], ALL, (99, 299), "15g"),
             ("视黄醇抗皱眼霜", ["视黄醇", "胜肽"], ["抗老"], NON_SENS, (159, 499), "15g")],
    "防晒": [("物理防晒乳 SPF50", ["氧化锌"], ["防晒"], ALL, (89, 259), "50ml"),
             ("清爽化学防晒 SPF50+", ["化学防晒剂", "酒精"], ["防晒", "控油"], ["油性", "混合性", "中性"], (69, 229), "50ml"),
             ("保湿防晒霜 SPF30", ["化学防晒剂", "玻尿酸"], ["防晒", "保湿"], ["干性", "中性", "混合性"], (79, 239), "40ml")],
    "面膜": [("高岭土清洁泥膜", ["高岭土", "水杨酸"], ["清洁", "控油"], ["油性", "混合性"], (59, 189), "100g"),
             ("玻尿酸补水面膜", ["玻尿酸", "泛醇"], ["保湿"], ALL, (49, 159), "5片"),
             ("积雪草舒缓面膜", ["积雪草"], ["舒缓", "修护"], ALL, (59, 169), "5片"),
             ("茶树净痘面膜", ["茶树精油", "水杨酸"], ["祛痘"], ["油性", "混合性"], (39, 129), "5片")],
}


@dataclass
class Config:
    out_dir: str = arg("", "where to write the two JSON files (default: data/ch11 of the repository)")
    seed: int = arg(11, "random seed (brands, prices, fragrance/alcohol)")
    brands_per_formula: int = arg(4, "products per formula template (each from another brand)")


def build_catalogue(seed: int = 11, brands_per_formula: int = 4) -> list[dict]:
    """The product list, deterministic in ``seed``."""
    rng = random.Random(seed)
    products = []
    for category in CATEGORIES:
        for descriptor, key_ingredients, concerns, skin_types, (lo, hi), volume in FORMULAS[category]:
            for brand in rng.sample(BRANDS, brands_per_formula):
                ingredients = list(key_ingredients)
                if "香精" not in ingredients and rng.random() < 0.25 and "敏感" not in descriptor \
                        and "舒缓" not in descriptor:
                    ingredients.append("香精")
                types = [t for t in skin_types
                         if not any(i in SKIN_RULES[t]["avoid"] for i in ingredients)]
                price = rng.randrange(lo, hi + 1, 10) + 9 if hi - lo >= 20 else lo
                products.append({
                    "id": f"P{len(products) + 1:03d}",
                    "name": f"{brand}{descriptor}",
                    "brand": brand,
                    "category": category,
                    "skin_types": types,
                    "concerns": list(concerns),
                    "key_ingredients": ingredients,
                    "price": float(min(price, hi + 9)),
                    "volume": volume,
                    "fragrance_free": not any(FLAGS.get(i) == "fragrance" for i in ingredients),
                    "alcohol_free": not any(FLAGS.get(i) == "alcohol" for i in ingredients),
                })
    return products


def build_rules() -> dict:
    return {
        "ingredients": INGREDIENTS,
        "conflicts": [{"a": a, "b": b, "severity": s, "reason": r, "advice": adv} for a, b, s, r, adv in CONFLICTS],
        "skin_types": SKIN_RULES,
        "flags": FLAGS,
        "categories": CATEGORIES,
        "concerns": CONCERNS,
        "note": "Made-up brands and prices for a teaching example; rules are conservative general guidance, "
                "not medical advice.",
    }


def write_json(path: Path, data) -> int:
    text = json.dumps(data, ensure_ascii=False, indent=1) + "\n"
    path.write_text(text, encoding="utf-8")
    return len(text.encode("utf-8"))


def main(cfg: Config) -> dict:
    if cfg.brands_per_formula < 1 or cfg.brands_per_formula > len(BRANDS):
        raise UserError(f"--brands-per-formula must be 1..{len(BRANDS)}")
    out = Path(cfg.out_dir) if cfg.out_dir else DATA_DIR / "ch11"
    out.mkdir(parents=True, exist_ok=True)
    products = build_catalogue(cfg.seed, cfg.brands_per_formula)
    sizes = {"products.json": write_json(out / "products.json", products),
             "ingredient_rules.json": write_json(out / "ingredient_rules.json", build_rules())}
    per_cat = {c: sum(p["category"] == c for p in products) for c in CATEGORIES}
    print(f"{len(products)} products ({', '.join(f'{c} {n}' for c, n in per_cat.items())}), "
          f"{len(CONFLICTS)} conflict rules -> {out}")
    for name, size in sizes.items():
        print(f"  {name}: {size / 1024:.1f} KiB")
    return {"out_dir": str(out), "products": len(products), "sizes": sizes, "per_category": per_cat}


if __name__ == "__main__":
    run(main, Config, __doc__)
