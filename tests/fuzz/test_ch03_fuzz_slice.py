"""A short seeded slice of the chapter-3 fuzzer (``tests/fuzz/fuzz_ch03.py``; the full run is documented in
``ch03_gradio/README.md``): hostile model output never executes or crashes the parsers, malformed requests never
get a 5xx, and a normal request keeps being answered meanwhile."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fuzz_ch03  # noqa: E402


import logging  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _restore_chatglm3_log_level():
    """The harness quiets the 'chatglm3' logger for its thousands of invalid calls; later tests expect it back."""
    logger = logging.getLogger("chatglm3")
    level = logger.level
    yield
    logger.setLevel(level)


def test_parser_slice():
    res = fuzz_ch03.fuzz_parser(300, seed=1, big=False)
    assert res["inputs"] == 300 and res["executions"] == 0
    assert res["failures"] == 0, res["examples"]


def test_server_slice():
    res = fuzz_ch03.fuzz_server(80, seed=1, concurrency=4)
    assert res["requests"] == 80 and res["5xx"] == 0 and res["dropped"] == 0, res["examples"]
    assert res["normal_requests"] >= 1 and not res["normal_errors"], res["normal_errors"]
    assert res["health_after"] == 200
