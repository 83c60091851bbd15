"""Fast CPU inference kernels: ``load_model(..., kernels="fast")`` / ``--cpu-kernels fast`` (opt-in).

The plain path (``kernels="plain"``, the default) is what a reader studies: ``nn.Linear`` in the model's dtype and
PyTorch's weight-only int8/int4 kernels (``common/quant.py``). Decoding one token reads every weight once, so a decode
step is as fast as the matmul kernels read memory; on the 2-core AVX-512 machine of ``ch02_env/bench_generate.py``
the plain kernels read 15-23 GB/s of weights, llama.cpp's up to ~45. The fast kernels, all inside PyTorch:

=========  ==========================================  ==============================================  ============
precision  plain (default)                             fast                                            numerics
=========  ==========================================  ==============================================  ============
bf16/fp16  ``F.linear`` (oneDNN)                       one-token calls: PyTorch's native gemv           the same
                                                       (oneDNN re-lays the weight out on every call);
                                                       prompts: oneDNN as before
int8       weight-only int8 (``_weight_int8pack_mm``)  the same int8 weights x int8 activations, one    change
                                                       scale per token (fbgemm, VNNI), as llama.cpp's
                                                       Q8_0 also quantizes activations
int4       weight-only int4, bf16 output layer         the same blocks, output layer int8 as above      change
=========  ==========================================  ==============================================  ============

* **bf16/fp16**: the layer keeps its weight and bias parameters (no copy, nothing to re-load, still trainable);
  only the kernel of one-row calls changes. Both kernels sum in fp32; the logits agree within rounding
  (``tests/test_common_cpu_kernels.py`` states the tolerance and checks the greedy ids).
* **int8 with int8 activations** (W8A8): each token's activations are scaled to [-1, 1] by their own largest value
  and quantized to 8 bits by fbgemm's dynamic linear, then multiplied in integers. This changes the numbers:
  ``ch02_env/quant_accuracy.py`` prints perplexity and logit drift for the fast rows. Large models with outlier
  activation channels (LLM.int8, SmoothQuant) lose more than the demo model does — measure yours before relying on
  it. The packed int8 weights are fbgemm objects: inference only, no ``state_dict``.
* **int4**: PyTorch has no faster int4 CPU kernel than the one the plain path uses (measured: the same ms for group
  sizes 32-128); fast only puts the output layer (ChatGLM3-6B's largest matrix, bf16 in the plain path) into int8
  with per-token activations: as fast as an int4 output layer and much closer to the plain numbers.
"""
from __future__ import annotations

import contextlib
import functools
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .errors import UserError


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


class DecodeGemvLinear(nn.Linear):
    """``nn.Linear`` (the same weight and bias parameters) whose one-row calls — the decode steps — go to
    PyTorch's own matrix-vector kernel instead of oneDNN's: for one token oneDNN re-lays the whole bf16 weight out on
    every call, the native ``gemv`` (AVX512-BF16 dot products, fp32 sums) streams it as it is. Prompts (several rows)
    keep oneDNN, which is faster there. Same inputs, same weights, same fp32 accumulation: the outputs agree to the
    last bf16 bit on this machine's test (and within rounding anywhere)."""

    @classmethod
    def from_linear(cls, linear: nn.Linear) -> "DecodeGemvLinear":
        new = cls(linear.in_features, linear.out_features, bias=linear.bias is not None, device="meta",
                  dtype=linear.weight.dtype)
        new.weight, new.bias = linear.weight, linear.bias  # 共用同一份参数：不复制、不重排
        return new

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "cpu" or x.numel() != x.shape[-1]:
            return F.linear(x, self.weight, self.bias)
        before = torch._C._get_mkldnn_enabled()
        torch._C._set_mkldnn_enabled(False)  # 只对这一次调用关掉 oneDNN
        try:
            return F.linear(x, self.weight, self.bias)
        finally:
            torch._C._set_mkldnn_enabled(before)


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
        if x2.shape[0] == 1:  # one token: fbgemm's per-tensor scale is already a per-token scale
            y = torch.ops.quantized.linear_dynamic(x2, self._packed, self.reduce_range)
        else:
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
    layer is ever in memory); returns the names swapped. ``nn.Linear`` (bf16/fp16 weights) -> ``DecodeGemvLinear``;
    ``Int8WeightOnlyLinear`` -> ``Int8DynamicLinear``; int4 layers stay as they are."""
    from .quant import Int8WeightOnlyLinear, replace_module

    names = [n for n, m in model.named_modules()
             if (isinstance(m, nn.Linear) and not isinstance(m, DecodeGemvLinear)
                 and m.weight.dtype in (torch.bfloat16, torch.float16))
             or isinstance(m, Int8WeightOnlyLinear)]
    done = []
    for name in names:  # 只记名字：列表里留着旧层的引用，旧权重就释放不掉
        module = model.get_submodule(name)
        if module.weight.device.type != "cpu":
            raise ValueError(f"fast CPU kernels need the model on the CPU; {name} is on {module.weight.device}")
        if isinstance(module, Int8WeightOnlyLinear):
            new = Int8DynamicLinear.from_weight_only(module)
        else:
            new = DecodeGemvLinear.from_linear(module)
        replace_module(model, name, new)
        del module, new
        done.append(name)
    return done
