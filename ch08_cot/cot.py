"""8.2 思维链 — the prompts and the four ways of asking that chapter 8 compares.

* ``direct``: ask for the number only;
* ``zero_shot``: add 「让我们一步一步地思考」 (Kojima et al., 2022) and ask for a last line 「答案：<数字>」;
* ``few_shot``: show worked examples (question → steps → answer) before the question (Wei et al., 2022);
* ``self_consistency``: sample ``k`` few-shot chains at a temperature and take the majority answer
  (Wang et al., 2022).

Every function takes any LangChain chat model (``common.langchain_chatglm3.ChatGLM3ChatModel`` in-process or
through a server, ``ChatOpenAI``, or a fake model in tests) and returns the answer, the texts and the tokens spent.
The prompts are defined here once (the demo-model build may import them).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ch08_cot.answer import extract_answer, majority_vote

METHODS = ("direct", "zero_shot", "few_shot", "self_consistency")

DIRECT_INSTRUCTION = "请直接给出最终答案，只写一个阿拉伯数字，不要写过程。"
ZERO_SHOT_TRIGGER = "让我们一步一步地思考。"
ANSWER_FORMAT = "最后一行请写「答案：」加上阿拉伯数字。"
SYSTEM_PROMPT = "你是一位细心的小学数学老师，计算准确。"

# 少样本思维链的示例：与评测集（problems.py 生成）句式不同、数字不同，避免“抄答案”
FEW_SHOT_EXAMPLES = [
    {"question": "食堂有48个鸡蛋，早上用了15个，中午又用了一些，还剩9个。中午用了多少个鸡蛋？",
     "reasoning": "早上用后剩下 48-15=33 个。中午用后剩 9 个，所以中午用了 33-9=24 个。\n答案：24"},
    {"question": "一箱饮料有12瓶，学校买了5箱，运动会上喝掉了37瓶。还剩多少瓶？",
     "reasoning": "一共有 12×5=60 瓶。喝掉 37 瓶后还剩 60-37=23 瓶。\n答案：23"},
    {"question": "A bike costs 150 yuan and a helmet costs 45 yuan. Li pays 200 yuan for both. How much change does he get?",
     "reasoning": "Both cost 150+45=195 yuan. The change is 200-195=5 yuan.\n答案：5"},
]


def build_messages(question: str, method: str) -> list:
    """The LangChain messages for ``method`` (self-consistency uses the few-shot messages)."""
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    messages = [SystemMessage(SYSTEM_PROMPT)]
    if method == "direct":
        return messages + [HumanMessage(f"{question}\n{DIRECT_INSTRUCTION}")]
    if method == "zero_shot":
        return messages + [HumanMessage(f"{question}\n{ZERO_SHOT_TRIGGER}{ANSWER_FORMAT}")]
    for ex in FEW_SHOT_EXAMPLES:  # few_shot / self_consistency
        messages += [HumanMessage(f"{ex['question']}\n{ANSWER_FORMAT}"), AIMessage(ex["reasoning"])]
    return messages + [HumanMessage(f"{question}\n{ANSWER_FORMAT}")]


@dataclass
class Solution:
    method: str
    answer: float | None
    texts: list[str]
    tokens: int                           # input + output tokens over every call
    votes: int = 1                        # self-consistency: how many samples agreed
    samples: list[float | None] = field(default_factory=list)


def _tokens(message, text: str) -> int:
    usage = getattr(message, "usage_metadata", None) or {}
    return int(usage.get("total_tokens") or (usage.get("input_tokens", 0) + usage.get("output_tokens", 0))
               or len(text))


def solve(chat_model, question: str, method: str = "zero_shot", k: int = 5, temperature: float = 0.7) -> Solution:
    """Ask ``chat_model`` with ``method``; greedy for the single-answer methods, ``k`` samples at ``temperature``
    for self-consistency."""
    messages = build_messages(question, method)
    if method != "self_consistency":
        reply = chat_model.bind(temperature=0).invoke(messages)
        text = str(reply.content)
        return Solution(method, extract_answer(text), [text], _tokens(reply, text))
    sampler = chat_model.bind(temperature=temperature)
    replies = sampler.batch([messages] * k)
    texts = [str(r.content) for r in replies]
    answers = [extract_answer(t) for t in texts]
    best, votes = majority_vote(answers)
    return Solution(method, best, texts, sum(_tokens(r, t) for r, t in zip(replies, texts)), votes, answers)
