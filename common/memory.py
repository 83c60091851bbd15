"""Process memory readings the benchmarks share (Linux; psutil elsewhere)."""
from __future__ import annotations

import sys


def rss_bytes() -> int:
    """Resident memory of this process right now."""
    import psutil
    return psutil.Process().memory_info().rss


def peak_rss_bytes() -> int:
    """Largest resident memory this process has had so far (``ru_maxrss``: KiB on Linux, bytes on macOS)."""
    import resource
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024
