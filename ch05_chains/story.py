"""5.5 synopsis -> review -> social-media post: the classic sequential chains and their LCEL twins.

Used by ``simple_sequential.py`` (5.5.1), ``sequential_chain.py`` (5.5.2) and ``sequential_extra.py`` (5.5.3).
Each pair gets the same prompts in the same order, so with a deterministic model (greedy decoding, or a fake
model in the tests) the classic chain and the LCEL chain return the same texts.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from common.cli import GenerationArgs, UserError, arg, redefault
from ch05_chains.prompts import STORY_TITLE

@dataclass
class StoryArgs:
    """The flags the three 5.5 scripts share (put first in a Config's bases so its defaults win)."""

    title: str = arg(STORY_TITLE, "the play's title")
    max_new_tokens: int = redefault(GenerationArgs, "max_new_tokens", 96)
    temperature: float = arg(0.0, "sampling temperature; 0 = greedy, so classic and LCEL give the same texts",
                             group="generation")


# (output key, prompt text) in the order the steps run
SIMPLE_STEPS = ("synopsis", "review")
NAMED_STEPS = ("synopsis", "review", "post")


def step_templates(extra: bool) -> dict[str, str]:
    from ch05_chains import prompts as P

    if extra:
        return {"synopsis": P.SYNOPSIS_EXTRA_TEMPLATE, "review": P.REVIEW_EXTRA_TEMPLATE,
                "post": P.POST_EXTRA_TEMPLATE}
    return {"synopsis": P.SYNOPSIS_TEMPLATE, "review": P.REVIEW_TEMPLATE, "post": P.POST_TEMPLATE}


def input_variables(extra: bool) -> list[str]:
    return ["title", "era", "audience", "platform"] if extra else ["title"]


# ---------------------------------------------------------------- classic (langchain-classic)
def classic_simple(llm):
    """5.5.1 ``SimpleSequentialChain``: title -> synopsis -> review, one text handed along."""
    from langchain_classic.chains import LLMChain, SimpleSequentialChain
    from langchain_core.prompts import PromptTemplate

    t = step_templates(False)
    chains = [LLMChain(llm=llm, prompt=PromptTemplate.from_template(t[key]), output_key=key)
              for key in SIMPLE_STEPS]
    return SimpleSequentialChain(chains=chains)


def classic_named(llm, extra: bool = False):
    """5.5.2/5.5.3 ``SequentialChain``: named outputs synopsis, review, post (+ era/audience/platform inputs)."""
    from langchain_classic.chains import LLMChain, SequentialChain
    from langchain_core.prompts import PromptTemplate

    t = step_templates(extra)
    chains = [LLMChain(llm=llm, prompt=PromptTemplate.from_template(t[key]), output_key=key) for key in NAMED_STEPS]
    return SequentialChain(chains=chains, input_variables=input_variables(extra),
                           output_variables=list(NAMED_STEPS))


# ---------------------------------------------------------------- LCEL (langchain-core)
def lcel_simple(llm):
    """title -> synopsis -> review with ``|``: each step's text becomes the next prompt's variable."""
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import PromptTemplate

    t = step_templates(False)
    synopsis = PromptTemplate.from_template(t["synopsis"]) | llm | StrOutputParser()
    review = PromptTemplate.from_template(t["review"]) | llm | StrOutputParser()
    return {"title": lambda x: x} | synopsis | {"synopsis": lambda s: s} | review


def lcel_named(llm, extra: bool = False):
    """``RunnablePassthrough.assign`` adds one named output per step; the dict flows through all steps."""
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import PromptTemplate
    from langchain_core.runnables import RunnablePassthrough

    t = step_templates(extra)
    chain = RunnablePassthrough()
    for key in NAMED_STEPS:
        chain = chain | RunnablePassthrough.assign(**{key: PromptTemplate.from_template(t[key]) | llm
                                                       | StrOutputParser()})
    return chain


def run_pair(classic, lcel, inputs: Any) -> dict:
    """Both chains on the same inputs; ``same`` says whether their outputs agree."""
    if isinstance(inputs, str):  # SimpleSequentialChain takes one text
        a = classic.invoke({"input": inputs})["output"]
        b = lcel.invoke(inputs)
        return {"classic": a, "lcel": b, "same": a == b}
    a = classic.invoke(dict(inputs))
    b = lcel.invoke(dict(inputs))
    a = {k: a[k] for k in NAMED_STEPS}
    b = {k: b[k] for k in NAMED_STEPS}
    return {"classic": a, "lcel": b, "same": a == b}


def print_pair(result: dict) -> None:
    for side in ("classic", "lcel"):
        value = result[side]
        print(f"=== {side}")
        if isinstance(value, str):
            print("  " + value.strip().replace("\n", "\n  "))
        else:
            for key, text in value.items():
                print(f"  [{key}] " + text.strip().replace("\n", "\n    "))
    print(f"classic and LCEL outputs identical: {result['same']}")


def run_story(cfg: Any, kind: str, inputs: dict[str, str]) -> dict:
    """What each 5.5 script does: check the inputs, build the model, run the classic and the LCEL chain, print."""
    empty = [k for k, v in inputs.items() if not v.strip()]
    if empty:
        raise UserError(f"--{empty[0]} is empty. To fix: e.g. --title {STORY_TITLE}")
    from ch05_chains.models import make_llm, print_stand_in

    llm = make_llm(cfg)
    print_stand_in(llm)
    print("inputs: " + ", ".join(f"{k}={v}" for k, v in inputs.items())
          + ("  (SimpleSequentialChain returns only the last step: the review)" if kind == "simple"
             else f"  (outputs: {', '.join(NAMED_STEPS)})"))
    if kind == "simple":
        result = run_pair(classic_simple(llm), lcel_simple(llm), inputs["title"])
    else:
        extra = kind == "extra"
        result = run_pair(classic_named(llm, extra), lcel_named(llm, extra), inputs)
    print_pair(result)
    return result
