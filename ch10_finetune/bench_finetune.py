"""10.5 省多少显存：全参数微调 vs LoRA vs QLoRA 的峰值内存与每步耗时（CPU 上可测），以及 ChatGLM3-6B 在 24 GB GPU 上的账。

A GLM-shaped model (transformers' ``GlmForCausalLM``: ChatGLM3's ratios — FFN ≈ 3.34 × hidden, 128-dim heads,
2 KV groups — scaled down to a few hundred million parameters, random weights, built in memory on the meta device
so no full-precision copy is ever made for QLoRA) is trained for a few steps with the same batch and sequence
length as

* full fine-tuning (AdamW on every weight),
* LoRA (frozen fp32 base, adapters on every block linear layer),
* LoRA + gradient checkpointing,
* QLoRA (frozen bitsandbytes NF4 + double-quant base, ``prepare_model_for_kbit_training`` = gradient checkpointing,
  the same adapters).

Each method runs in its own fresh process; "peak" is that process's peak resident memory minus its resident memory
after the imports (so: weights + gradients + optimizer states + activations + allocator slack). Then the same
accounting for ChatGLM3-6B (bf16 weights, batch 4, 256 + 512 tokens, gradient checkpointing) next to the official
finetune_demo figures. Benchmarks print tables; tests only check that it runs.
"""
from __future__ import annotations

import time
from typing import Any

if __package__ in (None, ""):
    import sys  # run as a script (`python chNN/x.py`): make the repository importable
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DEFAULTS: dict[str, Any] = {
    "hidden": 1024, "layers": 12, "ffn": 3424, "heads": 8, "kv_groups": 2, "head_dim": 128, "vocab": 16384,
    "batch_size": 1, "seq_len": 64, "steps": 2, "lora_r": 8, "lora_alpha": 32.0,
    "methods": "full,lora,lora_gc,qlora", "in_process": False, "seed": 0,
}
LABELS = {"full": "full fine-tuning", "lora": "LoRA", "lora_gc": "LoRA + grad. checkpointing",
          "qlora": "QLoRA (NF4 + DQ, grad. ckpt)"}
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_up_proj", "down_proj"]


def glm_config(cfg: dict):
    from transformers import GlmConfig
    return GlmConfig(vocab_size=cfg["vocab"], hidden_size=cfg["hidden"], intermediate_size=cfg["ffn"],
                     num_hidden_layers=cfg["layers"], num_attention_heads=cfg["heads"],
                     num_key_value_heads=cfg["kv_groups"], head_dim=cfg["head_dim"], partial_rotary_factor=0.5,
                     attention_bias=True, max_position_embeddings=max(2048, cfg["seq_len"]),
                     tie_word_embeddings=False, pad_token_id=0, eos_token_id=2, use_cache=False)


def build_model(cfg: dict, quantize: bool):
    """Random-weight GlmForCausalLM built layer by layer (meta device first): block linear layers become
    bitsandbytes NF4 straight away when ``quantize`` — no full-precision copy of the model ever exists."""
    import torch
    from torch import nn
    from transformers import GlmForCausalLM
    from transformers.models.glm.modeling_glm import GlmRotaryEmbedding

    from ch10_finetune.quantize import to_bitsandbytes

    torch.manual_seed(cfg["seed"])
    config = glm_config(cfg)
    with torch.device("meta"):
        model = GlmForCausalLM(config)
    for name, mod in list(model.named_modules()):
        if isinstance(mod, nn.Linear) and ".layers." in name:
            real = nn.Linear(mod.in_features, mod.out_features, bias=mod.bias is not None)
            with torch.no_grad():
                real.weight.normal_(0, 0.02)
                if real.bias is not None:
                    real.bias.zero_()
            holder = nn.Module()
            holder.add_module("lin", real)
            if quantize:
                to_bitsandbytes(holder, "nf4", double_quant=True, compute_dtype=torch.float32, skip=())
            parent, _, attr = name.rpartition(".")
            setattr(model.get_submodule(parent), attr, holder.lin)
    for name, p in list(model.named_parameters()):
        if p.is_meta:
            value = torch.ones(p.shape) if "norm" in name else torch.empty(p.shape).normal_(0, 0.02)
            parent, _, attr = name.rpartition(".")
            setattr(model.get_submodule(parent), attr, nn.Parameter(value, requires_grad=p.requires_grad))
    model.model.rotary_emb = GlmRotaryEmbedding(config)   # its buffer was on the meta device
    if quantize:
        model.is_loaded_in_4bit = True
    return model


