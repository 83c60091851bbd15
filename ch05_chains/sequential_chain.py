"""5.5.2 对过程进行依次调用的顺序链SequentialChain — named outputs: synopsis, review and post, classic and LCEL.

``SequentialChain`` keeps a dictionary of named values: each ``LLMChain`` reads the keys its prompt needs and adds
its ``output_key`` (the post prompt reads both the synopsis and the review). The LCEL twin chains
``RunnablePassthrough.assign(...)`` steps over the same dictionary; with greedy decoding both give the same texts.

    python ch05_chains/sequential_chain.py
    python ch05_chains/sequential_chain.py --title 三体：黑暗森林
    python ch05_chains/sequential_chain.py --base-url http://127.0.0.1:8000/v1
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

    return run_story(cfg, "named", {"title": cfg.title})


if __name__ == "__main__":
    run(main, Config, __doc__)
