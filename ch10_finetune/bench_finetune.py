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

import sys
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script (`python chNN/x.py`): make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.cli import ModelArgs, arg, run


@dataclass
class Config(ModelArgs):
    model: str | None = arg(None, "checkpoint whose QLoRA load peak is measured (default: a random checkpoint of "
                                  "the benchmark's GLM shape, written to a temporary folder); e.g. THUDM/chatglm3-6b",
                            group="model")
    precision: str = arg("nf4", "the QLoRA base: bitsandbytes NF4 + double quant", choices=("nf4",), group="model")
    device: str = arg("cpu", "where the load-peak part loads (the training table always runs on the CPU)",
                      choices=("cpu", "cuda"), group="model")
    hidden: int = arg(1024, "hidden size", group="GLM shape")
    layers: int = arg(12, "decoder layers", group="GLM shape")
    ffn: int = arg(3424, "FFN inner size", group="GLM shape")
    heads: int = arg(8, "attention heads", group="GLM shape")
    kv_groups: int = arg(2, "KV groups (multi-query attention)", group="GLM shape")
    head_dim: int = arg(128, "dimension per head", group="GLM shape")
    vocab: int = arg(16384, "vocabulary size", group="GLM shape")
    batch_size: int = arg(1, "sequences per step")
    seq_len: int = arg(64, "tokens per sequence")
    steps: int = arg(2, "training steps per method (the first is not timed)")
    lora_r: int = arg(8, "LoRA rank")
    lora_alpha: float = arg(32.0, "LoRA alpha")
    methods: str = arg("full,lora,lora_gc,qlora", "comma-separated subset of full,lora,lora_gc,qlora")
    in_process: bool = arg(False, "run every method in this process (faster; memory numbers then overlap)")
    seed: int = arg(0, "random seed of weights and tokens")
    load_peak: bool = arg(True, "also measure the QLoRA base's load peak: full-precision load then convert (the old "
                                "way) vs load_model(precision='nf4') (each linear quantized as it is read)")

LABELS = {"full": "full fine-tuning", "lora": "LoRA", "lora_gc": "LoRA + grad. checkpointing",
          "qlora": "QLoRA (NF4 + DQ, grad. ckpt)"}
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_up_proj", "down_proj"]


def glm_config(cfg: Config):
    from transformers import GlmConfig
    return GlmConfig(vocab_size=cfg.vocab, hidden_size=cfg.hidden, intermediate_size=cfg.ffn,
                     num_hidden_layers=cfg.layers, num_attention_heads=cfg.heads,
                     num_key_value_heads=cfg.kv_groups, head_dim=cfg.head_dim, partial_rotary_factor=0.5,
                     attention_bias=True, max_position_embeddings=max(2048, cfg.seq_len),
                     tie_word_embeddings=False, pad_token_id=0, eos_token_id=2, use_cache=False)


def build_model(cfg: Config, quantize: bool):
    """Random-weight GlmForCausalLM built layer by layer (meta device first): block linear layers become
    bitsandbytes NF4 straight away when ``quantize`` — no full-precision copy of the model ever exists."""
    import torch
    from torch import nn
    from transformers import GlmForCausalLM
    from transformers.models.glm.modeling_glm import GlmRotaryEmbedding

    from common.quant import bnb_linear, replace_module

    torch.manual_seed(cfg.seed)
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
            if quantize:
                real = bnb_linear(real, "nf4", double_quant=True, compute_dtype=torch.float32)
            replace_module(model, name, real)
    for name, p in list(model.named_parameters()):
        if p.is_meta:
            value = torch.ones(p.shape) if "norm" in name else torch.empty(p.shape).normal_(0, 0.02)
            replace_module(model, name, nn.Parameter(value, requires_grad=p.requires_grad))
    model.model.rotary_emb = GlmRotaryEmbedding(config)   # its buffer was on the meta device
    if quantize:
        model.is_loaded_in_4bit = True
    return model


def run_method(method: str, cfg: Config) -> dict:
    """Build, wrap, and train ``steps`` steps; returns memory (MiB), seconds per step, parameter counts."""
    import torch

    from common.memory import peak_rss_bytes, rss_bytes

    base_rss = rss_bytes()
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
        model = get_peft_model(model, LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=0.0,
                                                 target_modules=TARGETS, task_type="CAUSAL_LM"))
    model.train()
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    # a bitsandbytes Params4bit holds two 4-bit weights per uint8 element: count weights, not bytes
    total = sum(p.numel() * (2 if type(p).__name__ == "Params4bit" else 1) for p in model.parameters())
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    g = torch.Generator().manual_seed(cfg.seed)
    ids = torch.randint(3, cfg.vocab, (cfg.batch_size, cfg.seq_len), generator=g)
    times, losses = [], []
    for _ in range(cfg.steps):
        t0 = time.perf_counter()
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - t0)
        losses.append(loss.item())
    timed = times[1:] or times   # the first step allocates the optimizer states
    return {"method": method, "label": LABELS[method], "trainable": trainable, "total": total,
            "peak_mib": (peak_rss_bytes() - base_rss) / 2**20, "sec_per_step": sum(timed) / len(timed),
            "losses": losses}


def _child(method: str, cfg: Config, queue) -> None:
    import torch

    from common.quiet import quiet_third_party

    quiet_third_party()   # a spawned process starts without the parent's filters
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
    from common.checkpoint import CHATGLM3_6B_CONFIG, parameter_count

    c = CHATGLM3_6B_CONFIG
    layers, h, vocab = c["num_layers"], c["hidden_size"], c["padded_vocab_size"]
    counts = parameter_count(c)
    linear, embed, total, qkv_out = counts["linear"], counts["embedding"], counts["total"], counts["qkv_out"]
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


