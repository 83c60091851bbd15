"""10.3.2 / 10.4.1 虚拟客服多轮问答的 LoRA 微调 —— 一个普通的 accelerate 程序（可断点续训）。

Data: the official ChatGLM3 fine-tune JSONL (``common/sft.py``: multi-turn, system messages, tool calls; only the
assistant turns are trained). Model: the resolved model (built-in demo model by default; ``--model`` or
``CHATGLM3_MODEL`` for the real ChatGLM3-6B) wrapped by PEFT LoRA on transformers' ``GlmForCausalLM``.

* one process: ``python ch10_finetune/train_lora.py``;
  several: ``accelerate launch --multi_gpu --num_processes 2 ch10_finetune/train_lora.py`` — on a machine without
  GPUs this runs 2 CPU processes over gloo (``--cpu --num_processes 2`` would silently start only one);
  DeepSpeed / FSDP: ``accelerate launch --config_file ch10_finetune/configs/<file>.yaml ...`` (GPU).
  The data is sharded across processes; the printed batch size is per process.
* writes to ``--output-dir`` (default ``outputs/ch10/lora``): a standard PEFT adapter
  (``PeftModel.from_pretrained(load_model(base), output_dir)``), ``loss_curve.png``, ``metrics.json`` (dev loss,
  exact match and ROUGE-L of greedy answers to dev questions, before and after), and ``checkpoint/`` for
  ``--resume`` (accelerate ``save_state``/``load_state`` of the LoRA weights, optimizer, scheduler, RNG, plus the
  step and the position in the epoch's shuffled order). Ctrl-C / SIGTERM saves a checkpoint before exiting; after a
  hard kill ``--resume`` redoes at most ``--save-every`` steps. The learning-rate schedule and data order do not
  change across a resume: a resumed run follows the same trajectory as an uninterrupted one.

``train_qlora.py`` imports this module and swaps only the model builder.
"""
from __future__ import annotations

import dataclasses
import json
import math
import shutil
import signal
import time
from pathlib import Path
from typing import Any, Callable

if __package__ in (None, ""):
    import sys  # run as a script (`python chNN/x.py`): make the repository importable

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from dataclasses import asdict, dataclass

from common.cli import PRECISIONS, ModelArgs, UserError, arg, run
from common.paths import DATA_DIR

CS_DIR = DATA_DIR / "ch10" / "customer_service"
GLM_ALL_LINEAR = "q_proj,k_proj,v_proj,o_proj,gate_up_proj,down_proj"


@dataclass
class LoRAArgs:
    """The adapter: rank, scaling, dropout, which linear layers."""

    # CPU defaults for the 7 M-parameter demo model: rank 16 and a high learning rate so the change is visible in
    # minutes; for ChatGLM3-6B use the official r=8, lr 3e-4 (README)
    lora_r: int = arg(16, "LoRA rank r", group="LoRA")
    lora_alpha: float = arg(32.0, "LoRA alpha (scaling = alpha / r)", group="LoRA")
    lora_dropout: float = arg(0.05, "dropout on the LoRA input", group="LoRA")
    targets: str = arg(GLM_ALL_LINEAR, "comma-separated GlmForCausalLM linear layers to adapt (official ChatGLM3 "
                                       "LoRA = query_key_value = q_proj,k_proj,v_proj here)", group="LoRA")


