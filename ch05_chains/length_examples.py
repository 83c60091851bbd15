"""5.2.1 基于长度的输出示例 — LengthBasedExampleSelector: the longer the input, the fewer examples fit.

The selector adds examples in order until the prompt would pass ``--max-length``. LangChain counts words split on
spaces by default, which does not work for Chinese (a whole sentence is one "word"), so the length function here
counts characters. The table shows how many examples are chosen for inputs of growing length; then the shortest
input's prompt goes to the LLM endpoint.

    python ch05_chains/length_examples.py
    python ch05_chains/length_examples.py --max-length 40 --no-ask
    python ch05_chains/length_examples.py --base-url http://127.0.0.1:8000/v1
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
    max_length: int = arg(60, "length budget (characters) for the examples plus the input")
    words: list = arg(["大", "兴高采烈", "一个非常非常长的词语用来占据更多的长度预算", "请给出这一整句话里每个形容词的反义词：天空很高，"
                       "心情很快乐，比赛刚开始，道路很光明"], "inputs of growing length to try")
    ask: bool = arg(True, "send the first input's prompt to the model (--no-ask: only the selection table)")
    max_new_tokens: int = redefault(GenerationArgs, "max_new_tokens", 16)


def char_length(text: str) -> int:
    """Length for Chinese text: characters without whitespace."""
    return len("".join(text.split()))


def build_prompt(max_length: int):
    """A FewShotPromptTemplate whose examples come from a LengthBasedExampleSelector."""
    from langchain_core.example_selectors import LengthBasedExampleSelector
    from langchain_core.prompts import FewShotPromptTemplate, PromptTemplate

    from ch05_chains import prompts as P

    example_prompt = PromptTemplate.from_template(P.ANTONYM_EXAMPLE_TEMPLATE)
    selector = LengthBasedExampleSelector(examples=P.ANTONYM_EXAMPLES, example_prompt=example_prompt,
                                          max_length=max_length, get_text_length=char_length)
    prompt = FewShotPromptTemplate(example_selector=selector, example_prompt=example_prompt, prefix=P.ANTONYM_PREFIX,
                                   suffix=P.ANTONYM_SUFFIX, input_variables=["word"], example_separator="\n\n")
    return prompt, selector


def main(cfg: Config) -> dict:
    if cfg.max_length <= 0:
        raise UserError(f"--max-length must be positive, got {cfg.max_length}")
    if not cfg.words:
        raise UserError("--words is empty. To fix: pass at least one input, e.g. --words 大 兴高采烈")
    prompt, selector = build_prompt(cfg.max_length)
    rows = []
    print(f"{'input length':>12} | {'examples chosen':>15} | words of the chosen examples")
    for word in cfg.words:
        chosen = selector.select_examples({"word": word})
        rows.append({"word": word, "input_length": char_length(word), "n_examples": len(chosen),
                     "examples": [e["word"] for e in chosen]})
        print(f"{char_length(word):>12} | {len(chosen):>15} | {' '.join(e['word'] for e in chosen) or '-'}")
    first = prompt.format(word=cfg.words[0])
    print(f"=== prompt for {cfg.words[0]!r}:\n{first}")
    result = {"rows": rows, "prompt": first, "answer": None}
    if cfg.ask:
        from langchain_core.output_parsers import StrOutputParser

        from ch05_chains.models import make_llm, print_stand_in

        llm = make_llm(cfg)
        print_stand_in(llm)
        result["answer"] = (prompt | llm | StrOutputParser()).invoke({"word": cfg.words[0]})
        print(f"=== ChatGLM3LLM -> {result['answer']!r}")
    return result


if __name__ == "__main__":
    run(main, Config, __doc__)
