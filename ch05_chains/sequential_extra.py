"""5.5.3 对顺序链添加额外参数的方法 — era, audience and platform flow into the steps that need them.

The same three steps as 5.5.2, but the ``SequentialChain`` takes extra input variables: the synopsis prompt reads
``era``, the review prompt ``audience``, the post prompt ``audience`` and ``platform``. Extra inputs are just more
keys in the chain's dictionary — in the classic chain (``input_variables``) and in LCEL alike.

    python ch05_chains/sequential_extra.py
    python ch05_chains/sequential_extra.py --era 唐朝长安 --audience 历史爱好者 --platform 小红书
    python ch05_chains/sequential_extra.py --base-url http://127.0.0.1:8000/v1
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import GenerationArgs, ModelArgs, ServerArgs, arg, run
from ch05_chains.prompts import STORY_EXTRAS
from ch05_chains.story import StoryArgs


@dataclass
class Config(StoryArgs, ModelArgs, GenerationArgs, ServerArgs):
    era: str = arg(STORY_EXTRAS["era"], "when the story takes place (synopsis step)")
    audience: str = arg(STORY_EXTRAS["audience"], "who the review and the post are written for")
    platform: str = arg(STORY_EXTRAS["platform"], "where the post will appear (post step)")


def main(cfg: Config) -> dict:
    from ch05_chains.story import run_story

    return run_story(cfg, "extra", {"title": cfg.title, "era": cfg.era, "audience": cfg.audience,
                                    "platform": cfg.platform})


if __name__ == "__main__":
    run(main, Config, __doc__)
