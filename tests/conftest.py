"""Shared fixtures: tiny official-format ChatGLM3 checkpoints built in the test session (seconds, CPU)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def pytest_configure(config):
    config.addinivalue_line("markers", "real_model: needs real ChatGLM3 weights via CHATGLM3_MODEL (skipped otherwise)")
    config.addinivalue_line("markers", "cuda: needs an NVIDIA GPU (skipped otherwise)")
    config.addinivalue_line("markers", "browser: drives Debian chromium through Playwright")


def pytest_collection_modifyitems(config, items):
    import torch
    real = os.environ.get("CHATGLM3_MODEL")
    from common.resolve import is_demo_model
    has_real = bool(real) and not is_demo_model(real)
    for item in items:
        if "real_model" in item.keywords and not has_real:
            item.add_marker(pytest.mark.skip(reason="set CHATGLM3_MODEL to real ChatGLM3 weights to run"))
        if "cuda" in item.keywords and not torch.cuda.is_available():
            item.add_marker(pytest.mark.skip(reason="no CUDA GPU"))


@pytest.fixture(scope="session")
def tiny_ckpt(tmp_path_factory) -> Path:
    """A tiny random official-format checkpoint (safetensors, one file)."""
    from common.testing import make_tiny_checkpoint
    return make_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "chatglm3-tiny", seed=0)


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_ckpt):
    from common.chatglm3 import load_tokenizer
    return load_tokenizer(tiny_ckpt)


@pytest.fixture(scope="session")
def tiny_model(tiny_ckpt):
    from common.chatglm3 import load_model
    return load_model(tiny_ckpt)


@pytest.fixture(scope="module")
def one_torch_thread():
    """torch on one CPU thread for a test module (``pytestmark = pytest.mark.usefixtures("one_torch_thread")``):
    the demo model is tiny, so one thread is as fast on an idle machine and several times faster on a busy one
    (two threads fighting other processes for two cores spin). Restored afterwards."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
