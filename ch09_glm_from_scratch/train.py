"""9.2.2 文本生成实战 — train the from-scratch GLM on Chinese poems and sayings (and a reusable trainer).

Script: reads Debian's ``fortunes-zh`` (唐诗三百首 / 宋词一百首 / sayings) or ``--corpus-file``, tokenizes one
character per token (or ``--spm-model``), holds out whole entries for validation, trains with AdamW + warm-up +
cosine decay, prints tokens/s, checkpoints atomically every ``--ckpt-every`` steps, draws the loss curve and writes
sample poems. Run the same command again after a kill (or Ctrl-C, which saves first) and it continues from the
last checkpoint with nothing lost: model, optimizer, RNG and the data position are all in the checkpoint.

    CPU (defaults, a few minutes):  python ch09_glm_from_scratch/train.py
    GPU:  python ch09_glm_from_scratch/train.py --device cuda --dtype bf16 --batch-size 64 --seq-len 256 \\
              --num-layers 8 --hidden-size 512 --num-attention-heads 8 --kv-channels 64 --ffn-hidden-size 1376 \\
              --max-steps 5000 --lr 1e-3 --min-lr 1e-4 --out-dir outputs/ch09/train_gpu

Library API (used by data/demo_model to pretrain the demo model)::

    from ch09_glm_from_scratch.train import TrainConfig, Trainer, train
    results = train(model, train_tokens, val_tokens, TrainConfig(out_dir="...", max_steps=2000),
                    extra_state={"anything": "saved in the checkpoint"})
    # model: any nn.Module whose model(x) returns logits [b, t, vocab] or an object with .logits
    #        (this chapter's ChatGLMForConditionalGeneration, transformers' GlmForCausalLM, ...)
    # train_tokens / val_tokens: a 1-D LongTensor (or list of ids) — one token stream, documents joined by eos —
    #        or any "batch source" with next_batch() -> (x, y), state_dict(), load_state_dict() (e.g. SFT data
    #        with -100 labels); val may also be a list of (x, y) batches.
    # results: {"step", "train_loss": [(step, loss)], "val_loss": [(step, loss)], "tokens_per_s",
    #           "checkpoint", "loss_curve", "interrupted"}
    Trainer(model, train_tokens, val_tokens, cfg, loss_fn=None, extra_state=None, callbacks=()).fit()
    # loss_fn(model, x, y) -> scalar (default: next-token cross-entropy, labels -100 ignored);
    # callbacks: functions f(trainer) called after every optimizer step (trainer.step, trainer.last_loss).
    # A checkpoint in cfg.out_dir is resumed when cfg.resume (the default); read_checkpoint(path) returns it.
"""
from __future__ import annotations

import math
import os
import random
import signal
import sys
import threading
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable

import torch
import torch.nn.functional as F

if __package__ in (None, ""):  # run as a script (`python chNN/x.py`): make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ch09_glm_from_scratch.model import CHECKPOINT_NAME, default_out_dir, read_checkpoint
from common.cli import arg



