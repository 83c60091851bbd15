"""(benchmark) An official ChatGLM3 checkpoint as a GGUF file, and llama.cpp timed the way bench_generate.py times us.

    python ch02_env/gguf_llamacpp.py                            # the demo model -> outputs/ch02/chatglm3-demo-F32.gguf
    python ch02_env/gguf_llamacpp.py --type Q8_0 --out demo-q8.gguf
    python ch02_env/gguf_llamacpp.py --model /path/to/chatglm3-6b --type BF16

The file uses llama.cpp's own ``chatglm`` architecture (the one its converter writes for THUDM/chatglm3-6b): the
same tensors as the checkpoint (fused ``query_key_value`` with its bias, fused ``dense_h_to_4h``), renamed to
GGUF's names, norms and biases in F32. The vocabulary is a placeholder of the right size (``<unk> <s> </s>``, the
256 byte pieces, then ``<t{id}>``): the benchmark feeds token ids, so it never tokenizes — the file is for timing
and for checking logits against ours, not for chatting (use llama.cpp's ``convert_hf_to_gguf.py`` for that).

``bench_generate.py --compare-llamacpp`` uses :func:`write_gguf` and :func:`measure_llamacpp` (it needs
``llama-cpp-python``; see the chapter README for the install).
"""
from __future__ import annotations

import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script (`python ch02_env/x.py`): make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common.cli import ModelArgs, UserError, arg, redefault, run  # noqa: E402

# our --precision -> the GGUF type llama.cpp runs at the same precision
GGUF_TYPE_FOR_PRECISION = {"fp32": "F32", "bf16": "BF16", "fp16": "F16", "int8": "Q8_0", "int4": "Q4_0"}
FLOAT_TYPES = ("F32", "F16", "BF16")
QUANT_TYPES = ("Q8_0", "Q4_0")
GGUF_TYPES = FLOAT_TYPES + QUANT_TYPES
_LAYER_RE = re.compile(r"^transformer\.encoder\.layers\.(\d+)\.(.+)$")
_LAYER_NAMES = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attention.query_key_value.weight": "attn_qkv.weight",
    "self_attention.query_key_value.bias": "attn_qkv.bias",
    "self_attention.dense.weight": "attn_output.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.dense_h_to_4h.weight": "ffn_up.weight",
    "mlp.dense_4h_to_h.weight": "ffn_down.weight",
}


@dataclass
class Config:
    model: str | None = redefault(ModelArgs, "model", None)
    type: str = arg("F32", "GGUF type of the weight matrices (norms and biases stay F32)", choices=GGUF_TYPES)
    out: str | None = arg(None, "GGUF file to write (default: outputs/ch02/<model>-<type>.gguf)")


def gguf_name(official_name: str) -> str | None:
    """The GGUF tensor name of an official ChatGLM3 tensor (None for tensors llama.cpp does not read)."""
    if official_name.endswith("rotary_pos_emb.inv_freq"):
        return None
    fixed = {"transformer.embedding.word_embeddings.weight": "token_embd.weight",
             "transformer.encoder.final_layernorm.weight": "output_norm.weight",
             "transformer.output_layer.weight": "output.weight"}
    if official_name in fixed:
        return fixed[official_name]
    m = _LAYER_RE.match(official_name)
    if not m or m.group(2) not in _LAYER_NAMES:
        raise UserError(f"unexpected tensor {official_name!r} in a ChatGLM3 checkpoint; cannot write it to GGUF. "
                        "To fix: pass an official-format ChatGLM3 folder (config.json with model_type 'chatglm').")
    return f"blk.{m.group(1)}.{_LAYER_NAMES[m.group(2)]}"


