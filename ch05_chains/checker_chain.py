"""5.3.2 多次验证检查器 — LLMCheckerChain: draft -> assumptions -> check each -> revised answer, every step shown.

``LLMCheckerChain`` (langchain-classic) is a ``SequentialChain`` of four ``LLMChain`` calls. The script builds it
with Chinese prompts (``ch05_chains/prompts.py``), asks the inner sequential chain to return every intermediate
output, and prints each step, so you see where a wrong draft gets corrected (with a real model).

    python ch05_chains/checker_chain.py
    python ch05_chains/checker_chain.py --question "太阳系中最大的行星是哪一颗？"
    python ch05_chains/checker_chain.py --base-url http://127.0.0.1:8000/v1
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import GenerationArgs, ModelArgs, ServerArgs, UserError, arg, redefault, run

STEPS = [("statement", "1 draft answer"), ("assertions", "2 assumptions made"),
         ("checked_assertions", "3 each assumption checked"), ("revised_statement", "4 revised answer")]


@dataclass
class Config(ModelArgs, GenerationArgs, ServerArgs):
    question: str = arg("", "the question to answer and check (default: a bundled question)")
    max_new_tokens: int = redefault(GenerationArgs, "max_new_tokens", 96)


def checker_chain(llm):
    """``LLMCheckerChain`` with the chapter's Chinese prompts; its inner chain returns every step."""
    from langchain_classic.chains import LLMCheckerChain
    from langchain_core.prompts import PromptTemplate

    from ch05_chains import prompts as P

    chain = LLMCheckerChain.from_llm(
        llm,
        create_draft_answer_prompt=PromptTemplate.from_template(P.CHECKER_DRAFT),
        list_assertions_prompt=PromptTemplate.from_template(P.CHECKER_ASSERTIONS),
        check_assertions_prompt=PromptTemplate.from_template(P.CHECKER_CHECK),
        revised_answer_prompt=PromptTemplate.from_template(P.CHECKER_REVISE),
    )
    inner = chain.question_to_checked_assertions_chain
    inner.output_variables = [key for key, _ in STEPS]  # 让内部的 SequentialChain 返回每一步的输出
    inner.verbose = False
    return chain


def run_steps(chain, question: str) -> dict:
    """All four intermediate outputs (the last one is what ``chain.invoke`` returns as ``result``)."""
    return chain.question_to_checked_assertions_chain.invoke({"question": question})


def main(cfg: Config) -> dict:
    from ch05_chains.prompts import CHECKER_QUESTION

    question = cfg.question or CHECKER_QUESTION
    if not question.strip():
        raise UserError("--question is empty. To fix: --question '哺乳动物中体型最大的是哪种动物？'")
    from ch05_chains.models import make_llm, print_stand_in

    llm = make_llm(cfg)
    chain = checker_chain(llm)
    print_stand_in(llm)
    print(f"question: {question}")
    steps = run_steps(chain, question)
    for key, title in STEPS:
        print(f"=== step {title} ({key})")
        print(steps[key].strip())
    return {"question": question, "steps": {k: steps[k] for k, _ in STEPS}, "result": steps["revised_statement"]}


if __name__ == "__main__":
    run(main, Config, __doc__)
