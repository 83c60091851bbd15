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
from common.cli import GenerationArgs, ModelArgs, ServerArgs, run
from ch05_chains.story import StoryArgs


@dataclass
class Config(StoryArgs, ModelArgs, GenerationArgs, ServerArgs):
    """--title plus the shared model/generation/server flags (greedy by default)."""


def main(cfg: Config) -> dict:
    from ch05_chains.story import run_story

    return run_story(cfg, "simple", {"title": cfg.title})


if __name__ == "__main__":
    run(main, Config, __doc__)
