"""6.2.5 Question answering over documents with citations (plain Python and LangChain, same prompt).

retrieve -> numbered passages in :data:`ch06_rag.prompts.QA_PROMPT` -> the model answers citing ``[n]`` -> each
``[n]`` is mapped back to its file and page. When the retrieved passages do not support the question (BM25 coverage
of the question by the best passage below ``threshold``) the model is **not asked** and the answer is the fixed
:data:`~ch06_rag.prompts.NO_ANSWER` ("the documents do not say"): no answer invented from nowhere.

API (the appendix and ch13 import it)::

    from ch06_rag.qa import answer_question, langchain_qa_chain
    result = answer_question("海翔药业的法定代表人是谁？", retriever, ask, k=4, threshold=0.5)
    result.answer, result.cited, result.refused      # text, [Citation(n, source, page, text)], bool
    chain = langchain_qa_chain(retriever.as_langchain(k=4), llm)   # LCEL: retriever | prompt | llm
    chain.invoke("海翔药业的法定代表人是谁？")                          # {"answer", "context"}
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Sequence

from .prompts import NO_ANSWER, qa_prompt

DEFAULT_THRESHOLD = 0.5
_CITE = re.compile(r"\[(\d{1,2})(?:\s*[,，、]\s*(\d{1,2}))*\]")


@dataclass
class Citation:
    n: int
    source: str
    page: int
    text: str
    chunk_id: str = ""

    def label(self) -> str:
        return f"[{self.n}] {self.source} p.{self.page}"


@dataclass
class QAResult:
    question: str
    answer: str
    passages: list[Citation] = field(default_factory=list)   # every numbered passage the model saw
    cited: list[Citation] = field(default_factory=list)      # the ones its answer cites
    refused: bool = False                                     # True: retrieval too weak, model not asked
    support: float = 0.0
    prompt: str = ""

    def sources_text(self) -> str:
        shown = self.cited or self.passages
        return "\n".join(c.label() for c in shown)


def passage_label(doc) -> str:
    meta = doc.metadata
    name = meta.get("company") or meta.get("source", "")
    return f"{name} 第{meta.get('page', 1)}页"


def parse_citations(answer: str, n_passages: int) -> list[int]:
    """Passage numbers cited as ``[n]`` / ``[1, 2]`` / ``[1，2]`` that exist (1..n_passages), in first-seen order."""
    seen: list[int] = []
    for m in re.finditer(r"\[([\d\s,，、]+)\]", answer):
        for part in re.split(r"[\s,，、]+", m.group(1)):
            if part.isdigit() and 1 <= int(part) <= n_passages and int(part) not in seen:
                seen.append(int(part))
    return seen


def _citations(docs: Sequence) -> list[Citation]:
    return [Citation(i, d.metadata.get("source", ""), int(d.metadata.get("page", 1)), d.page_content,
                     d.metadata.get("chunk_id", "")) for i, d in enumerate(docs, 1)]


def answer_question(question: str, retriever, ask: Callable[[str], str], k: int = 4,
                    threshold: float = DEFAULT_THRESHOLD, max_chars: int = 500) -> QAResult:
    """The plain pipeline: ``retriever.search`` (a chapter-6 retriever), the support check, one model call."""
    question = (question or "").strip()
    if not question:
        from common.cli import UserError
        raise UserError("the question is empty. To fix: ask something, e.g. \"海翔药业的法定代表人是谁？\"")
    hits = retriever.search(question, k)
    support = retriever.corpus.support(question, hits)
    passages = _citations([h.doc for h in hits])
    if not hits or support < threshold:
        return QAResult(question, NO_ANSWER, passages, [], True, support)
    answer, prompt, shown = fit_and_ask(question, [h.doc for h in hits], ask, max_chars)
    passages = passages[:shown]
    cited = [passages[n - 1] for n in parse_citations(answer, len(passages))]
    return QAResult(question, answer.strip(), passages, cited, False, support, prompt)


def _too_long(exc: Exception) -> bool:
    return type(exc).__name__ == "ContextLengthError" or "context" in str(exc).lower() and "token" in str(exc).lower()


def fit_and_ask(question: str, docs: Sequence, ask: Callable[[str], str], max_chars: int = 500,
                min_chars: int = 80) -> tuple[str, str, int]:
    """Ask with the numbered passages; if the prompt is longer than the model's context (the demo model has 512
    tokens, ChatGLM3-6B 8k), cut every passage shorter, then drop the last passages, and ask again.
    Returns (answer, prompt, number of passages shown)."""
    n = len(docs)
    while True:
        prompt = qa_prompt(question, [d.page_content for d in docs[:n]], [passage_label(d) for d in docs[:n]],
                           max_chars)
        try:
            return ask(prompt), prompt, n
        except Exception as exc:  # noqa: BLE001 — only the "prompt too long" error is retried
            if not _too_long(exc) or (n <= 1 and max_chars <= min_chars):
                raise
        if max_chars > min_chars:
            max_chars = max(min_chars, max_chars // 2)
        else:
            n -= 1


# ============================================================================================ LangChain
def langchain_qa_chain(lc_retriever, llm, support: Callable[[str, list], float] | None = None,
                       threshold: float = DEFAULT_THRESHOLD, max_chars: int = 500):
    """The same QA as an LCEL chain: ``{"context": retriever, "question": passthrough}`` -> prompt -> llm -> str.

    ``support(question, docs) -> float`` (optional) applies the same "documents do not say" threshold through a
    ``RunnableBranch``. The chain returns ``{"answer", "context", "cited"}``."""
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import PromptTemplate
    from langchain_core.runnables import RunnableBranch, RunnableLambda, RunnableParallel, RunnablePassthrough

    model = PromptTemplate.from_template("{text}") | llm | StrOutputParser()

    def generate(inputs: dict) -> dict:
        answer, _, shown = fit_and_ask(inputs["question"], inputs["context"],
                                       lambda text: model.invoke({"text": text}), max_chars)
        return {"answer": answer, "shown": shown}

    def finish(inputs: dict) -> dict:
        docs = inputs["context"][: inputs["generated"]["shown"]]
        answer = inputs["generated"]["answer"]
        cited = [_citations(docs)[n - 1] for n in parse_citations(answer, len(docs))]
        return {"answer": answer, "context": docs, "cited": cited}

    answered = RunnablePassthrough.assign(generated=RunnableLambda(generate)) | RunnableLambda(finish)
    refuse = RunnableLambda(lambda inputs: {"answer": NO_ANSWER, "context": inputs["context"], "cited": []})
    body = answered
    if support is not None:
        body = RunnableBranch(
            (lambda inputs: not inputs["context"] or support(inputs["question"], inputs["context"]) < threshold,
             refuse),
            answered)
    return RunnableParallel(context=lc_retriever, question=RunnablePassthrough()) | body


def corpus_support(corpus) -> Callable[[str, list], float]:
    """``support`` for :func:`langchain_qa_chain` from a :class:`ch06_rag.retrieve.Corpus`: the best BM25 coverage
    of the question among the returned documents (by ``chunk_index`` when present, else by their text)."""
    from .retrieve import index_text

    def support(question: str, docs: list) -> float:
        return max((corpus.bm25.coverage(question, d.metadata["chunk_index"] if "chunk_index" in d.metadata
                                         else index_text(d)) for d in docs), default=0.0)
    return support
