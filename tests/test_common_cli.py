"""The flags every script shares (common/cli.py)."""
from __future__ import annotations

import argparse

import pytest
import torch

from common.cli import add_generation_args, add_model_args, apply_threads, generation_kwargs


def _parse(*argv):
    p = argparse.ArgumentParser()
    add_model_args(p)
    add_generation_args(p)
    return p.parse_args(list(argv))


def test_defaults_and_generation_kwargs():
    args = _parse()
    assert (args.model, args.precision, args.device, args.threads) == (None, "fp32", "cpu", 0)
    kw = generation_kwargs(_parse("--temperature", "0", "--max-new-tokens", "7"))
    assert kw["do_sample"] is False and kw["max_new_tokens"] == 7


def test_threads_flag_sets_torch_threads_and_rejects_negatives():
    before = torch.get_num_threads()
    try:
        apply_threads(_parse("--threads", "1"))
        assert torch.get_num_threads() == 1
        apply_threads(_parse())                       # 0 = leave PyTorch's setting alone
        assert torch.get_num_threads() == 1
        with pytest.raises(SystemExit, match="--threads"):
            apply_threads(_parse("--threads", "-2"))
    finally:
        torch.set_num_threads(before)


def test_bad_precision_is_refused_by_the_parser():
    with pytest.raises(SystemExit):
        _parse("--precision", "int3")
