"""Continuous batching for one ChatGLM3 model: many requests share every forward pass.

One scheduler thread owns the model. Each loop iteration it

1. admits waiting requests (up to ``max_batch_size`` running rows — a request that waited more than
   ``overflow_after`` seconds joins a full batch as an extra row, up to twice that — ``max_prefill_tokens`` per
   admission; a prompt longer than ``prefill_chunk`` tokens is prefilled one chunk per step, so a 30k-token prompt
   never stops the batch for long; a queued job such as an embeddings chunk runs between steps, at most one every
   ``job_every`` decode steps while requests are decoding) and
   *prefills* them together — prompts padded on the left, an attention mask, a fresh KV cache — then samples
   their first token and merges their cache into the running batch (the shorter cache is padded on the left);
2. runs one *decode* step for all running rows: the last token of every row, one forward pass, per-row sampling
   (each row has its own temperature / top_p / top_k / penalties / seed / stop / max_tokens);
3. drops rows that finished (stop token, stop string, max_tokens) or whose client went away, so their slot is
   free for the next waiting request in the very next step.

Why it is fast: on a CPU (and even more on a GPU) one forward pass of 8 rows costs little more than one of 1 row,
so 8 clients get nearly 8x the tokens per second. Why it is exact: padded positions are masked out and every row
keeps its own position ids, so a greedy answer is the same batched or alone (``tests/test_ch03_server.py``).
This is the idea of vLLM / TGI's continuous batching, without paged memory or custom kernels.
"""
from __future__ import annotations

import collections
import itertools
import logging
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Callable

import torch
from transformers import DynamicCache

log = logging.getLogger("chatglm3.engine")


class EngineFull(RuntimeError):
    """The waiting queue is full (the server answers 429)."""


@dataclass
class SamplingParams:
    """Per-request generation settings (OpenAI names; vLLM's extensions ``top_k``, ``min_tokens``, ``ignore_eos``,
    ``repetition_penalty``)."""

    max_tokens: int = 1024
    temperature: float = 0.8          # 0 = greedy
    top_p: float = 0.8
    top_k: int = 0                    # 0 or -1 = off
    repetition_penalty: float = 1.0   # HF-style, on prompt + output tokens
    presence_penalty: float = 0.0     # OpenAI-style, on output tokens
    frequency_penalty: float = 0.0
    stop: tuple[str, ...] = ()
    stop_token_ids: tuple[int, ...] = ()
    ignore_eos: bool = False          # keep going through stop tokens until max_tokens (benchmarks)
    min_tokens: int = 0               # stop tokens are masked until this many tokens exist
    seed: int | None = None

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0


_ids = itertools.count(1)


@dataclass
class _Partial:
    """A long prompt being prefilled chunk by chunk: its own KV cache and how many prompt tokens it holds."""

    seq: "Sequence"
    cache: Any
    done: int = 0


class Sequence:
    """One generation: prompt ids in, output ids + decoded text out; read by the request handler.

    ``on_update(seq)`` is called from the engine thread after every new token and once when finished; the
    handler then reads :attr:`snapshot` (a tuple replaced atomically)."""

    def __init__(self, prompt_ids: list[int], params: SamplingParams,
                 on_update: Callable[["Sequence"], None] | None = None):
        if not prompt_ids:
            raise ValueError("empty prompt")
        self.id = next(_ids)
        self.prompt_ids = list(prompt_ids)
        self.params = params
        self.on_update = on_update
        self.output_ids: list[int] = []
        self.text = ""
        self.finish_reason: str | None = None
        self.error: str | None = None
        self.cancelled = False
        self.arrival = time.perf_counter()
        self.first_token_time: float | None = None
        self.finish_time: float | None = None
        self.generator: torch.Generator | None = None
        self.counts: dict[int, int] = {}
        self.snapshot: tuple[int, str, str | None] = (0, "", None)   # (n_tokens, safe_text, finish_reason)

    @property
    def finished(self) -> bool:
        return self.finish_reason is not None

    def cancel(self) -> None:
        """The client went away: the engine drops the row at its next step."""
        self.cancelled = True

    def safe_text(self) -> str:
        """Text that can be shown now: no half character, no tail that may still become a stop string."""
        text = self.text
        if self.finished:
            return text
        text = text.rstrip("\ufffd")
        hold = 0
        for s in self.params.stop:
            for k in range(min(len(s) - 1, len(text)), 0, -1):
                if text.endswith(s[:k]):
                    hold = max(hold, k)
                    break
        return text[:len(text) - hold] if hold else text

    def _notify(self) -> None:
        self.snapshot = (len(self.output_ids), self.safe_text(), self.finish_reason)
        if self.on_update is not None:
            try:
                self.on_update(self)
            except Exception:  # a handler bug must not kill the engine
                log.exception("on_update callback failed")


