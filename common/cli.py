"""One configuration style for every script: a dataclass whose fields are the flags.

A script declares what ``main(cfg)`` needs as a dataclass, inheriting the shared groups it uses::

    @dataclass
    class Config(ModelArgs, GenerationArgs):          # --model --precision --device --threads + generation flags
        question: str = arg("你好", "what to ask")

    def main(cfg: Config) -> dict: ...

    if __name__ == "__main__":
        run(main, Config, __doc__)                     # parse flags, quiet third-party noise, one-line errors

Every field becomes a flag (``max_new_tokens`` -> ``--max-new-tokens``) with the field's help text; booleans get
``--x / --no-x``; list defaults take several values. Tests build the dataclass directly and call ``main(cfg)``.
Expected mistakes (missing model or file, no CUDA, bad data) raise :class:`UserError` (or ``ModelNotFoundError``)
and :func:`run` prints them as one line with the fix instead of a traceback.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import typing
from dataclasses import dataclass
from typing import Any, Callable

from .choices import DEVICES, KERNELS, PRECISIONS  # noqa: F401  (re-exported: scripts import them from common.cli)
from .errors import UserError  # noqa: F401  (defined there so runtime modules need not import the CLI)


# ============================================================================================ fields
def arg(default, help: str, **kwargs):
    """A dataclass field with a help text (``kwargs`` go to ``argparse``: ``choices``, ``nargs``, ``group``...)."""
    if isinstance(default, (list, dict, set)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata={"help": help, **kwargs})
    return dataclasses.field(default=default, metadata={"help": help, **kwargs})


def redefault(group, name: str, default):
    """The shared field ``name`` of ``group`` (e.g. ``GenerationArgs``) with this script's own default; same help
    text, same heading in ``--help``::

        max_new_tokens: int = redefault(GenerationArgs, "max_new_tokens", 128)
    """
    return arg(default, **dict(group.__dataclass_fields__[name].metadata))


@dataclass
class ModelArgs:
    """Which model, in which precision, on which device (shared by every script that loads ChatGLM3)."""

    model: str | None = arg(None, "model folder or hub id in the local HF/ModelScope cache; default: "
                                  "$CHATGLM3_MODEL, $MODEL_PATH, else the built-in demo model", group="model")
    precision: str = arg("fp32", "weights precision (int8/int4: PyTorch kernels on CPU, bitsandbytes on CUDA; nf4: "
                                 "bitsandbytes NF4 everywhere, the QLoRA base)",
                         choices=PRECISIONS, group="model")
    device: str = arg("cpu", "where to run (auto = cuda > mps > cpu)", choices=DEVICES, group="model")
    threads: int = arg(0, "torch CPU threads (0 = PyTorch's default; on a busy laptop 1 can be several times "
                          "faster)", group="model")


@dataclass
class GenerationArgs:
    """Sampling flags for chat()/stream_chat() and the LangChain adapter."""

    max_new_tokens: int = arg(256, "at most this many new tokens", group="generation")
    temperature: float = arg(0.8, "sampling temperature; 0 = greedy", group="generation")
    top_p: float = arg(0.8, "nucleus sampling probability mass", group="generation")
    repetition_penalty: float = arg(1.0, ">1 discourages repeating tokens", group="generation")
    seed: int | None = arg(None, "random seed for reproducible sampling", group="generation")
    cpu_kernels: str = arg("plain", "CPU decoding kernels: plain = the readable default; fast = bf16/fp16: PyTorch's "
                                    "native gemv for one-token steps (same numbers); int8: fbgemm with int8 "
                                    "activations per token; int8/int4: int8 output layer; inference only; see "
                                    "common/cpu_kernels.py",
                           choices=KERNELS, group="model")


@dataclass
class ServerArgs:
    """Talk to a running OpenAI-compatible server instead of loading the model in-process (chapters 4-13)."""

    base_url: str | None = arg(None, "OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1 (the chapter-3 "
                                     "server, vLLM); default: run the model in-process", group="server")
    api_key: str | None = arg(None, "bearer key for --base-url (default: $CHATGLM3_API_KEY, $OPENAI_API_KEY)",
                              group="server")


# ============================================================================================ parsing
class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the docstring's line breaks (examples stay readable) and appends ``(default: X)`` once, only when
    there is a default worth showing and the help does not already mention it."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "%(default)" in text or "default" in text.lower() or action.default in (None, "", argparse.SUPPRESS):
            return text
        if action.option_strings and action.nargs != 0 and not isinstance(action, argparse.BooleanOptionalAction):
            return text + " (default: %(default)s)"
        if isinstance(action, argparse.BooleanOptionalAction):
            return text + " (default: %(default)s)"
        return text


def _scalar_type(annotation):
    """``int`` for ``int``/``int | None``/``"int | None"``; ``str`` when unsure."""
    if isinstance(annotation, str):
        names = [part.strip() for part in annotation.split("|") if part.strip() != "None"]
        name = names[0] if names else "str"
        if name.startswith(("list", "tuple")):
            return list
        return {"int": int, "float": float, "bool": bool, "str": str}.get(name, str)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    return args[0] if args else annotation


def build_parser(cls, description: str | None = None, skip: tuple[str, ...] = ()) -> argparse.ArgumentParser:
    """A parser with one flag per field of dataclass ``cls`` (except ``skip``); fields with ``group=`` metadata
    are listed under that heading in ``--help``."""
    parser = argparse.ArgumentParser(description=(description or "").strip() or None, formatter_class=HelpFormatter)
    groups: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        meta = dict(f.metadata)
        help_text = meta.pop("help", f.name.replace("_", " ")).replace("%", "%%")  # argparse formats help with %
        group_name = meta.pop("group", None)
        target = parser
        if group_name:
            target = groups.get(group_name) or groups.setdefault(group_name, parser.add_argument_group(group_name))
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        flag = "--" + f.name.replace("_", "-")
        kind = _scalar_type(f.type)
        if meta.pop("positional", False):      # arg(..., positional=True): `script.py "text"` (optional, nargs="?")
            target.add_argument(f.name, nargs="?", type=kind, default=default, help=help_text, **meta)
            continue
        if kind is bool:
            target.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=default,
                                help=help_text)
        elif isinstance(default, list) or kind is list:
            item = type(default[0]) if default else str
            target.add_argument(flag, dest=f.name, nargs=meta.pop("nargs", "+"), default=default, help=help_text,
                                type=meta.pop("type", item), **meta)
        else:
            target.add_argument(flag, dest=f.name, type=meta.pop("type", kind), default=default, help=help_text,
                                **meta)
    return parser


def parse(cls, description: str | None = None, argv=None):
    """Parse ``argv`` (default ``sys.argv``) into an instance of dataclass ``cls``."""
    return cls(**vars(build_parser(cls, description).parse_args(argv)))


def fail(message: str, code: int = 2) -> typing.NoReturn:
    """Print ``error: message`` (one line, the fix included) to stderr and exit."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(code)


