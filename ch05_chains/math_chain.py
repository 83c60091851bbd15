"""5.3.1 Chain的数学计算方法 — LLMMathChain and the same chain in LCEL, both with a safe calculator.

The model translates a word problem into one arithmetic expression in a ```text block; the chain computes it.
The model's text is untrusted: it is parsed and checked by ``ch05_chains/safe_math.py`` (numbers, + - * / ** % //,
parentheses, a few math functions, bounded sizes) and never handed to ``eval``. The classic ``LLMMathChain`` runs
numexpr only after that check; the LCEL chain evaluates the checked syntax tree itself. Hostile "expressions"
(``__import__('os')...``, ``9**9**9**9``, attribute access, unknown names) are shown being refused.

    python ch05_chains/math_chain.py
    python ch05_chains/math_chain.py --question "一台电脑 5999 元，分 12 期免息，每期多少钱？"
    python ch05_chains/math_chain.py --base-url http://127.0.0.1:8000/v1
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import GenerationArgs, ModelArgs, ServerArgs, UserError, arg, redefault, run


@dataclass
class Config(ModelArgs, GenerationArgs, ServerArgs):
    question: list = arg([], "word problem(s) to solve (default: three bundled questions)")
    hostile: bool = arg(True, "also show the calculator refusing hostile expressions")
    max_new_tokens: int = redefault(GenerationArgs, "max_new_tokens", 32)
    temperature: float = arg(0.0, "sampling temperature; 0 = greedy (arithmetic wants no sampling)",
                             group="generation")


def math_prompt():
    from langchain_core.prompts import PromptTemplate

    from ch05_chains.prompts import MATH_PROMPT

    return PromptTemplate.from_template(MATH_PROMPT)


def classic_chain(llm):
    """``LLMMathChain`` (langchain-classic) with the safety check in front of numexpr."""
    from ch05_chains.safe_math import safe_llm_math_chain_class

    return safe_llm_math_chain_class().from_llm(llm, prompt=math_prompt())


def lcel_chain(llm):
    """prompt | llm (stops before ```output) | parser | safe calculator -> {expression, answer, error}."""
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.runnables import RunnableLambda

    from ch05_chains.safe_math import solve_from_llm_output

    return math_prompt() | llm.bind(stop=["```output"]) | StrOutputParser() | RunnableLambda(solve_from_llm_output)


def run_classic(chain, question: str) -> dict:
    """The classic chain's answer, or its error as text (bad format / refused expression)."""
    try:
        return {"answer": chain.invoke({"question": question})["answer"], "error": None}
    except ValueError as err:  # UnsafeExpression is a ValueError; so is "unknown format from LLM"
        return {"answer": None, "error": str(err)}


def refuse_all(expressions) -> list[dict]:
    from ch05_chains.safe_math import UnsafeExpression, safe_eval

    rows = []
    for text in expressions:
        try:
            rows.append({"expression": text, "refused": False, "value": safe_eval(text)})
        except UnsafeExpression as err:
            rows.append({"expression": text, "refused": True, "reason": str(err)})
    return rows


def main(cfg: Config) -> dict:
    from ch05_chains.prompts import MATH_QUESTIONS

    questions = cfg.question or MATH_QUESTIONS
    if any(not q.strip() for q in questions):
        raise UserError("--question must not be empty. To fix: --question '2 的 10 次方是多少？'")
    from ch05_chains.models import make_llm, print_stand_in

    llm = make_llm(cfg)
    print_stand_in(llm)
    classic, lcel = classic_chain(llm), lcel_chain(llm)
    rows = []
    for question in questions:
        a = run_classic(classic, question)
        b = lcel.invoke({"question": question})
        rows.append({"question": question, "classic": a, "lcel": b})
        print(f"Q: {question}")
        print(f"  LLMMathChain : {a['answer'] or 'error: ' + a['error']}")
        print(f"  LCEL         : expression={b['expression']!r} -> {b['answer'] or 'error: ' + b['error']}")
    result = {"rows": rows, "hostile": []}
    if cfg.hostile:
        from ch05_chains.safe_math import HOSTILE_EXPRESSIONS

        result["hostile"] = refuse_all(HOSTILE_EXPRESSIONS)
        refused = sum(r["refused"] for r in result["hostile"])
        print(f"=== hostile expressions a model might write: {refused}/{len(result['hostile'])} refused, "
              "none executed")
        for r in result["hostile"]:
            print(f"  {r['expression'][:48]!r:52} {r.get('reason', r.get('value'))}")
    return result


if __name__ == "__main__":
    run(main, Config, __doc__)
