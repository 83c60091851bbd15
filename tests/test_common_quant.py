"""Weight-only INT8/INT4 layers: round-trip error bounds and the kernels' own arithmetic."""
from __future__ import annotations

import pytest
import torch

from common.quant import Int4WeightOnlyLinear, Int8WeightOnlyLinear, int4_group_size, quantize_linears


def test_int8_round_trip_within_half_a_step():
    torch.manual_seed(0)
    lin = torch.nn.Linear(256, 64)
    before = lin.weight.detach().clone()
    q = Int8WeightOnlyLinear(lin.weight, lin.bias)
    assert torch.equal(lin.weight, before)                       # quantizing never modifies the source
    step = before.abs().amax(dim=1, keepdim=True) / 127
    # half a step of rounding, plus the bf16 rounding of the per-row scale (the kernel takes bf16 scales)
    assert ((q.dequantize() - before).abs() <= step).all()
    assert ((q.dequantize() - before).abs().mean() < step.mean() / 3)
    x = torch.randn(3, 256)
    ref = torch.nn.functional.linear(x.bfloat16().float(), q.dequantize(), lin.bias.bfloat16().float())
    assert (q(x) - ref).abs().max() < 0.05


def test_int4_round_trip_within_half_a_step():
    torch.manual_seed(0)
    w = torch.randn(32, 256)
    q = Int4WeightOnlyLinear(w, None, group_size=64)
    g = w.reshape(32, 4, 64)
    step = ((g.amax(-1) - g.amin(-1)) / 15).repeat_interleave(64, dim=1)
    err = (q.dequantize() - w).abs()
    assert (err <= step).all() and err.mean() < step.mean() / 3     # bf16 scale/zero rounding included
    assert q.weight.dtype == torch.uint8 and q.weight.numel() == 32 * 256 // 2   # two weights per byte


def test_group_size_choice():
    assert int4_group_size(4096, 4096) == 128 and int4_group_size(96, 64) == 32
    assert int4_group_size(64, 40) is None and int4_group_size(48, 64) is None


def test_quantize_linears_reports_kept_layers():
    model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.Linear(32, 40), torch.nn.Linear(40, 16))
    report = quantize_linears(model, "int4")
    assert report["quantized"] == ["0"] and report["kept"] == ["1", "2"]
    assert model(torch.randn(2, 64)).shape == (2, 16)
    with pytest.raises(ValueError):
        quantize_linears(model, "int3")