def _rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _peak_kib() -> int:
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss   # KiB on Linux


def run_method(method: str, cfg: dict) -> dict:
    """Build, wrap, and train ``steps`` steps; returns memory (MiB), seconds per step, parameter counts."""
    import torch

    base_rss = _rss_kib()
    if method == "full":
        model = build_model(cfg, quantize=False)
    else:
        from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
        model = build_model(cfg, quantize=method == "qlora")
        if method == "qlora":
            model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=True,
                                                    gradient_checkpointing_kwargs={"use_reentrant": False})
        else:
            for p in model.parameters():
                p.requires_grad_(False)
            if method == "lora_gc":
                model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model = get_peft_model(model, LoraConfig(r=cfg["lora_r"], lora_alpha=cfg["lora_alpha"], lora_dropout=0.0,
                                                 target_modules=TARGETS, task_type="CAUSAL_LM"))
    model.train()
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    # a bitsandbytes Params4bit holds two 4-bit weights per uint8 element: count weights, not bytes
    total = sum(p.numel() * (2 if type(p).__name__ == "Params4bit" else 1) for p in model.parameters())
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    g = torch.Generator().manual_seed(cfg["seed"])
    ids = torch.randint(3, cfg["vocab"], (cfg["batch_size"], cfg["seq_len"]), generator=g)
    times, losses = [], []
    for _ in range(cfg["steps"]):
        t0 = time.perf_counter()
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - t0)
        losses.append(loss.item())
    timed = times[1:] or times   # the first step allocates the optimizer states
    return {"method": method, "label": LABELS[method], "trainable": trainable, "total": total,
            "peak_mib": (_peak_kib() - base_rss) / 1024, "sec_per_step": sum(timed) / len(timed),
            "losses": losses}


def _child(method: str, cfg: dict, queue) -> None:
    import torch
    torch.set_num_threads(max(1, torch.get_num_threads()))
    import peft  # noqa: F401  (imported before the baseline so library code is not counted as training memory)
    import transformers  # noqa: F401
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        pass
    try:
        queue.put(run_method(method, cfg))
    except Exception as e:   # report, don't hang the parent
        queue.put({"method": method, "error": f"{type(e).__name__}: {e}"})


def chatglm3_6b_budget(batch: int = 4, seq: int = 768, lora_r: int = 8) -> list[dict]:
    """GiB for ChatGLM3-6B fine-tuning on one GPU (bf16 weights, gradient checkpointing), by method."""
    layers, h, ffn, vocab = 28, 4096, 13696, 65024
    qkv_out = 4096 + 2 * 256
    linear = layers * (h * qkv_out + h * h + h * 2 * ffn + ffn * h)   # block linear weights
    embed = 2 * vocab * h                                              # input embedding + output layer
    total = linear + embed + layers * (2 * h + qkv_out) + h            # + norms and qkv bias
    gib = 1024 ** 3
    # activations with checkpointing: each layer's input (bf16) + one layer recomputed + fp32 logits (+ their grad)
    act_ckpt = (layers * batch * seq * h * 2 + batch * seq * (34 * h + 5 * 32 * seq) + 2 * batch * seq * vocab * 4)
    lora = layers * lora_r * (h + qkv_out)                             # official target: query_key_value
    rows = [
        {"method": "full FT, AdamW (bf16 weights+grads, fp32 master+m+v = 16 B/param)",
         "gib": (16 * total + act_ckpt) / gib},
        {"method": f"LoRA r={lora_r} on query_key_value (bf16 base)",
         "gib": (2 * total + 16 * lora + act_ckpt) / gib, "official_mib": 14082},
        {"method": f"QLoRA NF4 + double quant (4.127 bit), fp32 embeddings, LoRA r={lora_r}",
         "gib": (linear * 4.127 / 8 + 4 * embed + 16 * lora + act_ckpt) / gib},
    ]
    rows[0]["note"] = "official: full SFT needs 4 GPUs with ZeRO-3, 48,346 MiB each"
    return rows


