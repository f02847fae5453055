"""Regression checks: fresh results against a reference table, and committed cells rerun.

Two uses (``python -m benchmark regress``):

* **Results vs a reference table** (``--reference R --results-dir D`` or ``--current C``):
  :func:`compare` two ``method,dataset,metric,mean,std,n_seeds`` tables. Quality metrics
  (registered with a direction) regress when they move the wrong way by more than
  ``abs_tol + n_std * reference std``; cost metrics (time, memory: lower is better) when they
  grow by :func:`cost_allowed`. Informational metrics (direction ``None``) are not compared.
  The current table of ``D`` is aggregated in memory: nothing is written into ``D``, so
  ``--reference D/results.csv --results-dir D`` compares the file with what the runs say.
* **Committed cells rerun** (``--committed leaderboard [--sample leaderboard/regress_sample.toml]``,
  ``make regress``): :func:`check_tables` rebuilds ``results.csv``, ``per_seed.csv`` (and ``draws.csv``) from the
  committed runs into a temporary directory and names every row that differs from the committed
  files; :func:`rerun_sample` reruns each sampled (method, dataset, seed, profile) cell with the
  committed run's parameters, probe flag and thread count into a separate results directory,
  evaluates it, and compares every value of the committed ``metrics.json`` and ``per_seed.csv``
  row with the rerun's (:func:`compare_values`).

Cost tolerance (both uses): a cost value "grew ``f``-fold" when ``new >= f * old`` *and*
``new - old >= floor`` (:data:`COST_FLOOR`: 0.02 s, 20 MiB), i.e. relative at every scale, the
floor only keeping sub-0.02 s timer noise out. In a sample rerun, growth of
:data:`COST_WARN_FACTOR` (2x) warns and :data:`COST_FAIL_FACTOR` (5x) fails.
"""

from __future__ import annotations

import csv
import heapq
import io
import json
import math
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.registry import METRICS, discover

COST_METRICS = {"wall_time_s", "cpu_time_s", "peak_rss_mb"}
"""Registered cost metrics (lower is better, machine-dependent)."""
COST_FLOOR = {"peak_rss_mb": 20.0}
"""Smallest growth (in the metric's unit) that counts as cost growth; time metrics: 0.02 s."""
TIME_FLOOR_S = 0.02
COST_WARN_FACTOR = 2.0
COST_FAIL_FACTOR = 5.0
QUALITY_ABS_TOL = 1e-6
"""Tolerance of a rerun's registered quality metrics (purity, ARI, ROC-AUC ...): absolute."""
OTHER_REL_TOL = 1e-6
"""Other values (methods' own metrics: BIC, log-likelihood ...): ``QUALITY_ABS_TOL`` plus this
relative tolerance."""


def is_cost_metric(name: str) -> bool:
    """Time and memory: the registered cost metrics and methods' own timings
    (``seconds_per_*``, ``*_time_s``)."""
    return name in COST_METRICS or name.startswith("seconds_per_") or name.endswith("_time_s")


def cost_floor(name: str) -> float:
    """:data:`COST_FLOOR` of a cost metric (time metrics: :data:`TIME_FLOOR_S`)."""
    return COST_FLOOR.get(name, TIME_FLOOR_S)


def cost_allowed(old: float, factor: float, floor: float) -> float:
    """The smallest value that counts as ``factor``-fold growth of ``old``: ``max(factor * old,
    old + floor)`` (relative at every scale; the absolute floor only matters below
    ``floor / (factor - 1)``)."""
    return max(factor * old, old + floor)


def cost_grew(old: float, new: float, factor: float, floor: float) -> bool:
    """Whether ``new`` is at least ``factor`` times ``old`` and at least ``floor`` above it."""
    return new >= cost_allowed(old, factor, floor) * (1 - 1e-9)


