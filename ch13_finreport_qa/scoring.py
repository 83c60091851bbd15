"""13.2 评测 — the annual-report challenge's metric (see FINREPORTS: per-type rules, weights 0.3/0.4/0.2/0.1).

* types 1, 1-2, 2-1 (and rankings, asked as type 1): the answer must contain every gold value (commas and spaces
  removed; a rescaled 万元/亿元 value does not contain it) or it scores 0; then 0.25 + 0.5 × similarity to the
  reference answer + 0.25 if it contains every key word (for 2-1 also every input value) and the year;
* 2-2: it must say 相同 / 不相同 correctly (else 0); then scored like type 1;
* 3-1: 0.25 if every key word is there + 0.75 × similarity; 3-2: similarity only;
* final = 100 × (0.3 · mean(1, 1-2) + 0.4 · mean(2-1, 2-2) + 0.2 · mean(3-1) + 0.1 · mean(3-2)).

Similarity: the organisers used the ``text2vec-base-chinese`` sentence model. :class:`Similarity` uses a local
sentence-transformers model when given a folder, otherwise the documented fallback **character-bigram Dice**
(2·|A∩B| / (|A|+|B|) over the two texts' character bigrams) — cheap, offline, and in [0, 1] like the cosine.
"""
from __future__ import annotations

import re
from collections import Counter

WEIGHTS = {"1": 0.3, "1-2": 0.3, "2-1": 0.4, "2-2": 0.4, "3-1": 0.2, "3-2": 0.1}
GROUPS = {"1": ("1", "1-2"), "2": ("2-1", "2-2"), "3-1": ("3-1",), "3-2": ("3-2",)}
GROUP_WEIGHTS = {"1": 0.3, "2": 0.4, "3-1": 0.2, "3-2": 0.1}
_SPACE = re.compile(r"[,，\s]")


def norm(text: str) -> str:
    return _SPACE.sub("", str(text))


def bigram_dice(a: str, b: str) -> float:
    a, b = norm(a), norm(b)
    ga, gb = Counter(a[i:i + 2] for i in range(len(a) - 1)), Counter(b[i:i + 2] for i in range(len(b) - 1))
    total = sum(ga.values()) + sum(gb.values())
    return 2 * sum((ga & gb).values()) / total if total else 0.0


class Similarity:
    """``sim(a, b)`` in [0, 1]: cosine of a local sentence-transformers model, else character-bigram Dice."""

    def __init__(self, model_dir: str | None = None):
        self.name = "char-bigram Dice (fallback)"
        self._model = None
        if model_dir:
            from pathlib import Path

            if not Path(model_dir).is_dir():
                from common.cli import UserError
                raise UserError(f"--similarity-model {model_dir}: not a folder. To fix: pass a local "
                                "sentence-transformers model folder (e.g. text2vec-base-chinese), or leave it out")
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(model_dir, device="cpu")
            self.name = f"sentence-transformers {Path(model_dir).name}"

    def __call__(self, a: str, b: str) -> float:
        if self._model is None:
            return bigram_dice(a, b)
        import numpy as np

        ea, eb = self._model.encode([a, b], normalize_embeddings=True)
        return float(max(0.0, np.dot(ea, eb)))


def same_or_not(text: str) -> str | None:
    """'不相同' / '相同' as the answer says it (None when it says neither)."""
    text = norm(text)
    if re.search(r"不相同|不一样|不同|不一致|发生了变化|有变化", text):
        return "不相同"
    if re.search(r"相同|一样|一致|没有变化|未发生变化", text):
        return "相同"
    return None


def score_answer(question: dict, answer: str, sim=bigram_dice) -> float:
    """The challenge score in [0, 1] of one answer to one question record (type, answer, values, keywords)."""
    kind, ref = question["type"], question.get("answer", "")
    text = norm(answer or "")
    keywords_ok = all(norm(k) in text for k in question.get("keywords", []))
    if kind in ("1", "1-2", "2-1"):
        if not all(norm(v) in text for v in question.get("values", [])):
            return 0.0
        return 0.25 + 0.5 * sim(answer, ref) + (0.25 if keywords_ok else 0.0)
    if kind == "2-2":
        gold = question.get("values", [None])[0]
        if same_or_not(answer or "") != gold:
            return 0.0
        return 0.25 + 0.5 * sim(answer, ref) + (0.25 if keywords_ok else 0.0)
    if kind == "3-1":
        return (0.25 if keywords_ok else 0.0) + 0.75 * sim(answer, ref)
    if kind == "3-2":
        return sim(answer, ref)
    raise ValueError(f"unknown question type {kind!r}")


def final_score(per_type_means: dict[str, float]) -> float:
    """100 × the weighted mean over the four groups (a group with no question is left out and the weights
    renormalised, so a partial set still gives a number on the same scale)."""
    total = weight = 0.0
    for group, kinds in GROUPS.items():
        values = [per_type_means[k] for k in kinds if k in per_type_means]
        if values:
            total += GROUP_WEIGHTS[group] * sum(values) / len(values)
            weight += GROUP_WEIGHTS[group]
    return 100 * total / weight if weight else 0.0
