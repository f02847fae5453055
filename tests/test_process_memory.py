"""benchmark.core.process_memory: keeping freed heap memory for reuse (glibc only)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmark.core.process_memory import HEAP_REUSE_ENV

glibc = pytest.mark.skipif(
    not (platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"),
    reason="mallopt / page-fault accounting of glibc Linux")
REPO = Path(__file__).resolve().parents[1]

BUFFER_BYTES = 40 << 20  # above glibc's largest dynamic mmap threshold (32 MiB)
PAGES = BUFFER_BYTES // 4096

# Run in a fresh interpreter: whether a 40 MiB malloc is mmap-ed (and faulted afresh) or served
# from free heap space depends on what the process allocated before, e.g. earlier tests.
PROBE = r"""
import ctypes, json, resource, sys
from benchmark.core.process_memory import heap_kept_for_reuse

libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
SIZE = int(sys.argv[1])

def faults_per_buffer(n=4):
    def cycle():
        buffer = libc.malloc(SIZE)
        assert buffer
        ctypes.memset(buffer, 1, SIZE)
        libc.free(buffer)
    cycle()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(n):
        cycle()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / n

out = {}
with heap_kept_for_reuse():
    out["inside"] = faults_per_buffer()
    with heap_kept_for_reuse():  # re-entrant: leaving the inner block keeps the setting
        pass
    out["nested"] = faults_per_buffer()
out["after"] = faults_per_buffer()
print(json.dumps(out))
"""


def _probe(env: dict[str, str] | None = None) -> dict[str, float]:
    """Minor page faults per malloc + touch + free of a 40 MiB buffer inside the block, inside
    after a nested block has ended, and after the block, in a fresh interpreter."""
    result = subprocess.run([sys.executable, "-c", PROBE, str(BUFFER_BYTES)], check=True,
                            capture_output=True, text=True, cwd=REPO,
                            env={**os.environ, **(env or {})})
    return json.loads(result.stdout)


@glibc
def test_freed_buffers_are_reused_inside_and_returned_after():
    faults = _probe()
    assert faults["inside"] < 0.05 * PAGES and faults["nested"] < 0.05 * PAGES
    assert faults["after"] > 0.5 * PAGES  # defaults back: large buffers mmap-ed and faulted afresh


@glibc
def test_environment_switch_turns_it_off():
    assert _probe({HEAP_REUSE_ENV: "0"})["inside"] > 0.5 * PAGES


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
