"""8.2 答案抽取与投票 — read the final number out of a model's reasoning, and majority-vote several samples.

A chain of thought ends with the answer somewhere in free text: 「所以答案是二十五个」, 「共需 3.5 元」, 「答：38元。」,
「The answer is 12.」. :func:`extract_answer` finds it without running anything the model wrote: it prefers the
number after an answer cue (答案/答/所以/因此/一共/共/therefore/answer is), then the last number in the text, and
understands Arabic digits (with thousands separators, decimals, percent, fractions like 3/4) and Chinese numerals
(二十五, 三百零六, 一千二百, 两万, 三点五, 百分之二十).
"""
from __future__ import annotations

import re
from collections import Counter
from fractions import Fraction

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000}
_BIG = {"万": 10_000, "亿": 100_000_000}
_CN_CHARS = "零〇一二两三四五六七八九十百千万亿点"
_CN_NUMBER = re.compile(f"(?:负)?(?:百分之)?[{_CN_CHARS}]+")
_AR_NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?(?:\s*/\s*\d+)?%?")
_CUES = re.compile(r"(答案|答|所以|因此|故|一共|共|总共|合计|结果|\banswer\s+is\b|\banswer:|\btherefore\b|\bso\b)",
                   re.I)


def chinese_to_number(text: str) -> float | None:
    """二十五 -> 25, 三百零六 -> 306, 一千二百 -> 1200, 两万三千 -> 23000, 三点五 -> 3.5, 百分之二十 -> 0.2;
    None for text that is not a Chinese numeral."""
    text = text.strip()
    if not text or any(ch not in _CN_CHARS + "负百分之" for ch in text):
        return None
    sign = -1 if text.startswith("负") else 1
    text = text.lstrip("负")
    percent = text.startswith("百分之")
    if percent:
        text = text[3:]
    if "点" in text:
        whole, _, frac = text.partition("点")
        if not frac or any(ch not in _DIGITS for ch in frac):
            return None
        base = _integer(whole) if whole else 0
        if base is None:
            return None
        value = float(f"{base}." + "".join(str(_DIGITS[ch]) for ch in frac))
    else:
        value = _integer(text)
        if value is None:
            return None
    value *= sign
    return value / 100 if percent else value


def _integer(text: str) -> int | None:
    if not text:
        return None
    if all(ch in _DIGITS for ch in text):  # 一二三 written digit by digit
        return int("".join(str(_DIGITS[ch]) for ch in text))
    total, section, digit = 0, 0, None
    for ch in text:
        if ch in _DIGITS:
            digit = _DIGITS[ch]
        elif ch in _UNITS:
            section += (1 if digit is None else digit) * _UNITS[ch]
            digit = None
        elif ch in _BIG:
            section += digit or 0
            total += section * _BIG[ch]
            section, digit = 0, None
        else:
            return None
    return total + section + (digit or 0)


def _arabic_to_number(text: str) -> float | None:
    text = text.replace(",", "").replace(" ", "")
    percent = text.endswith("%")
    text = text.rstrip("%")
    try:
        value = float(Fraction(text)) if "/" in text else float(text)
    except (ValueError, ZeroDivisionError):
        return None
    return value / 100 if percent else value


def numbers_in(text: str) -> list[tuple[int, float]]:
    """Every number in ``text`` as (position, value), Arabic and Chinese, in reading order."""
    found = [(m.start(), _arabic_to_number(m.group())) for m in _AR_NUMBER.finditer(text)]
    for m in _CN_NUMBER.finditer(text):
        token = m.group()
        if token in ("点", "十点") or (len(token) == 1 and token in "万亿百千"):
            continue  # 「一点」「万一」之类的字不是数
        value = chinese_to_number(token)
        if value is not None:
            found.append((m.start(), value))
    return sorted((pos, v) for pos, v in found if v is not None)


def extract_answer(text: str) -> float | None:
    """The final numeric answer in a model's text (see the module docstring), or None when there is no number."""
    if not text:
        return None
    text = str(text)[-4000:]  # 答案在结尾；只看最后一段，避免超长输出拖慢正则
    numbers = numbers_in(text)
    if not numbers:
        return None
    cues = [m.end() for m in _CUES.finditer(text)]
    if cues:
        after_last_cue = [v for pos, v in numbers if pos >= cues[-1]]
        if after_last_cue:
            return after_last_cue[0]
    return numbers[-1][1]


def same_number(a: float | None, b: float | None, rel: float = 1e-6) -> bool:
    """True when both are numbers equal up to a tiny relative tolerance (0.1+0.2 == 0.3)."""
    if a is None or b is None:
        return False
    return abs(float(a) - float(b)) <= rel * max(1.0, abs(float(a)), abs(float(b)))


def majority_vote(answers: list[float | None]) -> tuple[float | None, int]:
    """Self-consistency: the most frequent extracted answer (None votes ignored; ties -> the first seen) and its
    count."""
    votes = Counter()
    first_seen: dict[float, int] = {}
    for i, a in enumerate(answers):
        if a is None:
            continue
        key = round(float(a), 6)
        votes[key] += 1
        first_seen.setdefault(key, i)
    if not votes:
        return None, 0
    best = max(votes, key=lambda k: (votes[k], -first_seen[k]))
    return best, votes[best]