# ------------------------------------------------------------------ tables vs a reference
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
    """Return (regressions, number of compared values) for two results tables (DataFrames).

    A cost metric regresses when it grew ``cost_factor``-fold (:func:`cost_grew`, with
    :func:`cost_floor`)."""
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
            floor = cost_floor(r.metric)
            allowed = cost_allowed(ref, cost_factor, floor)
            bad = cost_grew(ref, cur, cost_factor, floor)
        else:
            std = 0.0 if np.isnan(r.std_ref) else float(r.std_ref)
            tol = abs_tol + n_std * std
            allowed = ref - tol if spec.higher_is_better else ref + tol
            bad = cur < allowed if spec.higher_is_better else cur > allowed
        compared += 1
        if bad:
            regressions.append(Regression(r.method, r.dataset, r.metric, ref, cur, allowed))
    return regressions, compared


def regress(reference_csv: Path, current, **kw) -> tuple[list[Regression], int]:
    """:func:`compare` a reference ``results.csv`` with ``current``: another ``results.csv``
    path, or a DataFrame (e.g. aggregated in memory from a results directory)."""
    import pandas as pd

    files = [reference_csv] + ([] if isinstance(current, pd.DataFrame) else [current])
    for f in files:
        if not Path(f).exists():
            raise FileNotFoundError(f"{f}: no results table "
                                    "(run `python -m benchmark report` first)")
    cur = current if isinstance(current, pd.DataFrame) else pd.read_csv(current)
    return compare(pd.read_csv(reference_csv), cur, **kw)


def current_table(results_dir: Path):
    """The ``results.csv`` table of a results directory's runs, in memory (nothing written)."""
    from .evaluate import RESULT_COLUMNS, aggregate, collect

    return aggregate(collect(Path(results_dir)))[RESULT_COLUMNS]


# ------------------------------------------------------------ committed tables vs rebuilt
PLAN_FILE = "plan.toml"
"""The board's plan in a committed directory (``leaderboard/plan.toml``), used when present."""
TABLE_KEYS = {"results.csv": 3, "per_seed.csv": 4, "draws.csv": 3}
"""Committed tables checked against a rebuild, and how many leading columns identify a row
(``method,dataset,metric`` / ``method,dataset,seed,profile`` / ``method,dataset,draw``;
``draws.csv`` only where the board has draw runs)."""


def _rows(text: str, n_key: int) -> tuple[list[str], dict[tuple, dict[str, str]]]:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, [])
    rows: dict[tuple, dict[str, str]] = {}
    for row in reader:
        rows[tuple(row[:n_key])] = dict(zip(header, row))
    return header, rows


def diff_table(name: str, committed: str, rebuilt: str, n_key: int, limit: int = 50) -> list[str]:
    """Lines naming each row of ``committed`` (CSV text) that differs from ``rebuilt``: changed
    fields with both values, rows only in one of them; ``[]`` when the texts are identical."""
    if committed == rebuilt:
        return []
    h1, r1 = _rows(committed, n_key)
    h2, r2 = _rows(rebuilt, n_key)
    out = []
    if h1 != h2:
        out.append(f"{name}: columns differ: committed {','.join(h1)} / rebuilt {','.join(h2)}")
    ids = h1[:n_key]
    for key in list(r1) + [k for k in r2 if k not in r1]:
        where = f"{name}: " + ", ".join(f"{i}={v}" for i, v in zip(ids, key))
        if key not in r2:
            out.append(f"{where}: row only in the committed file")
        elif key not in r1:
            out.append(f"{where}: row missing from the committed file")
        elif r1[key] != r2[key]:
            fields = [f for f in dict.fromkeys(list(r1[key]) + list(r2[key]))
                      if r1[key].get(f) != r2[key].get(f)]
            out.append(f"{where}: " + "; ".join(
                f"{f} committed {r1[key].get(f, '(absent)')} rebuilt {r2[key].get(f, '(absent)')}"
                for f in fields))
    if not out:
        out.append(f"{name}: same rows, but the file differs in order or formatting")
    if len(out) > limit:
        out = out[:limit] + [f"{name}: ... {len(out) - limit} more difference(s)"]
    return out


def load_board_plan(committed: Path, plan_path: Path | None = None):
    """The board's plan: ``plan_path``, else ``committed/plan.toml`` when it exists, else None
    (a :class:`benchmark.harness.plan.BoardPlan`)."""
    path = Path(plan_path) if plan_path is not None else Path(committed) / PLAN_FILE
    if plan_path is None and not path.exists():
        return None
    from .plan import load_plan

    return load_plan(path)


