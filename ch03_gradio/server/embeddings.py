"""Sentence embeddings for ``POST /v1/embeddings``.

* ``--embedding-model PATH``: a local sentence-transformers model folder (e.g. a downloaded ``BAAI/bge-m3`` or
  ``bge-small-zh-v1.5``, as the official ``openai_api_demo`` uses) — the right choice for retrieval (chapters 6-8).
  Needs ``pip install sentence-transformers``.
* otherwise a fallback computed from the loaded ChatGLM3 itself: the final hidden states of the prompt
  ``[gMASK] sop <text>``, mean-pooled over the real tokens and L2-normalised (dimension = hidden size, 4096 for
  ChatGLM3-6B). It needs no second model, and similar texts do land closer than unrelated ones, but a causal chat
  model was never trained for this: use a real embedding model when retrieval quality matters.
"""
from __future__ import annotations

import asyncio
import base64
from typing import Sequence

import numpy as np


class ChatGLM3Embedder:
    """Mean-pooled, L2-normalised last hidden states of the chat model (runs in the engine thread)."""

    def __init__(self, engine, batch_size: int = 16):
        self.engine, self.tokenizer, self.batch_size = engine, engine.tokenizer, batch_size
        self.name = "chatglm3-mean-pool"
        self.dimension = engine.model.config.hidden_size
        self.max_tokens = engine.max_context

    def tokenize(self, text: str) -> list[int]:
        return self.tokenizer.encode(text)

    chunk_tokens = 2048   # padded tokens per engine job: a running chat gets a decode step between two chunks

    def chunks(self, batches: Sequence[list[int]]) -> list[list[list[int]]]:
        """Consecutive inputs grouped so that one group costs at most ``chunk_tokens`` padded tokens (and at most
        ``batch_size`` inputs); a single longer input is a group of its own."""
        groups: list[list[list[int]]] = []
        current: list[list[int]] = []
        longest = 0
        for ids in batches:
            longest2 = max(longest, len(ids))
            if current and (len(current) >= self.batch_size or longest2 * (len(current) + 1) > self.chunk_tokens):
                groups.append(current)
                current, longest2 = [], len(ids)
            current.append(ids)
            longest = longest2
        if current:
            groups.append(current)
        return groups

    async def aembed(self, batches: Sequence[list[int]]) -> np.ndarray:
        """Queued into the engine thread chunk by chunk (the model is never used by two threads); the engine runs
        one chunk per step, so chat requests keep decoding while a 2,048-input request is embedded."""
        out = []
        for group in self.chunks(batches):
            out.append(await asyncio.wrap_future(
                self.engine.run_exclusive(lambda model, group=group: self._embed(model, group))))
        return np.concatenate(out)

    def _embed(self, model, inputs: Sequence[list[int]]) -> np.ndarray:
        from common.embeddings import mean_pooled  # the one implementation (also used by ChatGLM3Embeddings)
        return mean_pooled(model, inputs, self.batch_size)


class SentenceTransformerEmbedder:
    """A local sentence-transformers model (never downloads: ``local_files_only``)."""

    def __init__(self, path: str, device: str = "cpu"):
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise SystemExit("--embedding-model needs sentence-transformers. To fix: pip install "
                             "sentence-transformers (or leave the flag out to use the ChatGLM3 fallback).") from None
        self.model = SentenceTransformer(path, device=device, local_files_only=True)
        self.tokenizer = self.model.tokenizer
        self.name = str(path).rstrip("/").split("/")[-1]
        self.dimension = self.model.get_sentence_embedding_dimension()
        self.max_tokens = getattr(self.model, "max_seq_length", 512) or 512

    def tokenize(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=True)["input_ids"]

    async def aembed(self, batches: Sequence[list[int]]) -> np.ndarray:
        return await asyncio.to_thread(self._embed, batches)

    def _embed(self, batches: Sequence[list[int]]) -> np.ndarray:
        texts = [self.tokenizer.decode(x, skip_special_tokens=True) for x in batches]
        return np.asarray(self.model.encode(texts, normalize_embeddings=True, convert_to_numpy=True))


def encode_vector(vec: np.ndarray, encoding_format: str) -> list[float] | str:
    """``float`` -> a JSON list; ``base64`` -> little-endian float32 bytes, base64 (what the openai client asks)."""
    if encoding_format == "base64":
        return base64.b64encode(np.asarray(vec, dtype="<f4").tobytes()).decode("ascii")
    return [float(x) for x in vec]


def truncate_dimensions(matrix: np.ndarray, dimensions: int | None) -> np.ndarray:
    """OpenAI's ``dimensions``: keep the first d numbers and L2-normalise again."""
    if not dimensions or dimensions >= matrix.shape[1]:
        return matrix
    cut = matrix[:, :dimensions]
    return cut / np.maximum(np.linalg.norm(cut, axis=1, keepdims=True), 1e-12)
