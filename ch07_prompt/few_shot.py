"""7.2.2 提示模板的FewShotPromptTemplate格式 — examples teach the model a tone; compare with and without them.

``FewShotPromptTemplate`` = prefix + formatted examples + suffix. The script prints the few-shot prompt (as a
string template, and the same examples as chat turns with ``FewShotChatMessagePromptTemplate``), then asks the
same question with and without the examples.

    python ch07_prompt/few_shot.py
    python ch07_prompt/few_shot.py --query "周末去哪儿玩？" --n-examples 2
    python ch07_prompt/few_shot.py --base-url http://127.0.0.1:8000/v1
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
    query: str = arg("最近总是失眠怎么办？", "what the user asks")
    n_examples: int = arg(3, "how many of the bundled examples go into the prompt")
    ask: bool = arg(True, "send both prompts to the model (--no-ask: only print them)")
    max_new_tokens: int = redefault(GenerationArgs, "max_new_tokens", 48)


def few_shot_prompts(n: int):
    from langchain_core.prompts import (ChatPromptTemplate, FewShotChatMessagePromptTemplate,
                                        FewShotPromptTemplate, PromptTemplate)

    from ch07_prompt import prompts as P

    examples = P.FEW_SHOT_EXAMPLES[:n]
    text = FewShotPromptTemplate(examples=examples, example_prompt=PromptTemplate.from_template(P.FEW_SHOT_EXAMPLE),
                                 prefix=P.FEW_SHOT_PREFIX, suffix=P.FEW_SHOT_SUFFIX, input_variables=["query"],
                                 example_separator="\n\n")
    turns = FewShotChatMessagePromptTemplate(
        examples=examples, example_prompt=ChatPromptTemplate.from_messages([("human", "{query}"), ("ai", "{answer}")]))
    chat = ChatPromptTemplate.from_messages([("system", P.FEW_SHOT_PREFIX), turns, ("human", "{query}")])
    return text, chat


def main(cfg: Config) -> dict:
    from ch07_prompt.prompts import FEW_SHOT_EXAMPLES

    if not 0 <= cfg.n_examples <= len(FEW_SHOT_EXAMPLES):
        raise UserError(f"--n-examples must be 0..{len(FEW_SHOT_EXAMPLES)}, got {cfg.n_examples}")
    if not cfg.query.strip():
        raise UserError("--query is empty")
    text, chat = few_shot_prompts(cfg.n_examples)
    formatted = text.format(query=cfg.query)
    messages = chat.format_messages(query=cfg.query)
    print(f"=== FewShotPromptTemplate ({cfg.n_examples} examples)\n{formatted}")
    print(f"=== FewShotChatMessagePromptTemplate: {len(messages)} messages "
          f"({', '.join(m.type for m in messages)})")
    result = {"prompt": formatted, "messages": [(m.type, m.content) for m in messages], "answers": {}}
    if cfg.ask:
        from ch05_chains.models import make_chat_model, make_llm, print_stand_in

        llm, chat_model = make_llm(cfg), make_chat_model(cfg)
        print_stand_in(llm, "answers")
        result["answers"]["zero_shot"] = llm.invoke(cfg.query)
        result["answers"]["few_shot"] = (text | llm).invoke({"query": cfg.query})
        result["answers"]["few_shot_chat"] = (chat | chat_model).invoke({"query": cfg.query}).content
        for key, value in result["answers"].items():
            print(f"{key:>13} -> {value.strip()[:120]!r}")
    return result


if __name__ == "__main__":
    run(main, Config, __doc__)