def check_tables(committed: Path, work: Path | None = None, plan=None) -> list[str]:
    """Rebuild the report of the committed runs in ``committed`` into a temporary directory
    (:func:`benchmark.harness.report.build_report`, with the board's ``plan`` when there is one,
    as ``make leaderboard`` renders it; nothing in ``committed`` is written) and compare its
    ``results.csv``, ``per_seed.csv`` and ``draws.csv`` (:data:`TABLE_KEYS`) byte for byte with
    the committed files.

    Returns
    -------
    list of str
        One line per differing row (see :func:`diff_table`); empty when both match.
    """
    from .report import build_report

    committed = Path(committed)
    with tempfile.TemporaryDirectory(prefix="regress-report-", dir=work) as tmp:
        out = (build_report(committed, Path(tmp) / "report") if plan is None else
               build_report(committed, Path(tmp) / "report", plan=plan))
        problems = []
        for name, n_key in TABLE_KEYS.items():
            mine = committed / name
            if name == "draws.csv" and not mine.exists() and not (out / name).exists():
                continue
            if not mine.exists():
                problems.append(f"{name}: missing from {committed}")
                continue
            problems += diff_table(name, mine.read_text(), (out / name).read_text(), n_key)
    return problems


def check_plan(committed: Path, plan) -> list[str]:
    """Lines naming each run the plan declares (cells not marked pending) that is no longer
    found among the committed runs (:meth:`benchmark.harness.plan.BoardPlan.board`)."""
    board = plan.board(Path(committed))
    return [f"plan {e.cell.label} declares {e.method} on {e.dataset} seed {e.seed}: no committed "
            "run found (moved, re-keyed or not evaluated?)" for e in board.missing]


# ----------------------------------------------------------------------- the sample file
@dataclass(frozen=True)
class SampleCell:
    """One committed (method, dataset, seed, profile) cell to rerun."""

    method: str
    dataset: str
    seed: int
    profile: str = "paper"

    def __str__(self) -> str:
        return f"{self.method} on {self.dataset} seed {self.seed}"


@dataclass
class Sample:
    cells: list[SampleCell]
    budget_s: float | None = None
    deterministic_methods: list[str] = field(default_factory=list)


def load_sample(path: Path) -> Sample:
    """Read a sample file (TOML): optional ``budget_s`` (wall-time budget of the reruns),
    ``deterministic_methods`` (the methods the sample must cover) and ``[[cell]]`` tables with
    ``method``, ``dataset``, ``seed`` and ``profile`` (default ``paper``); other keys (notes)
    are ignored. Raises ValueError naming the problem."""
    import tomllib

    try:
        data = tomllib.loads(Path(path).read_text())
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{path}: not valid TOML: {e}") from None
    cells = []
    for i, c in enumerate(data.get("cell", [])):
        missing = [k for k in ("method", "dataset", "seed") if k not in c]
        if missing:
            raise ValueError(f"{path}: cell {i + 1} lacks {', '.join(missing)}")
        if not isinstance(c["seed"], int):
            raise ValueError(f"{path}: cell {i + 1}: seed must be an integer")  # noqa: TRY004
        cells.append(SampleCell(str(c["method"]), str(c["dataset"]), int(c["seed"]),
                                str(c.get("profile", "paper"))))
    if not cells:
        raise ValueError(f"{path}: no [[cell]] entries")
    if len(set(cells)) != len(cells):
        raise ValueError(f"{path}: a cell is listed twice")
    uncovered = set(data.get("deterministic_methods", [])) - {c.method for c in cells}
    if uncovered:
        raise ValueError(f"{path}: no cell for deterministic method(s) "
                         f"{', '.join(sorted(uncovered))}")
    budget = data.get("budget_s")
    return Sample(cells, float(budget) if budget is not None else None,
                  list(data.get("deterministic_methods", [])))


