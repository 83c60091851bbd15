"""5.1.1 提示模板的4种类型 — PromptTemplate, ChatPromptTemplate, FewShotPromptTemplate and a custom template.

Each template is printed with what it formats to (f-string and jinja2 syntax side by side); then the chat template
goes to ChatGLM3 through the LangChain chat model, so you see the whole path from template to answer.

    python ch05_chains/template_types.py                       # demo model, in-process
    python ch05_chains/template_types.py --concept 注意力机制 --no-ask   # templates only, no model
    python ch05_chains/template_types.py --base-url http://127.0.0.1:8000/v1
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
    concept: str = arg("提示模板", "the concept the prompts ask about")
    field: str = arg("大模型应用开发", "the expert field put into the system message")
    word: str = arg("勇敢", "the word the few-shot antonym prompt asks about")
    ask: bool = arg(True, "send the chat prompt to the model (--no-ask: only print the templates)")
    max_new_tokens: int = redefault(GenerationArgs, "max_new_tokens", 64)


def concept_card_template():
    """A custom ``StringPromptTemplate``: any Python logic may build the text (here a numbered checklist)."""
    from langchain_core.prompts import StringPromptTemplate

    class ConceptCardPrompt(StringPromptTemplate):
        """Formats a concept and a list of aspects into a numbered checklist prompt."""

        def format(self, **kwargs) -> str:
            kwargs = {**self.partial_variables, **kwargs}
            aspects = kwargs["aspects"]
            if isinstance(aspects, str):
                aspects = [a for a in aspects.replace("，", ",").split(",") if a.strip()]
            lines = "\n".join(f"{i}. {a.strip()}" for i, a in enumerate(aspects, 1))
            return f"请为“{kwargs['concept']}”写一张知识卡片，依次覆盖：\n{lines}\n卡片："

    return ConceptCardPrompt(input_variables=["concept", "aspects"])


def build_templates() -> dict:
    """The four template types (plus the jinja2 variant), built from the prompts in ``ch05_chains.prompts``."""
    from langchain_core.prompts import (ChatPromptTemplate, FewShotPromptTemplate, HumanMessagePromptTemplate,
                                        PromptTemplate, SystemMessagePromptTemplate)

    from ch05_chains import prompts as P

    return {
        "prompt_fstring": PromptTemplate.from_template(P.QUESTION_TEMPLATE),
        "prompt_jinja2": PromptTemplate.from_template(P.QUESTION_TEMPLATE_JINJA2, template_format="jinja2"),
        "chat": ChatPromptTemplate.from_messages([
            SystemMessagePromptTemplate.from_template(P.SYSTEM_ROLE),
            HumanMessagePromptTemplate.from_template(P.QUESTION_TEMPLATE)]),
        "few_shot": FewShotPromptTemplate(
            examples=P.ANTONYM_EXAMPLES[:3], example_prompt=PromptTemplate.from_template(P.ANTONYM_EXAMPLE_TEMPLATE),
            prefix=P.ANTONYM_PREFIX, suffix=P.ANTONYM_SUFFIX, input_variables=["word"], example_separator="\n\n"),
        "custom": concept_card_template(),
    }


def format_all(templates: dict, cfg: Config) -> dict:
    """What each template turns into for the flags (strings; the chat template as a list of role/content)."""
    out = {
        "prompt_fstring": templates["prompt_fstring"].format(concept=cfg.concept),
        "prompt_jinja2": templates["prompt_jinja2"].format(concept=cfg.concept, audience="初学者"),
        "chat": [(m.type, m.content) for m in templates["chat"].format_messages(field=cfg.field,
                                                                                 concept=cfg.concept)],
        "few_shot": templates["few_shot"].format(word=cfg.word),
        "custom": templates["custom"].format(concept=cfg.concept, aspects="定义,例子,常见错误"),
    }
    return out


def main(cfg: Config) -> dict:
    if not cfg.concept.strip() or not cfg.word.strip():
        raise UserError("--concept and --word must not be empty. To fix: e.g. --concept 提示模板 --word 勇敢")
    templates = build_templates()
    formatted = format_all(templates, cfg)
    for name, template in templates.items():
        kind = type(template).__name__
        syntax = getattr(template, "template_format", "-")
        print(f"=== {name}: {kind} (syntax: {syntax}, variables: {template.input_variables})")
        value = formatted[name]
        if isinstance(value, list):
            for role, content in value:
                print(f"  [{role}] {content}")
        else:
            print("  " + value.replace("\n", "\n  "))
    result = {"formatted": formatted, "answer": None}
    if cfg.ask:
        from ch05_chains.models import make_chat_model, print_stand_in

        chat_model = make_chat_model(cfg)
        chain = templates["chat"] | chat_model
        print_stand_in(chat_model)
        message = chain.invoke({"field": cfg.field, "concept": cfg.concept})
        result["answer"] = message.content
        print(f"=== chat template | ChatGLM3ChatModel -> {message.content!r}")
    return result


if __name__ == "__main__":
    run(main, Config, __doc__)
