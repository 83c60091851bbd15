"""6.2.5 使用LLM终端完成智能文本问答 — answer a question from a folder of documents, citing file and page.

Reads every .txt/.md/.html/.docx/.pdf and annual-report alltxt file under ``--docs``, splits it, retrieves the best
passages (BM25 / dense / hybrid), asks the model with numbered passages and prints the answer with its citations
``[n] -> file p.N``. If the passages do not support the question (``--threshold``) it says the documents do not say,
without asking the model. ``--mode plain`` is the pipeline in plain Python, ``--mode langchain`` the same prompt as
an LCEL chain over LangChain's own ``BM25Retriever``; ``both`` runs them side by side.

    python ch06_rag/doc_qa.py "海翔药业的法定代表人是谁？"                  # bundled reports, demo model
    python ch06_rag/doc_qa.py --docs path/to/reports "邮储银行2019年的不良贷款率是多少？"
    python ch06_rag/doc_qa.py --mode both --retriever hybrid "安靠智电在职员工有多少人？"
    python ch06_rag/doc_qa.py --model /path/to/chatglm3-6b "海翔药业的董事会秘书是谁？"
    python ch06_rag/doc_qa.py --base-url http://127.0.0.1:8000/v1 "火星的首都是哪里？"   # -> the documents do not say
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import GenerationArgs, ModelArgs, ServerArgs, UserError, arg, run


@dataclass
class Config(ModelArgs, GenerationArgs, ServerArgs):
    question: str = arg("海翔药业的法定代表人是谁？", "the question", positional=True)
    docs: str | None = arg(None, "folder of documents (default data/finreports/reports)")
    mode: str = arg("plain", "plain pipeline, the LangChain chain, or both side by side",
                    choices=("plain", "langchain", "both"))
    retriever: str = arg("bm25", "how passages are found (dense/hybrid embed every chunk with the model first)",
                         choices=("bm25", "dense", "hybrid"))
    k: int = arg(4, "passages given to the model")
    threshold: float = arg(0.5, "answer only if the best passage covers at least this share of the question (0..1)")
    embed_max_tokens: int = arg(64, "dense/hybrid: embed the first N tokens of each chunk (512 with a real model)")
    chunk_size: int = arg(300, "chunk size in characters")
    chunk_overlap: int = arg(50, "overlap between neighbouring chunks in characters")


def build_retriever(cfg, corpus):
    """The chapter-6 retriever the flags ask for (dense/hybrid embed every chunk through ChatGLM3Embeddings)."""
    from ch06_rag.retrieve import BM25Retriever, DenseRetriever, HybridRetriever

    bm25 = BM25Retriever(corpus)
    if cfg.retriever == "bm25":
        return bm25
    from common.langchain_chatglm3 import embeddings_from_config
    from common.paths import output_dir

    emb = embeddings_from_config(cfg, max_tokens=cfg.embed_max_tokens, quiet=True)
    dense = DenseRetriever(corpus, emb, cache_dir=output_dir("ch06", "embeddings"),
                           cache_key=f"{cfg.base_url or cfg.model or 'demo'}|{cfg.embed_max_tokens}")
    return dense if cfg.retriever == "dense" else HybridRetriever([bm25, dense])


def main(cfg: Config) -> dict:
    from ch06_rag.llm import ask_fn, llm_from_cfg
    from ch06_rag.qa import answer_question, corpus_support, langchain_qa_chain, passage_label
    from ch06_rag.retrieve import build_corpus

    question = (cfg.question or "").strip()
    if not question:
        raise UserError('no question. To fix: python ch06_rag/doc_qa.py "海翔药业的法定代表人是谁？"')
    if cfg.k < 1 or not 0.0 <= cfg.threshold <= 1.0:
        raise UserError("--k must be >= 1 and --threshold in [0, 1]")
    corpus, loaded = build_corpus(cfg.docs, cfg.chunk_size, cfg.chunk_overlap)
    retriever = build_retriever(cfg, corpus)
    llm, note = llm_from_cfg(cfg, temperature=cfg.temperature if cfg.seed is not None else 0.0, quiet=True)
    if note:
        print(note)
    results: dict = {"question": question, "files": loaded.files, "skipped": loaded.skipped,
                     "chunks": len(corpus)}

    if cfg.mode in ("plain", "both"):
        start = time.perf_counter()
        r = answer_question(question, retriever, ask_fn(llm), k=cfg.k, threshold=cfg.threshold)
        results["plain"] = {"answer": r.answer, "refused": r.refused, "support": r.support,
                            "cited": [(c.n, c.source, c.page) for c in r.cited],
                            "passages": [(c.n, c.source, c.page) for c in r.passages],
                            "seconds": time.perf_counter() - start}
        print(f"\n[plain, {retriever.name}] Q: {question}\nA: {r.answer}")
        if r.refused:
            print(f"   (best passage covers {r.support:.0%} of the question < --threshold {cfg.threshold:.0%}: "
                  f"the model was not asked)")
        else:
            print("   cited: " + (", ".join(c.label() for c in r.cited) or "none (the model cited no passage)"))
            print("   passages given to the model:")
            for c in r.passages:
                print(f"   {c.label()}: {' '.join(c.text.split())[:70]}…")

    if cfg.mode in ("langchain", "both"):
        from langchain_community.retrievers import BM25Retriever as LCBM25Retriever

        from ch06_rag.retrieve import index_text

        # LangChain's own BM25 retriever (rank_bm25 inside) with our jieba tokeniser; the company name is put in
        # front of each text the same way the plain index does it
        lc_docs = [d.model_copy(update={"page_content": index_text(d)}) for d in corpus.chunks]
        lc_retriever = (LCBM25Retriever.from_documents(lc_docs, preprocess_func=corpus.tokenizer, k=cfg.k)
                        if cfg.retriever == "bm25" else retriever.as_langchain(cfg.k))
        chain = langchain_qa_chain(lc_retriever, llm, support=corpus_support(corpus), threshold=cfg.threshold)
        start = time.perf_counter()
        out = chain.invoke(question)
        results["langchain"] = {"answer": out["answer"], "cited": [(c.n, c.source, c.page) for c in out["cited"]],
                                "passages": [(d.metadata.get("source"), d.metadata.get("page"))
                                             for d in out["context"]],
                                "seconds": time.perf_counter() - start}
        print(f"\n[langchain] Q: {question}\nA: {out['answer']}")
        print("   cited: " + (", ".join(c.label() for c in out["cited"]) or "none"))
        print("   retrieved: " + "; ".join(passage_label(d) for d in out["context"]))
    return results


if __name__ == "__main__":
    run(main, Config, __doc__)
