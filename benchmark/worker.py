"""Child process of one (method, dataset, seed) run: ``python -m benchmark.worker SPEC.json``.

It reads only the event sequences of the stored dataset (never ``labels.parquet``), strips
metadata down to name/source/time unit, fits the method, and writes into the spec's output
directory: ``labels.npy`` (int64, N), ``embeddings.npy`` (float32, N x d),
``probe_embeddings.npy`` (float32, N x d; a fresh fit on the first 90% of each sequence) and
``result.json`` (timings, peak RSS, the method's own label-free ``metrics_``).
"""

from __future__ import annotations

import importlib
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

from .process_memory import peak_rss_mb


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and of its finished child processes (a
    method may fit in a process pool, e.g. ``lal`` with ``n_jobs > 1``)."""
    return sum(ru.ru_utime + ru.ru_stime for ru in (resource.getrusage(resource.RUSAGE_SELF),
                                                    resource.getrusage(resource.RUSAGE_CHILDREN)))


def _check_labels(labels, n: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise ValueError(f"labels_ has shape {labels.shape}, expected ({n},)")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels_ must be integers, got dtype {labels.dtype}")
    return labels.astype(np.int64)


def _check_embeddings(emb, n: int) -> np.ndarray:
    emb = np.asarray(emb, dtype=np.float32)
    if emb.ndim != 2 or emb.shape[0] != n:
        raise ValueError(f"transform() returned shape {emb.shape}, expected ({n}, d)")
    if not np.isfinite(emb).all():
        raise ValueError("transform() returned non-finite values")
    return emb


def run(spec: dict) -> dict:
    from .metrics import probe_split
    from .registry import METHODS
    from .storage import load_sequences

    importlib.import_module(spec["method_module"])  # registers the method (and nothing else)
    cls = METHODS[spec["method"]]
    cls.check_dependencies()
    if "torch" in cls.requires and spec.get("threads"):
        import torch

        torch.set_num_threads(int(spec["threads"]))
    out = Path(spec["out_dir"])
    seqs = load_sequences(Path(spec["dataset_dir"])).without_meta()
    result: dict = {"n_sequences": len(seqs), "n_events": seqs.n_events}

    cpu0, wall0 = _cpu_seconds(), time.perf_counter()
    model = cls(**spec["params"]).fit(seqs)
    if "labels" in cls.outputs:
        np.save(out / "labels.npy", _check_labels(model.labels_, len(seqs)))
    if "embeddings" in cls.outputs:
        np.save(out / "embeddings.npy", _check_embeddings(model.transform(seqs), len(seqs)))
    result["wall_time_s"] = time.perf_counter() - wall0
    result["cpu_time_s"] = _cpu_seconds() - cpu0
    result["method_metrics"] = {k: float(v) for k, v in getattr(model, "metrics_", {}).items()}

    if spec.get("probe") and "embeddings" in cls.outputs:
        prefix, _ = probe_split(seqs)
        wall1 = time.perf_counter()
        probe_model = cls(**spec["params"]).fit(prefix)
        np.save(out / "probe_embeddings.npy",
                _check_embeddings(probe_model.transform(prefix), len(prefix)))
        result["probe_wall_time_s"] = time.perf_counter() - wall1
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text())
    result = run(spec)
    from .storage import write_atomic_json

    write_atomic_json(Path(spec["out_dir"]) / "result.json", result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