def main(cfg: dict | None = None) -> dict:
    """Run the benchmark; returns the rows of both tables."""
    import multiprocessing as mp

    cfg = {**DEFAULTS, **(cfg or {})}
    methods = [m.strip() for m in cfg["methods"].split(",") if m.strip()]
    config = glm_config(cfg)
    n_params = (cfg["layers"] * (cfg["hidden"] * (cfg["heads"] + 2 * cfg["kv_groups"]) * cfg["head_dim"]
                                 + cfg["heads"] * cfg["head_dim"] * cfg["hidden"] + 3 * cfg["hidden"] * cfg["ffn"])
                + 2 * cfg["vocab"] * cfg["hidden"])
    print(f"GLM-shaped model: {config.num_hidden_layers} layers, hidden {config.hidden_size}, FFN "
          f"{config.intermediate_size}, {config.num_attention_heads} heads x {config.head_dim} "
          f"({config.num_key_value_heads} KV groups), vocab {config.vocab_size}: ~{n_params / 1e6:.0f} M parameters; "
          f"batch {cfg['batch_size']} x {cfg['seq_len']} tokens, {cfg['steps']} steps, LoRA r={cfg['lora_r']}")
    rows = []
    for m in methods:
        t0 = time.time()
        if cfg["in_process"]:
            r = run_method(m, cfg)
        else:
            ctx = mp.get_context("spawn")
            q = ctx.Queue()
            proc = ctx.Process(target=_child, args=(m, cfg, q))
            proc.start()
            r = q.get()
            proc.join()
        if "error" in r:
            print(f"  {m}: failed ({r['error']})")
            continue
        rows.append(r)
        print(f"  {r['label']}: done in {time.time() - t0:.0f} s")
    full = next((r for r in rows if r["method"] == "full"), None)
    print(f"\n{'method':<32}{'trainable':>14}{'share':>9}{'peak MiB':>10}{'x full':>8}{'s/step':>8}")
    for r in rows:
        ratio = r["peak_mib"] / full["peak_mib"] if full else float("nan")
        r["x_full"] = ratio
        print(f"{r['label']:<32}{r['trainable']:>14,}{100 * r['trainable'] / r['total']:>8.2f}%"
              f"{r['peak_mib']:>10.0f}{ratio:>8.2f}{r['sec_per_step']:>8.2f}")
    budget = chatglm3_6b_budget()
    print("\nChatGLM3-6B, one GPU, batch 4 x (256 in + 512 out) tokens, gradient checkpointing (arithmetic):")
    for b in budget:
        extra = f"   (official finetune_demo: {b['official_mib']:,} MiB)" if "official_mib" in b else ""
        extra += f"   ({b['note']})" if "note" in b else ""
        fits = "fits" if b["gib"] < 24 * 0.93 else "does NOT fit"
        print(f"  {b['method']:<72}{b['gib']:7.1f} GiB -> {fits} in 24 GB{extra}")
    summary = ", ".join(f"{r['method']} {r['x_full']:.2f}x" for r in rows if full)
    print(f"done: peak memory relative to full fine-tuning: {summary}")
    return {"rows": rows, "chatglm3_6b": budget, "params": n_params}


if __name__ == "__main__":
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    for key, help_text in [("hidden", "hidden size"), ("layers", "decoder layers"), ("ffn", "FFN inner size"),
                           ("heads", "attention heads"), ("kv_groups", "KV groups (multi-query attention)"),
                           ("head_dim", "dimension per head"), ("vocab", "vocabulary size"),
                           ("batch_size", "sequences per step"), ("seq_len", "tokens per sequence"),
                           ("steps", "training steps per method (the first is not timed)"),
                           ("lora_r", "LoRA rank")]:
        p.add_argument("--" + key.replace("_", "-"), type=int, default=DEFAULTS[key], help=help_text)
    p.add_argument("--lora-alpha", type=float, default=DEFAULTS["lora_alpha"], help="LoRA alpha")
    p.add_argument("--methods", default=DEFAULTS["methods"], help="comma-separated subset of full,lora,lora_gc,qlora")
    p.add_argument("--in-process", action="store_true",
                   help="run every method in this process (faster; memory numbers then overlap)")
    p.add_argument("--seed", type=int, default=0, help="random seed of weights and tokens")
    main(vars(p.parse_args()))
