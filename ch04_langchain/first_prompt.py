"""4.1.4 从一个简单的提示模板开始 — a ``PromptTemplate``: its variables, ``format``, partial variables, and the
template piped into the LLM endpoint (``prompt | llm``).

    python ch04_langchain/first_prompt.py
    python ch04_langchain/first_prompt.py --topic 量化 --audience 小学生
    python ch04_langchain/first_prompt.py --base-url http://127.0.0.1:8000/v1
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
    max_new_tokens: int = redefault(GenerationArgs, "max_new_tokens", 64)
    topic: str = arg("ChatGLM3", "what the prompt asks about")
    audience: str = arg("刚入门的程序员", "who the answer is for")


def main(cfg: Config) -> dict:
    if not cfg.topic.strip():
        raise UserError("--topic is empty. To fix: pass --topic 'something'")
    from langchain_core.prompts import PromptTemplate

    from ch04_langchain.prompts import FIRST_TEMPLATE
    from common.langchain_chatglm3 import demo_line, llm_from_config

    prompt = PromptTemplate.from_template(FIRST_TEMPLATE)
    print(f"template        : {prompt.template!r}")
    print(f"input_variables : {prompt.input_variables}")
    text = prompt.format(topic=cfg.topic, audience=cfg.audience)
    print(f"format(...)     : {text!r}")
    # 部分变量：先固定 audience，之后只需提供 topic
    for_kids = prompt.partial(audience="小学生")
    print(f"partial(audience='小学生').format(topic={cfg.topic!r}) : {for_kids.format(topic=cfg.topic)!r}")
    try:
        prompt.format(topic=cfg.topic)
        missing = None
    except KeyError as exc:  # a missing variable is an error, not an empty string
        missing = str(exc)
    print(f"format without audience -> KeyError {missing}")

    llm = llm_from_config(cfg)
    chain = prompt | llm  # LCEL: the template's output (a string) is the LLM's input
    answer = chain.invoke({"topic": cfg.topic, "audience": cfg.audience})
    print(f"\n(prompt | llm).invoke -> {answer!r}")
    line = demo_line(llm)
    if line:
        print(line)
    return {"prompt": text, "variables": prompt.input_variables, "answer": answer, "missing": missing}


if __name__ == "__main__":
    run(main, Config, __doc__)