def run(main: Callable, cls, description: str | None = None, argv=None):
    """The ``__main__`` block of every script: quiet known third-party noise, parse flags into ``cls``, call
    ``main(cfg)``; expected errors (UserError, a missing model or file, no CUDA) become one line, not a traceback."""
    from common.quiet import quiet_third_party

    quiet_third_party()
    cfg = parse(cls, description, argv)
    try:
        return main(cfg)
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except UserError as err:
        fail(str(err))
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as err:  # ModelNotFoundError is one too
        from common.errors import file_not_found_message
        fail(file_not_found_message(err))
    except ModuleNotFoundError as err:  # an optional package of an extra that is not installed
        from common.errors import missing_package_message
        message = missing_package_message(err)
        if message is None:
            raise
        fail(message)
    except RuntimeError as err:
        text = str(err)
        if "CUDA" in text or "--device" in text or "mps" in text:
            fail(text)
        raise


# ============================================================================================ using the flags
def apply_threads(cfg: Any) -> None:
    """``torch.set_num_threads(--threads)`` when the flag is set (> 0)."""
    threads = getattr(cfg, "threads", 0) or 0
    if threads < 0:
        raise UserError(f"--threads must be >= 0, got {threads}")
    if threads:
        import torch
        torch.set_num_threads(threads)


def model_from_args(cfg: Any, quiet: bool = False):
    """(model, tokenizer) for the parsed flags (prints the demo-model line when it applies)."""
    from .chatglm3 import load_model_and_tokenizer

    apply_threads(cfg)
    return load_model_and_tokenizer(getattr(cfg, "model", None), getattr(cfg, "precision", "fp32"),
                                    getattr(cfg, "device", "cpu"), quiet=quiet,
                                    kernels=getattr(cfg, "cpu_kernels", "plain"))


def sampling_kwargs(cfg: Any) -> dict:
    """chat()/stream_chat() keyword arguments for the parsed generation flags (seeds torch when --seed is set)."""
    seed = getattr(cfg, "seed", None)
    if seed is not None:
        import torch
        torch.manual_seed(seed)
    temperature = getattr(cfg, "temperature", 0.8)
    return {"max_new_tokens": getattr(cfg, "max_new_tokens", 256), "temperature": temperature,
            "top_p": getattr(cfg, "top_p", 0.8), "do_sample": temperature > 0,
            "repetition_penalty": getattr(cfg, "repetition_penalty", 1.0)}