def _tensor_index(model_dir: Path) -> dict[str, Path]:
    """name -> safetensors file of an official folder (only safetensors can be read one tensor at a time)."""
    from common.checkpoint import weight_files
    files = weight_files(model_dir)
    if any(f.suffix != ".safetensors" for f in files):
        raise UserError(f"{model_dir} holds .bin weights; the GGUF writer reads safetensors tensor by tensor. To fix: "
                        "convert once with `python common/convert_checkpoint.py` or use a safetensors download.")
    from safetensors import safe_open
    index: dict[str, Path] = {}
    for f in files:
        with safe_open(str(f), framework="pt") as sf:
            for name in sf.keys():
                index[name] = f
    return index


def _to_gguf_array(t, qtype: str):
    """(numpy array, raw GGML type or None) for one torch tensor: 1-D tensors (norms, biases) as float32."""
    import numpy as np
    import torch
    import gguf

    if t.ndim == 1 or qtype == "F32":
        return t.to(torch.float32).contiguous().numpy(), None
    if qtype == "BF16" and t.dtype == torch.bfloat16:  # the bits as they are: no rounding on the way
        return t.contiguous().view(torch.int16).numpy().view(np.uint8), gguf.GGMLQuantizationType.BF16
    if qtype == "F16":
        return t.to(torch.float16).contiguous().numpy(), None
    kind = gguf.GGMLQuantizationType[qtype]
    q = gguf.quantize(t.to(torch.float32).contiguous().numpy(), kind)
    return q.view(np.uint8), kind


def write_gguf(model_dir: str | Path, out: str | Path, qtype: str = "F32") -> dict:
    """Write the official-format ChatGLM3 folder ``model_dir`` as a ``chatglm``-architecture GGUF.

    Weight matrices in ``qtype`` (F32 / F16 / BF16 / Q8_0 / Q4_0, the quantized types through the ``gguf``
    package's numpy code — slow for a 6B model, where :func:`quantize_gguf` is the fast way); one tensor in memory at
    a time. Returns ``{"path", "bytes", "tensors", "arch"}``."""
    import gguf
    import torch
    from safetensors import safe_open
    from common.checkpoint import read_config

    if qtype not in GGUF_TYPES:
        raise UserError(f"GGUF type must be one of {GGUF_TYPES}, not {qtype!r}")
    model_dir, out = Path(model_dir), Path(out)
    cfg = read_config(model_dir)
    if cfg.get("model_type") != "chatglm":
        raise UserError(f"{model_dir} is not an official-format ChatGLM3 folder (model_type "
                        f"{cfg.get('model_type')!r}); the GGUF writer reads the official layout.")
    index = _tensor_index(model_dir)
    names = [(n, g) for n in index if (g := gguf_name(n)) is not None]
    order = {"token_embd.weight": -2, "output_norm.weight": 10**9, "output.weight": 10**9 + 1}

    def sort_key(item):
        g = item[1]
        if g in order:
            return (order[g], g)
        return (int(g.split(".")[1]), g)
    names.sort(key=sort_key)

    heads, hidden = cfg["num_attention_heads"], cfg["hidden_size"]
    kv_heads = cfg.get("multi_query_group_num", heads) if cfg.get("multi_query_attention") else heads
    head_dim = cfg.get("kv_channels", hidden // heads)
    w = gguf.GGUFWriter(str(out), "chatglm")
    w.add_name(model_dir.name)
    w.add_context_length(cfg.get("seq_length", 8192))
    w.add_embedding_length(hidden)
    w.add_feed_forward_length(cfg["ffn_hidden_size"])
    w.add_block_count(cfg["num_layers"])
    w.add_head_count(heads)
    w.add_head_count_kv(kv_heads)
    w.add_key_length(head_dim)
    w.add_value_length(head_dim)
    w.add_layer_norm_rms_eps(cfg.get("layernorm_epsilon", 1e-5))
    w.add_rope_dimension_count(head_dim // 2)      # ChatGLM3 rotates half of each head
    w.add_rope_freq_base(10000.0 * float(cfg.get("rope_ratio", 1.0)))
    w.add_file_type({"F32": 0, "F16": 1, "Q4_0": 2, "Q8_0": 7, "BF16": 32}[qtype])
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    # a placeholder vocabulary of the model's size (SentencePiece style): the benchmark feeds token ids
    vocab = cfg["padded_vocab_size"]
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    tokens += [f"<t{i}>" for i in range(len(tokens), vocab)]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL] + \
        [gguf.TokenType.BYTE] * 256 + [gguf.TokenType.NORMAL] * (vocab - 259)
    w.add_tokenizer_model("llama")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens[:vocab])
    w.add_token_scores([0.0] * vocab)
    w.add_token_types(types[:vocab])
    w.add_unk_token_id(0)
    w.add_bos_token_id(1)
    w.add_eos_token_id(cfg.get("eos_token_id", 2) if isinstance(cfg.get("eos_token_id", 2), int) else 2)
    w.add_pad_token_id(cfg.get("pad_token_id", 0))
    w.add_add_bos_token(False)

    handles = {f: safe_open(str(f), framework="pt") for f in set(index.values())}
    # pass 1: shapes and sizes (the header comes before the data); pass 2: the data, one tensor at a time
    for name, g in names:
        sl = handles[index[name]].get_slice(name)
        shape = tuple(sl.get_shape())
        sample = torch.zeros(shape[:-1] + (shape[-1],), dtype=torch.float32) if len(shape) == 1 else \
            torch.zeros((1, shape[-1]), dtype=torch.bfloat16 if qtype == "BF16" else torch.float32)
        arr, raw = _to_gguf_array(sample, qtype)
        if len(shape) == 1:
            w.add_tensor_info(g, shape, arr.dtype, arr.nbytes, raw)
        else:  # bytes of one row times the rows (a quantized row is a whole number of blocks)
            byte_shape = (shape[0], arr.shape[-1])
            w.add_tensor_info(g, byte_shape, arr.dtype, shape[0] * arr.nbytes, raw)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    for name, g in names:
        t = handles[index[name]].get_tensor(name)
        if qtype == "BF16" and t.ndim == 2 and t.dtype != torch.bfloat16:
            t = t.to(torch.bfloat16)
        arr, _ = _to_gguf_array(t, qtype)
        w.write_tensor_data(arr)
        del t, arr
    w.close()
    return {"path": str(out), "bytes": out.stat().st_size, "tensors": [g for _, g in names], "arch": "chatglm"}


