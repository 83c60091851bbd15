"""Weight-only INT8 / INT4 for inference, CPU and CUDA.

* CPU: PyTorch's own weight-only kernels (``aten._weight_int8pack_mm``: int8 weights with one scale per output row;
  ``aten._weight_int4pack_mm_for_cpu``: 4-bit weights packed two per byte, one scale/zero per group of 32–256
  inputs). Activations run in bfloat16. Measured faster than bitsandbytes' CPU path on this kind of machine
  (see ``ch02_env/bench_generate.py``).
* CUDA: bitsandbytes ``Linear8bitLt`` (LLM.int8) and ``Linear4bit`` (NF4, the QLoRA format).

A layer whose shape a kernel cannot take (INT4 on CPU needs out_features % 16 == 0 and in_features divisible by
32) keeps bfloat16 weights; ``quantize_linears`` returns which layers did, so the loader can say so.
"""
from __future__ import annotations

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


def _bnb_linear(linear: nn.Linear, precision: str, device: torch.device) -> nn.Module:
    import bitsandbytes as bnb
    w = linear.weight.detach()
    has_bias = linear.bias is not None
    if precision == "int8":
        new = bnb.nn.Linear8bitLt(linear.in_features, linear.out_features, bias=has_bias,
                                  has_fp16_weights=False, threshold=6.0)
        new.weight = bnb.nn.Int8Params(w.to(torch.float16).cpu(), requires_grad=False, has_fp16_weights=False)
    else:
        new = bnb.nn.Linear4bit(linear.in_features, linear.out_features, bias=has_bias,
                                compute_dtype=torch.bfloat16, quant_type="nf4", compress_statistics=True)
        new.weight = bnb.nn.Params4bit(w.to(torch.float16).cpu(), requires_grad=False, quant_type="nf4",
                                       compress_statistics=True)
    if has_bias:
        new.bias = nn.Parameter(linear.bias.detach().to(torch.float16).cpu(), requires_grad=False)
    return new.to(device)  # bitsandbytes quantises when the weight moves to the GPU


def quantize_linears(model: nn.Module, precision: str, device: torch.device | str = "cpu",
                     skip: tuple[str, ...] = ("lm_head",)) -> dict[str, list[str]]:
    """Replace every ``nn.Linear`` (except ``skip``) by its weight-only ``precision`` version, in place.

    Returns ``{"quantized": [...], "kept": [...]}`` — ``kept`` lists layers whose shape the kernel cannot take
    (they keep the model's dtype — bfloat16 when ``load_model`` quantizes)."""
    if precision not in ("int8", "int4"):
        raise ValueError(f"precision must be int8 or int4, not {precision!r}")
    device = torch.device(device)
    report: dict[str, list[str]] = {"quantized": [], "kept": []}
    for name, module in list(model.named_modules()):
        if not isinstance(module, nn.Linear) or any(s in name for s in skip):
            continue
        parent_name, _, attr = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        if device.type == "cuda":
            new = _bnb_linear(module, precision, device)
        elif precision == "int8":
            new = Int8WeightOnlyLinear(module.weight, module.bias)
        else:
            gs = int4_group_size(module.in_features, module.out_features)
            if gs is None or device.type != "cpu":
                report["kept"].append(name)  # stays in the model's dtype (bf16 when loaded with int4)
                continue
            new = Int4WeightOnlyLinear(module.weight, module.bias, gs)
        setattr(parent, attr, new)
        report["quantized"].append(name)
        del module
    return report
