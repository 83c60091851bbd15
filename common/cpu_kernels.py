"""Fast CPU inference kernels: ``load_model(..., kernels="fast")`` / ``--cpu-kernels fast`` (opt-in).

The plain path (``kernels="plain"``, the default) is what a reader studies and what training needs: ``nn.Linear``
in the model's dtype, and PyTorch's weight-only int8/int4 kernels (``common/quant.py``). Decoding one token reads
every weight once, so a decode step is as fast as the matmul kernels read memory. On the 2-core AVX-512 machine of
``ch02_env/bench_generate.py`` those plain kernels read 15-23 GB/s; the kernels here, from PyTorch's own
``fbgemm`` backend, read 27-30 GB/s and run the prompt (prefill) several times faster at int8:

=========  =============================================  ===========================================  ==========
precision  plain (default)                                fast                                          numerics
=========  =============================================  ===========================================  ==========
bf16/fp16  ``F.linear`` in bf16 (oneDNN)                  fbgemm fp16 weights, fp32 accumulation        rounding
int8       weight-only int8 (``_weight_int8pack_mm``)     the same int8 weights, activations int8 per   changes
                                                          token (VNNI; like llama.cpp's Q8_0)
int4       weight-only int4, bf16 output layer            the same, output layer int4 too               changes
=========  =============================================  ===========================================  ==========

* **bf16 → fp16 weights**: every bf16 number inside fp16's range is exactly an fp16 number (bf16 has 8 mantissa
  bits, fp16 11), so the weights are unchanged except values below 6e-5 (fp16 subnormals: a few ulps of error on
  weights too small to matter); products are summed in fp32 like oneDNN's bf16 kernel does. The logits agree within
  rounding (``tests/test_common_cpu_kernels.py`` states the tolerance and checks the greedy ids).
* **int8 with int8 activations** (W8A8): each token's activations are scaled to [-1, 1] by their own largest
  value (per-token scales) and quantized to 8 bits by fbgemm's dynamic linear, then multiplied in integers. This
  changes the numbers: ``ch02_env/quant_accuracy.py --cpu-kernels fast`` prints perplexity and logit drift. Large
  models with outlier activation channels (LLM.int8, SmoothQuant) lose more than the demo model — measure yours
  before relying on it.
* The layers are inference-only (no backward, no ``state_dict`` of the packed weights): training scripts load with
  the plain kernels.
"""
from __future__ import annotations

import contextlib
import functools
import warnings
from pathlib import Path

import torch
from torch import nn

from .choices import FAST_PRECISIONS, KERNELS  # noqa: F401  (one definition, shared with the flags)
from .cli import UserError

FP16_MAX = 65504.0


class KernelsError(UserError, ValueError):
    """``kernels="fast"`` asked for where it does not apply (not the CPU, fp32/nf4, no fbgemm in this build)."""


def fbgemm_available() -> bool:
    return "fbgemm" in torch.backends.quantized.supported_engines


