"""附录 大模型的“幻觉” — measure how often a model invents answers, and what each mitigation changes.

The bundled gold set (``data/appendix/hallucination_qa.jsonl``: 66 questions, 16 of which the documents cannot
answer) asks about three real annual reports (``data/finreports/reports``) and the book's table of contents
(``data/appendix/book_toc.zh.md``). Every question is answered by each method, and each answer is scored
correct / hallucinated / abstained (``metrics.py``):

* ``closed_book``       — the question alone: whatever the model remembers;
* ``rag``               — chapter 6's BM25 retrieval + the passages in the prompt, no way out offered;
* ``rag_abstain``       — chapter 6's QA (``ch06_rag.qa.answer_question``): the prompt says to answer only from the
                          passages and otherwise say 「文档中没有提到这个问题的答案。」, and weak retrieval is refused
                          before the model is asked;
* ``self_consistency``  — ``rag_abstain`` sampled ``--k`` times at a temperature; without a majority it abstains;
* ``grounded``          — ``rag_abstain`` + a grounding check: a number, name or phrase not found in the passages
                          turns the answer into an abstention.

    python appendix_hallucination/measure_hallucination.py                  # demo model, 10 questions
    python appendix_hallucination/measure_hallucination.py --limit 0 --model /path/to/chatglm3-6b --device cuda --precision fp16
    python appendix_hallucination/measure_hallucination.py --base-url http://127.0.0.1:8000/v1 --methods closed_book rag_abstain
"""
from __future__ import annotations

import json
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import GenerationArgs, ModelArgs, ServerArgs, UserError, arg, run
from common.paths import DATA_DIR

METHODS = ("closed_book", "rag", "rag_abstain", "self_consistency", "grounded")
GOLD_FILE = DATA_DIR / "appendix" / "hallucination_qa.jsonl"
DEFAULT_DOCS = [DATA_DIR / "finreports" / "reports", DATA_DIR / "appendix" / "book_toc.zh.md"]

# 闭卷：只有问题本身
CLOSED_BOOK_PROMPT = "{question}"
# 朴素 RAG：给资料，但不给“不知道”的出路（对照组）
RAG_PLAIN_PROMPT = "资料：\n{passages}\n\n问题：{question}\n回答："


@dataclass
class Config(ModelArgs, GenerationArgs, ServerArgs):
    gold: str = arg("", "gold QA JSONL (default: the bundled data/appendix/hallucination_qa.jsonl)")
    docs: list = arg([], "folders/files to retrieve from (default: data/finreports/reports and the book TOC)")
    limit: int = arg(10, "ask N questions, answerable and unanswerable in proportion (0 = all 66)")
    methods: list = arg(list(METHODS), "which methods to compare", choices=METHODS)
    k: int = arg(3, "samples for self-consistency")
    sc_temperature: float = arg(0.7, "sampling temperature of the self-consistency samples")
    top_k: int = arg(4, "passages per question")
    threshold: float = arg(0.5, "chapter 6's support threshold: below it the documents 'do not say'")
    max_new_tokens: int = arg(64, "at most this many new tokens per answer")
    out: str = arg("", "per-answer records JSONL (default: outputs/appendix/hallucination.jsonl)")


def load_gold(path: str | Path | None = None) -> list[dict]:
    path = Path(path) if path else GOLD_FILE
    if not path.is_file():
        raise UserError(f"gold QA file not found: {path}. To fix: pass --gold FILE (one "
                        '{"question": ..., "answers": [...]} per line; an empty list = unanswerable)')
    rows = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                row = json.loads(line)
                row["answers"] = [str(a) for a in row.get("answers", [])]
                row["question"] = str(row["question"])
            except (ValueError, KeyError, TypeError) as err:
                raise UserError(f"{path} line {i}: not a gold record ({err})") from None
            rows.append(row)
    return rows


