"""Silence known third-party noise in one place, so a script's first lines are its own.

Only messages we have seen and judged harmless for a reader are filtered, each by its own text (the comment says
where it comes from and why it is harmless); our own warnings and every error stay visible. ``run()`` in
``common.cli`` calls :func:`quiet_third_party` before anything heavy is imported; set ``CHATGLM3_VERBOSE=1`` to see
everything.

To add a filter: run the script with ``CHATGLM3_VERBOSE=1``, copy the start of the noisy line into
``LOG_NOISE`` (a log record) or ``WARNING_NOISE`` (a ``warnings.warn`` message), with a comment.
"""
from __future__ import annotations

import logging
import os
import re
import warnings

_done = False

# logger name -> message starts that are dropped (a log record's unformatted ``msg``)
LOG_NOISE: dict[str, tuple[str, ...]] = {
    # bitsandbytes >= 0.47 on a CPU with AVX512-BF16: on import it tries an optional extra package (`kernels`,
    # which downloads a kernel from the Hub) for NF4 matmul and logs this when it is absent; bitsandbytes then uses
    # its built-in CPU kernel, and this repo uses PyTorch's own int4/int8 kernels on CPU anyway (common/quant.py)
    "bitsandbytes.backends.cpu.ops": ("Failed to load CPU gemm_4bit_forward",),
}

# (regex on the message, category) of ``warnings.warn`` calls that are dropped
WARNING_NOISE: tuple[tuple[str, type[Warning]], ...] = (
    # jieba (via setuptools): "pkg_resources is deprecated as an API" on import
    (r".*pkg_resources is deprecated", UserWarning),
    # torch: TypedStorage is deprecated (raised inside safetensors/transformers loading code, not ours)
    (r".*TypedStorage is deprecated", UserWarning),
)


class _DropMessages(logging.Filter):
    """Drops the log records of one logger whose message starts with one of ``starts``."""

    def __init__(self, starts: tuple[str, ...]):
        super().__init__()
        self.starts = starts

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.starts)


_shown_by = None  # the showwarning function that was in place before quiet_third_party()


def _is_noise(message, category) -> bool:
    if issubclass(category, (FutureWarning, DeprecationWarning)):
        return True
    text = str(message)
    return any(issubclass(category, cat) and re.match(pattern, text) for pattern, cat in WARNING_NOISE)


def _showwarning(message, category, filename, lineno, file=None, line=None):
    if not _is_noise(message, category):
        _shown_by(message, category, filename, lineno, file, line)


def quiet_third_party() -> None:
    """Filter known harmless third-party warnings and log lines (idempotent)."""
    global _done
    if _done or os.environ.get("CHATGLM3_VERBOSE"):
        return
    _done = True
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")   # gradio: no usage statistics
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("STREAMLIT_BROWSER_GATHER_USAGE_STATS", "false")
    # FutureWarning/DeprecationWarning are about a library's next release, not the reader's code (this repo raises
    # neither itself; a library's warning often points at our calling line, so a per-module filter would miss it)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    for pattern, category in WARNING_NOISE:
        warnings.filterwarnings("ignore", message=pattern, category=category)
    # some libraries re-enable their own warnings when imported (langchain_core turns LangChainDeprecationWarning, a
    # DeprecationWarning, back on with a filter placed before ours), so the same rules also apply where a warning is
    # finally shown
    global _shown_by
    if _shown_by is None:
        _shown_by = warnings.showwarning
        warnings.showwarning = _showwarning
    for name, starts in LOG_NOISE.items():
        logging.getLogger(name).addFilter(_DropMessages(starts))
    # transformers' own advisory/info logging (generation flags, "Setting pad_token_id ...")
    logging.getLogger("transformers").setLevel(logging.ERROR)
    logging.getLogger("jieba").setLevel(logging.WARNING)


def noise_lines(text: str) -> list[str]:
    """Lines of ``text`` that look like third-party noise (used by tests that check a script's first lines)."""
    pattern = re.compile(r"(FutureWarning|DeprecationWarning|UserWarning|Failed to load CPU gemm_4bit|"
                         r"warnings\.warn|pkg_resources|TypedStorage)")
    return [line for line in text.splitlines() if pattern.search(line)]