@functools.lru_cache(maxsize=1)
def cpu_has_vnni() -> bool:
    """AVX512-VNNI / AVX-VNNI: 8-bit dot products without 16-bit saturation (fbgemm may then use the full 8-bit
    activation range; without them ``reduce_range`` keeps 7 bits, as PyTorch recommends)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_vnni" in flags or "avx_vnni" in flags


@contextlib.contextmanager
def _fbgemm_engine():
    if not fbgemm_available():
        raise KernelsError("--cpu-kernels fast needs PyTorch's fbgemm backend (x86 CPUs); this build has "
                                     f"{torch.backends.quantized.supported_engines}. Use --cpu-kernels plain.")
    before = torch.backends.quantized.engine
    torch.backends.quantized.engine = "fbgemm"
    try:
        yield
    finally:
        torch.backends.quantized.engine = before


class Fp16PackedLinear(nn.Module):
    """y = x @ W^T + b with W stored as fp16 in fbgemm's packed layout and the products summed in fp32; the
    input and output keep the model's dtype (bf16)."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None):
        super().__init__()
        self.out_features, self.in_features = weight.shape
        self.compute_dtype = weight.dtype if weight.is_floating_point() else torch.bfloat16
        self.weight_nbytes = weight.numel() * 2
        with _fbgemm_engine():
            self._packed = torch.ops.quantized.linear_prepack_fp16(weight.detach().float(), None)
        self.register_buffer("bias", None if bias is None else bias.detach().float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        y = torch.ops.quantized.linear_dynamic_fp16(x.reshape(-1, shape[-1]).float(), self._packed)
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(*shape[:-1], self.out_features).to(x.dtype)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, fbgemm fp16 weights"


class Int8DynamicLinear(nn.Module):
    """int8 weights (one scale per output row, the same integers as ``Int8WeightOnlyLinear``) times int8
    activations with one scale per token, in fbgemm's packed layout (VNNI on CPUs that have it)."""

    def __init__(self, weight_int8: torch.Tensor, scales: torch.Tensor, bias: torch.Tensor | None,
                 compute_dtype: torch.dtype = torch.bfloat16):
        super().__init__()
        self.out_features, self.in_features = weight_int8.shape
        self.compute_dtype = compute_dtype
        self.weight_nbytes = weight_int8.numel()
        self.reduce_range = not cpu_has_vnni()
        with warnings.catch_warnings():  # quantized-tensor constructors are marked deprecated in torch 2.1x
            warnings.simplefilter("ignore", UserWarning)
            qweight = torch._make_per_channel_quantized_tensor(
            weight_int8.contiguous(), scales.detach().to(torch.float64),
            torch.zeros(self.out_features, dtype=torch.long), 0)
        with _fbgemm_engine():
            self._packed = torch.ops.quantized.linear_prepack(qweight, None)
        self.register_buffer("bias", None if bias is None else bias.detach().float())

    @classmethod
    def from_weight_only(cls, layer: nn.Module) -> "Int8DynamicLinear":
        """From a ``common.quant.Int8WeightOnlyLinear``: the same integers and scales."""
        return cls(layer.weight, layer.scales.float(), layer.bias, layer.compute_dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        x2 = x.reshape(-1, shape[-1]).float()
        # 每个 token 一个尺度：先把每行缩放到 [-1, 1]，fbgemm 的整张量动态量化就等于逐 token 量化；算完再乘回去
        s = x2.abs().amax(dim=-1, keepdim=True).clamp_(min=1e-6)
        y = torch.ops.quantized.linear_dynamic(x2 / s, self._packed, self.reduce_range) * s
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(*shape[:-1], self.out_features).to(x.dtype)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, int8 weights per-row x int8 "
                f"activations per-token (fbgemm{', reduce_range' if self.reduce_range else ''})")


def use_fast_kernels(model: nn.Module) -> list[str]:
    """Swap the model's linear layers for the fast kernels, in place, one layer at a time (so at most one extra
    layer is ever in memory); returns the names swapped. ``nn.Linear`` (bf16/fp16 weights) -> ``Fp16PackedLinear``;
    ``Int8WeightOnlyLinear`` -> ``Int8DynamicLinear``; int4 layers stay as they are."""
    from .quant import Int8WeightOnlyLinear, replace_module

    names = [n for n, m in model.named_modules()
             if (isinstance(m, nn.Linear) and m.weight.dtype in (torch.bfloat16, torch.float16))
             or isinstance(m, Int8WeightOnlyLinear)]
    done = []
    for name in names:  # 只记名字：列表里留着旧层的引用，旧权重就释放不掉
        module = model.get_submodule(name)
        if module.weight.device.type != "cpu":
            raise ValueError(f"fast CPU kernels need the model on the CPU; {name} is on {module.weight.device}")
        if isinstance(module, Int8WeightOnlyLinear):
            new = Int8DynamicLinear.from_weight_only(module)
        elif module.weight.abs().max() > FP16_MAX:  # 超出 fp16 范围的层保持原样，不把权重变成 inf
            continue
        else:
            new = Fp16PackedLinear(module.weight, module.bias)
        replace_module(model, name, new)
        del module, new
        done.append(name)
    return done
