"""6.2.4 Finding the passages nearest to a question: BM25, dense, hybrid (reciprocal-rank fusion), and metrics.

Chunks are LangChain ``Document`` objects (from :mod:`ch06_rag.loaders` + :mod:`ch06_rag.splitters`). What gets
indexed is ``"<company> <chunk text>"``: report pages rarely repeat the company name (headers are dropped), so
the name is put back in front of each chunk — a question about 海翔药业 then prefers 海翔药业's pages.

API (ch13 and the appendix import it)::

    from ch06_rag.retrieve import Corpus, BM25Retriever, DenseRetriever, HybridRetriever, evaluate
    corpus = Corpus(chunks)                              # jieba (+ company names as user words) + BM25 index
    bm25 = BM25Retriever(corpus)
    dense = DenseRetriever(corpus, embeddings)           # any LangChain Embeddings (ChatGLM3Embeddings, fakes)
    hybrid = HybridRetriever([bm25, dense])              # RRF: score = sum 1 / (60 + rank)
    hits = hybrid.search("海翔药业的法定代表人是谁？", k=5)   # [Hit(index, score, doc)]
    corpus.support(question, hits)                       # 0..1: how much of the question the best hit covers
    evaluate(bm25, questions)                            # {"hit@1", "hit@5", "mrr", ...}
    bm25.as_langchain(k=4)                               # a langchain_core BaseRetriever
"""
from __future__ import annotations

import abc
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .bm25 import BM25Index, ChineseTokenizer, top_k


@dataclass
class Hit:
    index: int          # position in corpus.chunks
    score: float
    doc: Any            # the chunk Document

    @property
    def source(self) -> str:
        return self.doc.metadata.get("source", "")

    @property
    def page(self) -> int:
        return int(self.doc.metadata.get("page", 1))


def index_text(doc) -> str:
    """What a chunk is indexed as: the company name (if known) + the text."""
    company = doc.metadata.get("company") or ""
    return f"{company} {doc.page_content}" if company else doc.page_content


class Corpus:
    """The chunks plus one BM25 index over them (shared by every retriever and by the support threshold)."""

    def __init__(self, chunks: Sequence, tokenizer: ChineseTokenizer | None = None, backend: str = "bm25s"):
        if not chunks:
            from common.cli import UserError
            raise UserError("no text chunks to search. To fix: point --docs at a folder with readable documents")
        self.chunks = list(chunks)
        names = {c.metadata.get("company") for c in self.chunks} | {c.metadata.get("full_name") for c in self.chunks}
        self.tokenizer = tokenizer or ChineseTokenizer(user_words=[n for n in names if n])
        self.texts = [index_text(c) for c in self.chunks]
        self.bm25 = BM25Index.from_texts(self.texts, self.tokenizer, backend=backend)

    def __len__(self) -> int:
        return len(self.chunks)

    def support(self, question: str, hits: Sequence[Hit]) -> float:
        """Best BM25 coverage (share of the question's idf mass present) among ``hits``; 0 when no hit."""
        return max((self.bm25.coverage(question, h.index) for h in hits), default=0.0)


class _Retriever(abc.ABC):
    name = "retriever"
    corpus: Corpus

    @abc.abstractmethod
    def search(self, query: str, k: int = 5) -> list[Hit]:
        """The ``k`` best chunks for ``query``, best first (each subclass ranks its own way)."""

    def as_langchain(self, k: int = 4):
        """This retriever as a LangChain ``BaseRetriever`` (for chains); hit scores go into metadata."""
        return _lc_retriever(self, k)


class BM25Retriever(_Retriever):
    name = "bm25"

    def __init__(self, corpus: Corpus):
        self.corpus = corpus

    def search(self, query: str, k: int = 5) -> list[Hit]:
        return [Hit(i, s, self.corpus.chunks[i]) for i, s in self.corpus.bm25.search(query, k)]


class DenseRetriever(_Retriever):
    """Cosine similarity of embeddings (any LangChain ``Embeddings``). ``cache_dir``: embeddings of the chunks are
    saved there as .npy, keyed by a hash of the texts and ``cache_key`` (the model), so reruns skip the work."""

    name = "dense"

    def __init__(self, corpus: Corpus, embeddings, cache_dir: str | Path | None = None, cache_key: str = ""):
        self.corpus, self.embeddings = corpus, embeddings
        matrix = None
        cache = None
        if cache_dir is not None:
            digest = hashlib.sha256(("\x00".join(corpus.texts) + "\x01" + cache_key).encode()).hexdigest()[:16]
            cache = Path(cache_dir) / f"dense-{digest}.npy"
            if cache.is_file():
                matrix = np.load(cache)
        if matrix is None:
            matrix = np.asarray(embeddings.embed_documents(corpus.texts), dtype=np.float32)
            if cache is not None:
                cache.parent.mkdir(parents=True, exist_ok=True)
                np.save(cache, matrix)
        self.matrix = _normalise(matrix)

    def search(self, query: str, k: int = 5) -> list[Hit]:
        q = _normalise(np.asarray([self.embeddings.embed_query(query)], dtype=np.float32))[0]
        sims = self.matrix @ q
        # cosine can be <= 0; shift so top_k's "score > 0" rule keeps every document rankable
        return [Hit(i, float(sims[i]), self.corpus.chunks[i]) for i, _ in top_k(sims.astype(np.float64) + 2.0, k)]