@dataclass
class Config(ModelArgs, LoRAArgs):
    precision: str = arg("fp32", "dtype of the frozen base weights (LoRA weights train in fp32); 4-bit bases are "
                                 "train_qlora.py's", choices=PRECISIONS, group="model")
    device: str = arg("auto", "auto: accelerate picks (a CUDA GPU when there is one, else the CPU; `accelerate "
                              "launch` for several); cpu: force the CPU; cuda: require a GPU",
                      choices=("auto", "cpu", "cuda"), group="model")
    train_file: str = arg(str(CS_DIR / "train.jsonl"), "training JSONL (official ChatGLM3 format)", group="data")
    dev_file: str = arg("", "dev JSONL for dev loss, exact match, ROUGE-L (default: the bundled dev set for the "
                            "bundled data; for your own --train-file, --dev-fraction of it held out)", group="data")
    dev_fraction: float = arg(0.1, "share of your own --train-file held out as dev set when no --dev-file is given "
                                   "(0: none; files under 10 conversations keep everything for training)",
                              group="data")
    output_dir: str = arg("", "where the adapter, plots, metrics and checkpoint go (default: outputs/ch10/<run "
                              "name>, plus -<file name> for your own --train-file)", group="data")
    overwrite: bool = arg(False, "replace an adapter in --output-dir that was trained on other data", group="data")
    max_steps: int = arg(0, "optimizer steps to train (0: --epochs, at least --min-steps)", group="schedule")
    epochs: float = arg(5.0, "passes over the training data when --max-steps is 0", group="schedule")
    min_steps: int = arg(200, "at least this many optimizer steps when --max-steps is 0, so a small file is "
                              "learned too (40 conversations: 200 steps = 40 passes)", group="schedule")
    target_loss: float = arg(0.01, "stop early once the training loss (mean of the last --log-every steps) is "
                                   "below this (0: off)", group="schedule")
    lr: float = arg(5e-3, "peak learning rate (linear warm-up, then linear decay)", group="schedule")
    warmup_ratio: float = arg(0.05, "share of steps used for warm-up", group="schedule")
    weight_decay: float = arg(0.0, "AdamW weight decay", group="schedule")
    grad_clip: float = arg(1.0, "max gradient norm (0: no clipping)", group="schedule")
    batch_size: int = arg(8, "conversations per batch per process", group="schedule")
    grad_accum: int = arg(1, "micro-batches per optimizer step", group="schedule")
    max_length: int = arg(512, "token limit per conversation (longer ones lose whole trailing turns, never half an "
                               "answer)", group="schedule")
    gradient_checkpointing: bool = arg(False, "recompute activations in backward (less memory, ~30% slower)",
                                       group="schedule")
    resume: bool = arg(False, "continue from <output-dir>/checkpoint if it exists", group="run")
    seed: int = arg(42, "random seed (init, data order, dropout, dev split)", group="run")
    save_every: int = arg(50, "save a resumable checkpoint every N steps", group="run")
    eval_every: int = arg(50, "dev loss every N steps (0: start/end only)", group="run")
    log_every: int = arg(10, "print the training loss every N steps", group="run")
    stop_after: int = arg(0, "stop after N steps as if interrupted (checkpoint saved; try --resume); 0: off",
                          group="run")
    n_eval: int = arg(10, "dev answers generated for exact match / ROUGE-L", group="run")
    n_demo: int = arg(3, "questions shown before/after training", group="run")
    check_trained: int = arg(40, "after training: greedy answers to up to N training questions, and how many "
                                 "reproduce the trained answer exactly (0: skip)", group="run")
    demo_split: str = arg("train", "take the before/after questions from the training or the dev data",
                          choices=("train", "dev"), group="run")
    max_new_tokens: int = arg(128, "generation length limit", group="run")
    run_name: str = arg("lora", "name of the default output folder under outputs/ch10", group="run")


# ============================================================================================== model
def lora_config(cfg: LoRAArgs):
    from peft import LoraConfig
    return LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=[t.strip() for t in cfg.targets.split(",") if t.strip()],
                      bias="none", task_type="CAUSAL_LM")


def _load_device(accelerator) -> str:
    # CPU processes load on the CPU; GPU processes straight onto their own GPU (no full copy in host RAM first)
    return "cpu" if accelerator.device.type == "cpu" else str(accelerator.device)


def build_lora_model(cfg: Config, accelerator):
    """Base model (frozen) + PEFT LoRA adapters -> ``(model, tokenizer, info)``."""
    from peft import get_peft_model

    from common.chatglm3 import load_model_and_tokenizer

    model, tok = load_model_and_tokenizer(cfg.model, precision=cfg.precision, device=_load_device(accelerator),
                                          quiet=not accelerator.is_main_process)
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model = get_peft_model(model, lora_config(cfg))
    return model, tok, {"method": "LoRA"}


def trainable_summary(model) -> dict:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return {"trainable": trainable, "total": total, "share": trainable / max(total, 1)}