# ---------------------------------------------------------------------- rerunning cells
@dataclass
class Finding:
    """One compared value of a rerun cell (or a problem with the cell): ``level`` is ``FAIL``,
    ``WARN`` or ``ok``."""

    level: str
    cell: SampleCell
    metric: str = ""
    old: float | None = None
    new: float | None = None
    note: str = ""

    def __str__(self) -> str:
        head = f"{self.cell.method} on {self.cell.dataset} seed {self.cell.seed}"
        if not self.metric:
            return f"{head}: {self.note}"
        fmt = (lambda v: "absent" if v is None else f"{v:.10g}")
        return (f"{head}: {self.metric} committed {fmt(self.old)} now {fmt(self.new)}"
                + (f" ({self.note})" if self.note else ""))


def compare_values(cell: SampleCell, old: dict[str, float], new: dict[str, float],
                   source: str = "metrics.json") -> list[Finding]:
    """Compare a committed run's values (``old``, from ``source``) with its rerun's (``new``).

    Registered quality metrics: ``|new - old| <= QUALITY_ABS_TOL``; other non-cost values: plus
    ``OTHER_REL_TOL * |old|``; cost metrics (:func:`is_cost_metric`): WARN at
    :data:`COST_WARN_FACTOR`-fold growth, FAIL at :data:`COST_FAIL_FACTOR`-fold (with
    :func:`cost_floor`). A committed value the rerun lacks fails; values only in ``new`` are
    ignored (metrics added since the commit)."""
    discover()
    out = []
    for name, o in old.items():
        o = None if o is None or (isinstance(o, float) and math.isnan(o)) else float(o)
        if o is None:
            continue
        n = new.get(name)
        n = None if n is None or math.isnan(float(n)) else float(n)
        if n is None:
            out.append(Finding("FAIL", cell, name, o, None, f"{source}: not computed by the rerun"))
            continue
        if is_cost_metric(name):
            floor = cost_floor(name)
            level = ("FAIL" if cost_grew(o, n, COST_FAIL_FACTOR, floor) else
                     "WARN" if cost_grew(o, n, COST_WARN_FACTOR, floor) else "ok")
            note = f"{n / o:.1f}x" if o > 0 else ""
            if level != "ok":
                note += (f", fails at >= {COST_FAIL_FACTOR:g}x" if level == "WARN" else
                         f" >= {COST_FAIL_FACTOR:g}x") + f" (floor {floor:g})"
            out.append(Finding(level, cell, name, o, n, note))
            continue
        spec = METRICS.get(name)
        quality = spec is not None and spec.higher_is_better is not None
        tol = QUALITY_ABS_TOL + (0.0 if quality else OTHER_REL_TOL * abs(o))
        diff = abs(n - o)
        level = "ok" if diff <= tol else "FAIL"
        out.append(Finding(level, cell, name, o, n,
                           "" if level == "ok" else f"{source}; |diff| {diff:.3g} > {tol:.3g}"))
    return out


@dataclass
class CellResult:
    cell: SampleCell
    findings: list[Finding] = field(default_factory=list)
    labels_identical: bool | None = None
    committed_wall_s: float | None = None
    rerun_wall_s: float | None = None
    run_dir: Path | None = None

    @property
    def level(self) -> str:
        levels = {f.level for f in self.findings}
        return "FAIL" if "FAIL" in levels else "WARN" if "WARN" in levels else "ok"


def is_gpu_run(rec: dict[str, Any]) -> bool:
    """Whether the run's method ran on a GPU (``params.device`` ``cuda*`` or ``gpu``, or
    ``auto`` on a machine with one), as :func:`benchmark.harness.evaluate.run_device` says."""
    device = str(rec.get("params", {}).get("device", "cpu")).lower()
    return (device.startswith("cuda") or device == "gpu"
            or (device == "auto" and bool(rec.get("hardware", {}).get("gpu"))))


