"""This process's memory: peak and current RSS, a resettable high-water mark, heap trimming.

Used by the ``perf`` commands (peak RSS of a fit) and by methods that stream over many chunks
(:func:`release_freed_memory`). Sizes are in MiB ("MB" in the printed tables).
"""

from __future__ import annotations

import resource
import sys
from functools import lru_cache


def peak_rss_mb() -> float:
    """High-water mark of resident memory since the process started (``ru_maxrss``)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def resident_mb() -> float:
    """Resident memory now (Linux ``VmRSS``), else the peak so far."""
    now = _proc_status_mb("VmRSS")
    return now if now is not None else peak_rss_mb()


def reset_peak_rss() -> None:
    """Start a new high-water mark at the current RSS (Linux ``clear_refs`` 5; else no-op)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def peak_rss_since_reset_mb() -> float:
    """High-water mark since the last :func:`reset_peak_rss` (Linux ``VmHWM``; elsewhere,
    where it cannot be reset, since the process started)."""
    peak = _proc_status_mb("VmHWM")
    return peak if peak is not None else peak_rss_mb()


def _proc_status_mb(field: str) -> float | None:
    """``VmRSS`` / ``VmHWM`` of this process in MiB from /proc (Linux), else None."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def release_freed_memory() -> None:
    """Hand freed heap pages back to the OS (glibc ``malloc_trim(0)``; a no-op elsewhere).

    Loops that allocate and free tens of MB per chunk (tensors and arrays of a streaming pass)
    leave glibc's heap fragmented once its mmap threshold has adapted upwards: freed chunks stay
    resident. Measured on LAL's labelling pass over 2·10^5 Huge sequences: RSS 896 -> 1585 MB
    over the pass without this call, 861 -> 803 MB with it (docs/lal.md, "Huge").
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@lru_cache(maxsize=1)
def _malloc_trim():
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc (macOS, musl without the symbol, Windows)
        return None
