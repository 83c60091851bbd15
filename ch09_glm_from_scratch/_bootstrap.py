"""Make ``common`` and ``ch09_glm_from_scratch`` importable when a script runs as ``python ch09_glm_from_scratch/x.py``.

Python puts the script's own folder on ``sys.path``, not the repository root; each script imports this tiny
module first (``import _bootstrap`` only works in that situation, which is exactly when it is needed).
"""
import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
