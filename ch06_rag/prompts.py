"""The prompts of chapter 6, defined once (chapter 13, the appendix and the demo-model build import them).

Every prompt is a plain ``str.format`` template; :func:`format_passages` renders the numbered passages the QA prompt
cites. ``NO_ANSWER`` is the fixed reply when retrieval finds nothing that supports an answer.
"""
from __future__ import annotations

from typing import Sequence

# 6.1.2 LLM-only lookup: the candidates are in the prompt (works for short lists only)
COMPANY_CHOICE_PROMPT = (
    "下面是候选公司列表（编号. 简称 全称 代码）：\n{candidates}\n\n"
    "用户提到的公司是：「{mention}」。\n"
    "请只回答候选列表中对应公司的编号；如果列表里没有这家公司，回答 0。")

# 6.1.3 "industrial" lookup: the LLM only cleans the mention, BM25 maps it onto the canonical list
COMPANY_NORMALISE_PROMPT = (
    "把用户对一家上市公司的称呼改写成规范的公司名称：改正错别字，繁体字改为简体字，去掉多余的词；"
    "如果给的是股票代码，原样输出代码。只输出名称或代码，不要解释。\n称呼：{mention}")

# 6.2.5 grounded QA: numbered passages, answer only from them, cite [n]
QA_SYSTEM = "你是一个严谨的文档问答助手。只根据给出的资料回答，不使用资料以外的知识。"
QA_PROMPT = (
    "资料：\n{passages}\n\n"
    "问题：{question}\n\n"
    "要求：只根据上面的资料回答；在用到的资料后面用方括号标出编号，例如 [1]；"
    "如果资料里没有答案，只回答“{no_answer}”。\n回答：")
NO_ANSWER = "文档中没有提到这个问题的答案。"
NO_ANSWER_EN = "the documents do not say"

# 6.3 reverse questions: which questions does this passage answer?
REVERSE_QUESTIONS_PROMPT = (
    "下面是一段文档内容：\n{passage}\n\n"
    "请写出 {n} 个可以用这段内容回答的问题，每行一个问题，不要编号，不要回答。")


def format_passages(passages: Sequence[str], sources: Sequence[str] | None = None, max_chars: int = 600) -> str:
    """``[1] (source) text`` lines, each passage cut to ``max_chars`` characters."""
    lines = []
    for i, text in enumerate(passages, 1):
        text = " ".join(text.split())
        if len(text) > max_chars:
            text = text[:max_chars] + "…"
        src = f"（{sources[i - 1]}）" if sources and sources[i - 1] else ""
        lines.append(f"[{i}]{src} {text}")
    return "\n".join(lines)


def qa_prompt(question: str, passages: Sequence[str], sources: Sequence[str] | None = None,
              max_chars: int = 600) -> str:
    """The one QA prompt (plain and LangChain versions both use it)."""
    return QA_PROMPT.format(passages=format_passages(passages, sources, max_chars), question=question.strip(),
                            no_answer=NO_ANSWER)