def find_cells(sample: Sample, committed: Path, plan=None
               ) -> dict[SampleCell, tuple[Path, dict] | str]:
    """The committed run of each sampled cell, the one the tables use (among the runs ``plan``
    declares when given, :meth:`benchmark.harness.plan.BoardPlan.board`, else
    :func:`benchmark.harness.evaluate.chosen_runs`), or why there is none to rerun."""
    from .evaluate import chosen_runs

    chosen = plan.board(Path(committed)).chosen if plan is not None else chosen_runs(committed)
    out: dict[SampleCell, tuple[Path, dict] | str] = {}
    for cell in sample.cells:
        hit = chosen.get((cell.method, cell.dataset, cell.seed))
        if hit is None:
            out[cell] = (f"no committed run of this cell in {committed} (the tables do not use one"
                         + (f"; {plan.path} must declare it as done)" if plan is not None else ")"))
        elif hit[1].get("profile") != cell.profile:
            out[cell] = (f"the committed cell is profile {hit[1].get('profile')!r}, the sample "
                         f"says {cell.profile!r}")
        elif is_gpu_run(hit[1]):
            out[cell] = "the committed run ran on a GPU; the sample reruns CPU runs only"
        else:
            out[cell] = hit
    return out


def estimate_wall_s(costs: list[float], jobs: int) -> float:
    """Wall time of running ``costs`` (seconds, longest first) on ``jobs`` parallel workers."""
    finish = [0.0] * max(1, jobs)
    for c in sorted(costs, reverse=True):
        t = heapq.heappop(finish)
        heapq.heappush(finish, t + c)
    return max(finish) if costs else 0.0


def _per_seed_rows(committed: Path) -> dict[tuple[str, str, int], dict[str, float]]:
    f = Path(committed) / "per_seed.csv"
    if not f.exists():
        return {}
    import pandas as pd

    df = pd.read_csv(f)
    skip = {"method", "dataset", "seed", "profile", "run"}
    return {(r["method"], r["dataset"], int(r["seed"])):
            {k: v for k, v in r.items() if k not in skip and not pd.isna(v)}
            for r in df.to_dict("records")}


