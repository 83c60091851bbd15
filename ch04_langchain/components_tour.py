"""4.1.1 LangChain的基本构成、组件与典型场景 — model, prompt, output parser, chain, retriever, memory: each piece's
input and output, printed, with ChatGLM3 as the model.

    python ch04_langchain/components_tour.py                                   # demo model, in-process
    python ch04_langchain/components_tour.py --model /path/to/chatglm3-6b --device cuda --precision fp16
    python ch04_langchain/components_tour.py --base-url http://127.0.0.1:8000/v1   # a running ch03 server
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import GenerationArgs, ModelArgs, ServerArgs, UserError, arg, redefault, run

# 检索器演示用的几段小文档（完整的知识库见 4.2 的 qa_bot.py）
TOUR_DOCS = [
    "ChatGLM3-6B 是智谱AI和清华大学KEG实验室联合发布的开源对话模型，支持工具调用和代码解释器。",
    "INT4 量化后的 ChatGLM3-6B 大约需要 5GB 显存，FP16 推理大约需要 13GB 显存。",
    "LangChain 用 LCEL 的竖线语法把提示模板、模型和输出解析器串成一条链。",
    "RAG（检索增强生成）先检索相关文档，再把文档放进提示词让模型回答。",
    "LoRA 微调只训练插入的低秩矩阵，显存占用远小于全参数微调。",
]


@dataclass
class Config(ModelArgs, GenerationArgs, ServerArgs):
    max_new_tokens: int = redefault(GenerationArgs, "max_new_tokens", 64)
    question: str = arg("LangChain 是什么？", "the question sent through the chain")


def show(title: str, given, got) -> None:
    print(f"\n== {title} ==\n  input : {given!r}\n  output: {got!r}")


def main(cfg: Config) -> dict:
    if not cfg.question.strip():
        raise UserError("--question is empty. To fix: pass --question '...'")
    import jieba
    from langchain_community.retrievers import BM25Retriever
    from langchain_core.documents import Document
    from langchain_core.messages import HumanMessage
    from langchain_core.output_parsers import CommaSeparatedListOutputParser, StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder

    from ch04_langchain.prompts import ASSISTANT_SYSTEM
    from common.langchain_chatglm3 import chat_model_from_config, demo_line

    jieba.setLogLevel(60)
    out: dict = {}
    # 1. 模型 Model：消息进，AIMessage 出
    model = chat_model_from_config(cfg)
    reply = model.invoke(cfg.question)
    show("1. model (ChatGLM3ChatModel.invoke)", cfg.question, reply.content)
    print(f"  usage : {reply.usage_metadata}")
    out["model"] = reply.content

    # 2. 提示模板 Prompt：变量进，消息列表出
    prompt = ChatPromptTemplate.from_messages([("system", ASSISTANT_SYSTEM), ("human", "{question}")])
    value = prompt.invoke({"question": cfg.question})
    show("2. prompt (ChatPromptTemplate.invoke)", {"question": cfg.question},
         [(m.type, m.content) for m in value.to_messages()])
    out["prompt_messages"] = [m.type for m in value.to_messages()]

    # 3. 输出解析器 OutputParser：模型文本进，Python 对象出
    parser = CommaSeparatedListOutputParser()
    show("3. output parser (CommaSeparatedListOutputParser.parse)", "模型, 提示, 解析器, 链",
         parser.parse("模型, 提示, 解析器, 链"))
    print(f"  the instructions it adds to a prompt: {parser.get_format_instructions()[:60]}...")

    # 4. 链 Chain (LCEL)：prompt | model | parser
    chain = prompt | model | StrOutputParser()
    answer = chain.invoke({"question": cfg.question})
    show("4. chain (prompt | model | StrOutputParser)", {"question": cfg.question}, answer)
    out["chain"] = answer

    # 5. 检索器 Retriever：查询进，文档出（BM25 + jieba 分词，纯本地）
    retriever = BM25Retriever.from_documents([Document(page_content=t) for t in TOUR_DOCS],
                                             preprocess_func=jieba.lcut, k=2)
    query = "量化以后需要多少显存"
    docs = retriever.invoke(query)
    show("5. retriever (BM25Retriever.invoke, k=2)", query, [d.page_content for d in docs])
    out["retrieved"] = [d.page_content for d in docs]

    # 6. 记忆 Memory：把历史消息放进提示的 MessagesPlaceholder（第5章讲 ConversationChain 与持久化的历史）
    chat_prompt = ChatPromptTemplate.from_messages([("system", ASSISTANT_SYSTEM), MessagesPlaceholder("history"),
                                                    ("human", "{question}")])
    history: list = []
    for q in ("我叫小明。", "我叫什么名字？"):
        r = (chat_prompt | model).invoke({"question": q, "history": history})
        show("6. memory (MessagesPlaceholder('history') + the turns so far)", q, r.content)
        history += [HumanMessage(q), r]
    out["memory"] = [(m.type, m.content) for m in history]
    print(f"  history now: {len(history)} messages {[m.type for m in history]}")
    line = demo_line(model)
    if line:
        print("\n" + line)
    return out


if __name__ == "__main__":
    run(main, Config, __doc__)
