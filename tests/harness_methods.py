"""Methods and datasets used only by the harness tests (registered when this module is imported;
the worker imports it by name, like any method module outside baselines/)."""

from __future__ import annotations

import gc
import hashlib
import json
import time

import numpy as np

from benchmark.core.dataset import Dataset
from benchmark.core.method import Clusterer
from benchmark.core.registry import LoadContext, register_dataset, register_method
from benchmark.core.sequences import EventSequences


@register_dataset("test_tiny", kind="toy", n_clusters=2, version="1")
def test_tiny(ctx: LoadContext) -> Dataset:
    from generators.poisson_mixture import simulate_poisson_mixture

    return simulate_poisson_mixture(n_per_cluster=20, n_clusters=2, seed=1)


@register_dataset("test_tiny_shuffled", kind="toy", n_clusters=2, version="1")
def test_tiny_shuffled(ctx: LoadContext) -> Dataset:
    """Same events as test_tiny, labels permuted: outputs must not change."""
    from generators.poisson_mixture import simulate_poisson_mixture

    d = simulate_poisson_mixture(n_per_cluster=20, n_clusters=2, seed=1)
    return Dataset(d.sequences, np.random.default_rng(5).permutation(d.labels), d.meta)


@register_method("test-crash")
class Crash(Clusterer):
    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def fit(self, seqs):
        raise RuntimeError("deliberate crash in fit")


@register_method("test-sleep")
class Sleep(Clusterer):
    def __init__(self, seconds: float = 1.0, seed: int = 0) -> None:
        self.seconds = seconds
        self.seed = seed

    def fit(self, seqs):
        time.sleep(self.seconds)
        self.labels_ = np.zeros(len(seqs), dtype=np.int64)
        return self


@register_method("test-hog")
class Hog(Clusterer):
    def __init__(self, megabytes: int = 800, seed: int = 0) -> None:
        self.megabytes = megabytes
        self.seed = seed

    def fit(self, seqs):
        block = np.ones(self.megabytes * 2**20 // 8)  # touched, so resident
        time.sleep(10)
        self.labels_ = np.zeros(len(seqs), dtype=np.int64) + int(block[0])
        return self


@register_method("test-snoop")
class Snoop(Clusterer):
    """Tries every way it can think of to find labels; its output is a hash of what it saw."""

    outputs = ("labels", "embeddings")

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def fit(self, seqs: EventSequences):
        leaks = [type(o).__name__ for o in gc.get_objects() if isinstance(o, Dataset)]
        meta = json.dumps(seqs.meta, sort_keys=True, default=str)
        if leaks or "label" in meta.lower() or hasattr(seqs, "labels"):
            raise AssertionError(f"labels reachable from a method: {leaks} {meta}")
        h = hashlib.sha256(seqs.times.tobytes() + seqs.types.tobytes() + meta.encode())
        rng = np.random.default_rng(int(h.hexdigest()[:8], 16) + self.seed)
        self.labels_ = rng.integers(0, 2, size=len(seqs))
        return self

    def transform(self, seqs):
        return np.column_stack([seqs.lengths, seqs.last_times()]).astype(float)


@register_method("test-forger")
class Forger(Clusterer):
    """Writes malformed outputs itself and exits before the worker's own checks run."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def fit(self, seqs):
        import os
        from pathlib import Path

        np.save(Path("out") / "labels.npy", np.full(len(seqs), 0.5))
        (Path("out") / "result.json").write_text(json.dumps({"wall_time_s": 0.0}))
        os._exit(0)
