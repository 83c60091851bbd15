"""4.1.3 使用ChatGLM3构建LangChain的LLM终端 — the LLM endpoint walked through: a 15-line ``LLM`` subclass as the
book writes it, then the repository's ``ChatGLM3LLM`` (``_call``, ``_stream``, stop, parameters, callbacks) and how
its prompt string becomes ChatGLM3 tokens.

    python ch04_langchain/llm_endpoint.py
    python ch04_langchain/llm_endpoint.py --prompt "用一句话介绍LangChain" --show-source
    python ch04_langchain/llm_endpoint.py --base-url http://127.0.0.1:8000/v1     # the same class over HTTP
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import GenerationArgs, ModelArgs, ServerArgs, UserError, arg, redefault, run


@dataclass
class Config(ModelArgs, GenerationArgs, ServerArgs):
    max_new_tokens: int = redefault(GenerationArgs, "max_new_tokens", 48)
    prompt: str = arg("你好，请介绍一下你自己。", "the prompt string sent to the LLM endpoint")
    stop: str = arg("，", "a stop sequence for the stop demonstration ('' to skip it)")
    show_source: bool = arg(False, "also print the source of ChatGLM3LLM._call and ._stream")


def book_style_llm(model, tokenizer):
    """The LLM endpoint as the book builds it: subclass ``LLM``, implement ``_call`` with ``chat()``."""
    from langchain_core.language_models.llms import LLM

    from common.chatglm3 import chat

    class BookChatGLM3(LLM):
        max_new_tokens: int = 48

        @property
        def _llm_type(self) -> str:
            return "chatglm3-book"

        def _call(self, prompt: str, stop: list[str] | None = None, run_manager=None, **kwargs: Any) -> str:
            response, _history = chat(model, tokenizer, prompt, history=[], max_new_tokens=self.max_new_tokens,
                                      do_sample=False)
            return response if isinstance(response, str) else str(response)

    return BookChatGLM3()


def main(cfg: Config) -> dict:
    if not cfg.prompt.strip():
        raise UserError("--prompt is empty. To fix: pass --prompt '...'")
    import inspect

    from langchain_core.callbacks import BaseCallbackHandler

    from common.langchain_chatglm3 import ChatGLM3LLM, demo_line, llm_from_config

    out: dict = {}
    llm = llm_from_config(cfg)
    if llm.in_process:
        model, tok = llm.model_and_tokenizer()
        print("== 1. the book's LLM endpoint: 15 lines (LLM subclass + _call -> common.chatglm3.chat) ==")
        book = book_style_llm(model, tok)
        out["book"] = book.invoke(cfg.prompt)
        print(f"  BookChatGLM3().invoke({cfg.prompt!r}) -> {out['book']!r}")
        ids = tok.build_chat_ids(cfg.prompt, history=[])
        print("\n== 2. how the prompt string becomes ChatGLM3 tokens (a user turn) ==")
        print(f"  text  : {tok.decode(ids)!r}")
        print(f"  ids   : {ids}")
        print(f"  pieces: {[tok.decode([i]) for i in ids]}")
        out["prompt_ids"] = ids
    else:
        print(f"== (talking to {llm.base_url}: the server builds the same ChatGLM3 tokens) ==")

    print("\n== 3. ChatGLM3LLM: invoke -> _call ==")
    print(f"  identifying params: {llm._identifying_params}")
    out["invoke"] = llm.invoke(cfg.prompt)
    print(f"  invoke -> {out['invoke']!r}")

    print("\n== 4. stream -> _stream (one chunk per token, '|' between chunks) ==")
    chunks = list(llm.stream(cfg.prompt))
    print("  " + "|".join(chunks))
    out["stream_chunks"] = len(chunks)

    if cfg.stop:
        print(f"\n== 5. stop sequences: stop=[{cfg.stop!r}] ==")
        out["stopped"] = llm.invoke(cfg.prompt, stop=[cfg.stop])
        print(f"  -> {out['stopped']!r}")

    class Trace(BaseCallbackHandler):
        """What LangChain tells callbacks around one call."""
        tokens = 0

        def on_llm_start(self, serialized, prompts, **kwargs):
            print(f"  on_llm_start   prompts={prompts}")

        def on_llm_new_token(self, token, **kwargs):
            self.tokens += 1

        def on_llm_end(self, response, **kwargs):
            print(f"  on_llm_end     {self.tokens} tokens streamed, text={response.generations[0][0].text!r}")

    print("\n== 6. callbacks around a streamed call ==")
    trace = Trace()
    "".join(llm.stream(cfg.prompt, config={"callbacks": [trace]}))
    out["callback_tokens"] = trace.tokens

    print("\n== 7. generation kwargs per call: temperature / top_p / max_new_tokens / repetition_penalty ==")
    out["short"] = llm.invoke(cfg.prompt, max_new_tokens=8, temperature=0, repetition_penalty=1.2)
    print(f"  invoke(..., max_new_tokens=8, temperature=0, repetition_penalty=1.2) -> {out['short']!r}")
    if cfg.show_source:
        for name in ("_call", "_stream"):
            print(f"\n== source of ChatGLM3LLM.{name} ==\n{inspect.getsource(getattr(ChatGLM3LLM, name))}")
    line = demo_line(llm)
    if line:
        print(line)
    return out


if __name__ == "__main__":
    run(main, Config, __doc__)
