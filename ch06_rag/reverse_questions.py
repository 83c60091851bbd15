"""6.3 使用LLM终端完成反向问题推断 — the model writes the questions each chunk answers; stored in SQLite; question
-to-question retrieval compared with plain chunk retrieval.

6.3.1: for every chunk the model gets :data:`ch06_rag.prompts.REVERSE_QUESTIONS_PROMPT` and its reply is parsed into
questions (one per line, numbering stripped). 6.3.2: rows go to a SQLite table ``reverse_questions(chunk_id PRIMARY
KEY, source, page, text, questions JSON, model, created_at)``, one commit per chunk, so an interrupted run resumes
where it stopped (chunks already in the table for the same model are skipped).

Evaluation on the bundled retrieval questions: the chunks of their gold pages plus as many random chunks of the same
reports form a small corpus; hit@1/hit@5 are printed for BM25 over the chunk text, over text + generated questions,
and over the generated questions alone (question-to-question).

    python ch06_rag/reverse_questions.py                      # demo model, 12 test questions (~40 chunks)
    python ch06_rag/reverse_questions.py --questions-limit 68 --model /path/to/chatglm3-6b
    python ch06_rag/reverse_questions.py --db outputs/ch06/rq.sqlite   # rerun: already-done chunks are skipped
"""
from __future__ import annotations

import json
import random
import re
import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import GenerationArgs, ModelArgs, ServerArgs, UserError, arg, run

SCHEMA = """CREATE TABLE IF NOT EXISTS reverse_questions (
    chunk_id   TEXT PRIMARY KEY,
    source     TEXT NOT NULL,
    page       INTEGER NOT NULL,
    text       TEXT NOT NULL,
    questions  TEXT NOT NULL,          -- JSON list of strings
    model      TEXT NOT NULL,
    created_at TEXT NOT NULL
)"""


def parse_questions(reply: str, limit: int = 5) -> list[str]:
    """Questions from a model reply: one per line, numbering/bullets removed; only lines ending in ？/? count,
    duplicates dropped."""
    out: list[str] = []
    for line in reply.splitlines():
        line = re.sub(r"^\s*(?:[-*•]|\d+[.、)）]|[（(]\d+[)）]|问题\d*[:：]|Q\d*[:：])\s*", "", line).strip()
        if 4 <= len(line) <= 120 and line.endswith(("？", "?")) and line not in out:   # a question, not a fragment
            out.append(line)
        if len(out) >= limit:
            break
    return out


