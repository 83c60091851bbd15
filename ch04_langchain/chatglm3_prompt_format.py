"""4.1.5 ChatGLM3格式化提示词的构建与使用 — how a ``ChatPromptTemplate`` becomes ChatGLM3's
``[gMASK]sop<|system|>…<|user|>…<|assistant|>`` token ids, and why a raw-string prompt to a chat model goes wrong.

    python ch04_langchain/chatglm3_prompt_format.py
    python ch04_langchain/chatglm3_prompt_format.py --question "什么是INT4量化？" --model /path/to/chatglm3-6b

ChatGLM3 was trained on role *tokens* (one id each). ``ChatGLM3ChatModel`` maps system/human/ai/tool messages to
those tokens. A prompt flattened to a string (``"System: …\\nHuman: …"``) reaches the model as one user turn: the
role names are just text, and even a literal ``"<|user|>"`` typed into a string is encoded as five ordinary pieces,
never as the role token — the model sees a conversation it was never trained on.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import GenerationArgs, ModelArgs, UserError, arg, redefault, run


@dataclass
class Config(ModelArgs, GenerationArgs):
    max_new_tokens: int = redefault(GenerationArgs, "max_new_tokens", 48)
    temperature: float = redefault(GenerationArgs, "temperature", 0.0)
    question: str = arg("用一句话介绍ChatGLM3。", "the human message")
    system: str | None = arg(None, "the system message (default: the chapter's assistant prompt)")


def role_tokens(tokenizer, ids: list[int]) -> list[str]:
    """The special (role) tokens in ``ids``, in order."""
    specials = {tokenizer.get_command(t): t for t in ("[gMASK]", "sop", "<|system|>", "<|user|>", "<|assistant|>",
                                                       "<|observation|>")}
    return [specials[i] for i in ids if i in specials]


def main(cfg: Config) -> dict:
    if not cfg.question.strip():
        raise UserError("--question is empty. To fix: pass --question '...'")
    from langchain_core.messages import convert_to_openai_messages
    from langchain_core.prompts import ChatPromptTemplate

    from ch04_langchain.prompts import ASSISTANT_SYSTEM
    from common.langchain_chatglm3 import ChatGLM3ChatModel, ChatGLM3LLM, shared_model_and_tokenizer
    from common.openai_protocol import messages_to_history, prompt_ids

    from common.cli import apply_threads
    apply_threads(cfg)
    model, tok = shared_model_and_tokenizer(cfg.model, cfg.precision, cfg.device,
                                            kernels=getattr(cfg, "cpu_kernels", "plain"))
    system = cfg.system or ASSISTANT_SYSTEM
    template = ChatPromptTemplate.from_messages([("system", "{system}"), ("human", "{question}")])
    value = template.invoke({"system": system, "question": cfg.question})

    print("== 1. ChatPromptTemplate -> messages ==")
    for m in value.to_messages():
        print(f"  {type(m).__name__:<14} {m.content!r}")
    history = messages_to_history(convert_to_openai_messages(value.to_messages()))
    ids = prompt_ids(tok, history)
    print("\n== 2. messages -> ChatGLM3 history -> token ids (what ChatGLM3ChatModel sends the model) ==")
    print(f"  history: {history}")
    print(f"  text   : {tok.decode(ids)!r}")
    print(f"  ids    : {ids}")
    print(f"  role tokens: {role_tokens(tok, ids)}")

    raw = value.to_string()  # what you get when a chat prompt is flattened to a string
    raw_ids = tok.build_chat_ids(raw, history=[])
    print("\n== 3. the same prompt as a raw string, sent to an LLM endpoint ==")
    print(f"  string : {raw!r}")
    print(f"  text   : {tok.decode(raw_ids)!r}")
    print(f"  role tokens: {role_tokens(tok, raw_ids)}   <- no <|system|>: the system prompt became user text")
    typed = f"<|system|>\n{system}<|user|>\n{cfg.question}"
    typed_ids = tok.encode(typed, add_special_tokens=False)
    print("\n== 4. typing the role markers into a string does not help ==")
    print(f"  string : {typed!r}")
    print(f"  first ids: {typed_ids[:8]} = {[tok.decode([i]) for i in typed_ids[:8]]}")
    print(f"  the real <|system|> token is ONE id: {tok.get_command('<|system|>')}; in the string it is "
          f"{len(tok.encode('<|system|>', add_special_tokens=False))} ordinary pieces")

    gen = {"max_tokens": cfg.max_new_tokens, "temperature": cfg.temperature, "top_p": cfg.top_p}
    chat = ChatGLM3ChatModel(model=model, tokenizer=tok, **gen)
    llm = ChatGLM3LLM(model=model, tokenizer=tok, **gen)
    right = (template | chat).invoke({"system": system, "question": cfg.question}).content
    wrong = llm.invoke(raw)
    print("\n== 5. answers ==")
    print(f"  roles as tokens (template | ChatGLM3ChatModel): {right!r}")
    print(f"  raw string      (ChatGLM3LLM.invoke(str))     : {wrong!r}")
    return {"ids": ids, "role_tokens": role_tokens(tok, ids), "raw_role_tokens": role_tokens(tok, raw_ids),
            "typed_first_ids": typed_ids[:8], "answer_roles": right, "answer_raw": wrong}


if __name__ == "__main__":
    run(main, Config, __doc__)
