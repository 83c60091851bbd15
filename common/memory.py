"""Process memory readings the benchmarks share (Linux; psutil elsewhere)."""
from __future__ import annotations

import sys


def rss_bytes() -> int:
    """Resident memory of this process right now."""
    import psutil
    return psutil.Process().memory_info().rss


def peak_rss_bytes() -> int:
    """Largest resident memory this process has had so far (since :func:`reset_peak_rss` where supported).

    Linux: ``VmHWM`` of ``/proc/self/status`` — not ``ru_maxrss``, which a child process inherits from its parent
    (a benchmark's worker would report the parent's memory as its own peak). Elsewhere ``ru_maxrss``."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def reset_peak_rss() -> bool:
    """Make the peak equal to the current RSS (Linux: ``echo 5 > /proc/self/clear_refs``), so a later
    :func:`peak_rss_bytes` measures only what happens next; ``False`` where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def release_free_memory() -> bool:
    """Hand heap memory that was freed back to the operating system (glibc ``malloc_trim``): after a model's layers
    were converted one by one, the freed originals can otherwise stay counted as resident. ``False`` where there is
    no glibc (macOS, Windows, musl)."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes
    import ctypes.util
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.malloc_trim(0))
    except (OSError, AttributeError):
        return False
