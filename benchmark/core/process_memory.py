"""This process's memory: peak and current RSS, a resettable high-water mark, heap trimming,
and keeping freed heap memory for reuse during training loops.

Used by the ``perf`` commands (peak RSS of a fit) and by methods that stream over many chunks
(:func:`release_freed_memory`) or train many small steps (:func:`heap_kept_for_reuse`). Sizes
are in MiB ("MB" in the printed tables).
"""

from __future__ import annotations

import os
import resource
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

HEAP_REUSE_ENV = "EVSEQ_HEAP_REUSE"  # "0" switches heap_kept_for_reuse() off
# glibc mallopt() parameters and their defaults (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
_DEFAULT_TRIM_THRESHOLD, _DEFAULT_MMAP_MAX = 128 * 1024, 65536
_heap_reuse_depth = 0


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


@contextmanager
def heap_kept_for_reuse(max_kept_mb: int = 256) -> Iterator[None]:
    """Inside the block, glibc serves every allocation from its heap and keeps up to
    ``max_kept_mb`` of freed memory there for reuse (``mallopt``: ``M_MMAP_MAX`` 0,
    ``M_TRIM_THRESHOLD``); on leaving, the defaults come back and the freed pages are handed
    back to the OS (:func:`release_freed_memory`). A no-op off glibc, or with the environment
    variable ``EVSEQ_HEAP_REUSE=0``. Re-entrant; process-wide while active.

    Why: a CPU training step of a recurrent network allocates and frees hundreds of
    short-lived tensors of up to tens of MB. With glibc's defaults the large ones are mmap-ed
    and unmapped again, or the heap top is trimmed after them, so every step faults the same
    pages in afresh: one LSTM forward + backward (batch 250, 100 steps, hidden 64, one thread)
    took 14 600 minor page faults and 0.10 CPU s, against none and 0.06 s inside this block; a
    LAL EM epoch at K 5 takes 1.55x (one thread) to 1.87x (two) less time. The price is the
    kept memory: the peak RSS of a one-thread EM epoch rose from 865 to 930–1 030 MB
    (docs/lal.md, "Heap reuse"). Keeping less than about 96 MB lost the gain. The numbers
    computed do not change.
    """
    global _heap_reuse_depth
    mallopt = _libc_function("mallopt")
    if mallopt is None or os.environ.get(HEAP_REUSE_ENV, "1") == "0":
        yield
        return
    if _heap_reuse_depth == 0:
        mallopt(_M_MMAP_MAX, 0)
        mallopt(_M_TRIM_THRESHOLD, max_kept_mb << 20)
    _heap_reuse_depth += 1
    try:
        yield
    finally:
        _heap_reuse_depth -= 1
        if _heap_reuse_depth == 0:
            mallopt(_M_MMAP_MAX, _DEFAULT_MMAP_MAX)
            mallopt(_M_TRIM_THRESHOLD, _DEFAULT_TRIM_THRESHOLD)
            release_freed_memory()


def _malloc_trim():
    return _libc_function("malloc_trim")


@lru_cache(maxsize=None)
def _libc_function(name: str):
    """A glibc function by name, or None where there is none (macOS, musl, Windows)."""
    import ctypes
    import ctypes.util

    library = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(library), name) if library else None
    except (OSError, AttributeError):
        return None
