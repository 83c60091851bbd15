"""Sentence embeddings computed by ChatGLM3 itself: mean-pooled, L2-normalised last hidden states.

One implementation for everyone: the chapter-3 server's ``/v1/embeddings`` fallback and the LangChain
``ChatGLM3Embeddings`` (in-process) both call :func:`mean_pooled`.

Each text becomes the prompt ``[gMASK] sop <text>``; the decoder's final hidden states are averaged over the real
tokens (left padding masked out) and L2-normalised. Dimension = hidden size (4096 for ChatGLM3-6B). It needs no
second model and similar texts do land closer than unrelated ones, but a causal chat model was never trained for
this: use a real embedding model (e.g. bge-m3 through ``--embedding-model``) when retrieval quality matters.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

DEFAULT_MAX_TOKENS = 8192


def encode_texts(tokenizer, texts: Sequence[str], max_tokens: int = DEFAULT_MAX_TOKENS) -> list[list[int]]:
    """Token ids ``[gMASK] sop <text>`` of every text, cut to ``max_tokens``."""
    return [tokenizer.encode(t)[:max_tokens] for t in texts]


def mean_pooled(model, inputs: Sequence[list[int]], batch_size: int = 16) -> np.ndarray:
    """``(len(inputs), hidden)`` float32 matrix of mean-pooled, L2-normalised last hidden states.

    ``inputs`` are token-id lists (see :func:`encode_texts`); they are left-padded per batch. The caller makes sure
    nothing else uses ``model`` at the same moment (the server runs this in its engine thread)."""
    import torch

    if not inputs:
        return np.zeros((0, model.config.hidden_size), dtype=np.float32)
    base = model.get_decoder() if hasattr(model, "get_decoder") else model.model
    out = []
    for start in range(0, len(inputs), batch_size):
        chunk = inputs[start:start + batch_size]
        length = max(len(x) for x in chunk)
        ids = torch.zeros(len(chunk), length, dtype=torch.long)
        mask = torch.zeros(len(chunk), length, dtype=torch.long)
        for i, x in enumerate(chunk):
            ids[i, length - len(x):] = torch.tensor(x)
            mask[i, length - len(x):] = 1
        ids, mask = ids.to(model.device), mask.to(model.device)
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        with torch.inference_mode():
            hidden = base(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=False).last_hidden_state
        hidden = hidden.float() * mask[..., None]
        pooled = hidden.sum(1) / mask.sum(1, keepdim=True)
        out.append(torch.nn.functional.normalize(pooled, dim=-1).cpu().numpy())
    return np.concatenate(out).astype(np.float32)


def embed_texts(model, tokenizer, texts: Sequence[str], batch_size: int = 16,
                max_tokens: int = DEFAULT_MAX_TOKENS) -> np.ndarray:
    """Embeddings of ``texts`` (one row per text) with the loaded ChatGLM3 ``model``."""
    return mean_pooled(model, encode_texts(tokenizer, texts, max_tokens), batch_size)
