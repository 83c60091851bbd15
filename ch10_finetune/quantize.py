"""10.4.2–10.4.4 量化：absmax / 零点 INT8、逐通道与逐张量、LLM.int8 离群值、NF4，以及 ChatGLM3 自带的权重量化。

Part 1 (runnable explanations, fixed seeds, no model):
  * absmax (symmetric) and zero-point (asymmetric) INT8 on a skewed vector;
  * per-tensor vs per-channel (one scale per output row) on a weight whose rows differ in size;
  * the LLM.int8 idea: a few activation features are 50x larger than the rest; vector-wise INT8 matmul ruins the
    result, keeping those columns in floating point (mixed-precision decomposition) fixes it;
  * NF4: the 16 levels are quantiles of N(0, 1) (computed here and compared with bitsandbytes' table), better
    than 16 evenly spaced levels for normally distributed weights; double quantization's bits per parameter.
Part 2 (ChatGLM3's ``quantization.py`` idea in plain torch): weight-only INT8 / INT4 with one scale per output row,
  INT4 packed two per byte, de-quantised on the fly in ``forward`` — runs on CPU and CUDA.
Part 3: the resolved model (built-in demo model by default) in fp32 vs ours INT8/INT4 vs bitsandbytes
  LLM.int8 / NF4 / FP4 (+ the runtime's ``common.quant`` CPU kernels when present): logit error vs fp32,
  perplexity on customer-service dev conversations, weight memory.
"""
from __future__ import annotations

if __package__ in (None, ""):
    import sys  # run as a script (`python chNN/x.py`): make the repository importable
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import json
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from common.cli import ModelArgs, arg, run
# the repository's one bitsandbytes converter (LLM.int8 / NF4 / FP4, double quant, compute dtype) and the
# "replace a Linear inside its parent" helper: this chapter teaches by calling them
from common.quant import replace_linears, to_bitsandbytes


