"""Weight-only INT8 / INT4 for inference, CPU and CUDA.

* CPU: PyTorch's own weight-only kernels (``aten._weight_int8pack_mm``: int8 weights with one scale per output row;
  ``aten._weight_int4pack_mm_for_cpu``: 4-bit weights packed two per byte, one scale/zero per group of 32–256
  inputs). Activations run in bfloat16. Measured faster than bitsandbytes' CPU path on this kind of machine
  (see ``ch02_env/bench_generate.py``).
* CUDA: bitsandbytes ``Linear8bitLt`` (LLM.int8) and ``Linear4bit`` (NF4, the QLoRA format).
* ``nf4`` on any device: bitsandbytes NF4 + double quantization (:func:`bnb_linear`, the one bitsandbytes
  converter of the repository) — the frozen base of QLoRA (``ch10_finetune/train_qlora.py``).

A layer whose shape a kernel cannot take (INT4 on CPU needs out_features % 16 == 0 and in_features divisible by
32) keeps bfloat16 weights; ``quantize_linears`` returns which layers did, so the loader can say so.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

INT4_GROUP_SIZES = (128, 64, 32, 256)
ROW_BLOCK = 256  # rows quantized at a time


class Int8WeightOnlyLinear(nn.Module):
    """y = x @ (W_int8 * scale_row)^T + b, computed by PyTorch's weight-only int8 kernel."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, compute_dtype: torch.dtype = torch.bfloat16):
        super().__init__()
        w = weight.detach()
        self.out_features, self.in_features = w.shape
        self.compute_dtype = compute_dtype
        q = torch.empty(w.shape, dtype=torch.int8)
        scale = torch.empty(w.shape[0], dtype=torch.float32)
        for r in range(0, w.shape[0], ROW_BLOCK):  # 分块量化：块留在缓存里，加载 6B 时快得多
            blk = w[r:r + ROW_BLOCK].to(torch.float32, copy=True)
            s = (blk.abs().amax(dim=1) / 127.0).clamp_(min=1e-8)
            q[r:r + ROW_BLOCK] = blk.div_(s[:, None]).round_().clamp_(-127, 127).to(torch.int8)
            scale[r:r + ROW_BLOCK] = s
        self.register_buffer("weight", q)
        self.register_buffer("scales", scale.to(compute_dtype))
        self.register_buffer("bias", None if bias is None else bias.detach().to(compute_dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        x2 = x.reshape(-1, shape[-1]).to(self.compute_dtype)
        if x2.device.type == "cpu":
            y = torch.ops.aten._weight_int8pack_mm(x2, self.weight, self.scales)
        else:  # generic fallback (e.g. MPS): dequantise on the fly
            y = F.linear(x2, self.weight.to(self.compute_dtype) * self.scales[:, None])
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(*shape[:-1], self.out_features).to(x.dtype)

    def dequantize(self) -> torch.Tensor:
        return self.weight.float() * self.scales.float()[:, None]

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8 per-row"


def int4_group_size(in_features: int, out_features: int) -> int | None:
    """Largest supported group size for this shape, or None when the CPU int4 kernel cannot take it."""
    if out_features % 16:
        return None
    for gs in INT4_GROUP_SIZES:
        if in_features % gs == 0:
            return gs
    return None


class Int4WeightOnlyLinear(nn.Module):
    """4-bit asymmetric weights (per group of ``group_size`` inputs), packed two per byte, CPU kernel."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, group_size: int,
                 compute_dtype: torch.dtype = torch.bfloat16):
        super().__init__()
        w = weight.detach()
        n, k = w.shape
        self.in_features, self.out_features, self.group_size = k, n, group_size
        self.compute_dtype = compute_dtype
        q = torch.empty(n, k, dtype=torch.int32)
        scale = torch.empty(n, k // group_size, 1)
        lo = torch.empty(n, k // group_size, 1)
        for r in range(0, n, ROW_BLOCK):
            wg = w[r:r + ROW_BLOCK].to(torch.float32, copy=True).reshape(-1, k // group_size, group_size)
            lo_b, hi_b = wg.amin(-1, keepdim=True), wg.amax(-1, keepdim=True)
            s = ((hi_b - lo_b) / 15.0).clamp_(min=1e-8)
            q[r:r + ROW_BLOCK] = wg.sub_(lo_b).div_(s).round_().clamp_(0, 15).reshape(-1, k).to(torch.int32)
            scale[r:r + ROW_BLOCK], lo[r:r + ROW_BLOCK] = s, lo_b
        # 内核的反量化公式：w = (q - 8) * scale + zero，所以 zero = lo + 8 * scale
        zero = lo + 8.0 * scale
        sz = torch.stack([scale.squeeze(-1).t(), zero.squeeze(-1).t()], dim=-1)  # [k/gs, n, 2]
        self.register_buffer("weight", torch.ops.aten._convert_weight_to_int4pack_for_cpu(q, 1))
        self.register_buffer("scales_and_zeros", sz.to(compute_dtype).contiguous())
        self.register_buffer("bias", None if bias is None else bias.detach().to(compute_dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        x2 = x.reshape(-1, shape[-1]).to(self.compute_dtype)
        y = torch.ops.aten._weight_int4pack_mm_for_cpu(x2, self.weight, self.group_size, self.scales_and_zeros)
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(*shape[:-1], self.out_features).to(x.dtype)

    def dequantize(self) -> torch.Tensor:
        eye = torch.eye(self.in_features, dtype=self.compute_dtype)
        return torch.ops.aten._weight_int4pack_mm_for_cpu(
            eye, self.weight, self.group_size, self.scales_and_zeros).float().t()

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"int4 group_size={self.group_size}")


# ---------------------------------------------------------------------------------------------- shared pieces
def replace_module(model: nn.Module, name: str, new: nn.Module) -> None:
    """Put ``new`` where the submodule ``name`` (e.g. ``model.layers.0.mlp.down_proj``) sits, in place."""
    parent_name, _, attr = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, attr, new)


def replace_linears(model: nn.Module, make: Callable[[nn.Linear], nn.Module | None],
                    skip: tuple[str, ...] = ("lm_head",)) -> list[str]:
    """Replace every ``nn.Linear`` whose name contains none of ``skip`` by ``make(linear)`` (``None``: keep it);
    returns the names replaced. One layer at a time, so only one full-precision layer is ever copied."""
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear) and not any(s in n for s in skip)]
    done = []
    for n in names:
        new = make(model.get_submodule(n))
        if new is not None:
            replace_module(model, n, new)
            done.append(n)
    return done


# ---------------------------------------------------------------------------------------------- bitsandbytes
BNB_MODES = ("int8", "nf4", "fp4")


def bnb_linear(linear: nn.Linear, mode: str = "nf4", double_quant: bool = True,
               compute_dtype: torch.dtype = torch.bfloat16, device: torch.device | str = "cpu") -> nn.Module:
    """The one bitsandbytes converter: ``int8`` = LLM.int8 ``Linear8bitLt`` (outlier threshold 6), ``nf4`` /
    ``fp4`` = ``Linear4bit`` (blocks of 64; ``double_quant`` = QLoRA's double quantization of the block
    constants; de-quantised to ``compute_dtype`` in every matmul). The weight is quantised when it moves to
    ``device`` (bitsandbytes >= 0.45 does that on CPU as well as CUDA)."""
    import bitsandbytes as bnb

    if mode not in BNB_MODES:
        raise ValueError(f"bitsandbytes mode must be one of {BNB_MODES}, not {mode!r}")
    has_bias = linear.bias is not None
    w_dtype = torch.float16 if mode == "int8" else compute_dtype
    w = linear.weight.detach().to("cpu", w_dtype)
    if mode == "int8":
        new = bnb.nn.Linear8bitLt(linear.in_features, linear.out_features, bias=has_bias, has_fp16_weights=False,
                                  threshold=6.0)
        new.weight = bnb.nn.Int8Params(w, requires_grad=False, has_fp16_weights=False)
    else:
        new = bnb.nn.Linear4bit(linear.in_features, linear.out_features, bias=has_bias, compute_dtype=compute_dtype,
                                quant_type=mode, compress_statistics=double_quant)
        new.weight = bnb.nn.Params4bit(w, requires_grad=False, quant_type=mode, compress_statistics=double_quant)
    if has_bias:
        new.bias = nn.Parameter(linear.bias.detach().to("cpu", w_dtype), requires_grad=False)
    if hasattr(new, "support_avx512bf16_for_cpu"):
        # bitsandbytes 0.50 repacks 4-bit weights in place the first time an eval-mode CPU forward runs (on
        # AVX512-BF16 CPUs); that fails for in_features not divisible by 64 and changes the layout under a model
        # that goes back to training (QLoRA) — keep the one portable layout
        new.support_avx512bf16_for_cpu = False
    return new.to(device)


def to_bitsandbytes(model: nn.Module, mode: str = "nf4", double_quant: bool = True,
                    compute_dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu",
                    skip: tuple[str, ...] = ("lm_head",)) -> list[str]:
    """Every linear layer (except ``skip``) -> :func:`bnb_linear`, in place; returns the names converted."""
    return replace_linears(model, lambda lin: bnb_linear(lin, mode, double_quant, compute_dtype, device), skip)


def quantize_linears(model: nn.Module, precision: str, device: torch.device | str = "cpu",
                     skip: tuple[str, ...] = ("lm_head",),
                     compute_dtype: torch.dtype | None = None) -> dict[str, list[str]]:
    """Replace every ``nn.Linear`` (except ``skip``) by its weight-only ``precision`` version, in place.

    ``int8`` / ``int4``: PyTorch's CPU kernels on CPU, bitsandbytes (LLM.int8 / NF4) on CUDA; ``nf4``: bitsandbytes
    NF4 + double quantization on every device (the QLoRA base: PEFT trains LoRA on top of it). Returns
    ``{"quantized": [...], "kept": [...]}`` — ``kept`` lists layers whose shape the kernel cannot take (they keep
    the model's dtype — bfloat16 when ``load_model`` quantizes)."""
    if precision not in ("int8", "int4", "nf4"):
        raise ValueError(f"precision must be int8, int4 or nf4, not {precision!r}")
    device = torch.device(device)
    report: dict[str, list[str]] = {"quantized": [], "kept": []}
    bnb_compute = compute_dtype or (torch.bfloat16 if device.type == "cuda" else torch.float32)

    def make(module: nn.Linear) -> nn.Module | None:
        if precision == "nf4" or device.type == "cuda":
            return bnb_linear(module, "int8" if precision == "int8" else "nf4", True, bnb_compute, device)
        if precision == "int8":
            return Int8WeightOnlyLinear(module.weight, module.bias)
        gs = int4_group_size(module.in_features, module.out_features)
        if gs is None or device.type != "cpu":
            kept.append(module)  # stays in the model's dtype (bf16 when loaded with int4)
            return None
        return Int4WeightOnlyLinear(module.weight, module.bias, gs)

    kept: list[nn.Module] = []
    report["quantized"] = replace_linears(model, make, skip)
    report["kept"] = [n for n, m in model.named_modules() if any(m is k for k in kept)]
    return report
