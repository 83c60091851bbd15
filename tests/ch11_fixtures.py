"""Fixtures the chapter-11 test files share (imported by name into each file)."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """The demo model is tiny: one torch thread is as fast on an idle machine and many times faster on a busy one
    (two threads fighting other processes for two cores spin). Restored afterwards."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def demo_loaded():
    """(model, tokenizer) of the demo model, loaded once per test session (shared with the LangChain adapter)."""
    from common.langchain_chatglm3 import shared_model_and_tokenizer
    return shared_model_and_tokenizer(None, quiet=True)
