"""Silence known third-party noise in one place, so a script's first lines are its own.

Only messages we have seen and judged harmless for a reader are filtered (each line says where it comes from);
our own warnings and every error stay visible. ``run()`` in ``common.cli`` calls :func:`quiet_third_party` before
anything heavy is imported; set ``CHATGLM3_VERBOSE=1`` to see everything.
"""
from __future__ import annotations

import logging
import os
import warnings

_done = False


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
    # FutureWarning/DeprecationWarning from libraries are about their next release, not the reader's code
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    # jieba: "pkg_resources is deprecated" on import
    warnings.filterwarnings("ignore", message=".*pkg_resources.*")
    # bitsandbytes >= 0.47 on CPU: tries an optional kernels-community download for gemm_4bit and logs a failure
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)
    # transformers' own advisory/info logging (generation flags, "Setting pad_token_id ...")
    logging.getLogger("transformers").setLevel(logging.ERROR)
    logging.getLogger("jieba").setLevel(logging.WARNING)
