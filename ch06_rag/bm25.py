"""6.1.2 / 6.2.4 BM25 over Chinese text: a jieba tokeniser with a user dictionary and one index, two backends.

``rank_bm25`` is the library the book uses; ``bm25s`` computes the same scores from a sparse matrix and is tens of
times faster. The two are configured to give *identical* rankings:

* rank_bm25 ``BM25Okapi(k1, b, epsilon=0)``: idf = log((N - df + 0.5) / (df + 0.5)), a negative idf becomes 0;
* bm25s ``method="robertson"`` (same idf, clipped at 0) in float64; its term-frequency part lacks the constant
  factor (k1 + 1), so its scores are multiplied by (k1 + 1) here and both report the same numbers;
* ranking = score rounded to 9 decimals, descending, ties broken by the lower document index; documents with score
  0 (no query word in common) are never returned.

API (later chapters import it)::

    from ch06_rag.bm25 import ChineseTokenizer, BM25Index
    tok = ChineseTokenizer(user_words=["海翔药业"])             # jieba + your words, punctuation dropped
    index = BM25Index.from_texts(texts, tok, backend="bm25s")  # or backend="rank_bm25"
    index.search("海翔药业的法定代表人", k=5)                      # [(doc_index, score), ...]
    index.coverage("问题", doc_index)                           # share of the query's idf mass the doc contains
"""
from __future__ import annotations

import logging
import math
import re
import unicodedata
from collections import Counter
from typing import Iterable, Sequence

import numpy as np

BACKENDS = ("bm25s", "rank_bm25")
# 问句里的虚词：不删会让"的""是""多少"这样的词占掉分数
DEFAULT_STOPWORDS = frozenset(
    "的 了 是 在 和 与 及 或 有 为 对 于 把 被 将 其 之 这 那 哪 些 个 吗 呢 吧 啊 呀 么 什么 多少 怎么 怎样 如何 哪些 哪个 "
    "请问 请 问 一下 是否 几 谁 年 公司 家 那家 这家 该 我 你 他 她 它 们 也 都 就 而 并 等 中 上 下 又 还 从 以 所 可 能 "
    "会 要 如果 因为 所以 但是 以及 其中 各 每 多 少".split())
_KEEP = re.compile(r"[\w]", re.UNICODE)


def normalize_text(text: str) -> str:
    """NFKC (full-width letters/digits -> half-width), lower case."""
    return unicodedata.normalize("NFKC", text).lower()


def cjk_bigrams(text: str) -> list[str]:
    """Overlapping two-character pieces of every run of CJK characters (robust to typos and partial names)."""
    out: list[str] = []
    for run in re.findall(r"[\u4e00-\u9fff]+", text):
        if len(run) == 1:
            out.append(run)
        out.extend(run[i:i + 2] for i in range(len(run) - 1))
    return out


class ChineseTokenizer:
    """jieba word segmentation with a user dictionary (its own ``jieba.Tokenizer``, the global one is untouched).

    ``mode="search"`` also emits the dictionary sub-words of long words (``股份有限公司`` -> ``股份 有限 公司 …``),
    ``bigrams=True`` adds CJK character bigrams. Punctuation, spaces and ``stopwords`` are dropped; text is NFKC
    normalised and lower-cased, so ``００２０９９`` and ``002099`` are the same token.
    """

    def __init__(self, user_words: Iterable[str] = (), mode: str = "search", bigrams: bool = False,
                 stopwords: Iterable[str] = DEFAULT_STOPWORDS):
        import jieba

        if mode not in ("search", "accurate"):
            raise ValueError(f"mode must be 'search' or 'accurate', got {mode!r}")
        jieba.setLogLevel(logging.WARNING)
        self._jieba = jieba.Tokenizer()
        self.user_words = sorted({normalize_text(w).strip() for w in user_words if w and w.strip()})
        for word in self.user_words:
            self._jieba.add_word(word, freq=20000)   # 高词频：让 jieba 把公司简称切成一个词
        self.mode = mode
        self.bigrams = bigrams
        self.stopwords = frozenset(stopwords)

    def __call__(self, text: str) -> list[str]:
        text = normalize_text(text or "")
        words = (self._jieba.cut_for_search(text) if self.mode == "search" else self._jieba.cut(text))
        tokens = [w for w in (w.strip() for w in words) if w and _KEEP.search(w) and w not in self.stopwords]
        if self.bigrams:
            tokens.extend(b for b in cjk_bigrams(text) if b not in self.stopwords)
        return tokens

    def __repr__(self) -> str:
        return f"ChineseTokenizer(user_words={len(self.user_words)}, mode={self.mode!r}, bigrams={self.bigrams})"


