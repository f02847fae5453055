"""Paired comparison of two results directories: does a parameter change help?

A *variant* results directory (e.g. ``leaderboard/variants/lal_cluster_scale``, runs of a method
with one non-default parameter) is compared with a *baseline* directory (by default the committed
``leaderboard/``) run by run: a pair is the same method, dataset and seed in both, so the data and
the method seed are the same and only the parameter differs. The seed spread of these methods
is often larger than the effect, which a comparison of means over different seeds would hide.

``python -m benchmark compare --results-dir leaderboard/variants/lal_cluster_scale`` prints, per
dataset, the variant's and the baseline's values of one metric on the paired seeds (with the
number of clusters found), the baseline's mean over all its seeds, the paper's number, and then
per seed how many datasets reach the paper in each, and the paired difference over all pairs
(mean, sample sd, t = mean / (sd / sqrt(n)), pairs better / worse / equal).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..core.registry import METRICS, discover
from .evaluate import GPU_SUFFIX, base_method, collect, dataset_order
from .report import load_paper_reference

EQUAL_TOL = 0.005
"""Paired differences within this are counted as equal (purity is printed to 3 decimals)."""


@dataclass
class Fit:
    """One run's value of the compared metric and the number of clusters it found (NaN if not
    recorded)."""

    value: float
    n_clusters: float


def fits(results_dir: Path, metric: str, methods: frozenset[str] | None = None
         ) -> dict[tuple[str, str, int], Fit]:
    """(method, dataset, seed) -> :class:`Fit` for the runs the leaderboard would use
    (:func:`benchmark.harness.evaluate.collect`) that have ``metric``."""
    values: dict[tuple[str, str, int], dict[str, Any]] = {}
    for row in collect(Path(results_dir)):
        key = (row["method"], row["dataset"], row["seed"])
        if methods is None or base_method(key[0]) in methods:  # "thp [gpu]": a GPU row of thp
            values.setdefault(key, {})[row["metric"]] = row["value"]
    return {key: Fit(float(v[metric]),
                     float(v.get("n_clusters_found", v.get("n_clusters", math.nan))))
            for key, v in values.items() if v.get(metric) is not None}


def paper_values(metric: str, method_map: dict[str, str]) -> dict[tuple[str, str], float]:
    """(method, dataset) -> the paper's mean of ``metric`` from ``leaderboard/paper_reference.csv``;
    ``method_map`` names the paper row to use for a method (``{"lal-ensemble": "lal"}``)."""
    ref = load_paper_reference()
    by_method: dict[str, dict[str, float]] = {}
    for r in ref[ref.metric == metric].itertuples(index=False):
        try:
            by_method.setdefault(r.method, {})[r.dataset] = float(r.mean)
        except ValueError:  # a printed value such as "—"
            continue
    methods = set(method_map) | set(by_method)
    return {(m, d): v for m in methods for d, v in by_method.get(method_map.get(m, m), {}).items()}


@dataclass
class PairedSummary:
    """What :func:`compare` found. ``rows``: one dict per (method, dataset) with paired seeds;
    ``per_seed``: seed -> (datasets, variant at paper, baseline at paper); ``diffs``: variant
    minus baseline per pair, signed so that positive is better."""

    metric: str
    higher_is_better: bool
    rows: list[dict]
    per_seed: dict[int, tuple[int, int, int]]
    diffs: np.ndarray

    @property
    def better(self) -> int:
        return int((self.diffs > EQUAL_TOL).sum())

    @property
    def worse(self) -> int:
        return int((self.diffs < -EQUAL_TOL).sum())

    @property
    def equal(self) -> int:
        return len(self.diffs) - self.better - self.worse

    @property
    def t_statistic(self) -> float:
        if len(self.diffs) < 2 or self.diffs.std(ddof=1) == 0:
            return math.nan
        return float(self.diffs.mean() / (self.diffs.std(ddof=1) / math.sqrt(len(self.diffs))))


def _reaches(value: float, paper: float, higher_is_better: bool) -> bool:
    return value >= paper if higher_is_better else value <= paper


def compare(variant_dir: Path, baseline_dir: Path, metric: str = "purity",
            methods: frozenset[str] | None = None,
            paper_method: dict[str, str] | None = None) -> PairedSummary:
    """Pair the runs of ``variant_dir`` with those of ``baseline_dir`` (same method, dataset and
    seed) on ``metric``. Raises ValueError for an unranked metric or when nothing pairs."""
    discover()
    spec = METRICS.get(metric)
    if spec is None or spec.higher_is_better is None:
        ranked = sorted(n for n, s in METRICS.items() if s.higher_is_better is not None)
        raise ValueError(f"metric {metric!r} is not a ranked metric; choose one of {ranked}")
    sign = 1.0 if spec.higher_is_better else -1.0
    variant, baseline = fits(variant_dir, metric, methods), fits(baseline_dir, metric, methods)
    for name, found, where in (("variant", variant, variant_dir), ("baseline", baseline, baseline_dir)):
        if not found:
            raise ValueError(f"{where}: no evaluated run with {metric!r} (the {name} directory "
                             f"needs runs/<method>/<dataset>/<run>/ with record.json and "
                             f"metrics.json; run `python -m benchmark evaluate` first)")
    pairs = sorted(set(variant) & set(baseline))
    if not pairs:
        raise ValueError(f"no run of {variant_dir} has a run of the same method, dataset and seed "
                         f"with {metric!r} in {baseline_dir}")
    paper = paper_values(metric, paper_method or {})
    paper.update({(m + GPU_SUFFIX, d): v for (m, d), v in list(paper.items())})  # GPU rows
    rows = []
    order = {d: i for i, d in enumerate(dataset_order(d for _, d, _ in pairs))}
    cells = sorted({(m, d) for m, d, _ in pairs}, key=lambda c: (c[0], order[c[1]]))
    for m, d in cells:
        seeds = [s for mm, dd, s in pairs if (mm, dd) == (m, d)]
        every = [f.value for (mm, dd, _), f in baseline.items() if (mm, dd) == (m, d)]
        rows.append({"method": m, "dataset": d, "seeds": seeds,
                     "variant": [variant[(m, d, s)] for s in seeds],
                     "baseline": [baseline[(m, d, s)] for s in seeds],
                     "variant_mean": float(np.mean([variant[(m, d, s)].value for s in seeds])),
                     "baseline_mean": float(np.mean([baseline[(m, d, s)].value for s in seeds])),
                     "baseline_all_mean": float(np.mean(every)), "baseline_all_n": len(every),
                     "paper": paper.get((m, d), math.nan)})
    per_seed = {}
    for seed in sorted({s for _, _, s in pairs}):
        keys = [k for k in pairs if k[2] == seed and not math.isnan(paper.get(k[:2], math.nan))]
        per_seed[seed] = (len(keys),
                          sum(_reaches(variant[k].value, paper[k[:2]], spec.higher_is_better)
                              for k in keys),
                          sum(_reaches(baseline[k].value, paper[k[:2]], spec.higher_is_better)
                              for k in keys))
    diffs = np.array([sign * (variant[k].value - baseline[k].value) for k in pairs])
    return PairedSummary(metric, spec.higher_is_better, rows, per_seed, diffs)


def _fits_text(fs: list[Fit]) -> str:
    return " ".join(f"{f.value:.3f}" + ("" if math.isnan(f.n_clusters) else f"({f.n_clusters:.0f})")
                    for f in fs)


def format_summary(s: PairedSummary) -> str:
    """The printed table of ``python -m benchmark compare``."""
    width = max([10] + [len(_fits_text(r[side])) for r in s.rows for side in ("variant", "baseline")])
    dwidth = max(len(r["dataset"]) for r in s.rows)
    head = (f"{'method':14s} {'dataset':{dwidth}s} {'variant per seed (K)':{width}s}  mean   "
            f"{'baseline, same seeds (K)':{width}s}  mean   all seeds (n)  paper")
    lines = [f"{s.metric}: variant and baseline runs paired by method, dataset and seed", head]
    for r in s.rows:
        paper = "" if math.isnan(r["paper"]) else f"{r['paper']:.2f}"
        lines.append(
            f"{r['method']:14s} {r['dataset']:{dwidth}s} {_fits_text(r['variant']):{width}s}  "
            f"{r['variant_mean']:.3f}  {_fits_text(r['baseline']):{width}s}  {r['baseline_mean']:.3f}"
            f"  {r['baseline_all_mean']:.3f} ({r['baseline_all_n']})    {paper}")
    for seed, (n, v, b) in s.per_seed.items():
        if n:
            lines.append(f"seed {seed}: {n} dataset(s) with a paper value; at or past it: "
                         f"variant {v}, baseline {b}")
    with_paper = [r for r in s.rows if not math.isnan(r["paper"])]
    if with_paper:
        up = s.higher_is_better
        v = sum(_reaches(r["variant_mean"], r["paper"], up) for r in with_paper)
        b = sum(_reaches(r["baseline_all_mean"], r["paper"], up) for r in with_paper)
        lines.append(f"means at or past the paper: variant (paired seeds) {v} of {len(with_paper)}, "
                     f"baseline (all its seeds) {b} of {len(with_paper)}")
    sd = s.diffs.std(ddof=1) if len(s.diffs) > 1 else math.nan
    lines.append(f"paired over {len(s.diffs)} run(s), variant minus baseline, positive = variant "
                 f"better: {s.diffs.mean():+.3f} (sd {sd:.3f}, "
                 f"t {s.t_statistic:.1f}); better {s.better}, worse {s.worse}, equal "
                 f"(|difference| <= {EQUAL_TOL}) {s.equal}")
    return "\n".join(lines)
