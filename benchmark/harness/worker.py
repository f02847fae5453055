"""The method's process of one (method, dataset, seed) run: ``python -m benchmark.harness.worker``.

Started by the harness in a private working directory (see :mod:`benchmark.harness.sandbox`), it reads
``request.json`` there (``method``, ``method_module``, ``params``, ``probe``, ``threads``,
``events``: the path of the events file), fits the method on those events only and writes into
``out/``: ``labels.npy`` (int64, N), ``embeddings.npy`` (float32, N x d),
``probe_embeddings.npy`` (float32, N x d; a fresh fit on the first 90% of each sequence's time
span) and ``result.json`` (timings in seconds, peak RSS in MiB of this process, the method's own label-free
``metrics_``). The harness validates these before it stores them.
"""

from __future__ import annotations

import importlib
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

from ..core.process_memory import peak_rss_since_reset_mb


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


def fit_and_write(request: dict, seqs, out: Path) -> dict:
    """Fit ``request['method']`` on ``seqs`` and write its outputs into ``out``; return the
    result dict (also what ``result.json`` holds)."""
    from ..core.registry import METHODS
    from .metrics import probe_split

    importlib.import_module(request["method_module"])  # registers the method (and nothing else)
    if request["method"] not in METHODS:
        raise RuntimeError(f"importing {request['method_module']} did not register method "
                           f"{request['method']!r}")
    info = METHODS[request["method"]]
    info.check_dependencies()
    if "torch" in info.requires and request.get("threads"):
        import torch

        torch.set_num_threads(int(request["threads"]))
    result: dict = {"n_sequences": len(seqs), "n_events": seqs.n_events}

    cpu0, wall0 = _cpu_seconds(), time.perf_counter()
    model = info.create(**request["params"]).fit(seqs)
    if "labels" in info.outputs:
        np.save(out / "labels.npy", _check_labels(model.labels_, len(seqs)))
    if "embeddings" in info.outputs:
        np.save(out / "embeddings.npy", _check_embeddings(model.transform(seqs), len(seqs)))
    result["wall_time_s"] = time.perf_counter() - wall0
    result["cpu_time_s"] = _cpu_seconds() - cpu0
    result["method_metrics"] = {k: float(v) for k, v in getattr(model, "metrics_", {}).items()}

    if request.get("probe") and "embeddings" in info.outputs:
        prefix, _ = probe_split(seqs)
        wall1 = time.perf_counter()
        probe_model = info.create(**request["params"]).fit(prefix)
        np.save(out / "probe_embeddings.npy",
                _check_embeddings(probe_model.transform(prefix), len(prefix)))
        result["probe_wall_time_s"] = time.perf_counter() - wall1
    # VmHWM: this program's own high-water mark; ru_maxrss would also count the harness's
    # pages this process held between fork and exec (it survives exec)
    result["peak_rss_mb"] = peak_rss_since_reset_mb()
    return result


def main() -> int:
    from ..core.storage import write_atomic_json
    from .sandbox import read_events

    request = json.loads(Path("request.json").read_text())
    out = Path("out")
    out.mkdir(exist_ok=True)
    (Path.home()).mkdir(parents=True, exist_ok=True)
    result = fit_and_write(request, read_events(Path(request["events"])), out)
    write_atomic_json(out / "result.json", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