def gguf_tensor_types(path: str | Path) -> dict[str, str]:
    """name -> GGML type name of every tensor in a GGUF file (read back with the ``gguf`` package)."""
    import gguf
    reader = gguf.GGUFReader(str(path))
    return {t.name: t.tensor_type.name for t in reader.tensors}


def quantize_gguf(src: str | Path, dst: str | Path, qtype: str, threads: int = 0) -> dict:
    """``src`` (F32/BF16 GGUF) -> ``dst`` in ``qtype`` with llama.cpp's own quantizer (``llama_model_quantize``,
    llama.cpp's default choices: under Q4_0 ``output.weight`` gets Q6_K when the hidden size allows —
    :func:`gguf_tensor_types` says)."""
    import ctypes
    import logging

    import llama_cpp

    ftype = {"Q8_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0, "Q4_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0,
             "F16": llama_cpp.LLAMA_FTYPE_MOSTLY_F16, "BF16": llama_cpp.LLAMA_FTYPE_MOSTLY_BF16}[qtype]
    logging.getLogger("llama-cpp-python").setLevel(logging.ERROR)  # llama.cpp logs every tensor it quantizes
    llama_cpp.llama_backend_init()
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = threads
    t0 = time.perf_counter()
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params))
    if rc != 0:
        raise RuntimeError(f"llama_model_quantize {src} -> {qtype} failed (code {rc})")
    return {"path": str(dst), "seconds": time.perf_counter() - t0, "bytes": Path(dst).stat().st_size}


def llama_cpp_version() -> str | None:
    """llama-cpp-python's version, or None when it is not installed."""
    try:
        import llama_cpp
    except ImportError:
        return None
    return getattr(llama_cpp, "__version__", "?")