def rerun_sample(sample: Sample, committed: Path, work: Path, data_dir: Path | None,
                 cache_dir: Path, *, jobs: int = 2, sandbox: str = "auto",
                 log: Callable[[str], None] = print, plan=None,
                 found: dict[SampleCell, tuple[Path, dict] | str] | None = None
                 ) -> list[CellResult]:
    """Rerun each cell of ``sample`` from its committed run in ``committed`` and compare.

    Each cell is planned like ``run`` plans it (:func:`benchmark.harness.runner.plan_runs`) with
    the committed record's parameters and probe flag; its run key must equal the committed one
    (else the harness would no longer find the committed run: FAIL). It is run with the
    record's thread count (1 when not recorded) into ``work/NN-METHOD-DATASET-seedS`` (never into
    ``committed``), ``jobs`` cells at a time, longest first, then evaluated; every committed
    value (``metrics.json`` and the ``per_seed.csv`` row) is compared (:func:`compare_values`),
    and the labels are compared with the committed ``labels.npy``."""
    from .evaluate import evaluate_runs
    from .results_store import METRICS_FILE, ResultsStore
    from .runner import Plan, plan_runs, run_plan

    committed, work = Path(committed), Path(work)
    found = found if found is not None else find_cells(sample, committed, plan)
    per_seed = _per_seed_rows(committed)
    results: dict[SampleCell, CellResult] = {c: CellResult(c) for c in sample.cells}
    jobs_todo = []
    quiet: Callable[[str], None] = lambda _m: None
    for i, cell in enumerate(sample.cells):
        res, hit = results[cell], found[cell]
        if isinstance(hit, str):
            res.findings.append(Finding("FAIL", cell, note=hit))
            continue
        run_dir, rec = hit
        res.committed_wall_s = rec.get("process_wall_time_s") or rec.get("wall_time_s")
        params = {k: v for k, v in rec.get("params", {}).items()}
        try:
            plan = plan_runs([cell.method], [cell.dataset], [cell.seed], cell.profile, data_dir,
                             cache_dir, probe=rec.get("probe", True),
                             overrides={cell.method: params}, log=quiet,
                             unlabelled_k=rec.get("n_clusters_given"))
        except (ValueError, KeyError) as e:
            res.findings.append(Finding("FAIL", cell, note=f"cannot plan the rerun: {e}"))
            continue
        if plan.skipped or len(plan.runs) != 1:
            why = plan.skipped[0][2] if plan.skipped else "no run planned"
            res.findings.append(Finding("FAIL", cell, note=f"cannot rerun: {why}"))
            continue
        spec = plan.runs[0]
        if spec.key != rec.get("key"):
            res.findings.append(Finding(
                "FAIL", cell, note=f"committed run {run_dir.name} is no longer found by the "
                f"harness: rebuilt run key {spec.key[:12]} (dataset fingerprint "
                f"{spec.dataset_fingerprint[:12]}), record {str(rec.get('key'))[:12]} "
                f"({str(rec.get('dataset_fingerprint'))[:12]})"))
        cell_dir = work / f"{i:02d}-{cell.method}-{cell.dataset}-seed{cell.seed}"
        jobs_todo.append((cell, run_dir, rec, spec, cell_dir))

    eval_lock = threading.Lock()

    def one(item) -> None:
        cell, run_dir, rec, spec, cell_dir = item
        res = results[cell]
        try:
            _rerun_one(res, run_dir, rec, spec, cell_dir)
        except Exception as e:  # noqa: BLE001  (one broken cell must not hide the others)
            res.findings.append(Finding("FAIL", cell,
                                        note=f"rerun raised {type(e).__name__}: {e}"))
        log(_cell_line(res))

    def _rerun_one(res: CellResult, run_dir: Path, rec: dict, spec, cell_dir: Path) -> None:
        cell = res.cell
        committed_wall = res.committed_wall_s or 60.0
        t0 = time.perf_counter()
        recs = run_plan(Plan([spec], []), cell_dir, jobs=1, threads=int(rec.get("threads") or 1),
                        progress=False, sandbox=sandbox, hidden=(data_dir, cache_dir, committed),
                        timeout_s=max(300.0, COST_FAIL_FACTOR * committed_wall), log=quiet)
        res.rerun_wall_s = time.perf_counter() - t0
        new_rec = recs[0]
        if new_rec.get("status") != "ok":
            res.findings.append(Finding("FAIL", cell, note=f"rerun {new_rec.get('status')}: "
                                                           f"{new_rec.get('error', '')}"))
            return
        said: list[str] = []
        with eval_lock:  # metrics share caches (the CatBoost probe); one evaluation at a time
            evaluate_runs(cell_dir, data_dir, cache_dir, log=said.append)
        (new_dir, _), = list(ResultsStore(cell_dir).iter_runs())
        res.run_dir = new_dir
        if not (new_dir / METRICS_FILE).exists():
            res.findings.append(Finding("FAIL", cell, note="rerun not evaluated: "
                                        + ("; ".join(said) or "no metrics.json")))
            return
        new = json.loads((new_dir / METRICS_FILE).read_text())
        old = json.loads((run_dir / METRICS_FILE).read_text())
        res.findings += compare_values(cell, old, new, "metrics.json")
        row = per_seed.get((cell.method, cell.dataset, cell.seed))
        if row is None:
            res.findings.append(Finding("FAIL", cell, note="no row in the committed per_seed.csv"))
        else:  # the published values; only those that differ from metrics.json add a finding
            differs = {k: v for k, v in row.items() if old.get(k) != v}
            res.findings += [f for f in compare_values(cell, differs, new, "per_seed.csv")
                             if f.level != "ok"]
        a, b = run_dir / "labels.npy", new_dir / "labels.npy"
        if a.exists() and b.exists():
            res.labels_identical = bool(np.array_equal(np.load(a), np.load(b)))

    order = sorted(jobs_todo, key=lambda it: -(results[it[0]].committed_wall_s or 0.0))
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for f in [pool.submit(one, it) for it in order]:
            f.result()
    return [results[c] for c in sample.cells]


