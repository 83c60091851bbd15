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

``--compare-llamacpp`` (needs ``llama-cpp-python``, see the chapter README) writes the same weights as a GGUF
(llama.cpp's ``chatglm`` architecture, ``ch02_env/gguf_llamacpp.py``), quantizes it with llama.cpp's quantizer
(int8 -> Q8_0, int4 -> Q4_0), times llama.cpp with the same threads, prompt and decode steps in its own processes
(rounds interleaved with ours) and prints one table: both engines per precision and the ratio. The ``matmul floor``
column is our linear layers alone for one decode step (each called once on a one-token input): the rest of a
decode step (attention, norms, rotary, cache, Python) is the difference.

    python ch02_env/bench_generate.py --compare-llamacpp --precisions fp32 int8 int4 --repeats 1
    python ch02_env/bench_generate.py --full-size --compare-llamacpp --precisions bf16 int8 int4 --prompt-len 32
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script (`python ch02_env/x.py`): make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common.cli import KERNELS, PRECISIONS, ModelArgs, UserError, apply_threads, arg, run  # noqa: E402
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
    workdir: str | None = arg(None, "where --full-size (and --compare-llamacpp) write their temporary files")
    keep: bool = arg(False, "keep the --full-size checkpoint afterwards")
    compare_llamacpp: bool = arg(False, "also time llama.cpp (llama-cpp-python) on a GGUF of the same weights at the "
                                        "same precisions, threads, prompt and decode steps; one table with both")
    quantize_output: bool = arg(False, "int8/int4 rows: quantize the output layer too (opt-in in "
                                       "common.chatglm3.load_model; by default it stays bf16)")
    kernels: list[str] = arg(["plain"], "our CPU kernels to measure, one row each: plain (the default path), fast "
                                        "(--cpu-kernels fast, common/cpu_kernels.py; bf16/fp16/int8/int4)",
                             choices=KERNELS)
    cpu_kernels: str = arg("plain", "==SUPPRESS==", choices=KERNELS)
    worker: bool = arg(False, "==SUPPRESS==")
    engine: str = arg("torch", "==SUPPRESS==")
    gguf: str | None = arg(None, "==SUPPRESS==")


LLAMACPP_HINT = ("[hint] llama.cpp is not installed, so only our rows are shown. To compare: "
                 "CMAKE_ARGS=\"-DGGML_NATIVE=ON\" pip install llama-cpp-python (builds from source, ~20-40 min on 2 "
                 "cores; see ch02_env/README.md)")


# ------------------------------------------------------------------------------------------------ helpers
def copy_bandwidth(nbytes: int = 1 << 30, repeat: int = 5) -> float:
    """Sustained memory bandwidth in bytes/s measured as a large tensor copy (read + write)."""
    import torch
    src = torch.empty(nbytes // 2, dtype=torch.bfloat16).fill_(1)
    dst = torch.empty_like(src)
    dst.copy_(src)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        dst.copy_(src)
        best = min(best, time.perf_counter() - t0)
    return 2 * nbytes / best


def read_bandwidth(nbytes: int = 1 << 30, repeat: int = 5) -> float:
    """Sustained read bandwidth in bytes/s: the largest element of a large tensor (read only, what a decode step
    does to the weights)."""
    import torch
    src = torch.empty(nbytes // 4, dtype=torch.float32).fill_(1)
    src.amax()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        src.amax()
        best = min(best, time.perf_counter() - t0)
    return nbytes / best


def weight_bytes_per_token(model: torch.nn.Module) -> int:
    """Bytes of parameters and buffers that one decode step reads (all weights but the embedding table)."""
    total = 0
    for name, t in list(model.named_parameters()) + list(model.named_buffers()):
        if "embed_tokens" in name or "rotary" in name:
            continue
        total += t.numel() * t.element_size()
    # fast CPU kernels keep their weights in the backend's packed objects, not in parameters or buffers
    total += sum(getattr(m, "weight_nbytes", 0) for m in model.modules())
    return total


def write_random_6b(out: Path, cfg: dict, shards: int = 7, seed: int = 0) -> int:
    """Random ChatGLM3-6B-shaped weights in the official layout, written shard by shard (low memory)."""
    import torch
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
def prompt_ids(prompt_len: int) -> list[int]:
    """The benchmark's prompt: the same random token ids for every precision and both engines."""
    import numpy as np
    return [int(i) for i in np.random.default_rng(0).integers(10, 500, prompt_len)]


def matmul_floor_ms(model, repeats: int = 5) -> float:
    """Milliseconds of the model's linear layers alone for one decode step: every layer (plain, int8, int4, the
    output layer) called once on a one-token input of its own dtype, nothing else; median of ``repeats``."""
    import torch
    layers = [m for m in model.modules() if hasattr(m, "in_features") and not list(m.children())]
    inputs = []
    for m in layers:
        w = getattr(m, "weight", None)
        dtype = getattr(m, "compute_dtype", None) or (w.dtype if w is not None and w.is_floating_point()
                                                      else torch.bfloat16)
        inputs.append(torch.randn(1, 1, m.in_features, dtype=dtype, device=model.device))
    times = []
    with torch.inference_mode():
        for _ in range(repeats + 1):  # the first pass is a warm-up
            t0 = time.perf_counter()
            for m, x in zip(layers, inputs):
                m(x)
            if model.device.type == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
    times = sorted(times[1:])
    return times[len(times) // 2] * 1e3


def measure(model_dir: str, precision: str, device: str, prompt_len: int, new_tokens: int,
            quantize_output: bool = False, kernels: str = "plain") -> dict:
    """Load once and time prefill + decode with a KV cache (runs inside the child process)."""
    import torch
    with torch.inference_mode():
        return _measure(model_dir, precision, device, prompt_len, new_tokens, quantize_output, kernels)


def _measure(model_dir: str, precision: str, device: str, prompt_len: int, new_tokens: int,
             quantize_output: bool = False, kernels: str = "plain") -> dict:
    import torch
    from common.chatglm3 import load_model
    base_rss = rss_bytes()  # torch + transformers already imported: the baseline is not the model
    reset_peak_rss()        # the peak from here on is the load's own
    t0 = time.perf_counter()
    model = load_model(model_dir, precision=precision, device=device, verbose=False,
                       quantize_output=quantize_output and precision in ("int8", "int4") and kernels == "plain",
                       kernels=kernels)
    load_s = time.perf_counter() - t0
    load_peak = max(peak_rss_bytes() - base_rss, 0)
    ids = torch.tensor([prompt_ids(prompt_len)], device=model.device)
    greedy: list[int] = []

    def decode(past, nxt, steps: int) -> list[float]:
        times = []
        greedy.clear()
        for _ in range(steps):
            greedy.append(int(nxt))
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
    return {"precision": precision, "engine": "ours", "kernels": kernels, "load_s": load_s, "load_peak_rss": load_peak, "resident": resident,
            "prefill_tok_s": prompt_len / prefill_s, "decode_ms": decode_s * 1e3, "decode_tok_s": 1 / decode_s,
            "bytes_per_token": weight_bytes_per_token(model), "kept": len(model.load_report["kept"]),
            "matmul_floor_ms": matmul_floor_ms(model), "greedy": greedy, "threads": torch.get_num_threads()}


def run_child(model_dir: str, precision: str, cfg: Config, gguf: str | None = None, threads: int | None = None,
              kernels: str = "plain") -> dict:
    """One measurement in a fresh process: ours (with ``kernels``), or llama.cpp on ``gguf`` when it is given."""
    cmd = [sys.executable, __file__, "--worker", "--model", model_dir, "--precision", precision,
           "--cpu-kernels", kernels,
           "--device", cfg.device, "--prompt-len", str(cfg.prompt_len), "--new-tokens", str(cfg.new_tokens),
           "--threads", str(cfg.threads if threads is None else threads)]
    if gguf:
        cmd += ["--engine", "llamacpp", "--gguf", gguf]
    elif cfg.quantize_output:
        cmd += ["--quantize-output"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("{")]
    if proc.returncode or not lines:
        return {"precision": precision, "kernels": kernels,
                "error": (proc.stderr or proc.stdout).strip().splitlines()[-1:]}
    return json.loads(lines[-1])


def llamacpp_available() -> bool:
    import importlib.util
    return importlib.util.find_spec("llama_cpp") is not None


def prepare_ggufs(model_dir: str, precisions: list[str], workdir: Path, threads: int) -> dict[str, dict]:
    """precision -> {"path", "type", "seconds"}: the model's weights as GGUF files for llama.cpp. Float types are
    written directly (``gguf`` package); Q8_0 / Q4_0 by llama.cpp's quantizer from a BF16 file (bf16 checkpoints,
    the bits unchanged) or an F32 file (anything else, exact)."""
    from ch02_env.gguf_llamacpp import GGUF_TYPE_FOR_PRECISION, quantize_gguf, write_gguf
    from common.checkpoint import read_config

    files: dict[str, dict] = {}
    written: dict[str, str] = {}

    def float_file(qtype: str) -> str:
        if qtype not in written:
            t0 = time.perf_counter()
            path = workdir / f"model-{qtype}.gguf"
            write_gguf(model_dir, path, qtype)
            written[qtype] = str(path)
            print(f"  wrote {path.name} ({path.stat().st_size / 1024**2:.0f} MiB) in {time.perf_counter() - t0:.0f} s",
                  flush=True)
        return written[qtype]

    source = "BF16" if read_config(model_dir).get("torch_dtype") == "bfloat16" else "F32"
    for p in precisions:
        if p not in GGUF_TYPE_FOR_PRECISION:  # nf4: no llama.cpp counterpart
            continue
        qtype = GGUF_TYPE_FOR_PRECISION[p]
        if qtype in ("F32", "F16", "BF16"):
            files[p] = {"path": float_file(qtype), "type": qtype}
        else:
            src = float_file(source)
            dst = workdir / f"model-{qtype}.gguf"
            r = quantize_gguf(src, dst, qtype, threads)
            print(f"  quantized {Path(src).name} -> {dst.name} ({r['bytes'] / 1024**2:.0f} MiB) with llama.cpp in "
                  f"{r['seconds']:.0f} s", flush=True)
            files[p] = {"path": str(dst), "type": qtype}
    return files


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
    for key in ("engine", "kernels", "greedy", "gguf_types", "system_info"):
        if key in ok[0]:
            row[key] = ok[0][key]
    row["decode_ms_min"] = min(r["decode_ms"] for r in ok)
    row["decode_ms_max"] = max(r["decode_ms"] for r in ok)
    return row


def fmt_bytes(n: float) -> str:
    """``13.04 GiB`` / ``14.2 MiB`` / ``512 KiB``: a tiny model's memory reads right too."""
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2)):
        if abs(n) >= size:
            return f"{n / size:.2f} {unit}" if unit == "GiB" else f"{n / size:.1f} {unit}"
    return f"{n / 1024:.0f} KiB"


def settings_line(threads: int) -> str:
    """Threads, library versions and the environment variables that change CPU speed (thread pools, allocator)."""
    import torch
    env = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "LD_PRELOAD", "MALLOC_CONF",
                                       "KMP_AFFINITY", "OMP_PROC_BIND") if os.environ.get(k)}
    cap = getattr(torch.backends.cpu, "get_cpu_capability", lambda: "?")()
    from common.cpu_kernels import cpu_has_vnni
    try:
        thp = Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text().split("[")[1].split("]")[0]
    except (OSError, IndexError):
        thp = "?"
    return (f"threads {threads}; torch {torch.__version__} (CPU capability {cap}, VNNI {'yes' if cpu_has_vnni() else 'no'},"
            f" quantized engines {'/'.join(torch.backends.quantized.supported_engines)}); transparent huge pages "
            f"{thp}; environment {env or 'default (no thread/allocator variables set)'}")


