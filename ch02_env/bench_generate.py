"""Benchmark: prefill and decode speed and memory of ChatGLM3 at every precision, on this machine.

Each precision runs in its own child process, so peak memory is that precision's alone; every precision is
measured ``--repeats`` times (rounds interleaved across precisions, so a burst of other work on the machine does
not land on one precision only) and the table shows the medians with the spread of the decode times. The targets
are printed only with ``--full-size`` (they are about a 6B model).

    python ch02_env/bench_generate.py                              # the resolved model (demo model by default)
    python ch02_env/bench_generate.py --model /path/to/chatglm3-6b --precisions bf16 int8 int4
    python ch02_env/bench_generate.py --full-size                  # random ChatGLM3-6B-shaped checkpoint

``--full-size`` writes a random checkpoint with the exact ChatGLM3-6B shapes in the official layout (bf16,
7 safetensors shards + index, ~12.5 GB) to a temporary folder (``--workdir``), then reports load time, peak RSS
against the checkpoint size (target <= 1.3x), decode ms/token and resident memory per precision (target int4 <=
0.35x bf16), and the memory-bandwidth bound: bytes of weights read per token / measured copy bandwidth.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

if __package__ in (None, ""):  # run as a script (`python ch02_env/x.py`): make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common.checkpoint import CHATGLM3_6B_CONFIG  # noqa: E402
from common.cli import PRECISIONS, ModelArgs, UserError, apply_threads, arg, run  # noqa: E402
from common.memory import peak_rss_bytes, reset_peak_rss, rss_bytes  # noqa: E402


@dataclass
class Config(ModelArgs):
    precision: str = arg("fp32", "precision of one worker run; the table covers --precisions", choices=PRECISIONS,
                         group="model")
    precisions: list[str] = arg(["fp32", "bf16", "int8", "int4"], "precisions to measure", choices=PRECISIONS)
    prompt_len: int = arg(64, "prompt tokens for the prefill timing")
    new_tokens: int = arg(16, "decode steps to time (median is reported)")
    repeats: int = arg(3, "measure every precision this many times, each in a fresh process, rounds interleaved "
                          "across precisions; the table shows medians and the decode spread")
    full_size: bool = arg(False, "benchmark a random checkpoint with ChatGLM3-6B's shapes (needs ~13 GB disk, "
                                 "16+ GB RAM)")
    layers: int = arg(28, "layers of the --full-size model (28 = real 6B)")
    workdir: str | None = arg(None, "where --full-size writes its temporary checkpoint")
    keep: bool = arg(False, "keep the --full-size checkpoint afterwards")
    worker: bool = arg(False, "==SUPPRESS==")


# ------------------------------------------------------------------------------------------------ helpers
def copy_bandwidth(nbytes: int = 1 << 30, repeat: int = 5) -> float:
    """Sustained memory bandwidth in bytes/s measured as a large tensor copy (read + write)."""
    src = torch.empty(nbytes // 2, dtype=torch.bfloat16).fill_(1)
    dst = torch.empty_like(src)
    dst.copy_(src)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        dst.copy_(src)
        best = min(best, time.perf_counter() - t0)
    return 2 * nbytes / best


def weight_bytes_per_token(model: torch.nn.Module) -> int:
    """Bytes of parameters and buffers that one decode step reads (all weights but the embedding table)."""
    total = 0
    for name, t in list(model.named_parameters()) + list(model.named_buffers()):
        if "embed_tokens" in name or "rotary" in name:
            continue
        total += t.numel() * t.element_size()
    return total


def write_random_6b(out: Path, cfg: dict, shards: int = 7, seed: int = 0) -> int:
    """Random ChatGLM3-6B-shaped weights in the official layout, written shard by shard (low memory)."""
    from safetensors.torch import save_file
    from common.checkpoint import tokenizer_files
    from common.testing import train_sentencepiece, _TINY_CORPUS
    out.mkdir(parents=True, exist_ok=True)
    tokenizer_files(train_sentencepiece(_TINY_CORPUS * 3, out / "tokenizer.model", vocab_size=600), out)
    (out / "config.json").write_text(json.dumps(cfg, indent=2))
    h, ffn, L = cfg["hidden_size"], cfg["ffn_hidden_size"], cfg["num_layers"]
    nh, kv, ng, V = cfg["num_attention_heads"], cfg["kv_channels"], cfg["multi_query_group_num"], \
        cfg["padded_vocab_size"]
    qkv = nh * kv + 2 * ng * kv
    specs = [("transformer.embedding.word_embeddings.weight", (V, h))]
    for i in range(L):
        p = f"transformer.encoder.layers.{i}."
        specs += [(p + "input_layernorm.weight", (h,)), (p + "self_attention.query_key_value.weight", (qkv, h)),
                  (p + "self_attention.query_key_value.bias", (qkv,)), (p + "self_attention.dense.weight", (h, nh * kv)),
                  (p + "post_attention_layernorm.weight", (h,)), (p + "mlp.dense_h_to_4h.weight", (2 * ffn, h)),
                  (p + "mlp.dense_4h_to_h.weight", (h, ffn))]
    specs += [("transformer.encoder.final_layernorm.weight", (h,)), ("transformer.output_layer.weight", (V, h))]
    total = sum(torch.Size(s).numel() * 2 for _, s in specs)
    per_shard = total / shards
    g = torch.Generator().manual_seed(seed)
    weight_map, shard, size, idx = {}, {}, 0, 1
    names = []

    def flush(final: bool = False):
        nonlocal shard, size, idx
        if not shard:
            return
        fname = f"model-{idx:05d}-of-{shards:05d}.safetensors"
        save_file(shard, str(out / fname), metadata={"format": "pt"})
        for k in shard:
            weight_map[k] = fname
        names.append(fname)
        shard, size, idx = {}, 0, idx + 1

    for name, shape in specs:
        if len(shape) == 1:
            t = (torch.ones(shape) if "layernorm" in name else torch.randn(shape, generator=g) * 0.02)
        else:
            t = torch.randn(shape, generator=g) * (1.0 if "word_embeddings" in name else 0.02)
        shard[name] = t.to(torch.bfloat16)
        size += t.numel() * 2
        if size >= per_shard and idx < shards:
            flush()
    flush(final=True)
    # rename to the real shard count (the last shard index may be below `shards`)
    n = len(names)
    for i, fname in enumerate(names, 1):
        new = f"model-{i:05d}-of-{n:05d}.safetensors"
        (out / fname).rename(out / new)
        for k, v in list(weight_map.items()):
            if v == fname:
                weight_map[k] = new
    (out / "model.safetensors.index.json").write_text(json.dumps({"metadata": {"total_size": total},
                                                                  "weight_map": weight_map}))
    return total


# ------------------------------------------------------------------------------------------------ worker
@torch.inference_mode()
def measure(model_dir: str, precision: str, device: str, prompt_len: int, new_tokens: int) -> dict:
    """Load once and time prefill + decode with a KV cache (runs inside the child process)."""
    from common.chatglm3 import load_model
    base_rss = rss_bytes()  # torch + transformers already imported: the baseline is not the model
    reset_peak_rss()        # the peak from here on is the load's own
    t0 = time.perf_counter()
    model = load_model(model_dir, precision=precision, device=device, verbose=False)
    load_s = time.perf_counter() - t0
    load_peak = max(peak_rss_bytes() - base_rss, 0)
    ids = torch.randint(10, 500, (1, prompt_len), generator=torch.Generator().manual_seed(0)).to(model.device)

    def decode(past, nxt, steps: int) -> list[float]:
        times = []
        for _ in range(steps):
            t0 = time.perf_counter()
            out = model(input_ids=nxt, past_key_values=past, use_cache=True)
            past, nxt = out.past_key_values, out.logits[:, -1:].argmax(-1)
            times.append(time.perf_counter() - t0)
        return times

    # warm-up: the first prefill and the first decode steps pick kernels (bf16/int4 on CPU: tens of times slower)
    out = model(input_ids=ids[:, :8], use_cache=True)
    decode(out.past_key_values, out.logits[:, -1:].argmax(-1), 3)
    t0 = time.perf_counter()
    out = model(input_ids=ids, use_cache=True)
    prefill_s = time.perf_counter() - t0
    times = sorted(decode(out.past_key_values, out.logits[:, -1:].argmax(-1), new_tokens))
    decode_s = times[len(times) // 2]  # median step
    resident = rss_bytes() - base_rss  # after decoding every weight page has been touched
    return {"precision": precision, "load_s": load_s, "load_peak_rss": load_peak, "resident": resident,
            "prefill_tok_s": prompt_len / prefill_s, "decode_ms": decode_s * 1e3, "decode_tok_s": 1 / decode_s,
            "bytes_per_token": weight_bytes_per_token(model), "kept": len(model.load_report["kept"])}


def run_child(model_dir: str, precision: str, cfg: Config) -> dict:
    cmd = [sys.executable, __file__, "--worker", "--model", model_dir, "--precision", precision,
           "--device", cfg.device, "--prompt-len", str(cfg.prompt_len), "--new-tokens", str(cfg.new_tokens),
           "--threads", str(cfg.threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("{")]
    if proc.returncode or not lines:
        return {"precision": precision, "error": (proc.stderr or proc.stdout).strip().splitlines()[-1:]}
    return json.loads(lines[-1])


def median_row(precision: str, runs: list[dict]) -> dict:
    """One table row from the repeated runs of a precision: the median of every number, and the decode spread."""
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return runs[-1]
    row = {"precision": precision, "runs": len(ok)}
    for key, value in ok[0].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            values = sorted(r[key] for r in ok)
            row[key] = values[len(values) // 2] if len(values) % 2 else sum(values[len(values) // 2 - 1:
                                                                                   len(values) // 2 + 1]) / 2
    row["decode_ms_min"] = min(r["decode_ms"] for r in ok)
    row["decode_ms_max"] = max(r["decode_ms"] for r in ok)
    return row


def fmt_bytes(n: float) -> str:
    """``13.04 GiB`` / ``14.2 MiB`` / ``512 KiB``: a tiny model's memory reads right too."""
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2)):
        if abs(n) >= size:
            return f"{n / size:.2f} {unit}" if unit == "GiB" else f"{n / size:.1f} {unit}"
    return f"{n / 1024:.0f} KiB"


