"""A tiny ChatGLM3 that *learned* a few scripted replies — for tests and offline UI checks, not for answers.

A random tiny checkpoint (``common.testing.make_tiny_checkpoint``) writes gibberish, so a tool call can never come
out of it. Here the same tiny model is trained for a few seconds (full fine-tune, loss on the reply only) until it
greedily reproduces the scripted conversations of :func:`chat_client.scripted_dialogues`: a greeting, a
``get_weather`` call for "北京天气怎么样？", and an answer built from the tool result. The prompts are built exactly
as the server and the web demos build them (``messages_to_history`` -> ``prompt_ids``), so a test through the real
HTTP server, the real ``openai`` client and a real browser sees a real model produce a real tool call.

    python -m ch03_gradio.server.scripted      # writes outputs/ch03/scripted-model and prints its replies

:class:`ScriptedEngine` goes one step further for tests of the server's *output* path: a stand-in for
``BatchEngine`` whose "generation" is whatever text the test hands it (a call with a 5,000-digit hex number, an
undeclared tool name ...), so every rendering rule is checked through real HTTP, streaming included.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from common.cli import arg, run
from common.openai_protocol import messages_to_history, prompt_ids, tools_to_chatglm
from common.toolcall import fenced_tool_call

VERSION = 2
TINY_CONFIG = dict(hidden_size=128, ffn_hidden_size=256, kv_channels=32, num_attention_heads=4, num_layers=2)


def reply_ids(tokenizer, reply: dict) -> list[int]:
    """What the model must write after ``<|assistant|>``: ``metadata\\n`` + content, then the turn-ending token
    (``<|observation|>`` after a tool call, ``<|user|>`` after an answer — the official stop tokens)."""
    if "tool_call" in reply:
        name, args = reply["tool_call"]
        ids = tokenizer.build_single_message("assistant", name, fenced_tool_call(args))[1:]
        return ids + [tokenizer.get_command("<|observation|>")]
    ids = tokenizer.build_single_message("assistant", "", reply["content"])[1:]
    return ids + [tokenizer.get_command("<|user|>")]


def examples(tokenizer, dialogues) -> list[tuple[list[int], list[int]]]:
    out = []
    for messages, tools, reply in dialogues:
        history = messages_to_history(messages, tools_to_chatglm(tools) if tools else None)
        out.append((prompt_ids(tokenizer, history), reply_ids(tokenizer, reply)))
    return out


def train_scripted(model, tokenizer, dialogues, max_steps: int = 600, lr: float = 3e-3, seed: int = 0) -> dict:
    """Fine-tune until every reply is reproduced greedily (checked every 20 steps)."""
    torch.manual_seed(seed)
    data = examples(tokenizer, dialogues)
    length = max(len(p) + len(r) for p, r in data)
    ids = torch.zeros(len(data), length, dtype=torch.long)
    labels = torch.full((len(data), length), -100, dtype=torch.long)
    mask = torch.zeros(len(data), length, dtype=torch.long)
    for i, (p, r) in enumerate(data):
        seq = p + r
        ids[i, :len(seq)] = torch.tensor(seq)
        mask[i, :len(seq)] = 1
        labels[i, len(p):len(seq)] = torch.tensor(r)
    model.train()
    for p in model.parameters():  # the runtime loads models for inference (requires_grad off)
        p.requires_grad_(True)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    step, loss = 0, float("nan")
    for step in range(1, max_steps + 1):
        out = model(input_ids=ids, attention_mask=mask, labels=labels)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        loss = float(out.loss.detach())
        if step % 20 == 0:
            with torch.no_grad():
                pred = model(input_ids=ids, attention_mask=mask).logits.argmax(-1)
            target = labels[:, 1:]
            if bool((pred[:, :-1][target != -100] == target[target != -100]).all()):
                break
    model.eval()
    return {"steps": step, "loss": loss}


def tokenizer_corpus(dialogues) -> list[str]:
    """Texts for the tiny tokenizer: the scripted prompts themselves, so they become few tokens (fast training)."""
    from common.prompts import TOOL_SYSTEM_PROMPT
    from common.testing import _TINY_CORPUS

    texts = list(_TINY_CORPUS) + [TOOL_SYSTEM_PROMPT]
    for messages, tools, reply in dialogues:
        if tools:
            texts.append(json.dumps(tools_to_chatglm(tools), indent=4, ensure_ascii=False))
        texts += [m["content"] for m in messages if m.get("content")] + [json.dumps(reply, ensure_ascii=False)]
    return texts


def scripted_checkpoint(out_dir: str | Path | None = None, max_steps: int = 600) -> Path:
    """Build (or reuse, when the script has not changed) the scripted tiny model; returns its folder."""
    from common.checkpoint import save_official_checkpoint
    from common.chatglm3 import load_model_and_tokenizer
    from common.paths import output_dir
    from common.testing import make_tiny_checkpoint

    from .chat_client import scripted_dialogues

    dialogues = scripted_dialogues()
    key = hashlib.sha256(json.dumps([VERSION, TINY_CONFIG, dialogues], ensure_ascii=False,
                                    sort_keys=True).encode()).hexdigest()[:12]
    out = Path(out_dir) if out_dir else output_dir("ch03", "scripted-model")
    stamp = out / "SCRIPT_KEY"
    if stamp.is_file() and stamp.read_text().strip() == key and (out / "config.json").is_file():
        return out
    tmp = out.with_name(f"{out.name}.tmp{os.getpid()}")   # several test processes may build at once
    shutil.rmtree(tmp, ignore_errors=True)
    make_tiny_checkpoint(tmp / "init", texts=tokenizer_corpus(dialogues) * 3, vocab_size=800, **TINY_CONFIG)
    model, tok = load_model_and_tokenizer(tmp / "init", quiet=True)
    report = train_scripted(model, tok, dialogues, max_steps=max_steps)
    trained = save_official_checkpoint(model, tmp / "trained", tokenizer=tok)
    (trained / "TRAINING.json").write_text(json.dumps(report) + "\n")
    (trained / "SCRIPT_KEY").write_text(key + "\n")
    if not (stamp.is_file() and stamp.read_text().strip() == key):   # nobody finished first
        shutil.rmtree(out, ignore_errors=True)
        try:
            trained.rename(out)
        except OSError:
            pass
    shutil.rmtree(tmp, ignore_errors=True)
    return out


class ScriptedEngine:
    """A stand-in for :class:`~ch03_gradio.server.engine.BatchEngine` that "generates" scripted text at once.

    ``reply(prompt_ids) -> str`` decides the output of each request (default: the next item of ``replies``,
    cycling). It has the engine's interface as far as ``app.create_app`` uses it (``tokenizer``, ``max_context``,
    ``submit``, ``run_exclusive``, ``load``, ``stop``); no model is run."""

    def __init__(self, tokenizer, replies: list[str] | None = None, reply: Callable[[list[int]], str] | None = None,
                 max_context: int = 2048):
        self.tokenizer, self.max_context = tokenizer, max_context
        self.replies, self.reply = list(replies or ["你好"]), reply
        self.model = None
        self.stats = {"steps": 0, "tokens": 0, "prefills": 0, "requests": 0, "max_batch_seen": 0, "jobs": 0}
        self._lock = threading.Lock()

    def start(self) -> "ScriptedEngine":
        return self

    def stop(self, timeout: float = 0) -> None:
        pass

    def load(self) -> dict:
        return {"running": 0, "waiting": 0, **self.stats}

    def run_exclusive(self, fn) -> Future:
        fut: Future = Future()
        fut.set_exception(RuntimeError("the scripted engine has no model"))
        return fut

    def submit(self, seq):
        with self._lock:
            text = self.reply(seq.prompt_ids) if self.reply else self.replies[self.stats["requests"] % len(self.replies)]
            self.stats["requests"] += 1
        seq.output_ids = self.tokenizer.encode(text, add_special_tokens=False)[:seq.params.max_tokens]
        seq.text = text
        self.stats["tokens"] += len(seq.output_ids)
        seq.finish_reason = "stop"
        seq._notify()
        return seq


@dataclass
class Config:
    out_dir: str | None = arg(None, "where to write it (default: outputs/ch03/scripted-model)")
    max_steps: int = arg(600, "training steps at most")


def main(cfg: Config) -> dict:
    from common.chatglm3 import load_model_and_tokenizer

    from .chat_client import scripted_dialogues

    path = scripted_checkpoint(cfg.out_dir, cfg.max_steps)
    model, tok = load_model_and_tokenizer(path, quiet=True)
    replies = []
    for messages, tools, _ in scripted_dialogues():
        history = messages_to_history(messages, tools_to_chatglm(tools) if tools else None)
        ids = torch.tensor([prompt_ids(tok, history)])
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=60,
                             eos_token_id=tok.stop_token_ids, top_p=None, temperature=None, top_k=None)
        replies.append(tok.decode(out[0, ids.shape[1]:].tolist()))
        print(f"{messages[-1]['content'][:30]!r:34} -> {replies[-1]!r}")
    print(f"scripted model at {path}")
    return {"path": str(path), "replies": replies}


if __name__ == "__main__":
    run(main, Config, __doc__)