def official_config(cfg: Config) -> dict:
    """The benchmark's GLM shape as an official ChatGLM3 config.json dict."""
    from common.checkpoint import CHATGLM3_6B_CONFIG

    return dict(CHATGLM3_6B_CONFIG, num_layers=cfg.layers, hidden_size=cfg.hidden, ffn_hidden_size=cfg.ffn,
                num_attention_heads=cfg.heads, multi_query_group_num=cfg.kv_groups, kv_channels=cfg.head_dim,
                padded_vocab_size=cfg.vocab)


# ============================================================================================ QLoRA load peak
def _load_child(model_dir: str, way: str, device: str, queue) -> None:
    """In a fresh process: load the QLoRA base one way; report the peak and final resident memory (MiB)."""
    try:
        import torch

        from common.quiet import quiet_third_party

        quiet_third_party()   # a spawned process starts without the parent's filters
        import bitsandbytes  # noqa: F401  (imported before the baseline: library code is not the model)
        import peft  # noqa: F401
        from common.chatglm3 import load_model
        from common.memory import peak_rss_bytes, rss_bytes
        from common.quant import to_bitsandbytes

        base = rss_bytes()
        t0 = time.perf_counter()
        if way == "before":   # the old train_qlora.py: the whole model in the compute dtype, then convert
            model = load_model(model_dir, precision="fp32", device="cpu", verbose=False)
            to_bitsandbytes(model, "nf4", double_quant=True, compute_dtype=torch.float32, device=device)
            model.to(device)
        else:                 # now: each linear layer becomes NF4 as soon as the loader has read it
            model = load_model(model_dir, precision="nf4", device=device, verbose=False, compute_dtype=torch.float32)
        seconds = time.perf_counter() - t0
        queue.put({"way": way, "peak_mib": (peak_rss_bytes() - base) / 2**20,
                   "resident_mib": (rss_bytes() - base) / 2**20, "seconds": seconds})
    except Exception as e:   # report, don't hang the parent
        queue.put({"way": way, "error": f"{type(e).__name__}: {e}"})


def qlora_load_peak(cfg: Config) -> dict:
    """Peak RSS of loading the QLoRA base the old way vs through ``load_model(precision="nf4")``."""
    import multiprocessing as mp
    import shutil
    import tempfile

    from common.checkpoint import parameter_count, read_config
    from common.resolve import resolve_model_path

    tmp = None
    if cfg.model:
        model_dir = str(resolve_model_path(cfg.model))
    else:
        from ch02_env.bench_generate import write_random_6b

        tmp = Path(tempfile.mkdtemp(prefix="qlora-load-peak-"))
        write_random_6b(tmp, official_config(cfg), shards=2, seed=cfg.seed)
        model_dir = str(tmp)
    counts = parameter_count(read_config(model_dir))
    rows = []
    try:
        for way in ("before", "after"):
            ctx = mp.get_context("spawn")
            q = ctx.Queue()
            proc = ctx.Process(target=_load_child, args=(model_dir, way, cfg.device, q))
            proc.start()
            rows.append(q.get())
            proc.join()
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    fp32_mib = counts["total"] * 4 / 2**20
    print(f"\nQLoRA base load peak ({'random checkpoint of this shape' if tmp else model_dir}; "
          f"{counts['total'] / 1e6:.0f} M parameters = {fp32_mib:.0f} MiB in fp32), process RSS above its baseline:")
    print(f"  {'way':<62}{'peak MiB':>10}{'after MiB':>11}{'seconds':>9}")
    labels = {"before": "before: load fp32, then convert to NF4 (old train_qlora.py)",
              "after": "after: load_model(precision='nf4'), NF4 while reading"}
    for r in rows:
        if "error" in r:
            print(f"  {labels[r['way']]:<62} failed: {r['error']}")
            continue
        print(f"  {labels[r['way']]:<62}{r['peak_mib']:>10.0f}{r['resident_mib']:>11.0f}{r['seconds']:>9.1f}")
    return {"rows": rows, "parameters": counts["total"], "fp32_mib": fp32_mib, "model": model_dir if not tmp else None}


def main(cfg: Config | None = None) -> dict:
    """Run the benchmark; returns the rows of both tables (and the QLoRA load peaks)."""
    import multiprocessing as mp

    from common.checkpoint import parameter_count

    cfg = cfg or Config()
    methods = [m.strip() for m in cfg.methods.split(",") if m.strip()]
    config = glm_config(cfg)
    n_params = parameter_count(official_config(cfg))["total"]
    print(f"GLM-shaped model: {config.num_hidden_layers} layers, hidden {config.hidden_size}, FFN "
          f"{config.intermediate_size}, {config.num_attention_heads} heads x {config.head_dim} "
          f"({config.num_key_value_heads} KV groups), vocab {config.vocab_size}: ~{n_params / 1e6:.0f} M parameters; "
          f"batch {cfg.batch_size} x {cfg.seq_len} tokens, {cfg.steps} steps, LoRA r={cfg.lora_r}")
    rows = []
    for m in methods:
        t0 = time.time()
        if cfg.in_process:
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
    load = qlora_load_peak(cfg) if cfg.load_peak else None
    print(f"done: peak memory relative to full fine-tuning: {summary}")
    return {"rows": rows, "chatglm3_6b": budget, "params": n_params, "load_peak": load}


if __name__ == "__main__":
    run(main, Config, __doc__)