class HybridRetriever(_Retriever):
    """Reciprocal-rank fusion of several retrievers: score(d) = sum over retrievers of 1 / (rrf_k + rank(d))."""

    name = "hybrid"

    def __init__(self, retrievers: Sequence[_Retriever], rrf_k: int = 60, depth: int = 50):
        if not retrievers:
            raise ValueError("HybridRetriever needs at least one retriever")
        self.retrievers, self.rrf_k, self.depth = list(retrievers), rrf_k, depth
        self.corpus = retrievers[0].corpus

    def search(self, query: str, k: int = 5) -> list[Hit]:
        fused: dict[int, float] = {}
        for r in self.retrievers:
            for rank, hit in enumerate(r.search(query, max(k, self.depth)), 1):
                fused[hit.index] = fused.get(hit.index, 0.0) + 1.0 / (self.rrf_k + rank)
        order = sorted(fused.items(), key=lambda kv: (-round(kv[1], 12), kv[0]))[:k]
        return [Hit(i, s, self.corpus.chunks[i]) for i, s in order]


def _normalise(m: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return m / np.where(norms == 0, 1.0, norms)


def _lc_retriever(retriever: _Retriever, k: int):
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever

    class ChapterSixRetriever(BaseRetriever):
        """LangChain view of a chapter-6 retriever."""

        k: int = 4

        def _get_relevant_documents(self, query: str, *, run_manager=None) -> list[Document]:
            return [Document(page_content=h.doc.page_content,
                             metadata={**h.doc.metadata, "score": h.score, "chunk_index": h.index})
                    for h in retriever.search(query, self.k)]

    return ChapterSixRetriever(k=k)


# ============================================================================================ metrics
def is_hit(doc, question: dict) -> bool:
    """A chunk answers a question if it comes from the question's report and one of its gold pages."""
    meta = doc.metadata
    return meta.get("company") == question["company"] and int(meta.get("page", -1)) in question["pages"]


def evaluate(retriever: _Retriever, questions: Sequence[dict], ks: Sequence[int] = (1, 5), depth: int = 10) -> dict:
    """hit@k (a gold chunk among the first k) for each k, and MRR over the first ``depth`` results."""
    hits_at = {k: 0 for k in ks}
    rr = 0.0
    ranks = []
    for q in questions:
        results = retriever.search(q["question"], max(depth, *ks))
        rank = next((n for n, h in enumerate(results, 1) if is_hit(h.doc, q)), None)
        ranks.append(rank)
        for k in ks:
            hits_at[k] += rank is not None and rank <= k
        rr += 1.0 / rank if rank and rank <= depth else 0.0
    n = max(1, len(questions))
    out = {f"hit@{k}": hits_at[k] / n for k in ks}
    out["mrr"] = rr / n
    out["n"] = len(questions)
    out["ranks"] = ranks
    return out


def load_questions(path: str | Path | None = None) -> list[dict]:
    """The bundled retrieval test set (``data/ch06/retrieval_qa.jsonl``)."""
    import json

    from common.paths import DATA_DIR

    path = Path(path) if path else DATA_DIR / "ch06" / "retrieval_qa.jsonl"
    if not path.is_file():
        from common.cli import UserError
        raise UserError(f"retrieval test set not found: {path}. To fix: python ch06_rag/make_retrieval_set.py")
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def build_corpus(docs_dir: str | Path | None = None, chunk_size: int = 300, chunk_overlap: int = 50,
                 backend: str = "bm25s", verbose: bool = True):
    """load_folder -> chinese_splitter -> Corpus, in one call (default folder: data/finreports/reports).
    Returns (corpus, load_result)."""
    from common.paths import DATA_DIR

    from .loaders import load_folder
    from .splitters import chinese_splitter, split_documents

    folder = Path(docs_dir) if docs_dir else DATA_DIR / "finreports" / "reports"
    loaded = load_folder(folder)
    if verbose:
        print(f"read {len(loaded.files)} files ({len(loaded.documents)} pages) from {folder}"
              + (f"; skipped {len(loaded.skipped)}: " + "; ".join(f"{n} ({why})" for n, why in loaded.skipped)
                 if loaded.skipped else ""))
    chunks = split_documents(loaded.documents, chinese_splitter(chunk_size, chunk_overlap))
    return Corpus(chunks, backend=backend), loaded


class SentenceTransformerEmbeddings:
    """LangChain-style ``Embeddings`` over a *local* sentence-transformers model folder (nothing is downloaded;
    ``pip install sentence-transformers``), e.g. a copy of text2vec-base-chinese or bge-small-zh."""

    def __init__(self, folder: str | Path, batch_size: int = 32):
        folder = Path(folder)
        if not folder.is_dir():
            from common.cli import UserError
            raise UserError(f"--st-model {folder} is not a folder. To fix: pass a local sentence-transformers model "
                            f"folder (nothing is downloaded)")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            from common.cli import UserError
            raise UserError("--st-model needs sentence-transformers. To fix: pip install sentence-transformers") \
                from None
        self.model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
        self.batch_size = batch_size

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]
