"""7.2.3 部分格式化的提示模板详解 — fill some variables now (a string) or at format time (a function: today's date).

``template.partial(role="...")`` fixes a value now; ``partial(date=today)`` with a *function* calls it every time
the prompt is formatted, so a long-running service always says the current date. Both are shown, plus
``partial_variables=`` at construction time.

    python ch07_prompt/partial_templates.py
    python ch07_prompt/partial_templates.py --role 历史老师 --question "今天在历史上发生过什么？" --no-ask
    python ch07_prompt/partial_templates.py --base-url http://127.0.0.1:8000/v1
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import GenerationArgs, ModelArgs, ServerArgs, UserError, arg, redefault, run


@dataclass
class Config(ModelArgs, GenerationArgs, ServerArgs):
    role: str = arg("导游", "fixed now with .partial(role=...)")
    question: str = arg("这个季节适合去哪里旅行？", "filled at format time")
    ask: bool = arg(True, "send the prompt to the model (--no-ask: only print it)")
    max_new_tokens: int = redefault(GenerationArgs, "max_new_tokens", 48)


def today() -> str:
    """Called every time the prompt is formatted (a partial *function*)."""
    d = date.today()
    return f"{d.year}年{d.month}月{d.day}日"


def partial_prompts(role: str, today_fn=today):
    from langchain_core.prompts import PromptTemplate

    from ch07_prompt.prompts import PARTIAL_TEMPLATE

    base = PromptTemplate.from_template(PARTIAL_TEMPLATE)
    with_role = base.partial(role=role)                     # 字符串：现在就固定
    with_both = with_role.partial(date=today_fn)            # 函数：每次 format 时才调用
    at_init = PromptTemplate(template=PARTIAL_TEMPLATE, input_variables=["question"],
                             partial_variables={"role": role, "date": today_fn})
    return {"base": base, "with_role": with_role, "with_both": with_both, "at_init": at_init}


def main(cfg: Config) -> dict:
    if not cfg.role.strip() or not cfg.question.strip():
        raise UserError("--role and --question must not be empty")
    built = partial_prompts(cfg.role)
    for name, template in built.items():
        print(f"{name:>10}: still needs {template.input_variables}")
    text = built["with_both"].format(question=cfg.question)
    same = text == built["at_init"].format(question=cfg.question)
    print(f"=== formatted\n{text}\npartial() and partial_variables= give the same prompt: {same}")
    result = {"prompt": text, "same": same, "answer": None}
    if cfg.ask:
        from ch05_chains.models import make_llm, print_stand_in

        llm = make_llm(cfg)
        print_stand_in(llm, "answers")
        result["answer"] = (built["with_both"] | llm).invoke({"question": cfg.question})
        print(f"=== ChatGLM3LLM -> {result['answer'].strip()[:200]!r}")
    return result


if __name__ == "__main__":
    run(main, Config, __doc__)