class BatchEngine:
    """Owns the model; ``submit`` sequences from any thread, read their snapshots as they grow."""

    def __init__(self, model, tokenizer, max_batch_size: int = 16, max_waiting: int = 256,
                 max_prefill_tokens: int = 8192, max_context: int | None = None, prefill_chunk: int = 2048):
        self.model, self.tokenizer = model, tokenizer
        self.max_batch_size, self.max_waiting = max_batch_size, max_waiting
        # fairness: when long generations fill all max_batch_size slots, a request that has waited overflow_after
        # seconds joins anyway (one decode step of 17 rows costs little more than of 16), up to overflow_factor x
        # max_batch_size rows — so a short request is never stuck behind long ones
        self.overflow_after, self.overflow_factor = 1.0, 2
        # while requests are decoding, a queued job (an embeddings chunk) runs only every job_every decode steps
        self.job_every, self._steps_since_job = 2, 0
        # chunked prefill: a prompt longer than prefill_chunk tokens is prefilled prefill_chunk tokens per step
        # (max_partial prompts at a time), with a decode step of the running batch between two chunks
        self.prefill_chunk, self.max_partial = prefill_chunk, 4
        self._partial: list[_Partial] = []
        self.max_prefill_tokens = max_prefill_tokens
        cfg = model.config
        self.max_context = max_context or getattr(cfg, "max_position_embeddings", None) or 8192
        self.vocab_limit = len(tokenizer)   # ids beyond the tokenizer (vocab padding) are never sampled
        self.device = model.device
        self.default_stop_ids = tuple(tokenizer.stop_token_ids)
        self._cond = threading.Condition()
        self._waiting: collections.deque[Sequence] = collections.deque()
        self._jobs: collections.deque[tuple[Callable, Future]] = collections.deque()
        self._thread: threading.Thread | None = None
        self._stopping = False
        # running batch
        self.rows: list[Sequence] = []
        self._cache: DynamicCache | None = None
        self._mask: torch.Tensor | None = None      # [B, T] 1 = real token in the cache
        self._next_pos: torch.Tensor | None = None  # [B] position id of the next input token
        self._last: torch.Tensor | None = None      # [B] token to feed next
        self.stats = {"steps": 0, "tokens": 0, "prefills": 0, "requests": 0, "max_batch_seen": 0, "jobs": 0}

    # ------------------------------------------------------------------ public API
    def start(self) -> "BatchEngine":
        if self._thread is None:
            self._stopping = False
            self._thread = threading.Thread(target=self._loop, name="chatglm3-engine", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def submit(self, seq: Sequence) -> Sequence:
        if self._thread is None:
            raise RuntimeError("engine not started")
        with self._cond:
            if len(self._waiting) >= self.max_waiting:
                raise EngineFull(f"{len(self._waiting)} requests are already waiting; retry later")
            if not seq.params.stop_token_ids:
                seq.params.stop_token_ids = self.default_stop_ids
            if seq.params.seed is not None:
                seq.generator = torch.Generator(device=self.device).manual_seed(int(seq.params.seed) % (2 ** 63))
            self._waiting.append(seq)
            self.stats["requests"] += 1
            self._cond.notify_all()
        return seq

    def run_exclusive(self, fn: Callable[[Any], Any]) -> Future:
        """Run ``fn(model)`` in the engine thread between two steps (embeddings, scoring) -> a Future."""
        fut: Future = Future()
        with self._cond:
            self._jobs.append((fn, fut))
            self._cond.notify_all()
        return fut

    def load(self) -> dict:
        return {"running": len(self.rows), "waiting": len(self._waiting), "prefilling": len(self._partial),
                **self.stats}

    # ------------------------------------------------------------------ scheduler loop
    def _loop(self) -> None:
        with torch.inference_mode():
            while True:
                with self._cond:
                    while not (self._waiting or self.rows or self._jobs or self._partial or self._stopping):
                        self._cond.wait()
                    if self._stopping:
                        break
                    # one job (an embedding chunk, a tool-name scoring) per step: a big embeddings request is
                    # split into chunks, so decode steps of running chats happen between its chunks
                    jobs = []
                    if self._jobs and (not (self.rows or self._partial) or self._steps_since_job >= self.job_every):
                        jobs = [self._jobs.popleft()]
                        self._steps_since_job = 0
                    admit = self._take_waiting()
                for fn, fut in jobs:
                    self.stats["jobs"] += 1
                    if fut.set_running_or_notify_cancel():
                        try:
                            fut.set_result(fn(self.model))
                        except BaseException as exc:
                            fut.set_exception(exc)
                self._drop_cancelled()
                try:
                    if admit:
                        self._prefill(admit)
                    if self._partial:
                        self._prefill_chunk_step()
                    if self.rows:
                        self._decode_step()
                except Exception as exc:  # e.g. out of memory: fail these requests, keep serving
                    log.exception("generation step failed")
                    for seq in admit + self.rows + [p.seq for p in self._partial]:
                        if not seq.finished:
                            seq.error = f"{type(exc).__name__}: {exc}"
                            self._finish(seq, "error")
                    self._reset_batch()
                    self._partial = []
        for seq in list(self._waiting) + self.rows + [p.seq for p in self._partial]:   # shutting down
            if not seq.finished:
                seq.error = "server shutting down"
                self._finish(seq, "error")

    def _take_waiting(self) -> list[Sequence]:
        admit: list[Sequence] = []
        busy = len(self.rows) + len(self._partial)
        free = self.overflow_factor * self.max_batch_size - busy
        longest = 0
        now = time.perf_counter()
        while self._waiting and len(admit) < free:
            seq = self._waiting[0]
            if seq.cancelled:
                self._waiting.popleft()
                self._finish(seq, "cancelled")
                continue
            if busy + len(admit) >= self.max_batch_size and now - seq.arrival < self.overflow_after:
                break   # the batch is full: wait a moment for a slot before joining as an extra row
            if len(seq.prompt_ids) > self.prefill_chunk:   # a long prompt: prefilled chunk by chunk
                if len(self._partial) >= self.max_partial:
                    break
                self._waiting.popleft()
                self._partial.append(_Partial(seq, DynamicCache(config=self.model.config)))
                free -= 1
                continue
            longest2 = max(longest, len(seq.prompt_ids))
            if admit and longest2 * (len(admit) + 1) > self.max_prefill_tokens:
                break
            admit.append(self._waiting.popleft())
            longest = longest2
        return admit

    # ------------------------------------------------------------------ batch bookkeeping
    def _reset_batch(self) -> None:
        self.rows, self._cache, self._mask, self._next_pos, self._last = [], None, None, None, None

    def _drop_cancelled(self) -> None:
        for p in [p for p in self._partial if p.seq.cancelled]:
            self._partial.remove(p)
            self._finish(p.seq, "cancelled")
        gone = [i for i, s in enumerate(self.rows) if s.cancelled]
        for i in gone:
            self._finish(self.rows[i], "cancelled")
        if gone:
            self._keep([i for i in range(len(self.rows)) if i not in gone])

    def _keep(self, keep: list[int]) -> None:
        """Keep only these rows of the running batch (finished/cancelled rows leave), trim dead padding."""
        if not keep:
            self._reset_batch()
            return
        if len(keep) != len(self.rows):
            idx = torch.tensor(keep, device=self._mask.device)
            self._cache.batch_select_indices(idx)
            self._mask, self._next_pos, self._last = self._mask[idx], self._next_pos[idx], self._last[idx]
            self.rows = [self.rows[i] for i in keep]
        cols = self._mask.any(0).nonzero()
        first = int(cols[0]) if len(cols) else 0
        if first > 0:  # columns that are padding in every remaining row: cut them from mask and cache
            self._mask = self._mask[:, first:]
            for layer in self._cache.layers:
                layer.keys, layer.values = layer.keys[:, :, first:], layer.values[:, :, first:]

    @staticmethod
    def _pad_left(t: torch.Tensor, n: int, dim: int) -> torch.Tensor:
        if n == 0:
            return t
        shape = list(t.shape)
        shape[dim] = n
        return torch.cat([t.new_zeros(shape), t], dim=dim)

    def _merge(self, cache: DynamicCache, mask: torch.Tensor, next_pos: torch.Tensor, last: torch.Tensor,
               rows: list[Sequence]) -> None:
        """Append newly prefilled rows to the running batch (left-pad the shorter cache)."""
        if not self.rows:
            self._cache, self._mask, self._next_pos, self._last, self.rows = cache, mask, next_pos, last, rows
            return
        t_old, t_new = self._mask.shape[1], mask.shape[1]
        t = max(t_old, t_new)
        for old, new in zip(self._cache.layers, cache.layers):
            old.keys = torch.cat([self._pad_left(old.keys, t - t_old, 2), self._pad_left(new.keys, t - t_new, 2)])
            old.values = torch.cat([self._pad_left(old.values, t - t_old, 2),
                                    self._pad_left(new.values, t - t_new, 2)])
        self._mask = torch.cat([self._pad_left(self._mask, t - t_old, 1), self._pad_left(mask, t - t_new, 1)])
        self._next_pos = torch.cat([self._next_pos, next_pos])
        self._last = torch.cat([self._last, last])
        self.rows = self.rows + rows

    # ------------------------------------------------------------------ forward passes
    def _forward(self, input_ids, attention_mask, position_ids, cache) -> torch.Tensor:
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                         cache=cache, use_cache=True, logits_to_keep=1)
        return out.logits[:, -1, :].float()

    def _prefill(self, seqs: list[Sequence]) -> None:
        dev = self.device
        length = max(len(s.prompt_ids) for s in seqs)
        ids = torch.zeros(len(seqs), length, dtype=torch.long)
        mask = torch.zeros(len(seqs), length, dtype=torch.long)
        for i, s in enumerate(seqs):
            ids[i, length - len(s.prompt_ids):] = torch.tensor(s.prompt_ids)
            mask[i, length - len(s.prompt_ids):] = 1
        ids, mask = ids.to(dev), mask.to(dev)
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        cache = DynamicCache(config=self.model.config)
        logits = self._forward(ids, mask, pos, cache)
        self.stats["prefills"] += 1
        tokens = self._sample(logits, seqs)
        keep = [i for i, (s, tok) in enumerate(zip(seqs, tokens)) if not self._append(s, tok)]
        tokens = [t if t is not None else 0 for t in tokens]
        if not keep:
            return
        idx = torch.tensor(keep, device=dev)
        if len(keep) != len(seqs):
            cache.batch_select_indices(idx)
        next_pos = mask.sum(-1)[idx]
        last = torch.tensor(tokens, device=dev)[idx]
        self._merge(cache, mask[idx], next_pos, last, [seqs[i] for i in keep])
        self.stats["max_batch_seen"] = max(self.stats["max_batch_seen"], len(self.rows))

    def _prefill_chunk_step(self) -> None:
        """The next ``prefill_chunk`` tokens of one long prompt (round robin); the finished prompt joins the batch."""
        p = self._partial.pop(0)
        seq, dev = p.seq, self.device
        start, end = p.done, min(p.done + self.prefill_chunk, len(seq.prompt_ids))
        ids = torch.tensor([seq.prompt_ids[start:end]], device=dev)
        pos = torch.arange(start, end, device=dev)[None]
        logits = self._forward(ids, torch.ones(1, end, dtype=torch.long, device=dev), pos, p.cache)
        p.done = end
        if end < len(seq.prompt_ids):
            self._partial.append(p)
            return
        self.stats["prefills"] += 1
        [token] = self._sample(logits, [seq])
        if self._append(seq, token):
            return
        n = len(seq.prompt_ids)
        self._merge(p.cache, torch.ones(1, n, dtype=torch.long, device=dev), torch.tensor([n], device=dev),
                    torch.tensor([token], device=dev), [seq])
        self.stats["max_batch_seen"] = max(self.stats["max_batch_seen"], len(self.rows))

    def _decode_step(self) -> None:
        b = len(self.rows)
        self._mask = torch.cat([self._mask, self._mask.new_ones(b, 1)], dim=1)
        logits = self._forward(self._last[:, None], self._mask, self._next_pos[:, None], self._cache)
        self._next_pos = self._next_pos + 1
        tokens = self._sample(logits, self.rows)
        self._last = torch.tensor([t if t is not None else 0 for t in tokens], device=self.device)
        self.stats["steps"] += 1
        self._steps_since_job += 1
        keep = [i for i, (s, tok) in enumerate(zip(self.rows, tokens)) if not self._append(s, tok)]
        self._keep(keep)

    # ------------------------------------------------------------------ sampling
    def _sample(self, logits: torch.Tensor, seqs: list[Sequence]) -> list[int | None]:
        """One token per row, each with its own settings. ``logits``: [B, V] float32.

        A row whose settings still break the arithmetic gets ``None`` (that request fails alone, see
        :meth:`_append`); its neighbours in the batch are sampled as usual."""
        if logits.shape[-1] > self.vocab_limit:
            logits[:, self.vocab_limit:] = float("-inf")
        bad = ~torch.isfinite(logits[:, :self.vocab_limit]).all(-1)
        if bad.any():  # as the official InvalidScoreLogitsProcessor, but only for the broken row
            logits[bad] = 0.0
            logits[bad, 5] = 5e4
        out: list[int | None] = []
        for i, s in enumerate(seqs):
            try:
                out.append(self._sample_row(logits[i], s))
            except Exception as exc:   # never let one row's settings fail the whole batch
                log.warning("sampling failed for request %s: %s", s.id, exc)
                s.error = f"sampling failed: {type(exc).__name__}: {exc}"
                out.append(None)
        return out

    @staticmethod
    def _sample_row(row: torch.Tensor, s: Sequence) -> int:
        p = s.params
        row = row.clone()
        if p.repetition_penalty != 1.0:
            penalty = min(max(p.repetition_penalty, 1e-2), 1e2)
            seen = torch.tensor(sorted(set(s.prompt_ids) | set(s.output_ids)), device=row.device)
            v = row[seen]
            row[seen] = torch.where(v < 0, v * penalty, v / penalty)
        if (p.presence_penalty or p.frequency_penalty) and s.counts:
            toks = torch.tensor(list(s.counts), device=row.device)
            cnt = torch.tensor(list(s.counts.values()), dtype=row.dtype, device=row.device)
            row[toks] -= p.presence_penalty + p.frequency_penalty * cnt
        if len(s.output_ids) < p.min_tokens:
            row[list(p.stop_token_ids)] = float("-inf")
        # keep the row finite (a penalty may overflow) so that argmax and softmax mean something
        row = torch.nan_to_num(row, nan=float("-inf"), posinf=torch.finfo(row.dtype).max)
        greedy = int(row.argmax())
        if p.greedy or p.temperature < 1e-5:
            return greedy
        row = row / p.temperature
        k = p.top_k
        if 0 < k < row.shape[-1]:
            kth = torch.topk(row, k).values[-1]
            row[row < kth] = float("-inf")
        sorted_logits, order = torch.sort(row, descending=True)
        probs = sorted_logits.softmax(-1)
        drop = probs.cumsum(-1) - probs > p.top_p   # keep the smallest set with mass >= top_p
        drop[0] = False
        sorted_logits[drop] = float("-inf")
        probs = sorted_logits.softmax(-1)
        if not bool(torch.isfinite(probs).all()) or float(probs.sum()) <= 0:
            return greedy   # degenerate distribution: the most likely token is the only sensible pick
        pick = torch.multinomial(probs, 1, generator=s.generator)
        return int(order[pick])

    # ------------------------------------------------------------------ per-row bookkeeping
    def _append(self, seq: Sequence, token: int | None) -> bool:
        """Record one token; True when the sequence is finished (and leaves the batch)."""
        if seq.first_token_time is None:
            seq.first_token_time = time.perf_counter()
        p = seq.params
        if token is None:   # this row could not be sampled: it fails alone
            self._finish(seq, "error")
            return True
        self.stats["tokens"] += 1
        if seq.cancelled:
            self._finish(seq, "cancelled")
            return True
        if token in p.stop_token_ids and not p.ignore_eos:
            seq.output_ids.append(token)
            self._finish(seq, "stop", decode=False)
            return True
        seq.output_ids.append(token)
        seq.counts[token] = seq.counts.get(token, 0) + 1
        seq.text = self.tokenizer.decode(seq.output_ids)
        if p.stop:
            hits = [seq.text.find(s) for s in p.stop]
            hits = [h for h in hits if h >= 0]
            if hits:
                seq.text = seq.text[:min(hits)]
                self._finish(seq, "stop", decode=False)
                return True
        if len(seq.output_ids) >= p.max_tokens or len(seq.prompt_ids) + len(seq.output_ids) >= self.max_context:
            self._finish(seq, "length", decode=False)
            return True
        seq._notify()
        return False

    def _finish(self, seq: Sequence, reason: str, decode: bool = False) -> None:
        if seq.finished:
            return
        if decode:
            seq.text = self.tokenizer.decode(seq.output_ids)
        seq.finish_reason = reason
        seq.finish_time = time.perf_counter()
        seq._notify()