# ============================================================================================== eval
def eval_turns(path: str | Path | list[dict], n: int) -> list[dict]:
    """Up to ``n`` chat questions from a JSONL file (or a list of records), one per conversation in order, skipping
    answers already picked (so the 'hello' and 'thanks' turns appear once): the same set every run."""
    from common.sft import chat_turns, read_jsonl

    records = [r for _, r in read_jsonl(path)[0]] if isinstance(path, (str, Path)) else list(path)
    turns, seen = [], set()
    for rec in records:
        for t in chat_turns(rec):
            key = answer_text(t["answer"])
            if key not in seen:
                seen.add(key)
                turns.append(t)
                break
        if len(turns) >= n:
            break
    return turns


def answer_text(answer) -> str:
    """A tool call dict rendered as the text the model writes, so calls and replies share one metric."""
    from common.sft import tool_call_content

    if isinstance(answer, dict):
        if "parameters" in answer:
            try:
                return answer["name"] + "\n" + tool_call_content(answer["parameters"])
            except ValueError:
                pass
        return json.dumps(answer, ensure_ascii=False, sort_keys=True)
    return str(answer).strip()


def generate_answers(model, tok, turns: list[dict], max_new_tokens: int) -> list:
    """Greedy answers (``common.chatglm3.chat``) to each turn's query with its history."""
    from common.chatglm3 import chat

    was_training = model.training
    model.eval()
    preds = []
    for t in turns:
        response, _ = chat(model, tok, t["query"], history=t["history"], role=t["role"], do_sample=False,
                           max_new_tokens=max_new_tokens)
        preds.append(response)
    if was_training:
        model.train()
    return preds


def score(preds: list, refs: list) -> dict:
    """Exact match and ROUGE-L F1 (jieba words, as the official finetune_demo computes it)."""
    import jieba
    from rouge_chinese import Rouge

    jieba.setLogLevel(60)
    rouge = Rouge()
    em, rl = [], []
    for p, r in zip(preds, refs):
        ps, rs = answer_text(p), answer_text(r)
        em.append(float(ps == rs if not isinstance(r, dict) else p == r))
        hyp, ref = " ".join(jieba.cut(ps)), " ".join(jieba.cut(rs))
        rl.append(rouge.get_scores(hyp, ref)[0]["rouge-l"]["f"] if hyp.strip() and ref.strip() else 0.0)
    n = max(len(refs), 1)
    return {"exact_match": sum(em) / n, "rouge_l": sum(rl) / n, "n": len(refs)}


def dev_loss(model, loader, accelerator) -> float:
    """Mean loss per trained token over the whole dev set (all processes)."""
    import torch
    import torch.nn.functional as F

    model.eval()
    sums, counts = [], []
    with torch.no_grad():
        for batch in loader:
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.float()
            labels = batch["labels"][:, 1:]
            tok_loss = F.cross_entropy(logits[:, :-1].transpose(1, 2), labels, ignore_index=-100, reduction="none")
            s, c = tok_loss.sum(dim=1), (labels != -100).sum(dim=1).float()
            sums.append(accelerator.gather_for_metrics(s))
            counts.append(accelerator.gather_for_metrics(c))
    model.train()
    total, n = torch.cat(sums).sum().item(), torch.cat(counts).sum().item()
    return total / max(n, 1.0)


def plot_losses(history: list[dict], dev_history: list[dict], path: Path, title: str) -> None:
    from common.plots import plot_curves

    plot_curves(path, {title: {"train loss": ([h["step"] for h in history], [h["loss"] for h in history]),
                               "dev loss": ([h["step"] for h in dev_history], [h["loss"] for h in dev_history])}},
                xlabel="optimizer step", ylabel="loss per trained token")


# ============================================================================================== checkpoints
STATE_FILE = "trainer_state.json"


def _keep_trainable_only(models, weights, output_dir) -> None:
    """save_state pre-hook: store only the trainable (LoRA) tensors, not a copy of the frozen base model."""
    for i, m in enumerate(models):
        inner = m.module if hasattr(m, "module") else m
        keep = {n for n, p in inner.named_parameters() if p.requires_grad}
        weights[i] = {k: v for k, v in weights[i].items() if k in keep}


