"""The flags every script shares (common/cli.py)."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from common.cli import GenerationArgs, ModelArgs, UserError, apply_threads, parse, redefault, sampling_kwargs


@dataclass
class _Config(ModelArgs, GenerationArgs):
    max_new_tokens: int = redefault(GenerationArgs, "max_new_tokens", 64)


def _parse(*argv):
    return parse(_Config, None, list(argv))


def test_defaults_and_sampling_kwargs():
    args = _parse()
    assert (args.model, args.precision, args.device, args.threads, args.max_new_tokens) == (None, "fp32", "cpu", 0, 64)
    kw = sampling_kwargs(_parse("--temperature", "0", "--max-new-tokens", "7"))
    assert kw["do_sample"] is False and kw["max_new_tokens"] == 7


def test_one_name_one_meaning():
    """The old argparse helpers and the old name of sampling_kwargs are gone (common.chatglm3.generation_kwargs is
    the model.generate one); common.demo_tools' function table is not called DEMO_TOOLS (that is the schema list)."""
    import common.cli
    import common.demo_tools

    for old in ("add_model_args", "add_generation_args", "generation_kwargs"):
        assert not hasattr(common.cli, old)
    assert not hasattr(common.demo_tools, "DEMO_TOOLS") and common.demo_tools.DEMO_TOOL_FUNCTIONS


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