# ============================================================================================ data
class TokenBatches:
    """Resumable random batches of ``(x, y)`` windows cut from one token stream (``y`` = ``x`` shifted by one).

    Each epoch cuts the stream into non-overlapping windows of ``seq_len + 1`` tokens starting at a random offset
    and visits them in a random order; both come from ``seed`` and the epoch number only, so the position
    ``(epoch, index)`` is all a checkpoint needs to continue exactly where it stopped.
    """

    def __init__(self, tokens, batch_size: int, seq_len: int, seed: int = 0):
        self.tokens = torch.as_tensor(tokens, dtype=torch.long)
        self.batch_size, self.seq_len, self.seed = batch_size, seq_len, seed
        if len(self.tokens) < batch_size * (seq_len + 1) + seq_len:
            raise ValueError(f"token stream of {len(self.tokens)} tokens is too short for batches of "
                             f"{batch_size} x {seq_len + 1}: use a smaller --batch-size/--seq-len or more text")
        self.epoch, self.index = 0, 0
        self._order = self._epoch_order(0)

    def _epoch_order(self, epoch: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        offset = int(torch.randint(self.seq_len, (1,), generator=g))
        starts = torch.arange(offset, len(self.tokens) - self.seq_len - 1 + 1, self.seq_len)
        return starts[torch.randperm(len(starts), generator=g)]

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.index + self.batch_size > len(self._order):  # 本轮剩下的不够一个 batch：进入下一轮
            self.epoch, self.index = self.epoch + 1, 0
            self._order = self._epoch_order(self.epoch)
        starts = self._order[self.index:self.index + self.batch_size]
        self.index += self.batch_size
        windows = torch.stack([self.tokens[s:s + self.seq_len + 1] for s in starts.tolist()])
        return windows[:, :-1], windows[:, 1:]  # “错位”：y[t] = x[t+1]

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "index": self.index}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.index = state["epoch"], state["index"]
        self._order = self._epoch_order(self.epoch)