def main(cfg: Config) -> dict:
    apply_threads(cfg)
    if cfg.worker:
        r = measure(cfg.model, cfg.precision, cfg.device, cfg.prompt_len, cfg.new_tokens)
        print(json.dumps(r))
        return r
    if cfg.repeats < 1:
        raise UserError(f"--repeats must be >= 1, got {cfg.repeats}")
    from common.resolve import resolve_model_path
    tmp = None
    ckpt_bytes = None
    if cfg.full_size:
        tmp = Path(tempfile.mkdtemp(prefix="chatglm3-6b-random-", dir=cfg.workdir))
        shape = dict(CHATGLM3_6B_CONFIG, num_layers=cfg.layers)
        print(f"writing a random ChatGLM3-6B-shaped checkpoint ({cfg.layers} layers) to {tmp} ...", flush=True)
        t0 = time.perf_counter()
        ckpt_bytes = write_random_6b(tmp, shape)
        print(f"  {ckpt_bytes / 1024**3:.2f} GB in {time.perf_counter() - t0:.0f} s", flush=True)
        model_dir = str(tmp)
    else:
        model_dir = str(resolve_model_path(cfg.model))
    try:
        bw = copy_bandwidth()
        runs: dict[str, list[dict]] = {p: [] for p in cfg.precisions}
        for round_no in range(1, cfg.repeats + 1):  # 轮流测各精度：别的程序抢 CPU 时不会只拖慢某一个精度
            for p in cfg.precisions:
                print(f"measuring {p} (round {round_no}/{cfg.repeats}) ...", flush=True)
                runs[p].append(run_child(model_dir, p, cfg))
        rows = [median_row(p, runs[p]) for p in cfg.precisions]
    finally:
        if tmp is not None and not cfg.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"\nmodel: {'random ChatGLM3-6B shape' if cfg.full_size else model_dir}; device {cfg.device}; "
          f"threads {torch.get_num_threads()}; prompt {cfg.prompt_len} tokens; {cfg.new_tokens} decode steps; "
          f"medians of {cfg.repeats} run(s); copy bandwidth {bw / 1e9:.1f} GB/s")
    if ckpt_bytes:
        print(f"checkpoint size: {ckpt_bytes / 1024**3:.2f} GiB")
    head = (f"{'precision':>9} {'load s':>7} {'load peak':>10} {'resident':>10} {'prefill tok/s':>13} "
            f"{'decode ms/tok':>13} {'spread ms':>15} {'decode tok/s':>12} {'bound ms':>9} {'of bound':>8}")
    print(head)
    print("-" * len(head))
    by = {}
    for r in rows:
        if "error" in r:
            print(f"{r['precision']:>9} failed: {r['error']}")
            continue
        by[r["precision"]] = r
        bound_ms = r["bytes_per_token"] / bw * 1e3
        r["bound_ms"] = bound_ms
        r["fraction_of_bound"] = bound_ms / r["decode_ms"]
        spread = f"{r['decode_ms_min']:.1f}-{r['decode_ms_max']:.1f}"
        print(f"{r['precision']:>9} {r['load_s']:7.2f} {fmt_bytes(r['load_peak_rss']):>10} "
              f"{fmt_bytes(r['resident']):>10} {r['prefill_tok_s']:13.1f} {r['decode_ms']:13.2f} {spread:>15} "
              f"{r['decode_tok_s']:12.1f} {bound_ms:9.2f} {r['fraction_of_bound']:8.2f}")
    noisy = [p for p, r in by.items() if r["decode_ms_max"] > 1.5 * r["decode_ms_min"]]
    if noisy:
        print(f"[note] decode times of {', '.join(noisy)} varied by more than 1.5x between runs: other programs were "
              "using the CPU. Trust the medians, or rerun on an idle machine"
              + (" (or with --threads 1)." if torch.get_num_threads() > 1 else "."))
    summary = {}
    if not cfg.full_size:
        print("[note] the targets (bf16 load peak <= 1.3x the checkpoint, int4 memory <= 0.35x bf16, bf16 decode >= "
              "0.7 of the bandwidth bound) are about a 6B model and are checked with --full-size; a model this small "
              "fits in the CPU caches, so its memory is mostly fixed overhead and its speed is not bandwidth-bound.")
    elif "bf16" in by:
        b = by["bf16"]
        summary["bf16 load peak RSS above baseline / checkpoint bytes (target <= 1.3)"] = b["load_peak_rss"] / ckpt_bytes
        summary["bf16 decode / bandwidth bound (target >= 0.7)"] = b["fraction_of_bound"]
        if "int4" in by:
            summary["int4 resident / bf16 resident (target <= 0.35)"] = by["int4"]["resident"] / b["resident"]
            summary["int4 decode speed / bf16 (target >= 2)"] = b["decode_ms"] / by["int4"]["decode_ms"]
        if "int8" in by:
            summary["int8 decode speed / bf16"] = b["decode_ms"] / by["int8"]["decode_ms"]
    for k, v in summary.items():
        print(f"{k}: {v:.2f}")
    return {"rows": rows, "runs": runs, "bandwidth": bw, "summary": summary, "checkpoint_bytes": ckpt_bytes}


if __name__ == "__main__":
    run(main, Config, __doc__)
