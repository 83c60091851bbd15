"""Command lines built from the dataclass each script's ``main(cfg)`` takes (one source for defaults and help).

Every field of the dataclass becomes a flag (``max_steps`` -> ``--max-steps``) with the field's
``metadata["help"]``; booleans get ``--x / --no-x``. Tests build the dataclass directly and call ``main(cfg)``.
"""
from __future__ import annotations

import argparse
import dataclasses
import typing


def arg(default, help: str, **kwargs):
    """A dataclass field with a help text (``kwargs`` go to ``argparse``: ``choices``, ``nargs``...)."""
    if isinstance(default, (list, dict, set)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata={"help": help, **kwargs})
    return dataclasses.field(default=default, metadata={"help": help, **kwargs})


def _scalar_type(annotation):
    """``int`` for ``int``/``int | None``/``"int | None"``; ``str`` when unsure."""
    if isinstance(annotation, str):
        names = [part.strip() for part in annotation.split("|") if part.strip() != "None"]
        return {"int": int, "float": float, "bool": bool, "str": str}.get(names[0] if names else "str", str)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    return args[0] if args else annotation


def build_parser(cls, description: str, skip: tuple[str, ...] = ()) -> argparse.ArgumentParser:
    """An ``ArgumentDefaultsHelpFormatter`` parser with one flag per field of dataclass ``cls`` (except ``skip``,
    for flags added by another helper such as ``common.cli.add_model_args``)."""
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        meta = dict(f.metadata)
        help_text = meta.pop("help", f.name.replace("_", " ")).replace("%", "%%")  # argparse formats help with %
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        flag = "--" + f.name.replace("_", "-")
        kind = _scalar_type(f.type)
        if kind is bool:
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=default,
                                help=help_text)
        elif isinstance(default, list):
            parser.add_argument(flag, dest=f.name, nargs=meta.pop("nargs", "+"), default=default, help=help_text,
                                type=type(default[0]) if default else str, **meta)
        else:
            parser.add_argument(flag, dest=f.name, type=kind, default=default, help=help_text, **meta)
    return parser


def parse(cls, description: str, argv=None):
    """Parse ``argv`` (default ``sys.argv``) into an instance of dataclass ``cls``."""
    return cls(**vars(build_parser(cls, description).parse_args(argv)))
