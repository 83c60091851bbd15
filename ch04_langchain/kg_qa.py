"""4.3.2 基于ChatGLM3的LLM终端完成智能问答 — question -> entity linking -> sub-graph facts -> prompt -> ChatGLM3's
answer, over the graph ``kg_extract.py`` saved (or, if there is none yet, the graph of the bundled gold triples).

    python ch04_langchain/kg_qa.py
    python ch04_langchain/kg_qa.py --questions "ChatGLM3-6B是谁发布的？" "LangChain的创建者是谁？"
    python ch04_langchain/kg_qa.py --graph outputs/ch04/kg/graph.json --model /path/to/chatglm3-6b
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
    questions: list[str] = arg(["ChatGLM3-6B是由谁发布的？", "LangChain是谁创建的？", "今天午饭吃什么？"],
                               "questions to answer from the graph")
    graph: str | None = arg(None, "graph JSON written by kg_extract.py (default: outputs/ch04/kg/graph.json if "
                                  "it exists, else the bundled gold triples)")
    hops: int = arg(1, "how far around the linked entities facts are collected")


def main(cfg: Config) -> dict:
    questions = [q for q in cfg.questions if q.strip()]
    if not questions:
        raise UserError("no question given. To fix: pass --questions '...'")
    if cfg.hops < 1:
        raise UserError("--hops must be >= 1")
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate

    from ch04_langchain.kg import build_graph, link_entities, load_graph, load_paragraphs, subgraph_facts
    from ch04_langchain.prompts import KG_ANSWER_SYSTEM, KG_ANSWER_TEMPLATE, KG_NO_FACTS
    from common.langchain_chatglm3 import chat_model_from_config, demo_line
    from common.paths import output_dir

    default = output_dir("ch04", "kg") / "graph.json"
    path = Path(cfg.graph) if cfg.graph else default
    if cfg.graph and not path.is_file():
        raise UserError(f"{path} does not exist. To fix: run `python ch04_langchain/kg_extract.py` first, or "
                        "leave out --graph to use the bundled gold triples.")
    if path.is_file():
        graph, where = load_graph(path), str(path)
    else:
        graph = None
        for p in load_paragraphs():
            graph = build_graph(p["triples"], p["id"], graph)
        where = "the bundled gold triples (run kg_extract.py to build your own)"
    print(f"graph: {graph.number_of_nodes()} entities, {graph.number_of_edges()} relations from {where}")
    model = chat_model_from_config(cfg)
    chain = ChatPromptTemplate.from_messages([("system", KG_ANSWER_SYSTEM), ("human", KG_ANSWER_TEMPLATE)]) \
        | model | StrOutputParser()
    results = []
    for q in questions:
        entities = link_entities(q, graph)
        facts = subgraph_facts(graph, entities, hops=cfg.hops)
        print(f"\n######## {q}\n[entity linking] {entities or 'none'}")
        if not facts:
            answer = KG_NO_FACTS
        else:
            print("[sub-graph facts]\n  " + "\n  ".join(facts))
            answer = chain.invoke({"facts": "\n".join(facts), "question": q})
        print(f"[answer] {answer}")
        results.append({"question": q, "entities": entities, "facts": facts, "answer": answer})
    line = demo_line(model)
    if line:
        print(line)
    return {"results": results, "graph": where}


if __name__ == "__main__":
    run(main, Config, __doc__)
