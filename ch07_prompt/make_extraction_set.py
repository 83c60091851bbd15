"""Build data/ch07/extraction.jsonl: 36 short Chinese sentences with the person, city and year they mention.

The set behind the 7.1.2 parse-rate measurement (``parse_rate.py``): each record is ``{"id", "text", "gold":
{"name", "city", "year"}}``. Sentences are made from 12 templates x 3 fills, seeded, so the file is rebuilt byte for
byte.

    python ch07_prompt/make_extraction_set.py                # writes data/ch07/extraction.jsonl
    python ch07_prompt/make_extraction_set.py --out my_set.jsonl --n 60
"""
from __future__ import annotations

import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import UserError, arg, run
from common.paths import DATA_DIR

NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨帆", "赵磊", "黄婷", "周杰", "吴敏", "徐涛", "孙悦"]
CITIES = ["北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "西安", "南京", "重庆", "苏州", "长沙"]
TEMPLATES = [
    "{name}于{year}年从大学毕业后来到{city}工作。",
    "{year}年，{name}在{city}创办了自己的第一家公司。",
    "据报道，{city}的工程师{name}在{year}年获得了年度创新奖。",
    "{name}出生在{city}，{year}年开始学习编程。",
    "会议记录：{year}年{city}分会由{name}主持。",
    "{city}人{name}在{year}年出版了一本关于大模型的书。",
    "{year}年春天，{name}带队去{city}参加了开发者大会。",
    "我们采访了{name}，她{year}年起一直在{city}做数据分析。",
    "{name}在{year}年把团队从{city}搬到了新的办公室。",
    "请注意：{name}（{city}）的合同于{year}年到期。",
    "{city}马拉松{year}年的冠军是{name}。",
    "{name}说，{year}年在{city}的那次演讲改变了他的职业方向。",
]


@dataclass
class Config:
    out: str | None = arg(None, "where to write the JSON-lines file (default: data/ch07/extraction.jsonl)")
    n: int = arg(36, "how many sentences")
    seed: int = arg(7, "random seed (the committed file uses 7)")


def build(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    records = []
    for i in range(n):
        gold = {"name": rng.choice(NAMES), "city": rng.choice(CITIES), "year": rng.randint(1998, 2024)}
        records.append({"id": i + 1, "text": TEMPLATES[i % len(TEMPLATES)].format(**gold), "gold": gold})
    return records


def main(cfg: Config) -> dict:
    if cfg.n < 1:
        raise UserError(f"--n must be >= 1, got {cfg.n}")
    records = build(cfg.n, cfg.seed)
    out = Path(cfg.out) if cfg.out else DATA_DIR / "ch07" / "extraction.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    print(f"wrote {len(records)} records to {out.name} ({out.stat().st_size} bytes)")
    return {"path": str(out), "records": len(records)}


if __name__ == "__main__":
    run(main, Config, __doc__)
