"""附录 大模型的“幻觉” — how an answer is scored, and the grounding check.

Each answer is exactly one of

* **correct** — the question is answerable and the answer contains a gold value (commas and spaces ignored, as the
  annual-report challenge compares);
* **abstained** — the answer says the documents / the model do not know (:data:`ABSTAIN_MARKERS`);
* **hallucinated** — anything else: a wrong or unsupported answer to an answerable question, or any answer at all to
  a question the documents cannot answer.

:func:`grounding_problems` is the "grounding check" mitigation: every number, e-mail, web address and Latin word the
answer claims, and most of its Chinese wording, must be found in the passages the model was given.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ch06_rag.prompts import NO_ANSWER, NO_ANSWER_EN

OUTCOMES = ("correct", "hallucinated", "abstained", "error")
ABSTAIN_MARKERS = (NO_ANSWER, NO_ANSWER_EN, "没有提到", "没有相关", "未提及", "无法回答", "无法确定", "不知道", "没有找到",
                   "资料中没有", "文档中没有", "do not know", "don't know", "not mentioned")
_SPACE = re.compile(r"[,，\s]")
_CLAIMS = re.compile(r"[A-Za-z0-9._+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+|(?:https?://)?www\.[A-Za-z0-9./-]+"
                     r"|-?\d{1,3}(?:,\d{3})+(?:\.\d+)?%?|-?\d+(?:\.\d+)?%?|[A-Za-z]{3,}")
_CJK = re.compile(r"[\u4e00-\u9fff]+")
# 回答里常见、不构成事实主张的字词：不拿来检查
_FILLER = set("的是了在和与及为有其这那个中年元月日公司报告根据资料显示答案问题回答如下所述上述")


def normalise(text: str) -> str:
    return _SPACE.sub("", str(text)).lower()


def is_abstention(answer: str) -> bool:
    text = normalise(answer)
    return not text or any(normalise(m) in text for m in ABSTAIN_MARKERS)


def classify(answer: str | None, gold: list[str]) -> str:
    """``correct`` / ``abstained`` / ``hallucinated`` for one answer (``gold`` empty = unanswerable); ``error`` when
    there is no answer at all (``None``: the model could not be asked, e.g. the prompt exceeds its context)."""
    if answer is None:
        return "error"
    if is_abstention(answer):
        return "abstained"
    text = normalise(answer)
    if gold and any(normalise(g) in text for g in gold):
        return "correct"
    return "hallucinated"


def _bigrams(text: str) -> set[str]:
    out = set()
    for run in _CJK.findall(text):
        chars = [c for c in run if c not in _FILLER]
        out.update(a + b for a, b in zip(chars, chars[1:]))
    return out


def grounding_problems(answer: str, passages: list[str], question: str = "", min_cjk_support: float = 0.5) -> list[str]:
    """What in ``answer`` is not backed by ``passages`` (empty list = grounded). Citations like ``[1]`` and words
    copied from the question do not count as claims."""
    body = re.sub(r"\[\d+(?:[,，、\s]*\d+)*\]", " ", answer)
    source = normalise("\n".join(passages))
    question_n = normalise(question)
    problems = [f"'{c}' is not in the passages" for c in dict.fromkeys(_CLAIMS.findall(body))
                if normalise(c).rstrip("%") not in source and normalise(c) not in question_n]
    grams = _bigrams(body) - _bigrams(question)
    if grams:
        supported = sum(g in source for g in grams) / len(grams)
        if supported < min_cjk_support:
            problems.append(f"only {supported:.0%} of the answer's wording is in the passages")
    return problems


@dataclass
class Tally:
    correct: int = 0
    hallucinated: int = 0
    abstained: int = 0
    error: int = 0
    answerable: int = 0
    answerable_correct: int = 0
    unanswerable: int = 0
    unanswerable_abstained: int = 0
    calls: int = 0
    seconds: float = 0.0

    def add(self, outcome: str, answerable: bool) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)
        if answerable:
            self.answerable += 1
            self.answerable_correct += outcome == "correct"
        else:
            self.unanswerable += 1
            self.unanswerable_abstained += outcome == "abstained"

    @property
    def n(self) -> int:
        return self.correct + self.hallucinated + self.abstained + self.error

    def rates(self) -> dict:
        n = max(self.n, 1)
        return {"n": self.n, "correct": self.correct / n, "hallucinated": self.hallucinated / n,
                "abstained": self.abstained / n, "error": self.error / n,
                "answerable_correct": self.answerable_correct / max(self.answerable, 1),
                "unanswerable_abstained": self.unanswerable_abstained / max(self.unanswerable, 1),
                "calls_per_question": self.calls / n, "seconds_per_question": self.seconds / n}