def _cell_line(res: CellResult) -> str:
    vals = [f for f in res.findings if f.metric]
    n_bad = sum(f.level == "FAIL" for f in vals)
    labels = {True: "labels identical", False: "labels DIFFER", None: "labels not compared"}
    times = ""
    if res.committed_wall_s and res.rerun_wall_s:
        times = f"; {res.rerun_wall_s:.1f} s (committed run {res.committed_wall_s:.1f} s)"
    return (f"{res.level:>4}  {res.cell} ({res.cell.profile}): {len(vals) - n_bad}/{len(vals)} "
            f"value(s) within tolerance, {labels[res.labels_identical]}{times}")


def run_committed_checks(committed: Path, sample_path: Path | None, work: Path | None,
                         data_dir: Path | None, cache_dir: Path, *, jobs: int = 2,
                         sandbox: str = "auto", log: Callable[[str], None] = print,
                         plan_path: Path | None = None) -> int:
    """``regress --committed``: :func:`check_tables` and, when the board has a plan
    (``plan_path``, else ``committed/plan.toml``), :func:`check_plan`; then, with a sample file,
    the reruns (:func:`rerun_sample`). Prints every failure and warning; returns the exit status
    (1 on any failure)."""
    committed = Path(committed)
    t0 = time.perf_counter()
    sample = load_sample(sample_path) if sample_path is not None else None
    plan = load_board_plan(committed, plan_path)
    own = work is None
    if work is not None:
        work = Path(work)
        if work.resolve() == committed.resolve() or committed.resolve() in work.resolve().parents:
            raise ValueError(f"--results-dir {work} is inside the committed directory {committed}; "
                             "reruns must go elsewhere")
        work.mkdir(parents=True, exist_ok=True)
    else:
        work = Path(tempfile.mkdtemp(prefix="evseq-regress-"))
    failures, warnings = [], []
    try:
        if sample is not None:
            from .sandbox import resolve_mode

            sandbox = resolve_mode(sandbox, warn=log)  # once: bwrap, or none with one warning
        problems = check_tables(committed, work, plan)
        how = f" with {plan.path}" if plan is not None else ""
        log(f"tables: {committed}/results.csv, per_seed.csv and draws.csv "
            + (f"match the report rebuilt{how} from the committed runs" if not problems else
               f"differ from the report rebuilt{how} from the committed runs "
               f"({len(problems)} row(s))"))
        failures += [f"table {p}" for p in problems]
        if plan is not None:
            lost = check_plan(committed, plan)
            log(f"plan: {len(lost)} declared run(s) not found among the committed runs")
            failures += lost
        if sample is not None:
            found = find_cells(sample, committed, plan)
            costs = [h[1].get("process_wall_time_s") or 0.0 for h in found.values()
                     if not isinstance(h, str)]
            est = estimate_wall_s(costs, jobs)
            log(f"rerunning {len(sample.cells)} committed cell(s) from {sample_path}, {jobs} at a "
                f"time: committed cost {sum(costs):.0f} s, about {est:.0f} s of wall time"
                + (f" (budget {sample.budget_s:.0f} s)" if sample.budget_s else ""))
            results = rerun_sample(sample, committed, work, data_dir, cache_dir, jobs=jobs,
                                   sandbox=sandbox, log=log, plan=plan, found=found)
            for res in results:
                for f in res.findings:
                    if f.level == "FAIL":
                        failures.append(str(f))
                    elif f.level == "WARN":
                        warnings.append(str(f))
            n_values = sum(1 for r in results for f in r.findings if f.metric)
            same = sum(r.labels_identical is True for r in results)
            log(f"reran {len(results)} cell(s): {n_values} value(s) compared, labels identical in "
                f"{same}/{len(results)}")
        wall = time.perf_counter() - t0
        if sample is not None and sample.budget_s and wall > sample.budget_s:
            warnings.append(f"regress took {wall:.0f} s, over the sample's budget of "
                            f"{sample.budget_s:.0f} s")
        for w in warnings:
            log(f"WARNING  {w}")
        for f in failures:
            log(f"REGRESSION  {f}")
        log(f"regress: {len(failures)} failure(s), {len(warnings)} warning(s) in {wall:.0f} s")
        return 1 if failures else 0
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)