# ---------------------------------------------------------------------------------------------- part 1
def absmax_quantize(x: torch.Tensor, bits: int = 8, dim: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric: ``q = round(x / s)``, ``s = max|x| / (2^(bits-1) - 1)``; per tensor, or per slice along ``dim``."""
    qmax = 2 ** (bits - 1) - 1
    amax = x.abs().amax() if dim is None else x.abs().amax(dim=dim, keepdim=True)
    scale = (amax / qmax).clamp(min=1e-12)
    return torch.round(x / scale).clamp(-qmax, qmax).to(torch.int8), scale


def absmax_dequantize(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return q.float() * scale


def zeropoint_quantize(x: torch.Tensor, bits: int = 8) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Asymmetric: the range [min, max] is mapped onto all 2^bits codes, ``q = round(x / s) + z``."""
    qmin, qmax = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    lo, hi = x.min(), x.max()
    scale = ((hi - lo) / (qmax - qmin)).clamp(min=1e-12)
    zero = torch.round(qmin - lo / scale)
    return torch.clamp(torch.round(x / scale) + zero, qmin, qmax).to(torch.int8), scale, zero


def zeropoint_dequantize(q: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor) -> torch.Tensor:
    return (q.float() - zero) * scale


def int8_vectorwise_matmul(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``x @ w`` with x quantised per row and w per column (the LLM.int8 'vector-wise' scheme, no outliers)."""
    qx, sx = absmax_quantize(x, 8, dim=1)
    qw, sw = absmax_quantize(w, 8, dim=0)
    return (qx.float() @ qw.float()) * sx * sw   # int32 accumulate, then rescale with the outer product of scales


def llm_int8_matmul(x: torch.Tensor, w: torch.Tensor, threshold: float = 6.0) -> tuple[torch.Tensor, int]:
    """LLM.int8: feature columns of ``x`` with any ``|value| > threshold`` stay in floating point, the rest INT8."""
    outliers = (x.abs() > threshold).any(dim=0)
    y = x[:, outliers] @ w[outliers, :]
    if (~outliers).any():
        y = y + int8_vectorwise_matmul(x[:, ~outliers], w[~outliers, :])
    return y, int(outliers.sum())


def nf4_levels(offset: float = 0.9677083) -> torch.Tensor:
    """The 16 NormalFloat-4 levels of QLoRA: quantiles of N(0, 1), 8 positive and 7 negative plus an exact 0,
    scaled to [-1, 1] (``offset`` keeps the extreme quantiles finite; the value is the paper's)."""
    normal = torch.distributions.Normal(0.0, 1.0)
    pos = normal.icdf(torch.linspace(offset, 0.5, 9, dtype=torch.float64)[:-1])
    neg = -normal.icdf(torch.linspace(offset, 0.5, 8, dtype=torch.float64)[:-1])
    levels = torch.sort(torch.cat([pos, torch.zeros(1, dtype=torch.float64), neg])).values
    return (levels / levels.max()).float()


def blockwise_levels_quantize(x: torch.Tensor, levels: torch.Tensor, blocksize: int = 64) -> torch.Tensor:
    """Quantise-dequantise ``x`` to the nearest of ``levels`` after scaling each block by its absmax."""
    flat = x.reshape(-1, blocksize)
    amax = flat.abs().amax(dim=1, keepdim=True).clamp(min=1e-12)
    idx = (flat / amax).unsqueeze(-1).sub(levels).abs().argmin(dim=-1)
    return (levels[idx] * amax).reshape(x.shape)


def bits_per_parameter(blocksize: int = 64, double_quant: bool = False, blocksize2: int = 256) -> float:
    """4-bit codes + the absmax constants: fp32 per block, or 8-bit per block + fp32 per block of blocks."""
    if not double_quant:
        return 4 + 32 / blocksize
    return 4 + 8 / blocksize + 32 / (blocksize * blocksize2)


def _rel_err(a: torch.Tensor, ref: torch.Tensor) -> float:
    return ((a - ref).norm() / ref.norm()).item()


def explain(seed: int = 0, verbose: bool = True) -> dict:
    """Part 1: the numbers behind 10.4.2–10.4.3 (deterministic)."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    say = print if verbose else (lambda *a, **k: None)

    # absmax vs zero-point on a skewed (ReLU-like) vector: absmax wastes the negative half of the codes
    x = torch.rand(4096, generator=g) ** 2 * 3.0
    q, s = absmax_quantize(x)
    err_abs = (absmax_dequantize(q, s) - x).abs().mean().item()
    qz, sz, z = zeropoint_quantize(x)
    err_zp = (zeropoint_dequantize(qz, sz, z) - x).abs().mean().item()
    out["absmax_mean_err"], out["zeropoint_mean_err"] = err_abs, err_zp
    say(f"[absmax vs zero-point] values in [0, 3]: absmax uses codes {int(q.min())}..{int(q.max())}, "
        f"mean |err| {err_abs:.5f}; zero-point uses {int(qz.min())}..{int(qz.max())} (z={int(z)}), "
        f"mean |err| {err_zp:.5f}")

    # per-tensor vs per-channel: rows of very different size share one scale badly
    w = torch.randn(256, 512, generator=g) * torch.logspace(-2, 0, 256).unsqueeze(1)
    out["per_channel"] = {}
    for bits in (8, 4):
        t = _rel_err(absmax_dequantize(*absmax_quantize(w, bits)), w)
        c = _rel_err(absmax_dequantize(*absmax_quantize(w, bits, dim=1)), w)
        out["per_channel"][bits] = {"per_tensor": t, "per_channel": c}
        say(f"[per-tensor vs per-channel] INT{bits}: relative error {t:.4f} per tensor, {c:.4f} per output row")

    # LLM.int8: outlier features
    xs = torch.randn(16, 1024, generator=g)
    cols = torch.tensor([7, 300, 901])
    xs[:, cols] *= 50.0
    ws = torch.randn(1024, 256, generator=g) * 0.02
    exact = xs @ ws
    e_int8 = _rel_err(int8_vectorwise_matmul(xs, ws), exact)
    y_mixed, n_out = llm_int8_matmul(xs, ws)
    e_mixed = _rel_err(y_mixed, exact)
    xs_clean = xs.clone()
    xs_clean[:, cols] /= 50.0
    e_clean = _rel_err(int8_vectorwise_matmul(xs_clean, ws), xs_clean @ ws)
    out["llm_int8"] = {"int8_no_outliers": e_clean, "int8_with_outliers": e_int8, "mixed": e_mixed,
                       "outlier_columns": n_out}
    say(f"[LLM.int8] vector-wise INT8 matmul: rel. error {e_clean:.4f} without outliers, {e_int8:.4f} with 3 "
        f"outlier features (50x); decomposition ({n_out} columns kept in fp) -> {e_mixed:.4f}")

    # NF4 levels and error vs evenly spaced INT4 levels on normal weights
    levels = nf4_levels()
    out["nf4_levels"] = levels.tolist()
    try:
        from bitsandbytes.functional import get_4bit_type
        out["nf4_vs_bitsandbytes"] = (levels - get_4bit_type("nf4", device="cpu").float()).abs().max().item()
    except Exception:   # bitsandbytes missing: the table is still explained
        out["nf4_vs_bitsandbytes"] = None
    wn = torch.randn(1024, 1024, generator=g) * 0.02
    int4_levels = torch.arange(-7, 8, dtype=torch.float32) / 7.0
    e_nf4 = _rel_err(blockwise_levels_quantize(wn, levels), wn)
    e_int4 = _rel_err(blockwise_levels_quantize(wn, int4_levels), wn)
    out["nf4_err"], out["int4_err"] = e_nf4, e_int4
    out["bits_per_param"] = {"nf4": bits_per_parameter(), "nf4_double_quant": bits_per_parameter(double_quant=True)}
    say("[NF4] levels: " + " ".join(f"{v:+.4f}" for v in levels.tolist()))
    if out["nf4_vs_bitsandbytes"] is not None:
        say(f"      max |ours - bitsandbytes' table| = {out['nf4_vs_bitsandbytes']:.1e}")
    say(f"      blockwise (64) on N(0, 0.02) weights: NF4 rel. error {e_nf4:.4f} vs evenly spaced INT4 {e_int4:.4f}")
    say(f"      bits per parameter: NF4 {out['bits_per_param']['nf4']:.3f}, with double quantization "
        f"{out['bits_per_param']['nf4_double_quant']:.3f}")
    return out


# ---------------------------------------------------------------------------------------------- part 2
def pack_int4(q: torch.Tensor) -> torch.Tensor:
    """int8 values in [-8, 7], shape [out, in] (in even) -> uint8 [out, in // 2]: high nibble = even column,
    low nibble = odd column (the order of ChatGLM3's ``compress_int4_weight``)."""
    u = (q.to(torch.int16) & 0xF).to(torch.uint8)
    return (u[:, 0::2] << 4) | u[:, 1::2]


def unpack_int4(packed: torch.Tensor) -> torch.Tensor:
    """Inverse of ``pack_int4`` -> int8 [out, in] with the sign restored."""
    hi = (packed >> 4).to(torch.int8)
    lo = (packed & 0xF).to(torch.int8)
    q = torch.stack([hi, lo], dim=-1).reshape(packed.shape[0], -1)
    return torch.where(q > 7, q - 16, q)


class WeightOnlyQuantLinear(nn.Module):
    """Weight-only INT8 / INT4 linear layer as ChatGLM3 ships it: symmetric, one scale per output row
    (``max|w_row| / 127`` or ``/ 7``), INT4 packed two per byte; ``forward`` de-quantises and runs a normal matmul
    (ChatGLM3 does the same in a CUDA kernel, so its ``quantize(4)`` is CUDA-only; this one runs anywhere)."""

    def __init__(self, linear: nn.Linear, bits: int = 8):
        super().__init__()
        if bits not in (4, 8):
            raise ValueError("bits must be 4 or 8")
        if bits == 4 and linear.in_features % 2:
            raise ValueError("INT4 packing needs an even in_features")
        self.bits, self.in_features, self.out_features = bits, linear.in_features, linear.out_features
        w = linear.weight.detach().float()
        q, scale = absmax_quantize(w, bits, dim=1)
        self.register_buffer("weight", pack_int4(q) if bits == 4 else q)
        self.register_buffer("weight_scale", scale.squeeze(1).to(linear.weight.dtype))
        self.register_buffer("bias", None if linear.bias is None else linear.bias.detach().clone())

    def dequantize(self, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        q = unpack_int4(self.weight) if self.bits == 4 else self.weight
        return q.to(dtype) * self.weight_scale.to(dtype).unsqueeze(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias is None else self.bias.to(x.dtype)
        return F.linear(x, self.dequantize(x.dtype), bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int{self.bits} per-row"


def quantize_weights(model: nn.Module, bits: int = 8, skip: tuple[str, ...] = ("lm_head",)) -> list[str]:
    """ChatGLM3's ``model.quantize(bits)`` on transformers' GLM: every block linear layer -> weight-only INT8/4
    (embeddings and the LM head stay, as in ChatGLM3). In place; returns the quantised layer names."""
    return replace_linears(model, lambda m: WeightOnlyQuantLinear(m, bits), skip)


# ---------------------------------------------------------------------------------------------- part 3
def _tensor_bytes(t) -> int:
    return t.numel() * t.element_size() if isinstance(t, torch.Tensor) else 0


def model_bytes(model: nn.Module) -> dict[str, int]:
    """Bytes of parameters + buffers (incl. bitsandbytes' quantisation constants): ``linear`` = the layers inside
    the decoder blocks, ``total`` = everything."""
    total = linear = 0
    for name, module in model.named_modules():
        own = [_tensor_bytes(t) for t in list(module.parameters(recurse=False)) + list(module.buffers(recurse=False))]
        w = getattr(module, "weight", None)
        qs = getattr(w, "quant_state", None)          # bitsandbytes 4-bit: absmax (+ nested absmax) and code
        if qs is not None:
            own.append(_tensor_bytes(qs.absmax) + _tensor_bytes(getattr(qs, "code", None)))
            if getattr(qs, "state2", None) is not None:
                own.append(_tensor_bytes(qs.state2.absmax) + _tensor_bytes(qs.state2.code))
        scb = getattr(w, "SCB", None)                 # bitsandbytes 8-bit: one fp32 scale per row
        own.append(_tensor_bytes(scb))
        n = sum(own)
        total += n
        if ".layers." in f".{name}." and "norm" not in name.rsplit(".", 1)[-1]:
            linear += n   # own tensors only, so this counts each block linear layer once
    return {"total": total, "linear": linear}


def perplexity(model: nn.Module, batches: list[dict]) -> float:
    """exp(mean loss over the labelled tokens) of ``batches`` (dicts of input_ids / attention_mask / labels)."""
    nll, n = 0.0, 0
    with torch.no_grad():
        for b in batches:
            logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits.float()
            lab = b["labels"][:, 1:]
            loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), lab.reshape(-1),
                                   ignore_index=-100, reduction="sum")
            nll += loss.item()
            n += int((lab != -100).sum())
    return math.exp(nll / max(n, 1))


SELF_PROMPTS = ["你好", "你是谁？", "介绍一下这本书", "北京今天天气怎么样？", "什么是LoRA？", "怎么在CPU上运行ChatGLM3？",
                "帮我查一下股票600519", "谢谢你"]


@dataclass
class Config(ModelArgs):
    precision: str = arg("fp32", "the reference every variant is compared with", choices=("fp32",), group="model")
    device: str = arg("cpu", "the comparison runs on the CPU (PyTorch's int8/int4 kernels are CPU kernels)",
                      choices=("cpu",), group="model")
    data: str = arg("self", "'self' (the model's own greedy answers to fixed questions) or a JSONL file of "
                            "conversations to score, e.g. data/ch10/customer_service/dev.jsonl")
    n_texts: int = arg(8, "how many conversations to score")
    max_length: int = arg(512, "token limit per conversation")
    skip_bnb: bool = arg(False, "leave out the bitsandbytes rows")
    seed: int = arg(0, "random seed of the part-1 demonstrations")


def main(cfg: Config | None = None) -> dict:
    """Part 1 + the comparison table on the resolved model; returns the numbers."""
    import copy
    import time

    from common.chatglm3 import load_model_and_tokenizer
    from common.cli import apply_threads
    from common.sft import SFTCollator, load_sft_examples

    cfg = cfg or Config()
    apply_threads(cfg)
    torch.manual_seed(cfg.seed)
    results = {"explain": explain(cfg.seed)}

    base, tok = load_model_and_tokenizer(cfg.model, precision="fp32", device="cpu")
    if cfg.data == "self":
        # the model's own fp32 greedy answers: NLL on them measures how far quantisation moves the model away from
        # what it would have said (a text the model never saw makes every variant look equally lost)
        from common.chatglm3 import chat
        records = []
        for q in SELF_PROMPTS[: cfg.n_texts]:
            answer, _ = chat(base, tok, q, do_sample=False, max_new_tokens=48)
            text = answer if isinstance(answer, str) else json.dumps(answer, ensure_ascii=False)
            records.append({"conversations": [{"role": "user", "content": q}, {"role": "assistant", "content": text}]})
        examples, _ = load_sft_examples(records, tok, max_length=cfg.max_length)
    else:
        examples, _ = load_sft_examples(cfg.data, tok, max_length=cfg.max_length)
    batches = [SFTCollator()([ex]) for ex in examples[: cfg.n_texts]]
    ref_logits = [base(input_ids=b["input_ids"]).logits.detach().float() for b in batches]

    variants = [("fp32 (reference)", lambda m: m),
                ("ours INT8 per-row", lambda m: quantize_weights(m, 8)),
                ("ours INT4 per-row, packed", lambda m: quantize_weights(m, 4))]
    if not cfg.skip_bnb:
        variants += [("bnb LLM.int8 (threshold 6)", lambda m: to_bitsandbytes(m, "int8")),
                     ("bnb NF4 + double quant", lambda m: to_bitsandbytes(m, "nf4", True)),
                     ("bnb FP4", lambda m: to_bitsandbytes(m, "fp4", False))]
    from common.quant import quantize_linears   # the runtime's CPU kernels (load_model(precision="int8"/"int4"))
    variants += [("common.quant int8 (torch kernel)", lambda m: quantize_linears(m, "int8")),
                 ("common.quant int4 (torch kernel)", lambda m: quantize_linears(m, "int4"))]

    rows = []
    for label, apply in variants:
        m = copy.deepcopy(base)
        try:
            apply(m)
            t0 = time.perf_counter()
            diffs = [(m(input_ids=b["input_ids"]).logits.detach().float() - r).abs()
                     for b, r in zip(batches, ref_logits)]
            ppl = perplexity(m, batches)
            dt = time.perf_counter() - t0
        except Exception as e:   # one backend failing must not hide the others
            print(f"  {label}: failed ({type(e).__name__}: {e})")
            continue
        mem = model_bytes(m)
        rows.append({"method": label, "max_logit_diff": max(d.max().item() for d in diffs),
                     "mean_logit_diff": sum(d.mean().item() for d in diffs) / len(diffs), "ppl": ppl,
                     "linear_bytes": mem["linear"], "total_bytes": mem["total"], "seconds": dt})
    ref_lin = rows[0]["linear_bytes"]
    print(f"\n[compare] {len(batches)} conversations, {sum(int(b['attention_mask'].sum()) for b in batches)} "
          "tokens; memory = block linear weights incl. scales")
    print(f"{'method':<34}{'max|Δlogit|':>12}{'mean|Δlogit|':>14}{'NLL/token':>11}{'ΔNLL':>9}"
          f"{'linear MiB':>12}{'x fp32':>8}")
    ref_nll = math.log(rows[0]["ppl"])
    for r in rows:   # NLL = log(perplexity): differences stay readable even when the text is new to the model
        nll = math.log(r["ppl"])
        r["nll"], r["delta_nll"] = nll, nll - ref_nll
        print(f"{r['method']:<34}{r['max_logit_diff']:>12.4f}{r['mean_logit_diff']:>14.5f}{nll:>11.4f}"
              f"{nll - ref_nll:>+9.4f}{r['linear_bytes'] / 2**20:>12.2f}{r['linear_bytes'] / ref_lin:>8.3f}")
    results["compare"] = rows
    print(f"done: {len(rows)} variants compared; fp32 PPL {rows[0]['ppl']:.3f}")
    return results


if __name__ == "__main__":
    run(main, Config, __doc__)
