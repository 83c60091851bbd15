"""5.1.2 可嵌套的提示模板 — build one prompt out of several templates (LangChain 1.x ways).

The book's ``PipelinePromptTemplate`` was removed from langchain-core 1.x. The same nesting is done three ways:
``+`` (templates concatenate), ``.partial()`` (fill some variables now, the rest later), and an LCEL step that
formats the sub-templates in parallel and feeds their text into an outer template (what the pipeline template did).
All three produce the same prompt text; then it goes to the LLM endpoint.

    python ch05_chains/nested_templates.py
    python ch05_chains/nested_templates.py --person 埃隆·马斯克 --input 你最喜欢的社交媒体网站是什么？
    python ch05_chains/nested_templates.py --base-url http://127.0.0.1:8000/v1
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
    person: str = arg("李白", "who the model plays (the introduction template)")
    example_q: str = arg("你最喜欢的饮品是什么？", "the example question (the example template)")
    example_a: str = arg("当然是酒，斗酒诗百篇。", "the example answer")
    input: str = arg("你最喜欢的季节是什么？", "the real question (the start template)")
    ask: bool = arg(True, "send the final prompt to the model (--no-ask: only print it)")
    max_new_tokens: int = redefault(GenerationArgs, "max_new_tokens", 64)


def nested_prompts():
    """Three equivalent ways to nest the introduction/example/start templates."""
    from langchain_core.prompts import PromptTemplate
    from langchain_core.runnables import RunnableLambda, RunnableParallel

    from ch05_chains import prompts as P

    intro = PromptTemplate.from_template(P.NESTED_INTRO)
    example = PromptTemplate.from_template(P.NESTED_EXAMPLE)
    start = PromptTemplate.from_template(P.NESTED_START)

    # 1) 模板相加：字符串模板可以直接用 + 拼接（中间加换行）
    added = intro + "\n\n" + example + "\n\n" + start

    # 2) partial：main 里用 added.partial(person=...) 先固定人物，得到只剩示例与问题的新模板

    # 3) 代替 PipelinePromptTemplate：并行格式化子模板，再填入外层模板
    outer = PromptTemplate.from_template("{introduction}\n\n{example}\n\n{start}")
    to_text = RunnableLambda(lambda value: value.to_string())
    pipeline = RunnableParallel(introduction=intro | to_text, example=example | to_text,
                                start=start | to_text) | outer
    return {"added": added, "pipeline": pipeline}


def main(cfg: Config) -> dict:
    if not cfg.person.strip() or not cfg.input.strip():
        raise UserError("--person and --input must not be empty. To fix: e.g. --person 李白 --input 你好")
    built = nested_prompts()
    values = {"person": cfg.person, "example_q": cfg.example_q, "example_a": cfg.example_a, "input": cfg.input}
    texts = {
        "added": built["added"].format(**values),
        "partial": built["added"].partial(person=cfg.person).format(
            **{k: v for k, v in values.items() if k != "person"}),
        "pipeline": built["pipeline"].invoke(values).to_string(),
    }
    print(f"=== 1) intro + example + start  (variables: {built['added'].input_variables})")
    print(texts["added"])
    print(f"=== 2) .partial(person={cfg.person!r}) -> variables left: "
          f"{built['added'].partial(person=cfg.person).input_variables}")
    print("=== 3) LCEL replacement of PipelinePromptTemplate (sub-templates in parallel -> outer template)")
    same = len(set(texts.values())) == 1
    print(f"all three ways give the same prompt: {same}")
    result = {"texts": texts, "same": same, "answer": None}
    if cfg.ask:
        from langchain_core.output_parsers import StrOutputParser

        from ch05_chains.models import make_llm, print_stand_in

        llm = make_llm(cfg)
        chain = built["pipeline"] | llm | StrOutputParser()
        print_stand_in(llm)
        result["answer"] = chain.invoke(values)
        print(f"=== pipeline | ChatGLM3LLM -> {result['answer']!r}")
    return result


if __name__ == "__main__":
    run(main, Config, __doc__)