def measure_llamacpp(gguf_path: str | Path, prompt_len: int, new_tokens: int, threads: int,
                     prompt_ids: list[int] | None = None) -> dict:
    """Load ``gguf_path`` with llama.cpp (no mmap: the weights are resident, as ours) and time it like
    ``bench_generate.measure``: a warm-up, then a ``prompt_len`` prefill and ``new_tokens`` single-token decode
    steps (median). Returns the same keys, plus the greedy ids it produced."""
    import numpy as np
    import llama_cpp
    from common.memory import peak_rss_bytes, reset_peak_rss, rss_bytes

    ids = prompt_ids or list(np.random.default_rng(0).integers(10, 500, prompt_len))
    base_rss = rss_bytes()
    reset_peak_rss()
    t0 = time.perf_counter()
    llm = llama_cpp.Llama(model_path=str(gguf_path), n_ctx=max(64, prompt_len + new_tokens + 16),
                          n_batch=max(prompt_len, 8), n_ubatch=max(prompt_len, 8), n_threads=threads,
                          n_threads_batch=threads, use_mmap=False, logits_all=False, verbose=False)
    load_s = time.perf_counter() - t0
    load_peak = max(peak_rss_bytes() - base_rss, 0)

    n_vocab = llm.n_vocab()

    def step(tokens: list[int]) -> int:
        """Evaluate ``tokens``; the greedy next token (argmax of the last position's logits, as ours)."""
        llm.eval(tokens)
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1), shape=(n_vocab,))
        return int(np.argmax(logits))

    def decode(nxt: int, steps: int) -> tuple[list[float], list[int]]:
        times, out = [], []
        for _ in range(steps):
            t = time.perf_counter()
            nxt = step([nxt])
            times.append(time.perf_counter() - t)
            out.append(nxt)
        return times, out

    nxt = step(ids[:8])  # warm-up, as ours
    decode(nxt, 3)
    llm.reset()
    t0 = time.perf_counter()
    nxt = step(ids)
    prefill_s = time.perf_counter() - t0
    times, greedy = decode(nxt, new_tokens)
    times = sorted(times)
    resident = rss_bytes() - base_rss
    decode_s = times[len(times) // 2]
    return {"engine": "llama.cpp", "load_s": load_s, "load_peak_rss": load_peak, "resident": resident,
            "prefill_tok_s": prompt_len / prefill_s, "decode_ms": decode_s * 1e3, "decode_tok_s": 1 / decode_s,
            "greedy": [nxt] + greedy[:-1], "threads": threads, "gguf_types": _type_counts(gguf_path),
            "system_info": _system_info()}


def _system_info() -> str:
    """llama.cpp's own line on the CPU features it was built with (AVX512, AMX ...)."""
    import llama_cpp
    try:
        info = llama_cpp.llama_print_system_info()
        return (info.decode() if isinstance(info, bytes) else str(info)).strip()
    except Exception:  # noqa: BLE001 — informational only
        return ""


def _type_counts(path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for t in gguf_tensor_types(path).values():
        counts[t] = counts.get(t, 0) + 1
    return counts


def main(cfg: Config) -> dict:
    from common.paths import output_dir
    from common.resolve import resolve_model_path

    model_dir = resolve_model_path(cfg.model)
    out = Path(cfg.out) if cfg.out else output_dir("ch02") / f"{model_dir.name}-{cfg.type}.gguf"
    t0 = time.perf_counter()
    r = write_gguf(model_dir, out, cfg.type)
    types = _type_counts(out)
    print(f"wrote {out} ({r['bytes'] / 1024**2:.1f} MiB, {len(r['tensors'])} tensors, architecture chatglm; "
          f"types {json.dumps(types)}) in {time.perf_counter() - t0:.1f} s")
    return r


if __name__ == "__main__":
    run(main, Config, __doc__)
