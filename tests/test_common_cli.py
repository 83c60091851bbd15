"""The flags every script shares (common/cli.py)."""
from __future__ import annotations

import argparse

import pytest
import torch

from common.cli import UserError, add_generation_args, add_model_args, apply_threads, generation_kwargs


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
        with pytest.raises(UserError, match="--threads"):
            apply_threads(_parse("--threads", "-2"))
    finally:
        torch.set_num_threads(before)


def test_bad_precision_is_refused_by_the_parser():
    with pytest.raises(SystemExit):
        _parse("--precision", "int3")


def test_dataclass_config_style_parses_groups_and_prints_one_line_errors(capsys):
    from dataclasses import dataclass

    from common.cli import GenerationArgs, ModelArgs, ServerArgs, arg, build_parser, parse, run

    @dataclass
    class Config(ModelArgs, GenerationArgs, ServerArgs):
        topic: str = arg("ChatGLM3", "what to ask about")
        names: list = arg(["a", "b"], "several values")
        plot: bool = arg(True, "write the PNG")

    cfg = parse(Config, "doc", ["--topic", "x", "--names", "c", "--no-plot", "--base-url", "http://h/v1"])
    assert (cfg.topic, cfg.names, cfg.plot, cfg.base_url, cfg.precision) == ("x", ["c"], False, "http://h/v1", "fp32")
    text = build_parser(Config, "line one\n  line two kept").format_help()
    for flag in ("--model", "--precision", "--device", "--threads", "--max-new-tokens", "--base-url", "--api-key"):
        assert flag in text
    assert "line two kept" in text and "(default: ) " not in text and text.count("(default: ChatGLM3)") == 1

    def main(cfg):
        raise UserError("no such file. To fix: pass --topic")

    with pytest.raises(SystemExit) as exc:
        run(main, Config, "doc", [])
    assert exc.value.code == 2
    assert capsys.readouterr().err.strip() == "error: no such file. To fix: pass --topic"
