"""Compare fresh results against committed reference results.

Quality metrics (registered with a direction) regress when they move the wrong way by more than
``abs_tol + n_std * reference std``; cost metrics (time, memory: lower is better) when they grow
by more than the factor ``cost_factor`` (machines differ, so this is loose). Informational metrics
(direction ``None``) are not compared. Pairs present on one side only are listed, not failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.registry import METRICS, discover

COST_METRICS = {"wall_time_s", "cpu_time_s", "peak_rss_mb"}


@dataclass
class Regression:
    method: str
    dataset: str
    metric: str
    reference: float
    current: float
    allowed: float

    def __str__(self) -> str:
        return (f"{self.method} on {self.dataset}: {self.metric} {self.current:.4g} vs reference "
                f"{self.reference:.4g} (allowed {self.allowed:.4g})")


def compare(reference, current, *, abs_tol: float = 0.05, n_std: float = 2.0,
            cost_factor: float = 3.0, include_cost: bool = True) -> tuple[list[Regression], int]:
    """Return (regressions, number of compared values) for two results tables (DataFrames)."""
    discover()
    merged = reference.merge(current, on=["method", "dataset", "metric"], suffixes=("_ref", "_cur"))
    regressions, compared = [], 0
    for r in merged.itertuples(index=False):
        spec = METRICS.get(r.metric)
        if spec is None or spec.higher_is_better is None:
            continue
        ref, cur = float(r.mean_ref), float(r.mean_cur)
        if np.isnan(ref) or np.isnan(cur):
            continue
        if r.metric in COST_METRICS:
            if not include_cost:
                continue
            allowed = ref * cost_factor + 1.0
            bad = cur > allowed
        else:
            std = 0.0 if np.isnan(r.std_ref) else float(r.std_ref)
            tol = abs_tol + n_std * std
            allowed = ref - tol if spec.higher_is_better else ref + tol
            bad = cur < allowed if spec.higher_is_better else cur > allowed
        compared += 1
        if bad:
            regressions.append(Regression(r.method, r.dataset, r.metric, ref, cur, allowed))
    return regressions, compared


def regress(reference_csv: Path, current_csv: Path, **kw) -> tuple[list[Regression], int]:
    import pandas as pd

    for f in (reference_csv, current_csv):
        if not Path(f).exists():
            raise FileNotFoundError(f"{f}: no results table (run `python -m benchmark report` first)")
    return compare(pd.read_csv(reference_csv), pd.read_csv(current_csv), **kw)
