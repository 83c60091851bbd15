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
from common.cli import GenerationArgs, ModelArgs, ServerArgs, UserError, arg, redefault, run
from ch05_chains.prompts import STORY_EXTRAS, STORY_TITLE


@dataclass
class Config(ModelArgs, GenerationArgs, ServerArgs):
    title: str = arg(STORY_TITLE, "the play's title")
    era: str = arg(STORY_EXTRAS["era"], "when the story takes place (synopsis step)")
    audience: str = arg(STORY_EXTRAS["audience"], "who the review and the post are written for")
    platform: str = arg(STORY_EXTRAS["platform"], "where the post will appear (post step)")
    max_new_tokens: int = redefault(GenerationArgs, "max_new_tokens", 96)
    temperature: float = arg(0.0, "sampling temperature; 0 = greedy, so classic and LCEL give the same texts",
                             group="generation")


def main(cfg: Config) -> dict:
    inputs = {"title": cfg.title, "era": cfg.era, "audience": cfg.audience, "platform": cfg.platform}
    empty = [k for k, v in inputs.items() if not v.strip()]
    if empty:
        raise UserError(f"--{empty[0]} is empty. To fix: give every one of --title --era --audience --platform")
    from ch05_chains import story
    from ch05_chains.models import make_llm, print_stand_in

    llm = make_llm(cfg)
    print_stand_in(llm)
    print("inputs: " + ", ".join(f"{k}={v}" for k, v in inputs.items()))
    result = story.run_pair(story.classic_named(llm, extra=True), story.lcel_named(llm, extra=True), inputs)
    story.print_pair(result)
    return result


if __name__ == "__main__":
    run(main, Config, __doc__)