def main(cfg: Config) -> dict:
    if cfg.worker and cfg.engine == "llamacpp":  # no torch in this process: its memory is llama.cpp's alone
        from ch02_env.gguf_llamacpp import measure_llamacpp
        r = measure_llamacpp(cfg.gguf, cfg.prompt_len, cfg.new_tokens, cfg.threads or os.cpu_count() or 1,
                             prompt_ids(cfg.prompt_len))
        r["precision"] = cfg.precision
        print(json.dumps(r))
        return r
    import torch
    apply_threads(cfg)
    if cfg.worker:
        r = measure(cfg.model, cfg.precision, cfg.device, cfg.prompt_len, cfg.new_tokens, cfg.quantize_output,
                    cfg.cpu_kernels)
        print(json.dumps(r))
        return r
    if cfg.repeats < 1:
        raise UserError(f"--repeats must be >= 1, got {cfg.repeats}")
    from common.choices import FAST_PRECISIONS
    variants = [(p, k) for p in cfg.precisions for k in dict.fromkeys(cfg.kernels)
                if k == "plain" or p in FAST_PRECISIONS]
    if "fast" in cfg.kernels and cfg.device not in ("cpu", "auto"):
        raise UserError("--kernels fast measures the CPU kernels; run it with --device cpu")
    compare = cfg.compare_llamacpp and cfg.device in ("cpu", "auto") and not torch.cuda.is_available()
    if cfg.compare_llamacpp and not compare:
        raise UserError("--compare-llamacpp compares CPU decoding; run it with --device cpu on a machine without "
                        "CUDA (or leave out --compare-llamacpp).")
    if compare and not llamacpp_available():
        print(LLAMACPP_HINT, flush=True)
        compare = False
    from common.resolve import resolve_model_path
    tmp = None
    ckpt_bytes = None
    threads = cfg.threads or torch.get_num_threads()
    gguf_dir = None
    if cfg.full_size:
        tmp = Path(tempfile.mkdtemp(prefix="chatglm3-6b-random-", dir=cfg.workdir))
        from common.checkpoint import CHATGLM3_6B_CONFIG
        shape = dict(CHATGLM3_6B_CONFIG, num_layers=cfg.layers)
        print(f"writing a random ChatGLM3-6B-shaped checkpoint ({cfg.layers} layers) to {tmp} ...", flush=True)
        t0 = time.perf_counter()
        ckpt_bytes = write_random_6b(tmp, shape)
        print(f"  {ckpt_bytes / 1024**3:.2f} GB in {time.perf_counter() - t0:.0f} s", flush=True)
        model_dir = str(tmp)
    else:
        model_dir = str(resolve_model_path(cfg.model))
    try:
        ggufs: dict[str, dict] = {}
        if compare:
            gguf_dir = Path(tempfile.mkdtemp(prefix="chatglm3-gguf-", dir=cfg.workdir))
            print(f"writing the same weights as GGUF files for llama.cpp to {gguf_dir} ...", flush=True)
            ggufs = prepare_ggufs(model_dir, cfg.precisions, gguf_dir, threads)
        bw = copy_bandwidth()
        read_bw = read_bandwidth()
        runs: dict[tuple[str, str], list[dict]] = {v: [] for v in variants}
        lruns: dict[str, list[dict]] = {p: [] for p in ggufs}
        for round_no in range(1, cfg.repeats + 1):  # 轮流测各精度：别的程序抢 CPU 时不会只拖慢某一个精度
            for p in cfg.precisions:
                for v in [v for v in variants if v[0] == p]:
                    print(f"measuring {p} {v[1]} kernels (round {round_no}/{cfg.repeats}) ...", flush=True)
                    runs[v].append(run_child(model_dir, p, cfg, threads=threads if compare else None, kernels=v[1]))
                if p in ggufs:
                    print(f"measuring llama.cpp {ggufs[p]['type']} (round {round_no}/{cfg.repeats}) ...", flush=True)
                    lruns[p].append(run_child(model_dir, p, cfg, gguf=ggufs[p]["path"], threads=threads))
        rows = [dict(median_row(v[0], runs[v]), kernels=v[1]) for v in variants]
        lrows = {p: median_row(p, lruns[p]) for p in ggufs}
    finally:
        if tmp is not None and not cfg.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        if gguf_dir is not None and not cfg.keep:
            shutil.rmtree(gguf_dir, ignore_errors=True)
    print(f"\nmodel: {'random ChatGLM3-6B shape' if cfg.full_size else model_dir}; device {cfg.device}; "
          f"prompt {cfg.prompt_len} tokens; {cfg.new_tokens} decode steps; medians of {cfg.repeats} run(s); "
          f"copy bandwidth {bw / 1e9:.1f} GB/s (read + write), read bandwidth {read_bw / 1e9:.1f} GB/s (measured in "
          "this run; the bound column uses the copy figure)"
          + ("; int8/int4: output layer quantized too (--quantize-output)" if cfg.quantize_output else ""))
    print(settings_line(threads if compare else torch.get_num_threads())
          + ("; the same threads for llama.cpp" if compare else ""))
    if compare:
        from ch02_env.gguf_llamacpp import llama_cpp_version
        info = next((r.get("system_info") for r in lrows.values() if r.get("system_info")), "")
        print(f"llama.cpp: llama-cpp-python {llama_cpp_version()}, architecture 'chatglm' GGUF of the same weights "
              f"(placeholder vocabulary: token ids are fed directly), use_mmap=False, n_batch = prompt; "
              f"{info}".rstrip("; "))
    if ckpt_bytes:
        print(f"checkpoint size: {ckpt_bytes / 1024**3:.2f} GiB")
    head = (f"{'precision':>9} {'engine':<15} {'load s':>7} {'load peak':>10} {'resident':>10} {'prefill tok/s':>13} "
            f"{'decode ms/tok':>13} {'spread ms':>15} {'decode tok/s':>12} {'matmul floor':>12} {'bound ms':>9} "
            f"{'of bound':>8}" + (f" {'ours/llama.cpp':>14}" if compare else ""))
    print(head)
    print("-" * len(head))
    by: dict[tuple[str, str], dict] = {}   # (precision, kernels) -> row
    for i, r in enumerate(rows):
        p, k = r["precision"], r.get("kernels", "plain")
        engine = "ours" if k == "plain" else f"ours {k}"
        if "error" in r:
            print(f"{p:>9} {engine:<15} failed: {r['error']}")
        else:
            by[p, k] = r
            bound_ms = r["bytes_per_token"] / bw * 1e3
            r["bound_ms"] = bound_ms
            r["fraction_of_bound"] = bound_ms / r["decode_ms"]
            ratio = ""
            if p in lrows and "error" not in lrows[p]:
                r["ratio_to_llamacpp"] = r["decode_ms"] / lrows[p]["decode_ms"]
                ratio = f" {r['ratio_to_llamacpp']:13.2f}x"
            elif compare:
                ratio = f" {'-':>14}"
            print(_table_row(p, engine, r) + f" {r['matmul_floor_ms']:12.2f} {bound_ms:9.2f} "
                  f"{r['fraction_of_bound']:8.2f}" + ratio)
        last_of_precision = i + 1 == len(rows) or rows[i + 1]["precision"] != p
        if p in lrows and last_of_precision:
            lr = lrows[p]
            name = f"llama.cpp {ggufs[p]['type']}"
            if "error" in lr:
                print(f"{p:>9} {name:<15} failed: {lr['error']}")
            else:
                print(_table_row(p, name, lr) + f" {'-':>12} {'-':>9} {'-':>8} {'-':>14}")
    for (p, k), r in by.items():
        lr = lrows.get(p)
        if not lr or "error" in lr:
            continue
        same = sum(a == b for a, b in zip(r.get("greedy", []), lr.get("greedy", [])))
        types = ", ".join(f"{t} x{v}" for t, v in sorted(lr.get("gguf_types", {}).items()))
        print(f"[{p} {k}] llama.cpp tensor types: {types}; greedy ids the same as ours: {same}/"
              f"{len(lr.get('greedy', []))} (random or tiny models have near-ties; the float rows should agree)")
    noisy = [f"{p} {k}" for (p, k), r in by.items() if r["decode_ms_max"] > 1.5 * r["decode_ms_min"]]
    if noisy:
        print(f"[note] decode times of {', '.join(noisy)} varied by more than 1.5x between runs: other programs were "
              "using the CPU. Trust the medians, or rerun on an idle machine"
              + (" (or with --threads 1)." if torch.get_num_threads() > 1 else "."))
    summary = {}
    plain = {p: r for (p, k), r in by.items() if k == "plain"}
    if not cfg.full_size:
        print("[note] the targets (bf16 load peak <= 1.3x the checkpoint, int4 memory <= 0.35x bf16, bf16 decode >= "
              "0.7 of the bandwidth bound) are about a 6B model and are checked with --full-size; a model this small "
              "fits in the CPU caches, so its memory is mostly fixed overhead and its speed is not bandwidth-bound.")
    elif "bf16" in plain:
        b = plain["bf16"]
        summary["bf16 load peak RSS above baseline / checkpoint bytes (target <= 1.3)"] = b["load_peak_rss"] / ckpt_bytes
        summary["bf16 decode / bandwidth bound (target >= 0.7)"] = b["fraction_of_bound"]
        if "int4" in plain:
            summary["int4 resident / bf16 resident (target <= 0.35)"] = plain["int4"]["resident"] / b["resident"]
            summary["int4 decode speed / bf16 (target >= 2)"] = b["decode_ms"] / plain["int4"]["decode_ms"]
        if "int8" in plain:
            summary["int8 decode speed / bf16"] = b["decode_ms"] / plain["int8"]["decode_ms"]
    if cfg.full_size and compare:
        targets = {"bf16": 1.4, "int8": 1.0, "int4": 1.5}
        for (p, k), r in by.items():
            if p in targets and "ratio_to_llamacpp" in r:
                summary[f"{p} {k} kernels: decode ours / llama.cpp (target <= {targets[p]})"] = r["ratio_to_llamacpp"]
                lr = lrows[p]
                summary[f"{p} {k} kernels: prefill ours / llama.cpp (target > 1)"] = (r["prefill_tok_s"]
                                                                                      / lr["prefill_tok_s"])
        fast = {p: r for (p, k), r in by.items() if k == "fast"}
        if "bf16" in fast and "int4" in fast:
            summary["fast kernels: int4 resident / bf16 resident (target <= 0.35)"] = (fast["int4"]["resident"]
                                                                                      / fast["bf16"]["resident"])
    for k, v in summary.items():
        print(f"{k}: {v:.2f}")
    return {"rows": rows, "runs": {f"{p} {k}": v for (p, k), v in runs.items()}, "bandwidth": bw, "read_bandwidth": read_bw, "summary": summary, "checkpoint_bytes": ckpt_bytes,
            "llamacpp_rows": lrows, "llamacpp_runs": lruns, "threads": threads}


def _table_row(precision: str, engine: str, r: dict) -> str:
    spread = f"{r['decode_ms_min']:.1f}-{r['decode_ms_max']:.1f}"
    return (f"{precision:>9} {engine:<15} {r['load_s']:7.2f} {fmt_bytes(r['load_peak_rss']):>10} "
            f"{fmt_bytes(r['resident']):>10} {r['prefill_tok_s']:13.1f} {r['decode_ms']:13.2f} {spread:>15} "
            f"{r['decode_tok_s']:12.1f}")


if __name__ == "__main__":
    run(main, Config, __doc__)