def _load_trainable_only(models, input_dir) -> None:
    """load_state pre-hook: put the saved LoRA tensors back with ``strict=False`` ourselves (safetensors' own
    loader refuses models whose frozen q/k/v weights are views of one fused tensor, as the ChatGLM3 loader makes
    them), then empty the list so accelerate does not load them again."""
    from safetensors.torch import load_file

    for i, m in enumerate(models):
        path = Path(input_dir) / ("model.safetensors" if i == 0 else f"model_{i}.safetensors")
        if not path.is_file():
            continue
        inner = m.module if hasattr(m, "module") else m
        result = inner.load_state_dict(load_file(str(path)), strict=False)
        if result.unexpected_keys:
            raise RuntimeError(f"{path} does not belong to this model: {result.unexpected_keys[:3]} ...")
    models.clear()


def save_checkpoint(accelerator, out: Path, state: dict) -> None:
    """``accelerator.save_state`` into a temporary folder, then swap it in (a kill mid-save keeps the old one)."""
    tmp, final, old = out / "checkpoint.tmp", out / "checkpoint", out / "checkpoint.old"
    if accelerator.is_main_process and tmp.exists():
        shutil.rmtree(tmp)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    if accelerator.is_main_process:
        (tmp / STATE_FILE).write_text(json.dumps(state, ensure_ascii=False, indent=1), encoding="utf-8")
        if old.exists():
            shutil.rmtree(old)
        if final.exists():
            final.rename(old)
        tmp.rename(final)
        if old.exists():
            shutil.rmtree(old)
    accelerator.wait_for_everyone()


# ============================================================================================== training
def is_bundled(cfg: Config) -> bool:
    """Is ``--train-file`` the data this script ships with (its default)?"""
    return Path(cfg.train_file).resolve() == Path(type(cfg)().train_file).resolve()


def check_config(cfg: Config) -> Config:
    """Expected mistakes -> :class:`UserError` with the fix; the default output folder filled in."""
    import torch

    from common.paths import output_dir

    if not Path(cfg.train_file).is_file():
        raise UserError(f"--train-file {cfg.train_file}: no such file. To fix: pass a JSONL file in the official "
                        f"ChatGLM3 format (see data/ch10/customer_service/train.jsonl)")
    if cfg.dev_file and not Path(cfg.dev_file).is_file():
        raise UserError(f"--dev-file {cfg.dev_file}: no such file. To fix: pass an existing JSONL file, or leave "
                        f"it out to hold out --dev-fraction of --train-file")
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda, but this machine has no CUDA GPU (accelerate picks the device). To fix: "
                        "leave --device at auto (the CPU here)")
    if not cfg.output_dir:
        name = cfg.run_name if is_bundled(cfg) else f"{cfg.run_name}-{Path(cfg.train_file).stem}"
        cfg = dataclasses.replace(cfg, output_dir=str(output_dir("ch10", name)))
    metrics = Path(cfg.output_dir) / "metrics.json"
    if metrics.is_file() and not (cfg.overwrite or cfg.resume):
        try:
            trained_on = json.loads(metrics.read_text(encoding="utf-8"))["config"]["train_file"]
        except (ValueError, KeyError, TypeError):
            trained_on = None
        if trained_on and Path(trained_on).resolve() != Path(cfg.train_file).resolve():
            raise UserError(f"{cfg.output_dir} holds an adapter trained on {trained_on}. To fix: --output-dir "
                            f"DIR for this run, or --overwrite to replace it")
    return cfg


def split_data(cfg: Config) -> tuple[Any, Any, str]:
    """``(train source, dev source, what the dev set is)``: a path or a list of records each. Your own
    ``--train-file`` without ``--dev-file`` gets a held-out split of itself (never the bundled dev set)."""
    import random

    from common.sft import read_jsonl

    if cfg.dev_file:
        return cfg.train_file, cfg.dev_file, cfg.dev_file
    if is_bundled(cfg):
        dev = str(Path(cfg.train_file).with_name("dev.jsonl"))
        return cfg.train_file, dev, dev
    records = [r for _, r in read_jsonl(cfg.train_file)[0]]
    n_dev = max(1, round(len(records) * cfg.dev_fraction)) if len(records) >= 10 and cfg.dev_fraction > 0 else 0
    if n_dev == 0:
        return cfg.train_file, [], "none (fewer than 10 conversations or --dev-fraction 0: all of them train)"
    order = list(range(len(records)))
    random.Random(cfg.seed).shuffle(order)
    dev_idx = set(order[:n_dev])
    train = [r for i, r in enumerate(records) if i not in dev_idx]
    dev = [r for i, r in enumerate(records) if i in dev_idx]
    return train, dev, f"{n_dev} of the {len(records)} conversations of {cfg.train_file}, held out (--dev-fraction)"


