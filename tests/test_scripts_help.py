"""Every script in the chapter folders (and the data builders) answers --help and exits 0, without loading a model."""
from __future__ import annotations

import contextlib
import io
import re
import runpy
import sys

import pytest

from common.paths import REPO_ROOT

SCRIPTS = sorted(p for pattern in ("ch*/**/*.py", "data/**/*.py", "appendix*/**/*.py", "common/convert_checkpoint.py")
                 for p in REPO_ROOT.glob(pattern)
                 if p.name != "__init__.py" and "__pycache__" not in p.parts
                 and "if __name__ == \"__main__\":" in p.read_text(encoding="utf-8"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[str(p.relative_to(REPO_ROOT)) for p in SCRIPTS])
def test_help(script, monkeypatch):
    monkeypatch.setattr(sys, "argv", [str(script), "--help"])
    monkeypatch.syspath_prepend(str(script.parent))
    out = io.StringIO()
    with pytest.raises(SystemExit) as exc, contextlib.redirect_stdout(out):
        runpy.run_path(str(script), run_name="__main__")
    assert exc.value.code in (0, None), out.getvalue()
    assert "usage" in out.getvalue().lower()


MODEL_FLAGS = ("--model", "--precision", "--device", "--threads")
LOADS_A_MODEL = re.compile(r"\b(load_model|load_model_and_tokenizer|model_from_args|make_backend|load_with_adapter)\(")
# scripts that load only a checkpoint they build themselves, never the reader's model
OWN_CHECKPOINT_ONLY = {"ch03_gradio/server/scripted.py"}
MODEL_SCRIPTS = [p for p in SCRIPTS if LOADS_A_MODEL.search(p.read_text(encoding="utf-8"))
                 and str(p.relative_to(REPO_ROOT)) not in OWN_CHECKPOINT_ONLY]


@pytest.mark.parametrize("script", MODEL_SCRIPTS, ids=[str(p.relative_to(REPO_ROOT)) for p in MODEL_SCRIPTS])
def test_scripts_that_load_chatglm3_share_the_model_flags(script, monkeypatch):
    """The rule: a script that loads a ChatGLM3 model (it calls load_model / load_model_and_tokenizer /
    model_from_args, directly or through make_backend / load_with_adapter) has a Config inheriting
    common.cli.ModelArgs, so its --help lists --model --precision --device --threads."""
    monkeypatch.setattr(sys, "argv", [str(script), "--help"])
    monkeypatch.syspath_prepend(str(script.parent))
    out = io.StringIO()
    with pytest.raises(SystemExit), contextlib.redirect_stdout(out):
        runpy.run_path(str(script), run_name="__main__")
    missing = [flag for flag in MODEL_FLAGS if flag not in out.getvalue()]
    assert not missing, f"{script.name} loads a model but --help lacks {missing}: inherit common.cli.ModelArgs"


def test_no_script_writes_its_own_argument_parser():
    """One configuration style: flags come from a dataclass through common.cli (never a hand-written parser)."""
    offenders = [str(p.relative_to(REPO_ROOT)) for p in SCRIPTS
                 if re.search(r"\bArgumentParser\(|\.add_argument\(", p.read_text(encoding="utf-8"))]
    assert not offenders, offenders
