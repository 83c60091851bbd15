"""Every script in the chapter folders (and the data builders) answers --help and exits 0, without loading a model."""
from __future__ import annotations

import contextlib
import io
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
