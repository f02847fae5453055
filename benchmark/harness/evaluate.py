"""Compute metrics from stored raw outputs, apart from the methods' processes.

``evaluate_runs`` writes ``metrics.json`` into every finished run directory; ``collect`` gathers
per-seed values and ``aggregate`` gives the ``method,dataset,metric,mean,std,n_seeds`` table.
A new metric therefore needs no retraining: register it and run ``python -m benchmark evaluate``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..core.catalog import materialize
from ..core.dataset import DatasetUnavailable
from ..core.registry import DATASETS, METRICS, discover, get_method, get_metric
from ..core.storage import (
    DatasetIntegrityError,
    dataset_fingerprint,
    load_labels,
    load_sequences,
    write_atomic_json,
)
from .metrics import MetricInput, probe_split
from .results_store import METRICS_FILE, ResultsStore

RESULT_COLUMNS = ["method", "dataset", "metric", "mean", "std", "n_seeds"]
TABLE_FAMILIES = ("exp", "sin", "trunc")
"""Dataset families (``DatasetSpec.family``) whose sets lead the leaderboard's tables, in order."""


def dataset_order(names: Iterable[str]) -> list[str]:
    """Distinct dataset names in the order of the tables.

    Parameters
    ----------
    names : iterable of str
        Dataset names, repeats allowed.

    Returns
    -------
    list of str
        The registered sets of the synthetic families first (``DatasetSpec.family`` ``"exp"``,
        then ``"sin"``, then ``"trunc"``), then the other datasets (other families, none, or not
        registered here); by name within each group.
    """
    discover()

    def key(n: str):
        family = DATASETS[n].family if n in DATASETS else None
        return (TABLE_FAMILIES.index(family) if family in TABLE_FAMILIES else len(TABLE_FAMILIES),
                n)

    return sorted(set(names), key=key)


def _load(path: Path) -> np.ndarray | None:
    return np.load(path) if path.exists() else None


def evaluate_runs(results_dir: Path, data_dir: Path | None, cache_dir: Path,
                  log: Callable[[str], None] = print, force: bool = False,
                  skip: frozenset[str] = frozenset(),
                  methods: frozenset[str] | None = None) -> int:
    """Write metrics.json for each ok run; returns the number of runs whose metrics changed.

    Incremental: a metric already in a run's metrics.json is not recomputed unless ``force``.
    Metrics named in ``skip`` are left out this time (a later call without it adds them), e.g.
    the CatBoost probe, which costs seconds to minutes per run on wide embeddings. ``methods``
    limits the call to those methods' runs (``None``: all)."""
    discover()
    for name in skip:
        get_metric(name)  # unknown names raise UnknownNameError listing the known ones
    for name in methods or ():
        get_method(name)
    truth: dict[str, tuple[str, np.ndarray | None, np.ndarray | None]] = {}
    n = 0
    for run_dir, rec in ResultsStore(results_dir).iter_runs():
        if rec.get("status") != "ok" or (methods is not None and rec["method"] not in methods):
            continue
        ds = rec["dataset"]
        if ds not in truth:
            try:
                ddir = materialize(ds, data_dir, cache_dir)
                labels = load_labels(ddir)
                _, target = probe_split(load_sequences(ddir))
                truth[ds] = (dataset_fingerprint(ddir), labels, target)
            except (DatasetUnavailable, DatasetIntegrityError, KeyError) as e:
                log(f"cannot evaluate runs on {ds}: {e}")
                truth[ds] = ("", None, None)
        fingerprint, labels, target = truth[ds]
        if not fingerprint:
            continue
        if fingerprint != rec.get("dataset_fingerprint"):
            log(f"{run_dir}: dataset {ds} changed since the run (fingerprint differs); "
                "not evaluated")
            continue
        inp = MetricInput(
            labels_true=labels, labels_pred=_load(run_dir / "labels.npy"),
            embeddings=_load(run_dir / "embeddings.npy"),
            probe_embeddings=_load(run_dir / "probe_embeddings.npy"), probe_target=target,
            record=rec, seed=int(rec["seed"]),
        )
        mfile = run_dir / METRICS_FILE
        values = json.loads(mfile.read_text()) if mfile.exists() and not force else {}
        before = dict(values)
        for name, spec in METRICS.items():
            if name in values or name in skip:
                continue
            try:
                v = spec.fn(inp)
            except Exception as e:  # one broken metric must not stop the others
                log(f"{run_dir}: metric {name} failed: {type(e).__name__}: {e}")
                v = None
            if v is not None and np.isfinite(v):
                values[name] = float(v)
        for name, v in rec.get("method_metrics", {}).items():
            values.setdefault(name, v)
        if values != before or not mfile.exists():
            write_atomic_json(mfile, values)
            n += 1
            log(f"evaluated {run_dir.relative_to(results_dir)}: {len(values) - len(before)} new "
                f"metric(s)")
    return n


