"""7.1.1 提示模板的输入格式 — a string, a message list, a ChatPromptTemplate with placeholders: what ChatGLM3 sees.

The same request in three input formats, each turned into the exact ChatGLM3 prompt (decoded with its special
tokens) and token count, built with the tokenizer's ``build_chat_input`` the way the LangChain adapter does:

1. a plain string to ``ChatGLM3LLM`` -> one ``<|user|>`` turn (a system instruction written inside the string stays
   user text);
2. a list of messages (system / human / ai) to ``ChatGLM3ChatModel`` -> one role marker per message;
3. a ``ChatPromptTemplate`` with variables and a ``MessagesPlaceholder`` for the history -> filled in, then 2.

Then each format is sent to the model once.

    python ch07_prompt/input_formats.py
    python ch07_prompt/input_formats.py --topic 检索增强生成 --no-ask
    python ch07_prompt/input_formats.py --base-url http://127.0.0.1:8000/v1
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
    topic: str = arg("ChatGLM3", "what the request asks about")
    role: str = arg("大模型工程师", "the role given in the system message")
    ask: bool = arg(True, "also send each format to the model (--no-ask: only show the prompts)")
    max_new_tokens: int = redefault(GenerationArgs, "max_new_tokens", 32)


def three_inputs(topic: str, role: str) -> dict:
    """The three input formats, and what each becomes as LangChain messages."""
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
    from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder

    from ch07_prompt.prompts import INPUT_QUESTION, INPUT_SYSTEM

    text = INPUT_SYSTEM.format(role=role) + "\n" + INPUT_QUESTION.format(topic=topic)
    messages = [SystemMessage(INPUT_SYSTEM.format(role=role)), HumanMessage("你好"), AIMessage("你好，请问有什么可以帮你？"),
                HumanMessage(INPUT_QUESTION.format(topic=topic))]
    template = ChatPromptTemplate.from_messages([("system", INPUT_SYSTEM), MessagesPlaceholder("history"),
                                                 ("human", INPUT_QUESTION)])
    filled = template.format_messages(role=role, topic=topic, history=messages[1:3])
    return {"string": text, "messages": messages, "template": template, "template_messages": filled}


def chatglm3_prompt(tokenizer, messages) -> dict:
    """ChatGLM3 ids of LangChain messages (or a plain string) via ``build_chat_input``; decoded with special tokens."""
    from langchain_core.messages import convert_to_openai_messages

    from common.openai_protocol import messages_to_history

    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]  # ChatGLM3LLM sends a string as one user turn
    else:
        messages = convert_to_openai_messages(messages)
    history = messages_to_history(messages)
    last = history[-1]
    ids = tokenizer.build_chat_input(last["content"], history=history[:-1], role=last["role"])["input_ids"][0].tolist()
    return {"ids": ids, "text": tokenizer.decode(ids), "n_tokens": len(ids),
            "roles": [h["role"] for h in history]}


def main(cfg: Config) -> dict:
    if not cfg.topic.strip() or not cfg.role.strip():
        raise UserError("--topic and --role must not be empty")
    from common.langchain_chatglm3 import shared_model_and_tokenizer

    inputs = three_inputs(cfg.topic, cfg.role)
    if cfg.base_url:  # the prompt is built on the server; show it with the local tokenizer of the same format
        from common.chatglm3 import load_tokenizer
        tokenizer = load_tokenizer(cfg.model)
    else:
        _, tokenizer = shared_model_and_tokenizer(cfg.model, cfg.precision, cfg.device, quiet=True,
                                                   kernels=getattr(cfg, "cpu_kernels", "plain"))
    shown = {
        "1 string -> ChatGLM3LLM": chatglm3_prompt(tokenizer, inputs["string"]),
        "2 message list -> ChatGLM3ChatModel": chatglm3_prompt(tokenizer, inputs["messages"]),
        "3 ChatPromptTemplate + MessagesPlaceholder": chatglm3_prompt(tokenizer, inputs["template_messages"]),
    }
    print(f"template variables: {inputs['template'].input_variables}")
    for name, p in shown.items():
        print(f"=== {name}: roles {p['roles']}, {p['n_tokens']} tokens")
        print(p["text"])
    same = shown["2 message list -> ChatGLM3ChatModel"]["ids"] == shown["3 ChatPromptTemplate + MessagesPlaceholder"]["ids"]
    print(f"message list and filled template give the same tokens: {same}")
    answers = {}
    if cfg.ask:
        from ch05_chains.models import make_chat_model, make_llm, print_stand_in

        llm, chat = make_llm(cfg), make_chat_model(cfg)
        print_stand_in(chat, "answers")
        answers["string"] = llm.invoke(inputs["string"])
        answers["messages"] = chat.invoke(inputs["messages"]).content
        answers["template"] = (inputs["template"] | chat).invoke(
            {"role": cfg.role, "topic": cfg.topic, "history": inputs["messages"][1:3]}).content
        for key, value in answers.items():
            print(f"{key:>9} -> {value.strip()[:120]!r}")
    return {"prompts": shown, "same_tokens": same, "answers": answers}


if __name__ == "__main__":
    run(main, Config, __doc__)
