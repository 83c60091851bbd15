"""6.1.1 数据集的准备 — generate the noisy company-mention test set (data/ch06/mentions.jsonl) from the candidates.

Each line is ``{"id", "mention", "kind", "gold_code", "gold_name"}``; ``gold_code`` is "" for a mention of a company
that is *not* in the list (the right answer is "no match"). Kinds: short name, core of the full name, partial full
name, code, code with exchange suffix, typo, traditional characters, extra words, two-character nickname
(「海翔那家药企」), code + name, and "none". Same seed, same file, byte for byte.

    python ch06_rag/make_mentions.py                      # writes data/ch06/mentions.jsonl (seed 6)
    python ch06_rag/make_mentions.py --n 100 --out my_mentions.jsonl
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

# 同音/形近字（手写小表），用来造"打错字"的称呼
TYPOS = dict(zip("药业科技电气股份集团银行证券能源环保材料医生物信息通讯控智华海天中国新建安", "要叶可计店器古分及团因航正卷能原还宝才科衣声务心西同迅空志化嗨添钟果心见按"))
EXTRA_TEMPLATES = ["{x}的年报", "{x}股票", "我想查一下{x}", "{x}这家公司", "关于{x}的情况", "{x}（A股）", "{x}公司",
                   "请问{x}", "{x}那只股票", "{x}的财务数据", "看看{x}", "{x}最近怎么样"]
NICK_TEMPLATES = ["{x}那家{kind}", "{x}那个{kind}", "叫{x}什么的{kind}", "{x}{kind}"]
CODE_TEMPLATES = ["{code}.{ex}", "{ex}{code}", "{code}.{exl}", "{exl}{code}", "{code}（{ex}）", "股票代码{code}",
                  "{fw}", "{fw}.{ex}"]
# 不在候选名单里的公司（港股/美股/未上市）和编造的名字：正确答案是"无匹配"
NOT_LISTED = ["腾讯控股", "阿里巴巴集团", "小米集团", "华为技术有限公司", "美团点评", "拼多多", "网易公司", "百度公司",
              "字节跳动", "蔚来汽车", "理想汽车", "快手科技", "哔哩哔哩", "携程集团", "微博公司", "蚂蚁集团", "大疆创新",
              "顺丰速运有限公司", "贝壳找房", "小鹏汽车"]
MADE_UP_HEADS = ["星河", "云帆", "青禾", "银杉", "墨羽", "朗月", "赤霄", "沐风", "澄湖", "雁栖", "晨曦", "北辰", "翠微", "丹枫"]
MADE_UP_TAILS = ["量子科技", "智造", "生物医药", "新材料", "数字传媒", "物流", "农业科技", "文旅集团"]


def industry_word(name: str) -> str:
    for key, word in (("银行", "银行"), ("证券", "券商"), ("保险", "保险公司"), ("药", "药企"), ("医", "医药公司"),
                      ("科技", "科技公司"), ("电子", "电子公司"), ("汽车", "车企"), ("地产", "房企"), ("置业", "房企"),
                      ("能源", "能源公司"), ("电力", "电力公司"), ("化工", "化工企业"), ("食品", "食品公司"),
                      ("酒", "酒企"), ("钢", "钢企")):
        if key in name:
            return word
    return "公司"


@dataclass
class Config:
    n: int = arg(600, "number of mentions of listed companies (plus n/10 of companies not in the list)")
    seed: int = arg(6, "random seed (same seed -> byte-identical file)")
    companies: str | None = arg(None, "candidate list CSV (default data/finreports/companies.csv)")
    out: str | None = arg(None, "output JSONL (default data/ch06/mentions.jsonl)")


def make_mentions(companies, n: int, seed: int) -> list[dict]:
    from ch06_rag.company_lookup import core_name, exchange_suffix, to_traditional

    rng = random.Random(seed)
    a_shares = [c for c in companies if c.short_name[-1] != "B"]
    names = [(c.short_name, c.full_name) for c in companies]
    short_names = {c.short_name for c in companies}

    def typo(word: str) -> str | None:
        spots = [i for i, ch in enumerate(word) if ch in TYPOS and i > 0]
        if spots:
            i = rng.choice(spots)
            out = word[:i] + TYPOS[word[i]] + word[i + 1:]
        elif len(word) >= 4:
            i = rng.randrange(1, len(word) - 1)
            out = word[:i] + word[i + 1] + word[i] + word[i + 2:]       # 两字颠倒
        else:
            return None
        return out if out not in short_names and out != word else None

    kinds = ["short", "core_name", "partial_full", "code", "code_suffix", "typo", "traditional", "extra_words",
             "nickname", "code_and_name"]
    records: list[dict] = []
    picked = rng.sample(a_shares, n)
    for i, c in enumerate(picked):
        kind = kinds[i % len(kinds)]
        core = core_name(c.full_name)
        ex = exchange_suffix(c.code)
        mention = None
        if kind == "short":
            mention = c.short_name
        elif kind == "core_name":
            mention = core
        elif kind == "partial_full":
            # 去掉开头的地名（2~3 字）或只留"核心名+股份"
            cut = rng.choice([2, 3]) if len(core) >= 6 else 0
            if cut and sum(1 for _, f in names if core[cut:] in f) > 1:
                cut = 0                                             # 去掉地名后不再唯一：保留全名核心
            mention = core[cut:] + rng.choice(["股份", "股份公司", "公司", "有限公司"])
        elif kind == "code":
            mention = c.code
        elif kind == "code_suffix":
            fw = "".join(chr(ord(d) + 0xFEE0) for d in c.code)      # 全角数字
            mention = rng.choice(CODE_TEMPLATES).format(code=c.code, ex=ex, exl=ex.lower(), fw=fw)
        elif kind == "typo":
            mention = typo(rng.choice([c.short_name, core]))
        elif kind == "traditional":
            mention = to_traditional(rng.choice([c.short_name, c.full_name, core]))
            if mention in (c.short_name, c.full_name, core):
                mention = None
        elif kind == "extra_words":
            mention = rng.choice(EXTRA_TEMPLATES).format(x=rng.choice([c.short_name, core]))
        elif kind == "nickname":
            piece = c.short_name[:2]
            if sum(1 for s, f in names if piece in s or piece in f) == 1:
                mention = rng.choice(NICK_TEMPLATES).format(x=piece, kind=industry_word(c.full_name))
        elif kind == "code_and_name":
            mention = rng.choice(["{code}{name}", "{name}({code})", "{name} {code}.{ex}"]).format(
                code=c.code, name=c.short_name, ex=ex)
        if mention is None:       # 造不出这一类（名字太短/不唯一）：退回"加多余的词"
            kind, mention = "extra_words", rng.choice(EXTRA_TEMPLATES).format(x=c.short_name)
        records.append({"mention": mention, "kind": kind, "gold_code": c.code, "gold_name": c.short_name})
    made_up = set()
    while len(made_up) < max(0, n // 10 - len(NOT_LISTED)):
        name = rng.choice(MADE_UP_HEADS) + rng.choice(MADE_UP_TAILS)
        if not any(name[:2] in s for s in short_names):
            made_up.add(name)
    for name in NOT_LISTED[: n // 10] + sorted(made_up):
        records.append({"mention": name, "kind": "none", "gold_code": "", "gold_name": ""})
    rng.shuffle(records)
    return [{"id": f"m{i:04d}", **r} for i, r in enumerate(records)]


def main(cfg: Config) -> dict:
    from common.paths import DATA_DIR
    from ch06_rag.company_lookup import load_companies

    if cfg.n < 10:
        raise UserError(f"--n must be at least 10, got {cfg.n}")
    companies = load_companies(cfg.companies)
    if cfg.n > len(companies):
        raise UserError(f"--n {cfg.n} is more than the {len(companies)} companies. To fix: pass a smaller --n")
    records = make_mentions(companies, cfg.n, cfg.seed)
    out = Path(cfg.out) if cfg.out else DATA_DIR / "ch06" / "mentions.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    kinds: dict[str, int] = {}
    for r in records:
        kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
    print(f"wrote {len(records)} mentions to {out}: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    for r in records[:8]:
        print(f"  {r['mention']!r:32} -> {r['gold_name'] or 'no match'}")
    return {"path": str(out), "n": len(records), "kinds": kinds, "records": records}


if __name__ == "__main__":
    run(main, Config, __doc__)
