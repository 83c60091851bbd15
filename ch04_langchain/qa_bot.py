"""4.2 ChatGLM3+LangChain搭建专业问答机器人 — a QA bot over a 205-entry FAQ about deploying and using ChatGLM3:
4.2.1 the bare LLM endpoint answers, 4.2.2 jieba + BM25 finds the closest FAQ entries, 4.2.3 the prompt is built
from them, 4.2.4 ChatGLM3 answers from the knowledge base — or says honestly that the question is not in it.

    python ch04_langchain/qa_bot.py                                   # two example questions, demo model
    python ch04_langchain/qa_bot.py --questions "INT4量化要多少显存" "怎么做红烧肉"
    python ch04_langchain/qa_bot.py --model /path/to/chatglm3-6b      # real answers
    python ch04_langchain/qa_bot.py --base-url http://127.0.0.1:8000/v1
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
    max_new_tokens: int = redefault(GenerationArgs, "max_new_tokens", 96)
    temperature: float = redefault(GenerationArgs, "temperature", 0.1)
    questions: list[str] = arg(["显卡只有6G能跑ChatGLM3吗", "红烧肉怎么做才好吃"], "questions for the bot")
    faq: str | None = arg(None, "FAQ JSONL (default: data/ch04/faq.jsonl)")
    k: int = arg(3, "FAQ entries put into the prompt")
    threshold: float | None = arg(None, "coverage below which the bot says 'not in my knowledge base' "
                                        "(default: the value measured by faq_search.py)")
    plain: bool = arg(True, "4.2.1: also show the answer of the bare LLM endpoint (no knowledge base)")


def build_chain(model, index, k: int, threshold: float):
    """question -> retrieve -> (refuse | prompt -> ChatGLM3 -> text), as one LCEL runnable returning a dict."""
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.runnables import RunnableLambda

    from ch04_langchain.prompts import NOT_IN_KB, QA_CONTEXT_ITEM, QA_SYSTEM, QA_TEMPLATE

    prompt = ChatPromptTemplate.from_messages([("system", QA_SYSTEM), ("human", QA_TEMPLATE)])
    answer = prompt | model | StrOutputParser()

    def retrieve(question: str) -> dict:
        hits = index.search(question, k)
        context = "\n".join(QA_CONTEXT_ITEM.format(rank=r, question=h.entry["question"], answer=h.entry["answer"])
                            for r, h in enumerate(hits, 1))
        return {"question": question, "hits": hits, "context": context, "k": len(hits),
                "in_kb": bool(hits) and hits[0].coverage >= threshold}

    def respond(state: dict) -> dict:
        if not state["in_kb"]:
            return {**state, "prompt": None, "answer": NOT_IN_KB}
        variables = {"question": state["question"], "context": state["context"], "k": state["k"]}
        return {**state, "prompt": prompt.invoke(variables).to_messages(), "answer": answer.invoke(variables)}

    return RunnableLambda(retrieve) | RunnableLambda(respond)


def main(cfg: Config) -> dict:
    questions = [q for q in cfg.questions if q.strip()]
    if not questions:
        raise UserError("no question given. To fix: pass --questions '...'")
    from ch04_langchain.faq import DEFAULT_THRESHOLD, FAQ_PATH, FaqIndex, load_faq
    from common.langchain_chatglm3 import chat_model_from_config, demo_line, llm_from_config

    threshold = DEFAULT_THRESHOLD if cfg.threshold is None else cfg.threshold
    index = FaqIndex(load_faq(cfg.faq or FAQ_PATH))
    model = chat_model_from_config(cfg)
    llm = llm_from_config(cfg) if cfg.plain else None
    bot = build_chain(model, index, cfg.k, threshold)
    results = []
    for q in questions:
        print(f"\n######## {q}")
        plain = None
        if llm is not None:
            plain = llm.invoke(q)
            print(f"[4.2.1 bare LLM endpoint] {plain}")
        state = bot.invoke(q)
        top = state["hits"][0] if state["hits"] else None
        print("[4.2.2 retrieval] " + ("no words to search with" if top is None else
                                      f"best #{top.entry['id']} {top.entry['question']} (bm25 {top.score:.2f}, "
                                      f"coverage {top.coverage:.2f}, threshold {threshold})"))
        if state["prompt"]:
            print("[4.2.3 prompt]")
            for m in state["prompt"]:
                print(f"  <{m.type}> " + m.content.replace("\n", "\n    "))
        print(f"[4.2.4 answer] {state['answer']}")
        if state["in_kb"] and top is not None:
            print(f"  (the FAQ's own answer: {top.entry['answer']})")
        results.append({"question": q, "plain": plain, "in_kb": state["in_kb"], "answer": state["answer"],
                        "top_id": top.entry["id"] if top else None,
                        "coverage": top.coverage if top else 0.0})
    line = demo_line(model)
    if line:
        print(line)
    return {"results": results, "threshold": threshold}


if __name__ == "__main__":
    run(main, Config, __doc__)
