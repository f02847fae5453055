"""benchmark.process_memory: keeping freed heap memory for reuse (glibc only)."""

from __future__ import annotations

import ctypes
import platform
import resource

import numpy as np
import pytest

from benchmark.process_memory import HEAP_REUSE_ENV, heap_kept_for_reuse

glibc = pytest.mark.skipif(
    not (platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"),
    reason="mallopt / page-fault accounting of glibc Linux")

BUFFER_BYTES = 40 << 20  # above glibc's largest dynamic mmap threshold (32 MiB)
PAGES = BUFFER_BYTES // 4096


def _faults_per_buffer(n_buffers: int = 4) -> float:
    """Minor page faults per malloc + touch + free of a 40 MiB buffer, after one warm-up."""
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]

    def cycle() -> None:
        buffer = libc.malloc(BUFFER_BYTES)
        assert buffer
        ctypes.memset(buffer, 1, BUFFER_BYTES)
        libc.free(buffer)

    cycle()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(n_buffers):
        cycle()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / n_buffers


@glibc
def test_freed_buffers_are_reused_inside_and_returned_after():
    with heap_kept_for_reuse():
        inside = _faults_per_buffer()
        with heap_kept_for_reuse():  # re-entrant: leaving the inner block keeps the setting
            pass
        nested = _faults_per_buffer()
    after = _faults_per_buffer()
    assert inside < 0.05 * PAGES and nested < 0.05 * PAGES
    assert after > 0.5 * PAGES  # defaults back: large buffers are mmap-ed and faulted afresh


@glibc
def test_environment_switch_turns_it_off(monkeypatch):
    monkeypatch.setenv(HEAP_REUSE_ENV, "0")
    with heap_kept_for_reuse():
        assert _faults_per_buffer() > 0.5 * PAGES


def test_lal_output_does_not_depend_on_heap_reuse(monkeypatch):
    pytest.importorskip("torch")
    from baselines.lal import LAL
    from generators.hawkes_synthetic import make_lal_dataset

    seqs = make_lal_dataset("exp", 2, n_per_cluster=40, seed=5).sequences
    params = dict(n_em_epochs=3, n_m_epochs=2, n_prune_epochs=1, hidden_size=16, seed=0)
    kept = LAL(**params).fit(seqs)
    monkeypatch.setenv(HEAP_REUSE_ENV, "0")
    default = LAL(**params).fit(seqs)
    np.testing.assert_array_equal(kept.labels_, default.labels_)
    np.testing.assert_array_equal(kept.transform(seqs), default.transform(seqs))
