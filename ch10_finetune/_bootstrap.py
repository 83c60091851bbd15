"""Put the repository root on ``sys.path`` so ``python ch10_finetune/x.py`` (and ``accelerate launch
ch10_finetune/x.py``) can import ``common`` and ``ch10_finetune`` — Python only adds the script's own folder.
Imported first by every script of this chapter; a no-op when the repo is installed or run with ``-m``."""
import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
