"""Torch helpers shared by the neural baselines (not a method itself)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache


@contextmanager
def torch_threads(n_threads: int) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(n_threads)``, restoring the old value."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(old)


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