class QuestionStore:
    """The SQLite table of generated questions (one writer; open it, use it, close it)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(self.path))
        self.db.execute(SCHEMA)
        self.db.commit()

    def done(self, model: str) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT chunk_id FROM reverse_questions WHERE model = ?", (model,))}

    def add(self, chunk_id: str, source: str, page: int, text: str, questions: list[str], model: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO reverse_questions VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (chunk_id, source, int(page), text, json.dumps(questions, ensure_ascii=False), model,
                         time.strftime("%Y-%m-%dT%H:%M:%S")))
        self.db.commit()                      # 每块提交一次：中断后重跑从这里继续

    def questions(self, model: str) -> dict[str, list[str]]:
        rows = self.db.execute("SELECT chunk_id, questions FROM reverse_questions WHERE model = ?", (model,))
        return {cid: json.loads(q) for cid, q in rows}

    def count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM reverse_questions").fetchone()[0]

    def close(self) -> None:
        self.db.close()


def generate_questions(chunks: Sequence, ask: Callable[[str], str], store: QuestionStore, model: str,
                       n: int = 3, max_chars: int = 400, progress: bool = True) -> dict:
    """Ask for the questions of every chunk not yet in ``store`` for ``model``; returns counts."""
    from ch06_rag.prompts import REVERSE_QUESTIONS_PROMPT

    done = store.done(model)
    todo = [c for c in chunks if c.metadata["chunk_id"] not in done]
    iterator: Iterable = todo
    if progress and todo:
        from tqdm.auto import tqdm
        iterator = tqdm(todo, desc="reverse questions", unit="chunk")
    for c in iterator:
        reply = ask(REVERSE_QUESTIONS_PROMPT.format(passage=c.page_content[:max_chars], n=n))
        store.add(c.metadata["chunk_id"], c.metadata.get("source", ""), c.metadata.get("page", 1), c.page_content,
                  parse_questions(reply, n), model)
    return {"skipped": len(chunks) - len(todo), "generated": len(todo)}


def pick_chunks(chunks: Sequence, questions: Sequence[dict], seed: int = 0) -> list:
    """The chunks on the gold pages of ``questions`` plus as many other chunks of the same reports (seeded)."""
    from ch06_rag.retrieve import is_hit

    gold = [c for c in chunks if any(is_hit(c, q) for q in questions)]
    companies = {q["company"] for q in questions}
    others = [c for c in chunks if c.metadata.get("company") in companies and c not in gold]
    rng = random.Random(seed)
    return gold + rng.sample(others, min(len(others), len(gold)))


@dataclass
class Config(ModelArgs, GenerationArgs, ServerArgs):
    docs: str | None = arg(None, "folder of reports (default data/finreports/reports)")
    db: str | None = arg(None, "SQLite file (default outputs/ch06/reverse_questions.sqlite)")
    questions_limit: int = arg(12, "use the first N bundled test questions (their gold chunks + as many others)")
    per_chunk: int = arg(3, "questions to ask for per chunk")


def main(cfg: Config) -> dict:
    from common.paths import output_dir
    from ch06_rag.bm25 import BM25Index
    from ch06_rag.llm import ask_fn, llm_from_cfg
    from ch06_rag.retrieve import build_corpus, index_text, is_hit, load_questions

    if cfg.questions_limit < 1 or cfg.per_chunk < 1:
        raise UserError("--questions-limit and --per-chunk must be >= 1")
    questions = load_questions()[: cfg.questions_limit]
    corpus, _ = build_corpus(cfg.docs)
    chunks = pick_chunks(corpus.chunks, questions)
    llm, note = llm_from_cfg(cfg, max_tokens=min(cfg.max_new_tokens, 96), quiet=True,
                             temperature=cfg.temperature if cfg.seed is not None else 0.0)
    if note:
        print(note)
    model_name = str(cfg.base_url or cfg.model or "chatglm3-demo")
    db_path = Path(cfg.db) if cfg.db else output_dir("ch06") / "reverse_questions.sqlite"
    store = QuestionStore(db_path)
    try:
        start = time.perf_counter()
        counts = generate_questions(chunks, ask_fn(llm), store, model_name, cfg.per_chunk)
        elapsed = time.perf_counter() - start
        generated = store.questions(model_name)
        total_rows = store.count()
    finally:
        store.close()
    print(f"{len(chunks)} chunks: {counts['generated']} generated ({elapsed:.1f} s), {counts['skipped']} already in "
          f"{db_path} (resumed); table now holds {total_rows} rows")
    example = chunks[0]
    print(f"example {example.metadata['chunk_id']}:\n  text: {' '.join(example.page_content.split())[:80]}…\n"
          f"  questions: {generated.get(example.metadata['chunk_id'])}")

    # three indexes over the same chunks: text / text + questions / questions only (question-to-question)
    tok = corpus.tokenizer
    views = {
        "chunk text": [index_text(c) for c in chunks],
        "text + generated questions": [index_text(c) + "\n" + "\n".join(generated.get(c.metadata["chunk_id"], []))
                                       for c in chunks],
        "generated questions only": [c.metadata.get("company", "") + " " +
                                     " ".join(generated.get(c.metadata["chunk_id"], [])) for c in chunks],
    }
    results: dict = {"chunks": len(chunks), "db": str(db_path), **counts}
    print(f"\n{len(questions)} test questions over these {len(chunks)} chunks (BM25):")
    print(f"{'index':>28} | {'hit@1':>6} | {'hit@5':>6}")
    for name, texts in views.items():
        index = BM25Index.from_texts(texts, tok)
        h1 = h5 = 0
        for q in questions:
            ranked = [i for i, _ in index.search(q["question"], 5)]
            h1 += bool(ranked) and is_hit(chunks[ranked[0]], q)
            h5 += any(is_hit(chunks[i], q) for i in ranked)
        results[name] = {"hit@1": h1 / len(questions), "hit@5": h5 / len(questions)}
        print(f"{name:>28} | {h1 / len(questions):>6.1%} | {h5 / len(questions):>6.1%}")
    return results


if __name__ == "__main__":
    run(main, Config, __doc__)
