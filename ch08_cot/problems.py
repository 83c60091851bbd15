"""8.2 评测数据 — a seeded generator of Chinese arithmetic word problems with gold answers.

Every problem is built from a template whose answer is computed from the same numbers, so the gold answer is exact
by construction. Problems need one to three steps (the kind where "let's think step by step" helps a real model).

    python ch08_cot/problems.py                    # (re)write data/ch08/problems.jsonl (120 problems, seed 0)
    python ch08_cot/problems.py --n 300 --seed 1 --out my_problems.jsonl
"""
from __future__ import annotations

import json
import random
import sys
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import arg, run
from common.paths import DATA_DIR, write_jsonl

DEFAULT_FILE = DATA_DIR / "ch08" / "problems.jsonl"

NAMES = ["小明", "小红", "小刚", "小丽", "王老师", "李阿姨", "张叔叔", "小华", "小芳", "老陈"]
FRUITS = ["苹果", "梨", "橘子", "桃子", "香蕉"]
ITEMS = [("笔记本", "本"), ("铅笔", "支"), ("面包", "个"), ("牛奶", "盒"), ("气球", "个"), ("书", "本")]


def _shopping(r: random.Random):
    name, (item, unit) = r.choice(NAMES), r.choice(ITEMS)
    price, count = r.randint(2, 15), r.randint(2, 9)
    paid = (price * count // 10 + 1 + r.randint(0, 3)) * 10
    q = f"{name}买了{count}{unit}{item}，每{unit}{price}元，付给售货员{paid}元，应找回多少元？"
    return q, paid - price * count, "元", f"{price}×{count}={price * count}，{paid}-{price * count}={paid - price * count}"


def _share(r: random.Random):
    name, fruit = r.choice(NAMES), r.choice(FRUITS)
    people, each, left = r.randint(3, 9), r.randint(2, 8), r.randint(1, 2)
    bought = r.randint(1, 3) * 10
    total = people * each + left
    have = total - bought if total > bought else total
    if total > bought:
        q = (f"{name}原来有{have}个{fruit}，又买了{bought}个。把这些{fruit}平均分给{people}个小朋友，"
             f"分完后还剩{left}个。每个小朋友分到几个{fruit}？")
        steps = f"{have}+{bought}={total}，{total}-{left}={total - left}，{total - left}÷{people}={each}"
    else:
        q = f"{name}有{total}个{fruit}，平均分给{people}个小朋友，分完后还剩{left}个。每个小朋友分到几个{fruit}？"
        steps = f"{total}-{left}={total - left}，{total - left}÷{people}={each}"
    return q, each, "个", steps


def _age(r: random.Random):
    a, b = r.sample(NAMES, 2)
    age_a, diff, years = r.randint(6, 14), r.randint(20, 30), r.randint(2, 10)
    q = f"今年{a}{age_a}岁，{b}比{a}大{diff}岁。{years}年后，{b}多少岁？"
    return q, age_a + diff + years, "岁", f"{age_a}+{diff}={age_a + diff}，{age_a + diff}+{years}={age_a + diff + years}"


def _speed(r: random.Random):
    name = r.choice(NAMES)
    speed, hours = r.choice([40, 45, 50, 60, 72, 80, 90]), r.randint(2, 6)
    back = r.randint(1, 3)
    q = (f"{name}开车每小时行驶{speed}千米，先开了{hours}小时，又以同样的速度开了{back}小时。"
         f"{name}一共行驶了多少千米？")
    return q, speed * (hours + back), "千米", f"{hours}+{back}={hours + back}，{speed}×{hours + back}={speed * (hours + back)}"


def _pages(r: random.Random):
    name = r.choice(NAMES)
    per_day, days, total_extra = r.randint(8, 30), r.randint(3, 9), r.randint(10, 90)
    total = per_day * days + total_extra
    q = f"一本书有{total}页，{name}每天看{per_day}页，看了{days}天。还剩多少页没有看？"
    return q, total - per_day * days, "页", f"{per_day}×{days}={per_day * days}，{total}-{per_day * days}={total_extra}"


def _discount(r: random.Random):
    item, _ = r.choice(ITEMS)
    price = r.choice([80, 120, 150, 200, 240, 300, 360, 500])
    off = r.choice([7, 8, 9])  # 打八折 = 80%
    count = r.randint(2, 4)
    cost = Fraction(price * off, 10) * count
    q = f"一件商品原价{price}元，现在打{'七八九'[off - 7]}折出售。买{count}件一共要花多少元？"
    value = float(cost) if cost.denominator != 1 else int(cost)
    return q, value, "元", f"{price}×{off / 10:g}={price * off / 10:g}，{price * off / 10:g}×{count}={value}"


def _legs(r: random.Random):
    chickens, rabbits = r.randint(3, 20), r.randint(3, 20)
    q = f"笼子里有{chickens}只鸡和{rabbits}只兔子，一共有多少条腿？"
    return q, chickens * 2 + rabbits * 4, "条", f"{chickens}×2={chickens * 2}，{rabbits}×4={rabbits * 4}，{chickens * 2}+{rabbits * 4}={chickens * 2 + rabbits * 4}"


def _rows(r: random.Random):
    rows, per_row, absent = r.randint(4, 9), r.randint(5, 9), r.randint(1, 6)
    q = f"教室里有{rows}排座位，每排{per_row}个。今天有{absent}个座位空着，来了多少名学生？"
    return q, rows * per_row - absent, "名", f"{rows}×{per_row}={rows * per_row}，{rows * per_row}-{absent}={rows * per_row - absent}"


def _savings(r: random.Random):
    name = r.choice(NAMES)
    start, weekly, weeks, spend = r.randint(10, 60), r.randint(5, 20), r.randint(3, 8), r.randint(5, 30)
    end = start + weekly * weeks - spend
    q = f"{name}存钱罐里原有{start}元，每周再存{weekly}元，存了{weeks}周后取出{spend}元买文具。存钱罐里还有多少元？"
    return q, end, "元", f"{weekly}×{weeks}={weekly * weeks}，{start}+{weekly * weeks}={start + weekly * weeks}，{start + weekly * weeks}-{spend}={end}"


def _english(r: random.Random):
    a, b, c = r.randint(3, 12), r.randint(2, 9), r.randint(1, 5)
    q = f"Tom has {a} boxes with {b} pencils in each box. He gives away {c} pencils. How many pencils does he have left?"
    return q, a * b - c, "", f"{a}×{b}={a * b}，{a * b}-{c}={a * b - c}"


TEMPLATES: dict[str, Callable] = {
    "shopping": _shopping, "share": _share, "age": _age, "speed": _speed, "pages": _pages, "discount": _discount,
    "legs": _legs, "rows": _rows, "savings": _savings, "english": _english,
}


def generate_problems(n: int = 120, seed: int = 0) -> list[dict]:
    """``n`` problems ``{"id", "kind", "question", "answer", "unit", "steps"}`` cycling through the templates."""
    r = random.Random(seed)
    kinds = list(TEMPLATES)
    out, seen = [], set()
    while len(out) < n:
        kind = kinds[len(out) % len(kinds)]
        question, answer, unit, steps = TEMPLATES[kind](r)
        if question in seen:
            continue
        seen.add(question)
        out.append({"id": len(out), "kind": kind, "question": question, "answer": answer, "unit": unit,
                    "steps": steps})
    return out


def load_problems(path: str | Path | None = None, limit: int | None = None) -> list[dict]:
    """Read a problems JSONL (default: the bundled set); each line needs ``question`` and ``answer``."""
    from common.cli import UserError

    path = Path(path or DEFAULT_FILE)
    if not path.is_file():
        raise UserError(f"no problem file at {path}. To fix: python ch08_cot/problems.py --out {path}")
    problems = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            float(item["answer"])
            item["question"] = str(item["question"])
        except (ValueError, KeyError, TypeError) as err:
            raise UserError(f"{path} line {i}: not a problem record ({err}); each line needs "
                            f'{{"question": ..., "answer": <number>}}') from None
        problems.append(item)
    return problems[:limit] if limit else problems


@dataclass
class Config:
    n: int = arg(120, "how many problems")
    seed: int = arg(0, "random seed (the bundled file uses 0)")
    out: str = arg("", "where to write the JSONL (default: the bundled data/ch08/problems.jsonl)")


def main(cfg: Config) -> dict:
    problems = generate_problems(cfg.n, cfg.seed)
    path = write_jsonl(Path(cfg.out) if cfg.out else DEFAULT_FILE, problems)
    kinds = sorted({p["kind"] for p in problems})
    print(f"wrote {len(problems)} problems ({len(kinds)} kinds: {', '.join(kinds)}) to {path}")
    print("e.g.", problems[0]["question"], "->", problems[0]["answer"], problems[0]["unit"])
    return {"path": str(path), "problems": problems}


if __name__ == "__main__":
    run(main, Config, __doc__)
