"""5.5.1 对过程进行依次调用的顺序链SimpleSequentialChain — title -> synopsis -> review, classic and LCEL.

``SimpleSequentialChain`` hands one text from step to step: the title becomes a synopsis, the synopsis becomes a
review. The LCEL version (``prompt | llm | parser | {"synopsis": ...} | prompt | llm | parser``) sends the same
prompts; with greedy decoding (the default here) both print the same review.

    python ch05_chains/simple_sequential.py
    python ch05_chains/simple_sequential.py --title 三体：黑暗森林
    python ch05_chains/simple_sequential.py --base-url http://127.0.0.1:8000/v1
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import GenerationArgs, ModelArgs, ServerArgs, UserError, arg, redefault, run
from ch05_chains.prompts import STORY_TITLE


@dataclass
class Config(ModelArgs, GenerationArgs, ServerArgs):
    title: str = arg(STORY_TITLE, "the play's title")
    max_new_tokens: int = redefault(GenerationArgs, "max_new_tokens", 96)
    temperature: float = arg(0.0, "sampling temperature; 0 = greedy, so classic and LCEL give the same texts",
                             group="generation")


def main(cfg: Config) -> dict:
    if not cfg.title.strip():
        raise UserError("--title is empty. To fix: --title 日落海滩上的悲剧")
    from ch05_chains import story
    from ch05_chains.models import make_llm, print_stand_in

    llm = make_llm(cfg)
    print_stand_in(llm)
    print(f"title: {cfg.title}  (SimpleSequentialChain returns only the last step: the review)")
    result = story.run_pair(story.classic_simple(llm), story.lcel_simple(llm), cfg.title)
    story.print_pair(result)
    return result


if __name__ == "__main__":
    run(main, Config, __doc__)