def fixed_batches(tokens, batch_size: int, seq_len: int, max_batches: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Validation batches: consecutive windows from the start of the stream, always the same ones."""
    tokens = torch.as_tensor(tokens, dtype=torch.long)
    n_windows = (len(tokens) - 1) // seq_len
    if n_windows == 0:
        raise ValueError(f"validation stream of {len(tokens)} tokens is shorter than one window of {seq_len + 1}")
    windows = torch.stack([tokens[i * seq_len:i * seq_len + seq_len + 1] for i in range(n_windows)])
    batches = [windows[i:i + batch_size] for i in range(0, n_windows, batch_size)][:max_batches]
    return [(w[:, :-1], w[:, 1:]) for w in batches]


# ============================================================================================ trainer
@dataclass
class TrainConfig:
    out_dir: str = arg("", "folder for checkpoint.pt, loss_curve.png, samples.txt (default: outputs/ch09/train)")
    max_steps: int = arg(500, "optimizer steps in total (a resumed run continues up to this)")
    batch_size: int = arg(16, "sequences per step")
    seq_len: int = arg(128, "tokens per sequence")
    grad_accum_steps: int = arg(1, "micro-batches per optimizer step (effective batch = batch_size × this)")
    lr: float = arg(2e-3, "peak learning rate")
    min_lr: float = arg(2e-4, "learning rate at the end of the cosine decay")
    warmup_steps: int = arg(40, "linear warm-up steps")
    weight_decay: float = arg(0.1, "AdamW weight decay (matrices only; norms, biases and embeddings are exempt)")
    grad_clip: float = arg(1.0, "clip the gradient norm to this (0 = off)")
    eval_every: int = arg(50, "evaluate the validation loss every N steps")
    eval_batches: int = arg(8, "validation batches per evaluation (always the same ones)")
    ckpt_every: int = arg(50, "write the checkpoint every N steps (atomically: never a half-written file)")
    log_every: int = arg(10, "update the progress line every N steps")
    device: str = arg("auto", "auto | cpu | cuda | mps")
    dtype: str = arg("fp32", "fp32 | bf16 (autocast; use on a GPU) | fp16 (autocast + grad scaling, CUDA)",
                     choices=["fp32", "bf16", "fp16"])
    seed: int = arg(1337, "seed for the data order (the model's init is seeded by the caller)")
    resume: bool = arg(True, "continue from out_dir/checkpoint.pt when it exists")
    stop_after: int = arg(0, "stop after this many steps in THIS run, saving a checkpoint (0 = run to max_steps)")
    progress: bool = arg(True, "show a tqdm progress bar")


def causal_lm_loss(model, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Next-token cross-entropy; ``y`` is already shifted; labels -100 are ignored."""
    out = model(x)
    logits = getattr(out, "logits", out)
    return F.cross_entropy(logits.flatten(0, 1).float(), y.flatten(), ignore_index=-100)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("--device cuda: PyTorch sees no CUDA GPU here (CPU build of torch?); use --device cpu")
    return torch.device(name)


def _rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def atomic_save(obj, path: Path) -> None:
    """``torch.save`` to a temporary file, then rename: a kill mid-write leaves the previous checkpoint intact."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class Trainer:
    """Trains ``model`` on a token stream (or any batch source); see the module docstring for the API."""

    def __init__(self, model: torch.nn.Module, train_data, val_data=None, cfg: TrainConfig | None = None,
                 loss_fn: Callable | None = None, extra_state: dict | None = None,
                 callbacks: Iterable[Callable] = ()):
        self.cfg = cfg = cfg or TrainConfig()
        self.device = resolve_device(cfg.device)
        self.model = model.to(self.device)
        self.loss_fn = loss_fn or causal_lm_loss
        self.extra_state = extra_state or {}
        self.callbacks = list(callbacks)
        self.out_dir = Path(cfg.out_dir) if cfg.out_dir else default_out_dir()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.checkpoint_path = self.out_dir / CHECKPOINT_NAME
        if isinstance(train_data, (torch.Tensor, list)):
            train_data = TokenBatches(train_data, cfg.batch_size, cfg.seq_len, cfg.seed)
        self.batches = train_data
        if isinstance(val_data, (torch.Tensor, list)) and len(val_data) and not isinstance(val_data[0], tuple):
            val_data = fixed_batches(val_data, cfg.batch_size, cfg.seq_len, cfg.eval_batches)
        self.val_batches = val_data
        self.optimizer = self._make_optimizer()
        self.scaler = torch.amp.GradScaler("cuda", enabled=cfg.dtype == "fp16" and self.device.type == "cuda")
        self.step, self.last_loss, self._tokens = 0, float("nan"), 0
        self.history = {"train_loss": [], "val_loss": [], "tokens_per_s": []}
        self._stop_requested = False

    def _make_optimizer(self) -> torch.optim.Optimizer:
        decay, no_decay = [], []
        for name, p in self.model.named_parameters():
            if not p.requires_grad:
                continue
            # 只对矩阵做权重衰减；归一化的 weight、bias、词向量不衰减
            (decay if p.dim() >= 2 and "embed" not in name else no_decay).append(p)
        groups = [{"params": decay, "weight_decay": self.cfg.weight_decay},
                  {"params": no_decay, "weight_decay": 0.0}]
        fused = self.device.type == "cuda"
        return torch.optim.AdamW(groups, lr=self.cfg.lr, betas=(0.9, 0.95), fused=fused)

    def lr_at(self, step: int) -> float:
        """Linear warm-up to ``lr``, then cosine decay to ``min_lr`` at ``max_steps``."""
        cfg = self.cfg
        if step < cfg.warmup_steps:
            return cfg.lr * (step + 1) / cfg.warmup_steps
        progress = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps))
        return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * progress))

    def _autocast(self):
        if self.cfg.dtype == "fp32":
            return nullcontext()
        from common.chatglm3 import FLOAT_DTYPES

        dtype = FLOAT_DTYPES[self.cfg.dtype]
        return torch.autocast(self.device.type, dtype=dtype)

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        return {"step": self.step, "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scaler": self.scaler.state_dict(), "data": self.batches.state_dict(), "rng": _rng_state(),
                "history": self.history, "train_config": asdict(self.cfg), "extra": self.extra_state}

    def save_checkpoint(self) -> Path:
        atomic_save(self.state_dict(), self.checkpoint_path)
        return self.checkpoint_path

    def load_checkpoint(self, path: Path | None = None) -> None:
        path = path or self.checkpoint_path
        state = read_checkpoint(path)
        try:
            self.model.load_state_dict(state["model"])
        except RuntimeError as err:
            raise SystemExit(f"{path} was written for a different model ({str(err).splitlines()[0]}): "
                             "start over with --no-resume or use another --out-dir") from err
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        self.batches.load_state_dict(state["data"])
        _set_rng_state(state["rng"])
        self.step, self.history = state["step"], state["history"]

    # ------------------------------------------------------------------ loop
    @torch.no_grad()
    def evaluate(self) -> float:
        """Mean loss over the fixed validation batches (``nan`` when there are none)."""
        if not self.val_batches:
            return float("nan")
        self.model.eval()
        losses = []
        for x, y in self.val_batches:
            with self._autocast():
                losses.append(float(self.loss_fn(self.model, x.to(self.device), y.to(self.device))))
        self.model.train()
        return sum(losses) / len(losses)

    def train_step(self) -> float:
        """One optimizer step (``grad_accum_steps`` micro-batches); returns the mean loss."""
        cfg = self.cfg
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr_at(self.step)
        total = 0.0
        for _ in range(cfg.grad_accum_steps):
            x, y = self.batches.next_batch()
            x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
            with self._autocast():
                loss = self.loss_fn(self.model, x, y) / cfg.grad_accum_steps
            self.scaler.scale(loss).backward()
            total += float(loss.detach())
            self._tokens += x.numel()
        if cfg.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        return total

    def fit(self) -> dict:
        """Train until ``max_steps`` (or ``stop_after`` steps, or Ctrl-C/SIGTERM); return the results."""
        cfg = self.cfg
        resumed_from = 0
        if cfg.resume and self.checkpoint_path.is_file():
            self.load_checkpoint()
            resumed_from = self.step
            print(f"resumed from {self.checkpoint_path} at step {self.step}/{cfg.max_steps}")
        if not self.history["val_loss"] and self.val_batches:  # 第 0 步的验证损失：曲线的起点
            self.history["val_loss"].append((0, self.evaluate()))
        self.model.train()
        bar = _progress(cfg, self.step)
        stop_at = min(cfg.max_steps, self.step + cfg.stop_after) if cfg.stop_after else cfg.max_steps
        self._tokens, t_start, t_window, tokens_window = 0, time.perf_counter(), time.perf_counter(), 0
        train_time = 0.0
        with _graceful_stop(self):
            while self.step < stop_at and not self._stop_requested:
                t0 = time.perf_counter()
                self.last_loss = self.train_step()
                if self.device.type == "cuda":
                    torch.cuda.synchronize()
                train_time += time.perf_counter() - t0
                self.history["train_loss"].append((self.step, self.last_loss))
                for callback in self.callbacks:
                    callback(self)
                if self.step % cfg.log_every == 0 or self.step == stop_at:
                    now = time.perf_counter()
                    speed = (self._tokens - tokens_window) / max(now - t_window, 1e-9)
                    t_window, tokens_window = now, self._tokens
                    self.history["tokens_per_s"].append((self.step, speed))
                    bar.set_postfix(loss=f"{self.last_loss:.3f}", lr=f"{self.lr_at(self.step):.1e}",
                                    tok_s=f"{speed:,.0f}")
                bar.update(1)
                if self.step % cfg.eval_every == 0 or self.step == cfg.max_steps:
                    val = self.evaluate()
                    self.history["val_loss"].append((self.step, val))
                    bar.write(f"step {self.step:5d}  train loss {self.last_loss:.4f}  val loss {val:.4f}")
                if self.step % cfg.ckpt_every == 0 or self.step == cfg.max_steps:
                    self.save_checkpoint()
        bar.close()
        interrupted = self.step < cfg.max_steps
        if interrupted:  # stop_after 或 Ctrl-C：先存档，下次同样的命令接着训练
            self.save_checkpoint()
            print(f"stopped at step {self.step}/{cfg.max_steps}; checkpoint saved — run the same command to continue")
        tokens_per_s = self._tokens / train_time if train_time else float("nan")
        curve = self.plot_loss_curve() if self.history["train_loss"] else None
        return {"step": self.step, "resumed_from": resumed_from, "interrupted": interrupted,
                "train_loss": self.history["train_loss"], "val_loss": self.history["val_loss"],
                "tokens_per_s": tokens_per_s, "wall_s": time.perf_counter() - t_start,
                "checkpoint": str(self.checkpoint_path), "loss_curve": str(curve) if curve else None}

    def plot_loss_curve(self) -> Path:
        from common.plots import plot_curves

        val = list(zip(*self.history["val_loss"])) or [(), ()]
        return plot_curves(self.out_dir / "loss_curve.png",
                           {"from-scratch GLM training loss 训练损失": {"train": tuple(zip(*self.history["train_loss"])),
                                                                    "validation": val}},
                           xlabel="step", ylabel="cross-entropy (nats/token)", smooth=("train",))


def train(model, train_data, val_data=None, cfg: TrainConfig | None = None, **kwargs) -> dict:
    """``Trainer(model, train_data, val_data, cfg, **kwargs).fit()``."""
    return Trainer(model, train_data, val_data, cfg, **kwargs).fit()


class _graceful_stop:
    """Ctrl-C / SIGTERM: finish the current step, save, return. A second Ctrl-C stops at once."""

    def __init__(self, trainer: Trainer):
        self.trainer, self.previous = trainer, {}

    def _handler(self, signum, frame):
        if self.trainer._stop_requested:
            raise KeyboardInterrupt
        self.trainer._stop_requested = True
        print("\nstopping after this step and saving the checkpoint (Ctrl-C again to abort)...", file=sys.stderr)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.previous[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        return False


def _progress(cfg: TrainConfig, initial: int):
    from tqdm.auto import tqdm

    return tqdm(total=cfg.max_steps, initial=initial, disable=not cfg.progress, desc="train", unit="step",
                dynamic_ncols=True)


# ============================================================================================ the script
@dataclass
class TrainScriptConfig(TrainConfig):
    corpus_file: str = arg("", "train on this UTF-8 text instead of fortunes-zh (entries split by '%' lines "
                               "or blank lines)")
    fortunes: list = arg(["tang300", "song100", "chinese"], "fortune files (唐诗/宋词/sayings) to read")
    fortunes_dir: str = arg("/usr/share/games/fortunes", "folder of the fortune files")
    val_fraction: float = arg(0.05, "share of whole entries held out for validation")
    spm_model: str = arg("", "sentencepiece .model file to tokenize with (default: one token per character)")
    min_char_count: int = arg(1, "character tokenizer: characters seen fewer times become <unk>")
    num_layers: int = arg(4, "GLMBlocks")
    hidden_size: int = arg(128, "hidden size")
    num_attention_heads: int = arg(4, "query heads")
    multi_query_group_num: int = arg(2, "key/value groups (ChatGLM3: 2)")
    kv_channels: int = arg(32, "head dimension")
    ffn_hidden_size: int = arg(344, "SwiGLU inner width (≈ 8/3 × hidden)")
    rope_ratio: float = arg(1.0, "RoPE base multiplier")
    model_seed: int = arg(0, "seed of the model initialisation")
    sample_prompts: list = arg(["床前", "春", "月"], "prompts for the sample poems written at the end")
    sample_tokens: int = arg(60, "tokens per sample")
    threads: int = arg(0, "torch CPU threads (0 = PyTorch's default)")


def build_model(cfg: TrainScriptConfig, vocab_size: int):
    """A ChatGLM3-shaped model for ``vocab_size`` tokens (vocabulary padded to a multiple of 64, like 65024)."""
    from ch09_glm_from_scratch.config import ChatGLMConfig
    from ch09_glm_from_scratch.model import ChatGLMForConditionalGeneration

    conf = ChatGLMConfig(num_layers=cfg.num_layers, hidden_size=cfg.hidden_size, ffn_hidden_size=cfg.ffn_hidden_size,
                         kv_channels=cfg.kv_channels, num_attention_heads=cfg.num_attention_heads,
                         multi_query_group_num=cfg.multi_query_group_num, padded_vocab_size=(vocab_size + 63) // 64 * 64,
                         rope_ratio=cfg.rope_ratio, seq_length=cfg.seq_len)
    torch.manual_seed(cfg.model_seed)
    return ChatGLMForConditionalGeneration(conf)


def _load_entries(cfg: TrainScriptConfig) -> list[str]:
    from ch09_glm_from_scratch.corpus import CorpusMissing, read_corpus_file, read_fortunes

    if cfg.corpus_file:
        return read_corpus_file(cfg.corpus_file)
    try:
        return read_fortunes(cfg.fortunes, cfg.fortunes_dir)
    except CorpusMissing as err:
        print(err)
        raise SystemExit(1)


def main(cfg: TrainScriptConfig | None = None) -> dict:
    """Train on the corpus, save the loss curve and sample poems; return the trainer's results plus samples."""
    from dataclasses import fields

    from ch09_glm_from_scratch.corpus import CharTokenizer, SentencePieceTokenizer, encode_entries, train_val_split
    from ch09_glm_from_scratch.corpus import tokenizer_from_state
    from ch09_glm_from_scratch.generate import generate

    cfg = cfg or TrainScriptConfig()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    entries = _load_entries(cfg)
    train_entries, val_entries = train_val_split(entries, cfg.val_fraction, seed=cfg.seed)
    out_dir = Path(cfg.out_dir) if cfg.out_dir else default_out_dir()
    previous = out_dir / CHECKPOINT_NAME
    if cfg.resume and previous.is_file():  # 续训：沿用检查点里的分词器，保证 id 不变
        tokenizer = tokenizer_from_state(read_checkpoint(previous)["extra"]["tokenizer"])
    elif cfg.spm_model:
        tokenizer = SentencePieceTokenizer(cfg.spm_model)
    else:
        tokenizer = CharTokenizer.build(entries, cfg.min_char_count)
    train_ids = torch.tensor(encode_entries(tokenizer, train_entries))
    val_ids = torch.tensor(encode_entries(tokenizer, val_entries))
    model = build_model(cfg, tokenizer.vocab_size)
    print(f"corpus: {len(train_entries)} train / {len(val_entries)} val entries, {len(train_ids):,} / "
          f"{len(val_ids):,} tokens, vocabulary {tokenizer.vocab_size}; model {model.num_parameters():,} parameters")
    trainer_cfg = TrainConfig(**{f.name: getattr(cfg, f.name) for f in fields(TrainConfig)})
    extra = {"model_config": asdict(model.config), "tokenizer": tokenizer.state_dict()}
    from common.progress import SlowStepHint
    hint = SlowStepHint()  # one line if another program starves the training of CPU time (--threads)
    results = train(model, train_ids, val_ids, trainer_cfg, extra_state=extra, callbacks=[hint.callback])

    model.eval()
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(cfg.seed)
    samples = []
    for prompt in cfg.sample_prompts:
        ids = torch.tensor([tokenizer.encode(prompt)], device=device)
        out = generate(model, ids, cfg.sample_tokens, do_sample=True, temperature=0.8, top_k=50, top_p=0.9,
                       repetition_penalty=1.1, eos_token_id=tokenizer.eos_id, generator=generator)
        samples.append(tokenizer.decode(out[0].tolist()))
    samples_path = Path(results["checkpoint"]).with_name("samples.txt")
    samples_path.write_text("\n\n".join(samples) + "\n", encoding="utf-8")
    print("\nsamples:\n" + "\n\n".join(samples))
    vals = results["val_loss"]
    if vals:
        print(f"\nval loss {vals[0][1]:.3f} (step {vals[0][0]}) -> {vals[-1][1]:.3f} (step {vals[-1][0]}); "
              f"{results['tokens_per_s']:,.0f} tokens/s; loss curve {results['loss_curve']}; samples {samples_path}")
    results.update(samples=samples, samples_file=str(samples_path), vocab_size=tokenizer.vocab_size)
    return results


if __name__ == "__main__":
    from common.cli import run

    run(main, TrainScriptConfig, __doc__)