GPU_SUFFIX = " [gpu]"
"""Appended to a method's name for the board rows of its GPU runs (``thp [gpu]``): a GPU run and
a CPU run are never averaged into one cell."""


def run_device(rec: dict[str, Any]) -> str:
    """``"gpu"`` if the run's method ran on a GPU, else ``"cpu"``: its ``params.device`` names a
    CUDA device (``cuda``, ``cuda:1``, ``gpu``), or is ``auto`` on a machine whose ``hardware``
    lists a GPU. A machine with a GPU whose run asked for ``cpu`` is a CPU run."""
    device = str(rec.get("params", {}).get("device", "cpu")).lower()
    gpu_present = bool(rec.get("hardware", {}).get("gpu"))
    return "gpu" if (device.startswith("cuda") or device == "gpu"
                     or (device == "auto" and gpu_present)) else "cpu"


def board_method(rec: dict[str, Any]) -> str:
    """The leaderboard row of a run: its method's name, with :data:`GPU_SUFFIX` for a GPU run."""
    return rec["method"] + (GPU_SUFFIX if run_device(rec) == "gpu" else "")


def base_method(row: str) -> str:
    """The registered method of a leaderboard row (``"thp [gpu]"`` -> ``"thp"``)."""
    return row.removesuffix(GPU_SUFFIX)


def chosen_runs(results_dir: Path) -> dict[tuple[str, str, int], tuple[Path, dict[str, Any]]]:
    """The runs the tables use: (row, dataset, seed) -> (run dir, record), evaluated ok runs.

    ``row`` is the method's name, or for runs on a GPU the name with :data:`GPU_SUFFIX`
    (:func:`board_method`; ``rec["method"]`` keeps the registered name): GPU and CPU runs of a
    method are separate rows, never one averaged cell. One run counts per (row, dataset, seed):
    the paper profile wins over quick (where a method has paper runs on a dataset, on either
    device, its quick runs there are left out), and among equals the most recently finished run.
    """
    chosen: dict[tuple, tuple[Path, dict[str, Any]]] = {}
    for run_dir, rec in ResultsStore(results_dir).iter_runs():
        if rec.get("status") != "ok" or not (run_dir / METRICS_FILE).exists():
            continue
        key = (board_method(rec), rec["dataset"], rec["seed"])
        rank = (rec.get("profile") == "paper", rec.get("finished_at", ""))
        old = chosen.get(key)
        if old is None or rank > (old[1].get("profile") == "paper", old[1].get("finished_at", "")):
            chosen[key] = (run_dir, rec)
    # quick runs are dropped where the method has paper runs on the dataset on any device
    has_paper = {(r["method"], d) for (_, d, _), (_, r) in chosen.items()
                 if r.get("profile") == "paper"}
    return {key: (run_dir, rec) for key, (run_dir, rec) in sorted(chosen.items())
            if (rec["method"], key[1]) not in has_paper or rec.get("profile") == "paper"}


def collect(results_dir: Path, chosen: dict | None = None) -> list[dict[str, Any]]:
    """Per-run metric values of :func:`chosen_runs` (computed if not given): dicts with method
    (the board row: ``thp [gpu]`` for GPU runs), dataset, seed, profile, metric, value."""
    if chosen is None:
        chosen = chosen_runs(results_dir)
    rows = []
    for (m, d, seed), (run_dir, rec) in chosen.items():
        for metric, value in json.loads((run_dir / METRICS_FILE).read_text()).items():
            rows.append({"method": m, "dataset": d, "seed": seed, "profile": rec.get("profile"),
                         "metric": metric, "value": value})
    return rows


def aggregate(rows: list[dict[str, Any]]):
    """pandas DataFrame with columns ``method,dataset,metric,mean,std,n_seeds`` (sample std)."""
    import pandas as pd

    if not rows:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    df = pd.DataFrame(rows)
    g = df.groupby(["method", "dataset", "metric"])["value"]
    out = g.agg(mean="mean", std=lambda v: float(np.std(v, ddof=1)) if len(v) > 1 else 0.0,
                n_seeds="count").reset_index()
    return out[RESULT_COLUMNS].sort_values(["method", "dataset", "metric"]).reset_index(drop=True)


def failures(results_dir: Path) -> list[dict[str, Any]]:
    """Records of runs that did not finish ok (for the report)."""
    return [rec for _, rec in ResultsStore(results_dir).iter_runs() if rec.get("status") != "ok"]