def top_k(scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The ``k`` best (index, score) pairs: score rounded to 9 decimals descending, then index ascending; score 0
    (nothing in common) is never returned. The same rule for every backend, so rankings are comparable exactly."""
    if k <= 0 or scores.size == 0:
        return []
    rounded = np.round(scores, 9)
    positive = rounded > 0
    n_pos = int(positive.sum())
    if n_pos == 0:
        return []
    k = min(k, n_pos)
    kth = np.partition(rounded, -k)[-k] if k < rounded.size else rounded[positive].min()
    candidates = np.nonzero((rounded >= kth) & positive)[0]
    order = sorted(candidates.tolist(), key=lambda i: (-rounded[i], i))[:k]
    return [(i, float(scores[i])) for i in order]


class BM25Index:
    """One BM25 index over pre-tokenised documents, with the ``bm25s`` or ``rank_bm25`` backend."""

    def __init__(self, corpus_tokens: Sequence[Sequence[str]], backend: str = "bm25s", k1: float = 1.5,
                 b: float = 0.75, tokenizer: ChineseTokenizer | None = None):
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        if len(corpus_tokens) == 0:
            raise ValueError("cannot build a BM25 index over zero documents")
        self.backend, self.k1, self.b, self.tokenizer = backend, k1, b, tokenizer
        self.n_docs = len(corpus_tokens)
        self._df: Counter | None = None
        self._corpus_tokens = corpus_tokens
        if backend == "rank_bm25":
            from rank_bm25 import BM25Okapi

            # epsilon=0: a word in more than half of the documents gets idf 0 (bm25s clips the same way)
            self._engine = BM25Okapi([list(t) for t in corpus_tokens], k1=k1, b=b, epsilon=0.0)
        else:
            import bm25s

            self._engine = bm25s.BM25(method="robertson", k1=k1, b=b, dtype="float64")
            if any(len(t) for t in corpus_tokens):   # bm25s cannot index a corpus with no token at all
                self._engine.index([list(t) for t in corpus_tokens], show_progress=False)
            else:
                self._engine = None

    @classmethod
    def from_texts(cls, texts: Sequence[str], tokenizer: ChineseTokenizer, backend: str = "bm25s",
                   **kwargs) -> "BM25Index":
        return cls([tokenizer(t) for t in texts], backend=backend, tokenizer=tokenizer, **kwargs)

    def _tokens(self, query: str | Sequence[str]) -> list[str]:
        if isinstance(query, str):
            if self.tokenizer is None:
                raise ValueError("this index was built from tokens; pass the query as a token list")
            return self.tokenizer(query)
        return list(query)

    def scores(self, query: str | Sequence[str]) -> np.ndarray:
        """BM25 score of every document (rank_bm25 scale for both backends)."""
        tokens = self._tokens(query)
        if self.backend == "rank_bm25":
            return np.asarray(self._engine.get_scores(tokens), dtype=np.float64)
        ids = self._engine.get_tokens_ids(tokens) if self._engine is not None else []
        if not ids:
            return np.zeros(self.n_docs, dtype=np.float64)
        return np.asarray(self._engine.get_scores(ids), dtype=np.float64) * (self.k1 + 1)

    def search(self, query: str | Sequence[str], k: int = 10) -> list[tuple[int, float]]:
        """The ``k`` best documents as ``(index, score)``, best first (see :func:`top_k` for ties)."""
        return top_k(self.scores(query), k)

    # ---- a score in [0, 1] that does not depend on the query length (used for "no match" thresholds)
    @property
    def doc_freqs(self) -> Counter:
        if self._df is None:
            df: Counter = Counter()
            for doc in self._corpus_tokens:
                df.update(set(doc))
            self._df = df
        return self._df

    def idf(self, token: str) -> float:
        """Robertson idf clipped at 0 (an unseen word gets the idf of a word seen once)."""
        df = self.doc_freqs.get(token, 1)
        return max(0.0, math.log((self.n_docs - df + 0.5) / (df + 0.5)))

    def coverage(self, query: str | Sequence[str], doc: int | str | Sequence[str]) -> float:
        """Share of the query's idf mass whose words occur in ``doc`` (an index into the corpus, a text or a token
        list): 1.0 = every informative query word is there, 0.0 = none. Rare words weigh more, so a passage sharing
        only 「公司」 scores ~0."""
        tokens = set(self._tokens(query))
        if not tokens:
            return 0.0
        doc = set(self._corpus_tokens[doc] if isinstance(doc, (int, np.integer)) else self._tokens(doc))
        weights = {t: self.idf(t) + 1e-6 for t in tokens}
        return sum(w for t, w in weights.items() if t in doc) / sum(weights.values())