def select(rows: list[dict], limit: int) -> list[dict]:
    """``limit`` rows keeping the share of unanswerable questions, evenly spread (deterministic)."""
    if not limit or limit >= len(rows):
        return rows
    groups = [[r for r in rows if r["answers"]], [r for r in rows if not r["answers"]]]
    n_un = max(1, round(limit * len(groups[1]) / len(rows))) if groups[1] else 0
    picked = []
    for group, n in ((groups[0], limit - n_un), (groups[1], n_un)):
        step = len(group) / max(n, 1)
        picked += [group[int(i * step)] for i in range(min(n, len(group)))]
    return picked


def build_corpus(docs: list) -> "object":
    """Chapter 6's loaders + Chinese splitter + BM25 corpus over ``docs`` (folders and/or files)."""
    from ch06_rag.loaders import LoaderError, load_file, load_folder
    from ch06_rag.retrieve import Corpus
    from ch06_rag.splitters import chinese_splitter, split_documents

    documents = []
    for item in docs or DEFAULT_DOCS:
        path = Path(item)
        if path.is_dir():
            documents += load_folder(path).documents
        elif path.is_file():
            try:
                documents += load_file(path)
            except LoaderError as err:
                print(f"skipped {path.name}: {err}", file=sys.stderr)
        else:
            raise UserError(f"--docs {item}: no such file or folder")
    return Corpus(split_documents(documents, chinese_splitter(300, 50)))


def _vote_key(answer: str) -> str:
    """What two samples must share to count as the same answer: their checkable claims, else their text."""
    from appendix_hallucination.metrics import _CLAIMS, is_abstention, normalise

    if is_abstention(answer):
        return "<abstain>"
    claims = sorted({normalise(c) for c in _CLAIMS.findall(answer)})
    return "|".join(claims) if claims else normalise(answer)[:30]


_ERROR = "\x00error"  # what an ``ask`` that could not run returns inside chapter 6's QA (it expects a string)


def _or_error(ask: Callable[[str], str | None]) -> Callable[[str], str]:
    return lambda prompt: _ERROR if (text := ask(prompt)) is None else text


def _none_if_error(answer: str) -> str | None:
    return None if answer.strip() == _ERROR.strip() else answer


def make_methods(ask: Callable[[str], str], sample: Callable[[str, int], list[str]], retriever, cfg) -> dict:
    """``{method: question -> (answer, calls)}`` for the methods of this module."""
    from appendix_hallucination.metrics import grounding_problems
    from ch06_rag.prompts import NO_ANSWER, format_passages
    from ch06_rag.qa import answer_question, passage_label

    # 小上下文的模型（演示模型只有 512 个 token）：提示词放不下时，减少、缩短段落再试
    sizes = [(cfg.top_k, 500), (2, 200), (1, 120)]

    def fitted_qa(q, ask_fn):
        result = None
        for k, chars in sizes:
            result = answer_question(q, retriever, _or_error(ask_fn), k=k, threshold=cfg.threshold, max_chars=chars)
            if result.answer != _ERROR:
                break
        return result

    def closed_book(q):
        return ask(CLOSED_BOOK_PROMPT.format(question=q)), 1

    def rag(q):
        answer = None
        for k, chars in sizes:
            hits = retriever.search(q, k)
            prompt = RAG_PLAIN_PROMPT.format(passages=format_passages(
                [h.doc.page_content for h in hits], [passage_label(h.doc) for h in hits], chars), question=q)
            answer = ask(prompt)
            if answer is not None:
                break
        return answer, 1

    def rag_abstain(q):
        result = fitted_qa(q, ask)
        return _none_if_error(result.answer), 0 if result.refused else 1

    def self_consistency(q):
        samples: list[str] = []

        def vote(prompt):
            drawn = sample(prompt, cfg.k)
            if any(s is None for s in drawn):
                return None
            samples.extend(drawn)
            key, count = Counter(_vote_key(s) for s in samples).most_common(1)[0]
            if count * 2 <= len(samples) or key == "<abstain>":
                return NO_ANSWER  # 没有多数意见：宁可不答
            return next(s for s in samples if _vote_key(s) == key)

        result = fitted_qa(q, vote)
        return _none_if_error(result.answer), len(samples)

    def grounded(q):
        result = fitted_qa(q, ask)
        if result.answer == _ERROR:
            return None, 1
        if result.refused:
            return result.answer, 0
        if grounding_problems(result.answer, [c.text for c in result.passages], q):
            return NO_ANSWER, 1
        return result.answer, 1

    table = {"closed_book": closed_book, "rag": rag, "rag_abstain": rag_abstain,
             "self_consistency": self_consistency, "grounded": grounded}
    return {m: table[m] for m in cfg.methods}


