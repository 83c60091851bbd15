"""7.2.1 提示模板的自定义格式 — a custom StringPromptTemplate that explains a Python function from its source.

``FunctionExplainerPrompt`` takes a function object (not text): ``format(function=f)`` reads its name and source
with ``inspect.getsource`` and fills the chapter's explain-this-function prompt. Any Python logic can run inside a
custom template; only the model's *input* is built here — nothing the model writes is executed.

    python ch07_prompt/custom_template.py                              # explains common.cli.arg
    python ch07_prompt/custom_template.py --function ch05_chains.safe_math.safe_eval --no-ask
    python ch07_prompt/custom_template.py --base-url http://127.0.0.1:8000/v1
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
    function: str = arg("common.cli.arg", "dotted name of a function in this repository (module.function)")
    ask: bool = arg(True, "send the prompt to the model (--no-ask: only print it)")
    max_new_tokens: int = redefault(GenerationArgs, "max_new_tokens", 96)


def function_explainer_prompt():
    """The custom template class, built lazily (langchain is imported inside)."""
    import inspect

    from langchain_core.prompts import StringPromptTemplate
    from pydantic import field_validator

    from ch07_prompt.prompts import EXPLAIN_FUNCTION

    class FunctionExplainerPrompt(StringPromptTemplate):
        """input: ``function`` (a Python function object) -> the explain-this-function prompt."""

        @field_validator("input_variables")
        @classmethod
        def _needs_function(cls, v):
            if v != ["function"]:
                raise ValueError("FunctionExplainerPrompt takes exactly one input variable: function")
            return v

        def format(self, **kwargs) -> str:
            fn = kwargs["function"]
            if not callable(fn):
                raise TypeError(f"expected a function, got {type(fn).__name__}")
            return EXPLAIN_FUNCTION.format(function_name=fn.__name__, source=inspect.getsource(fn).rstrip())

    return FunctionExplainerPrompt(input_variables=["function"])


def resolve_function(dotted: str):
    """``module.sub.function`` -> the function (only modules of this repository: common, ch*)."""
    import importlib

    module_name, _, name = dotted.rpartition(".")
    if not module_name or not (module_name.startswith("common") or module_name.startswith("ch")):
        raise UserError(f"--function {dotted!r}: give module.function inside this repository, e.g. common.cli.arg")
    try:
        fn = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as exc:
        raise UserError(f"--function {dotted!r} not found ({exc}). To fix: e.g. --function common.cli.arg") from None
    if not callable(fn):
        raise UserError(f"--function {dotted!r} is not a function")
    return fn


def main(cfg: Config) -> dict:
    fn = resolve_function(cfg.function)
    prompt = function_explainer_prompt()
    text = prompt.format(function=fn)
    print(f"=== {type(prompt).__name__}(function={cfg.function}) ->\n{text}")
    result = {"prompt": text, "answer": None}
    if cfg.ask:
        from ch05_chains.models import make_llm, print_stand_in

        llm = make_llm(cfg)
        print_stand_in(llm, "answers")
        result["answer"] = (prompt | llm).invoke({"function": fn})
        print(f"=== ChatGLM3LLM ->\n{result['answer'].strip()}")
    return result


if __name__ == "__main__":
    run(main, Config, __doc__)