def run_training(cfg: Config, build_model: Callable = build_lora_model, title: str = "LoRA") -> dict:
    """Everything train_lora.py / train_qlora.py do, given a model builder ``(cfg, accelerator) -> (model, tok, info)``."""
    import torch
    from accelerate import Accelerator
    from accelerate.utils import DataLoaderConfiguration, set_seed
    from torch.utils.data import DataLoader
    from tqdm.auto import tqdm
    from transformers import get_linear_schedule_with_warmup

    from common.sft import SFTCollator, load_sft_examples

    from common.cli import apply_threads

    t_start = time.time()
    cfg = check_config(cfg)
    out = Path(cfg.output_dir)
    apply_threads(cfg)
    # without CUDA, tell accelerate so: `accelerate launch --multi_gpu` then gives MULTI_CPU over gloo
    accelerator = Accelerator(cpu=cfg.device == "cpu" or not torch.cuda.is_available(),
                              gradient_accumulation_steps=cfg.grad_accum,
                              dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True))
    main_proc = accelerator.is_main_process
    say = accelerator.print
    say(f"[accelerate] {accelerator.num_processes} process(es), distributed type "
        f"{accelerator.distributed_type.value}, device {accelerator.device}, mixed precision "
        f"{accelerator.mixed_precision}" + (" (--device cpu)" if cfg.device == "cpu" else ""))
    if main_proc:
        out.mkdir(parents=True, exist_ok=True)
    set_seed(cfg.seed)

    model, tok, info = build_model(cfg, accelerator)
    params = trainable_summary(model)
    say(f"[model] {info['method']}: trainable {params['trainable']:,} of {params['total']:,} parameters "
        f"({100 * params['share']:.3f}%)")

    train_src, dev_src, dev_what = split_data(cfg)
    train_ex, train_stats = load_sft_examples(train_src, tok, max_length=cfg.max_length)
    dev_ex, dev_stats = load_sft_examples(dev_src, tok, max_length=cfg.max_length)
    say("[data] " + train_stats.summary() + "\n[data] " + dev_stats.summary() + f"\n[data] dev set: {dev_what}")
    if not train_ex:
        raise UserError(f"no usable training examples in {cfg.train_file} (see the report above). To fix: one "
                        f"JSON object per line with a \"conversations\" list (official ChatGLM3 format)")

    collate = SFTCollator(pad_id=tok.pad_token_id)
    # the loader's own generator: starting an epoch (or skipping into one after --resume) must not draw from the
    # global RNG that dropout uses, or a resumed run would diverge from an uninterrupted one
    train_loader = DataLoader(train_ex, batch_size=cfg.batch_size, shuffle=True, collate_fn=collate,
                              generator=torch.Generator().manual_seed(cfg.seed))
    dev_loader = DataLoader(dev_ex, batch_size=cfg.batch_size, shuffle=False, collate_fn=collate) if dev_ex else None
    decay = [p for n, p in model.named_parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(decay, lr=cfg.lr, weight_decay=cfg.weight_decay)

    # steps are optimizer steps, the same on every process
    batches_per_epoch = math.ceil(len(train_ex) / (cfg.batch_size * accelerator.num_processes))
    steps_per_epoch = max(1, math.ceil(batches_per_epoch / cfg.grad_accum))
    # small files: at least --min-steps (a 40-conversation FAQ is 5 steps per epoch: 5 epochs would teach nothing)
    total_steps = cfg.max_steps if cfg.max_steps > 0 else max(1, cfg.min_steps,
                                                              math.ceil(cfg.epochs * steps_per_epoch))
    warmup = int(cfg.warmup_ratio * total_steps)
    # a prepared scheduler advances once per process per step: give it num_processes x the steps
    scheduler = get_linear_schedule_with_warmup(optimizer, warmup * accelerator.num_processes,
                                                total_steps * accelerator.num_processes)
    model, optimizer, train_loader, scheduler = accelerator.prepare(model, optimizer, train_loader, scheduler)
    if dev_loader is not None:
        dev_loader = accelerator.prepare(dev_loader)
    accelerator.register_save_state_pre_hook(_keep_trainable_only)
    accelerator.register_load_state_pre_hook(_load_trainable_only)
    say(f"[train] {len(train_ex)} conversations, batch {cfg.batch_size} x {accelerator.num_processes} "
        f"process(es) x {cfg.grad_accum} accumulation, {steps_per_epoch} steps/epoch, {total_steps} steps, "
        f"lr {cfg.lr}" + (f", stopping early below training loss {cfg.target_loss}" if cfg.target_loss else ""))

    from accelerate.utils import DistributedType
    sharded = accelerator.distributed_type == DistributedType.FSDP or (
        accelerator.distributed_type == DistributedType.DEEPSPEED
        and accelerator.state.deepspeed_plugin.zero_stage == 3)
    if sharded and (cfg.n_demo or cfg.n_eval):
        say("[note] weights are sharded (FSDP / ZeRO-3): no generation during training; run infer_lora.py on the "
            "saved adapter for answers and exact match / ROUGE-L")
        cfg = dataclasses.replace(cfg, n_demo=0, n_eval=0)
    demo_src = train_src if cfg.demo_split == "train" else dev_src
    demo_turns = eval_turns(demo_src, cfg.n_demo) if cfg.n_demo else []
    dev_turns = eval_turns(dev_src, cfg.n_eval) if cfg.n_eval else []

    def measure_dev_loss() -> float:
        return dev_loss(model, dev_loader, accelerator) if dev_loader is not None else float("nan")

    state = {"step": 0, "epoch": 0, "batch_in_epoch": 0, "history": [], "dev_history": [], "before": None,
             "elapsed": 0.0}
    ckpt = out / "checkpoint"
    if cfg.resume and (ckpt / STATE_FILE).is_file():
        accelerator.load_state(str(ckpt))   # the pre-hooks save and load only the LoRA tensors
        state = json.loads((ckpt / STATE_FILE).read_text(encoding="utf-8"))
        say(f"[resume] from {ckpt}: step {state['step']}/{total_steps}, epoch {state['epoch']}, "
            f"batch {state['batch_in_epoch']} of the epoch")
    elif cfg.resume:
        say(f"[resume] no checkpoint in {ckpt}: starting from scratch")

    unwrapped = accelerator.unwrap_model(model)
    if state["before"] is None:
        before: dict[str, Any] = {"dev_loss": measure_dev_loss()}
        if main_proc:
            before["demo"] = generate_answers(unwrapped, tok, demo_turns, cfg.max_new_tokens)
            before["dev"] = score(generate_answers(unwrapped, tok, dev_turns, cfg.max_new_tokens),
                                  [t["answer"] for t in dev_turns]) if dev_turns else {}
        state["before"] = before
        state["dev_history"].append({"step": 0, "loss": before["dev_loss"]})
        say(f"[before] dev loss {before['dev_loss']:.4f}"
            + (f", exact match {before['dev']['exact_match']:.2f}, ROUGE-L {before['dev']['rouge_l']:.3f}"
               if main_proc and before.get("dev") else ""))

    # Ctrl-C / SIGTERM: finish the step, save, exit (all processes agree through accelerate's trigger)
    interrupted = {"flag": False}

    def _on_signal(signum, frame):
        interrupted["flag"] = True
    old_handlers = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            old_handlers[sig] = signal.signal(sig, _on_signal)
        except ValueError:   # not in the main thread
            pass

    model.train()
    step, epoch = state["step"], state["epoch"]
    t_run = time.time()
    bar = tqdm(total=total_steps, initial=step, disable=not main_proc, desc=title, dynamic_ncols=True)
    from common.progress import SlowStepHint
    # one [hint] line when other programs starve the run of CPU (CPU runs of the main process only)
    hint = SlowStepHint(stream=_TqdmStream(bar)) if main_proc and accelerator.device.type == "cpu" else None
    window: list[float] = []
    stopped = None
    try:
        while step < total_steps and stopped is None:
            train_loader.set_epoch(epoch)   # the shuffled order of an epoch depends only on (seed, epoch)
            skip = state["batch_in_epoch"]
            if skip >= len(train_loader):   # saved exactly at the end of an epoch
                epoch += 1
                state.update(epoch=epoch, batch_in_epoch=0)
                continue
            loader = accelerator.skip_first_batches(train_loader, skip) if skip else train_loader
            batch_idx = skip
            for batch in loader:
                with accelerator.accumulate(model):
                    loss = model(**batch).loss
                    accelerator.backward(loss)
                    if accelerator.sync_gradients and cfg.grad_clip > 0:
                        accelerator.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                    optimizer.step()      # a prepared optimizer/scheduler only really steps on sync steps
                    scheduler.step()
                    optimizer.zero_grad()
                batch_idx += 1
                window.append(loss.detach().float().item())
                if not accelerator.sync_gradients:
                    continue
                step += 1
                bar.update(1)
                if hint is not None:
                    hint.tick()
                mean_loss = accelerator.reduce(torch.tensor(sum(window) / len(window),
                                                            device=accelerator.device), "mean").item()
                window = []
                state["history"].append({"step": step, "loss": mean_loss, "lr": scheduler.get_last_lr()[0]})
                if step % cfg.log_every == 0 or step == total_steps:
                    bar.set_postfix(loss=f"{mean_loss:.4f}")
                    say(f"step {step}/{total_steps} loss {mean_loss:.4f} lr {scheduler.get_last_lr()[0]:.2e}")
                if cfg.eval_every and step % cfg.eval_every == 0 and step < total_steps:
                    dl = measure_dev_loss()
                    state["dev_history"].append({"step": step, "loss": dl})
                    say(f"step {step}: dev loss {dl:.4f}")
                if interrupted["flag"]:
                    accelerator.set_trigger()
                stop_now = accelerator.check_trigger() if accelerator.num_processes > 1 else interrupted["flag"]
                recent = [h["loss"] for h in state["history"][-cfg.log_every:]]
                if (cfg.target_loss and len(recent) >= cfg.log_every and step < total_steps
                        and sum(recent) / len(recent) < cfg.target_loss):
                    say(f"step {step}: training loss {sum(recent) / len(recent):.4f} < --target-loss "
                        f"{cfg.target_loss}: the data is learned, stopping early")
                    total_steps = step
                if cfg.stop_after and step >= cfg.stop_after and step < total_steps:
                    stopped = f"--stop-after {cfg.stop_after}"
                elif stop_now:
                    stopped = "a signal"
                end_of_epoch = batch_idx >= len(train_loader)
                state.update(step=step, epoch=epoch + 1 if end_of_epoch else epoch,
                             batch_in_epoch=0 if end_of_epoch else batch_idx,
                             elapsed=state["elapsed"] + time.time() - t_run)
                t_run = time.time()
                if stopped or (cfg.save_every and step % cfg.save_every == 0) or step == total_steps:
                    save_checkpoint(accelerator, out, state)
                if stopped or step >= total_steps:
                    break
            epoch = state["epoch"]   # the last batch of an epoch always syncs, so state knows where we are
    finally:
        bar.close()
        for sig, h in old_handlers.items():
            signal.signal(sig, h)

    results: dict[str, Any] = {"output_dir": str(out), "steps": step, "total_steps": total_steps,
                               "trainable": params, "data": {"train": train_stats.as_dict(), "dev": dev_stats.as_dict()},
                               "history": state["history"], "before": state["before"], "dev_set": dev_what}
    if stopped:
        say(f"[stopped] by {stopped} at step {step}/{total_steps}; checkpoint saved in {ckpt}. "
            "Run the same command with --resume to continue.")
        results["stopped"] = stopped
        return results

    final_dev = measure_dev_loss()
    state["dev_history"].append({"step": step, "loss": final_dev})
    accelerator.wait_for_everyone()
    unwrapped = accelerator.unwrap_model(model)
    full_state = accelerator.get_state_dict(model)   # gathers shards under ZeRO-3 / FSDP
    unwrapped.save_pretrained(str(out), is_main_process=main_proc, save_function=accelerator.save,
                              state_dict=full_state, save_embedding_layers=False)
    del full_state
    results.update(dev_history=state["dev_history"], dev_loss=final_dev)
    if main_proc:
        after_demo = generate_answers(unwrapped, tok, demo_turns, cfg.max_new_tokens)
        after_dev = score(generate_answers(unwrapped, tok, dev_turns, cfg.max_new_tokens),
                          [t["answer"] for t in dev_turns]) if dev_turns else {}
        print(f"\n===== before / after {title} ({cfg.demo_split} questions) =====")
        for t, b, a in zip(demo_turns, state["before"]["demo"], after_demo):
            print(f"Q ({t['role']}): {t['query']}\n  reference: {answer_text(t['answer'])}\n"
                  f"  before:    {answer_text(b)}\n  after:     {answer_text(a)}")
        plot_losses(state["history"], state["dev_history"], out / "loss_curve.png",
                    f"{title} on {Path(cfg.train_file).parent.name}/{Path(cfg.train_file).name}")
        if cfg.check_trained:
            trained_turns = eval_turns(train_src, cfg.check_trained)
            got = score(generate_answers(unwrapped, tok, trained_turns, cfg.max_new_tokens),
                        [t["answer"] for t in trained_turns])
            results["trained_answers"] = got
            print(f"[trained answers] {round(got['exact_match'] * got['n'])} of {got['n']} training questions "
                  f"answered exactly as trained (ROUGE-L {got['rouge_l']:.3f})")
        results.update(after={"demo": after_demo, "dev": after_dev, "dev_loss": final_dev},
                       seconds=state["elapsed"], wall_seconds=time.time() - t_start)
        metrics = {k: results[k] for k in ("steps", "trainable", "data", "dev_loss", "seconds", "wall_seconds",
                                           "dev_set") if k in results}
        metrics["trained_answers"] = results.get("trained_answers")
        metrics.update(method=info["method"], model=str(cfg.model or "resolved default"),
                       processes=accelerator.num_processes, config=asdict(cfg),
                       dev_loss_before=state["before"]["dev_loss"], dev_before=state["before"].get("dev"),
                       dev_after=after_dev, dev_history=state["dev_history"],
                       demo=[{"query": t["query"], "reference": answer_text(t["answer"]), "before": answer_text(b),
                              "after": answer_text(a)}
                             for t, b, a in zip(demo_turns, state["before"]["demo"], after_demo)])
        (out / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=1), encoding="utf-8")
        b = state["before"].get("dev") or {}
        print(f"done: {step} steps in {state['elapsed']:.0f} s; dev loss {state['before']['dev_loss']:.3f} -> "
              f"{final_dev:.3f}; dev exact match {b.get('exact_match', 0):.2f} -> {after_dev.get('exact_match', 0):.2f}, "
              f"ROUGE-L {b.get('rouge_l', 0):.3f} -> {after_dev.get('rouge_l', 0):.3f}; adapter in {out}")
    accelerator.wait_for_everyone()
    return results


def main(cfg: Config | None = None) -> dict:
    """Train LoRA on the customer-service data (or ``--train-file``); returns losses, metrics and paths."""
    cfg = cfg or Config()
    if cfg.precision in ("int8", "int4", "nf4"):
        raise UserError(f"--precision {cfg.precision}: LoRA here trains on a floating-point base. To fix: "
                        f"python ch10_finetune/train_qlora.py (4-bit NF4 base + LoRA = QLoRA), or --precision "
                        f"fp32/bf16/fp16")
    return run_training(cfg, build_lora_model, "LoRA")


class _TqdmStream:
    """A file-like object that writes through ``tqdm.write`` (a hint line does not break the progress bar)."""

    def __init__(self, bar):
        self.bar = bar

    def write(self, text: str) -> None:
        if text.strip():
            self.bar.write(text.rstrip("\n"))

    def flush(self) -> None:
        pass


if __name__ == "__main__":
    run(main, Config, __doc__)