def measure(methods: dict, rows: list[dict], progress=None) -> tuple[dict, list[dict]]:
    """Run every method on every row; (rates per method, one record per answer)."""
    from appendix_hallucination.metrics import Tally, classify

    tallies = {m: Tally() for m in methods}
    records = []
    for row in rows:
        for name, method in methods.items():
            start = time.perf_counter()
            answer, calls = method(row["question"])
            tally = tallies[name]
            tally.seconds += time.perf_counter() - start
            tally.calls += calls
            outcome = classify(answer, row["answers"])
            tally.add(outcome, bool(row["answers"]))
            records.append({"id": row.get("id"), "method": name, "question": row["question"], "gold": row["answers"],
                            "answer": answer, "outcome": outcome})
        if progress:
            progress.update(1)
    return {m: t.rates() for m, t in tallies.items()}, records


def format_table(rates: dict) -> str:
    lines = ["| method | correct | hallucinated | abstained | no answer (prompt too long / error) | "
             "answerable: correct | unanswerable: abstained | model calls / q | s / q |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for m, r in rates.items():
        lines.append(f"| {m} | {r['correct']:.0%} | {r['hallucinated']:.0%} | {r['abstained']:.0%} | {r['error']:.0%} | "
                     f"{r['answerable_correct']:.0%} | {r['unanswerable_abstained']:.0%} | "
                     f"{r['calls_per_question']:.1f} | {r['seconds_per_question']:.2f} |")
    return "\n".join(lines)


def main(cfg: Config) -> dict:
    from langchain_core.messages import HumanMessage
    from tqdm import tqdm

    from common.langchain_chatglm3 import ask_fn, chat_model_from_config, demo_line
    from common.paths import output_dir, write_jsonl
    from ch06_rag.retrieve import BM25Retriever

    if cfg.k < 1:
        raise UserError("--k must be at least 1")
    rows = select(load_gold(cfg.gold or None), cfg.limit)
    retriever = BM25Retriever(build_corpus(cfg.docs))
    chat_model = chat_model_from_config(cfg, quiet=True)
    greedy, sampler = chat_model.bind(temperature=0), chat_model.bind(temperature=cfg.sc_temperature)
    line = demo_line(chat_model, "answers and rates")
    if line:
        print(line)

    greedy_ask = ask_fn(greedy)

    def ask(prompt: str) -> str | None:
        try:
            return greedy_ask(prompt)
        except UserError:  # the prompt exceeds the model's context (the demo model has 1,024 tokens), server error
            return None

    def sample(prompt: str, k: int) -> list[str | None]:
        try:
            return [str(m.content) for m in sampler.batch([[HumanMessage(prompt)]] * k)]
        except UserError:
            return [None] * k

    methods = make_methods(ask, sample, retriever, cfg)
    n_un = sum(not r["answers"] for r in rows)
    print(f"{len(rows)} questions ({n_un} the documents cannot answer), {len(retriever.corpus)} passages, "
          f"methods: {', '.join(methods)}")
    with tqdm(total=len(rows), desc="questions", unit="q", file=sys.stderr) as bar:
        rates, records = measure(methods, rows, bar)
    out = write_jsonl(Path(cfg.out) if cfg.out else output_dir("appendix") / "hallucination.jsonl", records)
    print(format_table(rates))
    print(f"every answer with its outcome: {out}")
    return {"rates": rates, "records": records, "out": str(out)}


if __name__ == "__main__":
    run(main, Config, __doc__)
