"""Torch helpers shared by the neural baselines (not a method itself)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


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

