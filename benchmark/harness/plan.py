"""The board as a declared plan (``leaderboard/plan.toml``), and reproducing one run by itself.

A plan lists every run a board shows, as compact groups (``[[cell]]`` tables) of methods ×
datasets × seeds with one profile, probe flag, thread count, device and parameter overrides::

    [defaults]                      # optional; these are the built-in values
    profile = "paper"               # "quick" | "paper"
    seeds = [0, 1, 2, 3, 4]
    probe = true                    # false = run --no-probe
    threads = 1                     # CPU threads per run (not part of the run key)

    [[cell]]
    name = "lal-synthetic"          # optional, unique; recorded as the run's plan_cell
    methods = ["lal", "lal-ensemble"]
    datasets = ["@exp", "@sin", "@trunc"]   # names, or @FAMILY (DatasetSpec.family)
    probe = false
    params = { n_em_epochs = 50 }   # --param overrides, for every method of the group

    [[cell]]
    methods = ["thp"]
    datasets = ["IPTV"]
    seeds = [1, 2]
    device = "cuda"                 # sets the method's `device` parameter ("cpu": nothing to set)
    draws = [1, 2, 3]               # each dataset D becomes D@draw=1, D@draw=2, D@draw=3: fresh
                                    # generator draws (DatasetSpec.draw), for the draws table
    status = "pending"              # declared, not yet run: `run --plan` skips it by default
    note = "not run yet"

:func:`load_plan` reads and checks a plan (every error names the group and its line; unknown
method and dataset names are listed together); :meth:`BoardPlan.expand` turns it into
:class:`benchmark.harness.runner.RunSpec` through :func:`~benchmark.harness.runner.plan_runs`,
so each run gets exactly the key ``python -m benchmark run`` gives it; :meth:`BoardPlan.board`
picks, without touching any dataset, the runs of a results directory that the plan declares
(what ``report --plan`` shows). :func:`reproduce_run` reruns one stored run in a temporary
results directory and compares its outputs and metrics with the stored ones
(``python -m benchmark reproduce RUN_DIR``).
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.registry import (
    DATASETS,
    DRAW_TAG,
    METHODS,
    METRICS,
    UnknownNameError,
    discover,
    draw_name,
    get_dataset,
    get_method_info,
)
from .results_store import METRICS_FILE, ResultsStore
from .runner import Plan, RunSpec, plan_runs, resolve_params

try:  # GPU runs are rows of their own on the board ("thp [gpu]")
    from .evaluate import board_method
except ImportError:  # pragma: no cover - an evaluate without device rows
    def board_method(rec: dict[str, Any]) -> str:
        return rec["method"]

FAMILY_PREFIX = "@"
"""``datasets = ["@exp"]``: every registered, non-heavy dataset of that ``DatasetSpec.family``."""
BUILTIN_DEFAULTS: dict[str, Any] = {"profile": "paper", "seeds": [0, 1, 2, 3, 4], "probe": True,
                                    "threads": 1}
DEFAULT_KEYS = ("profile", "seeds", "probe", "threads", "device")
CELL_KEYS = ("name", "methods", "datasets", "draws", "seeds", "profile", "probe", "threads",
             "device", "params", "status", "note")
STATUSES = ("done", "pending")
COST_METRICS = frozenset({"wall_time_s", "cpu_time_s", "peak_rss_mb"})
"""Metrics of time and memory: shown by :func:`reproduce_run`, never required to match."""
REPRODUCE_TOL = 1e-9


class PlanError(ValueError):
    """A plan that cannot be read or does not check (the message names each problem)."""


@dataclass(frozen=True, eq=False)  # compared and hashed by identity (params is a dict)
class Cell:
    """One ``[[cell]]`` group of a plan, its defaults filled in and dataset families expanded."""

    index: int  # 1-based position among the file's [[cell]] tables
    name: str | None
    line: int | None
    methods: tuple[str, ...]
    datasets: tuple[str, ...]
    seeds: tuple[int, ...]
    profile: str
    probe: bool
    threads: int
    device: str | None
    params: dict[str, Any]
    pending: bool
    note: str = ""

    @property
    def id(self) -> str:
        """What a run's record holds as ``plan_cell``: the name, else ``#INDEX``."""
        return self.name or f"#{self.index}"

    @property
    def label(self) -> str:
        """The cell as error messages name it: ``cell 3 'lal-synthetic' (line 40)``."""
        return (f"cell {self.index}" + (f" {self.name!r}" if self.name else "")
                + (f" (line {self.line})" if self.line else ""))

    def overrides(self, method: str) -> dict[str, Any]:
        """The parameter overrides of ``method`` in this cell (``params`` and ``device``)."""
        out = dict(self.params)
        if self.device is not None and "device" in get_method_info(method).param_names:
            out["device"] = self.device
        return out


@dataclass(frozen=True)
class Entry:
    """One declared run: a (method, dataset, seed) of a cell."""

    cell: Cell
    method: str
    dataset: str
    seed: int

    def row(self) -> str:
        """The board row of the run (``thp [gpu]`` for a run on a GPU)."""
        return board_method({"method": self.method, "params": self.cell.overrides(self.method),
                             "hardware": {}})


@dataclass
class Board:
    """The runs of a results directory that a plan declares (:meth:`BoardPlan.board`)."""

    chosen: dict[tuple[str, str, int], tuple[Path, dict[str, Any]]]
    """(board row, dataset, seed) -> (run dir, record), as :func:`evaluate.chosen_runs`."""
    pending: dict[tuple[str, str], list[int]]
    """(board row, dataset) -> seeds of pending cells that have no finished run yet."""
    missing: list[Entry]
    """Runs of cells not marked pending that have no finished, evaluated run."""
    failed: list[dict[str, Any]]
    """Records of declared runs that did not finish ok."""
    n_declared: int


@dataclass
class BoardPlan:
    """A loaded plan: its file and its cells, in file order."""

    path: Path
    cells: list[Cell]
    _params_cache: dict = field(default_factory=dict, repr=False)
    _runs_cache: dict = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------------ declared runs
    def entries(self, include_pending: bool = True, methods: Iterable[str] | None = None,
                datasets: Iterable[str] | None = None) -> list[Entry]:
        """Every declared run, in file order (pending cells only with ``include_pending``;
        ``methods``/``datasets`` keep only those names)."""
        ms = set(methods) if methods else None
        ds = set(datasets) if datasets else None
        return [Entry(c, m, d, s) for c in self.cells if include_pending or not c.pending
                for m in c.methods if ms is None or m in ms
                for d in c.datasets if ds is None or d in ds
                for s in c.seeds]

    def expand(self, data_dir: Path | None, cache_dir: Path, *, include_pending: bool = False,
               methods: Iterable[str] | None = None, datasets: Iterable[str] | None = None,
               unlabelled_k: int | None = None, log: Callable[[str], None] = print
               ) -> tuple[Plan, Plan, list[tuple[str, str, str]]]:
        """The plan's runs as :class:`RunSpec` (datasets materialized, keys as ``run`` computes
        them; each spec carries its cell's ``threads`` and ``plan_cell``).

        Returns
        -------
        (runs, pending, skipped_runs)
            ``runs``: the runs to do (pending cells included only with ``include_pending``),
            with the (method, dataset, reason) skips; ``pending``: the runs of pending cells
            left out (empty with ``include_pending``); ``skipped_runs``: one (method, dataset,
            reason) per skipped *run* of ``runs`` (for the final count of ``run``).
        """
        ms = set(methods) if methods else None
        ds = set(datasets) if datasets else None
        seen: set[str] = set()

        def quiet(line: str) -> None:  # "preparing dataset X ..." once per dataset
            if line not in seen:
                seen.add(line)
                log(line)

        runs, pending = Plan([], []), Plan([], [])
        skipped_runs: list[tuple[str, str, str]] = []
        for cell in self.cells:
            cell_methods = [m for m in cell.methods if ms is None or m in ms]
            cell_datasets = [d for d in cell.datasets if ds is None or d in ds]
            if not cell_methods or not cell_datasets:
                continue
            target = pending if cell.pending and not include_pending else runs
            for m in cell_methods:  # one call per method: overrides differ (device)
                part = plan_runs([m], cell_datasets, list(cell.seeds), cell.profile, data_dir,
                                 cache_dir, probe=cell.probe, overrides={m: cell.overrides(m)},
                                 log=quiet, unlabelled_k=unlabelled_k)
                for spec in part.runs:
                    spec.threads = cell.threads
                    spec.plan_cell = cell.id
                target.runs.extend(part.runs)
                for skip in part.skipped:
                    if skip not in target.skipped:
                        target.skipped.append(skip)
                    if target is runs:
                        skipped_runs.extend([skip] * len(cell.seeds))
        return runs, pending, skipped_runs

    # ------------------------------------------------------------ matching stored runs
    def _params(self, entry: Entry, k: int | None) -> dict[str, Any]:
        key = (entry.cell.index, entry.method, entry.seed, k)
        if key not in self._params_cache:
            self._params_cache[key] = resolve_params(entry.method, entry.cell.profile, entry.seed,
                                                     k, entry.cell.overrides(entry.method))
        return self._params_cache[key]

    def matches(self, entry: Entry, rec: dict[str, Any]) -> bool:
        """Whether the stored run ``rec`` is the run ``entry`` declares: same method, dataset
        and seed, and the run key the harness computes from the cell (parameters, probe) and
        the record's own dataset fingerprint is the record's key. No dataset is read: whether
        the data are still those of the run is for ``run``/``evaluate`` to check."""
        if (rec.get("method"), rec.get("dataset"), rec.get("seed")) != (
                entry.method, entry.dataset, entry.seed) or "key" not in rec:
            return False
        info = get_method_info(entry.method)
        k = None
        if info.needs_n_clusters:
            try:
                spec_k = get_dataset(entry.dataset).n_clusters
            except UnknownNameError:
                spec_k = None
            k = spec_k if spec_k is not None else rec.get("n_clusters_given")
        spec = RunSpec(method=entry.method, dataset=entry.dataset, seed=entry.seed,
                       profile=entry.cell.profile, params=self._params(entry, k),
                       dataset_fingerprint=rec.get("dataset_fingerprint", ""),
                       probe=entry.cell.probe)
        return spec.key == rec["key"]

    def declares(self, rec: dict[str, Any]) -> bool:
        """Whether some entry of the plan is the stored run ``rec``."""
        return any(self.matches(e, rec) for e in self._by_run().get(
            (rec.get("method"), rec.get("dataset"), rec.get("seed")), []))

    def _by_run(self) -> dict[tuple[str, str, int], list[Entry]]:
        if not self._runs_cache:
            for e in self.entries():
                self._runs_cache.setdefault((e.method, e.dataset, e.seed), []).append(e)
        return self._runs_cache

    def board(self, results_dir: Path) -> Board:
        """The runs of ``results_dir`` the plan declares, chosen as
        :func:`benchmark.harness.evaluate.chosen_runs` chooses (one run per board row, dataset
        and seed: the paper profile over quick where the pair has paper runs, then the most
        recent), with the pending and missing declared runs and the declared runs that
        failed."""
        by_run = self._by_run()
        found: set[Entry] = set()
        chosen: dict[tuple, tuple[Path, dict[str, Any]]] = {}
        failed: list[dict[str, Any]] = []
        for run_dir, rec in ResultsStore(results_dir).iter_runs():
            hits = [e for e in by_run.get((rec.get("method"), rec.get("dataset"), rec.get("seed")),
                                          []) if self.matches(e, rec)]
            if not hits:
                continue
            if rec.get("status") != "ok":
                failed.append(rec)
                continue
            if not (run_dir / METRICS_FILE).exists():
                continue
            found.update(hits)
            key = (board_method(rec), rec["dataset"], rec["seed"])
            rank = (rec.get("profile") == "paper", rec.get("finished_at", ""))
            old = chosen.get(key)
            if old is None or rank > (old[1].get("profile") == "paper",
                                      old[1].get("finished_at", "")):
                chosen[key] = (run_dir, rec)
        has_paper = {(m, d) for (m, d, _), (_, r) in chosen.items() if r.get("profile") == "paper"}
        chosen = {key: v for key, v in sorted(chosen.items())
                  if key[:2] not in has_paper or v[1].get("profile") == "paper"}
        pending: dict[tuple[str, str], list[int]] = {}
        missing: list[Entry] = []
        entries = self.entries()
        for e in entries:
            if e in found:
                continue
            if e.cell.pending:
                seeds = pending.setdefault((e.row(), e.dataset), [])
                if e.seed not in seeds:
                    seeds.append(e.seed)
            else:
                missing.append(e)
        found_ok = {(m, d, s) for (m, d, s) in chosen}  # a run found for another entry
        failed = [r for r in failed if (board_method(r), r["dataset"], r["seed"]) not in found_ok]
        return Board(chosen, {k: sorted(v) for k, v in pending.items()}, missing, failed,
                     len(entries))


# -------------------------------------------------------------------------------- loading
def _header_lines(text: str) -> list[int]:
    """Line numbers of the ``[[cell]]`` headers, in order."""
    return [i for i, line in enumerate(text.splitlines(), 1)
            if re.match(r"\s*\[\[\s*cell\s*\]\]", line)]


def _names(value: Any, what: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if (not isinstance(value, list) or not value
            or not all(isinstance(v, str) and v for v in value)):
        raise PlanError(f"{what} must be a non-empty list of names")
    return value


def _check_field(name: str, value: Any) -> Any:
    """``value`` of the field ``name`` (shared by ``[defaults]`` and the cells), checked."""
    if name == "profile":
        if value not in ("quick", "paper"):
            raise PlanError(f"profile must be \"quick\" or \"paper\", got {value!r}")
    elif name == "seeds":
        if (not isinstance(value, list) or not value
                or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0
                           for s in value)):
            raise PlanError(f"seeds must be a non-empty list of integers >= 0, got {value!r}")
        if len(set(value)) != len(value):
            raise PlanError(f"seeds repeat a seed: {value!r}")
    elif name == "probe":
        if not isinstance(value, bool):
            raise PlanError(f"probe must be true or false, got {value!r}")
    elif name == "threads":
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise PlanError(f"threads must be an integer >= 1, got {value!r}")
    elif name == "device" and (not isinstance(value, str) or not value):
        raise PlanError(f"device must be a string such as \"cpu\" or \"cuda\", got {value!r}")
    return value


def _datasets(names: list[str]) -> tuple[list[str], list[str]]:
    """(expanded dataset names, unknown names or families)."""
    from .evaluate import dataset_order

    families = sorted({s.family for s in DATASETS.values() if s.family})
    out, unknown = [], []
    for n in names:
        if n.startswith(FAMILY_PREFIX):
            fam = n[len(FAMILY_PREFIX):]
            members = [d for d, s in DATASETS.items() if s.family == fam and not s.heavy]
            if not members:
                unknown.append(f"{n} (families: {', '.join(FAMILY_PREFIX + f for f in families)})")
            out += [d for d in dataset_order(members) if d not in out]
        elif n not in out:
            try:
                get_dataset(n)  # a registered name, or NAME@draw=S of a set with draws
                out.append(n)
            except UnknownNameError as e:
                unknown.append(str(e) if DRAW_TAG in n else n)
    return out, unknown


def _draws(value: Any, datasets: list[str]) -> list[str]:
    """The cell's datasets with ``draws = [...]`` applied: each becomes its draws."""
    if (not isinstance(value, list) or not value
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in value)
            or len(set(value)) != len(value)):
        raise PlanError(f"draws must be a non-empty list of distinct integers >= 1 (generator "
                        f"seeds; draw 0 is the registered set), got {value!r}")
    no_draws = [d for d in datasets if get_dataset(d).draw is None]
    if no_draws:
        raise PlanError(f"draws: {', '.join(no_draws)} have no generator draws (only generated "
                        "sets do)")
    return [draw_name(d, s) for d in datasets for s in value]


def load_plan(path: Path | str) -> BoardPlan:
    """Read and check a plan file.

    Raises
    ------
    PlanError
        When the file is not TOML, or a group is malformed: the message lists every problem,
        each naming its group (index, name and line), and the unknown method and dataset names
        together with the known ones.
    """
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: the same parser as the tomli package
        import tomli as tomllib

    discover()
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise PlanError(f"plan {path}: {e.strerror or e}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise PlanError(f"plan {path}: not valid TOML: {e}") from None
    problems: list[str] = []
    extra = sorted(set(data) - {"defaults", "cell"})
    if extra:
        problems.append(f"unknown top-level key(s) {extra}; a plan has [defaults] and [[cell]] "
                        "tables")
    defaults = dict(BUILTIN_DEFAULTS)
    raw_defaults = data.get("defaults", {})
    if not isinstance(raw_defaults, dict):
        problems.append("[defaults] must be a table")
        raw_defaults = {}
    for k, v in raw_defaults.items():
        if k not in DEFAULT_KEYS:
            problems.append(f"[defaults]: unknown key {k!r} (allowed: {', '.join(DEFAULT_KEYS)})")
            continue
        try:
            defaults[k] = _check_field(k, v)
        except PlanError as e:
            problems.append(f"[defaults]: {e}")
    raw_cells = data.get("cell", [])
    if not isinstance(raw_cells, list) or not all(isinstance(c, dict) for c in raw_cells):
        raise PlanError(f"plan {path}: `cell` must be an array of tables ([[cell]])")
    if not raw_cells:
        problems.append("no [[cell]] group: a plan declares at least one")
    lines = _header_lines(text)
    lines = lines if len(lines) == len(raw_cells) else [None] * len(raw_cells)
    unknown_methods: dict[str, list[str]] = {}
    unknown_datasets: dict[str, list[str]] = {}
    cells: list[Cell] = []
    names: dict[str, str] = {}
    for i, (raw, line) in enumerate(zip(raw_cells, lines), 1):
        name = raw.get("name") if isinstance(raw.get("name"), str) and raw.get("name") else None
        where = f"cell {i}" + (f" {name!r}" if name else "") + (f" (line {line})" if line else "")
        bad: list[str] = []
        for k in sorted(set(raw) - set(CELL_KEYS)):
            bad.append(f"unknown key {k!r} (allowed: {', '.join(CELL_KEYS)})")
        if "name" in raw and name is None:
            bad.append("name must be a non-empty string")
        if name in names:
            bad.append(f"name {name!r} is already used by {names[name]}")
        elif name:
            names[name] = where
        values = dict(defaults)
        for k in DEFAULT_KEYS:
            if k in raw:
                try:
                    values[k] = _check_field(k, raw[k])
                except PlanError as e:
                    bad.append(str(e))
        methods: list[str] = []
        datasets: list[str] = []
        for k in ("methods", "datasets"):
            if k not in raw:
                bad.append(f"{k} missing")
        try:
            methods = _names(raw.get("methods", ["?"]), "methods")
        except PlanError as e:
            bad.append(str(e))
        try:
            datasets, unknown = _datasets(_names(raw.get("datasets", ["?"]), "datasets"))
            for n in unknown:
                unknown_datasets.setdefault(n, []).append(where)
            if "draws" in raw and not unknown:
                datasets = _draws(raw["draws"], datasets)
        except PlanError as e:
            bad.append(str(e))
        for m in methods:
            if m not in METHODS and "methods" in raw:
                unknown_methods.setdefault(m, []).append(where)
        params = raw.get("params", {})
        if not isinstance(params, dict):
            bad.append("params must be a table, e.g. params = { n_em_epochs = 5 }")
            params = {}
        for reserved, use in (("seed", "seeds"), ("device", "device")):
            if reserved in params:
                bad.append(f"params.{reserved}: set it with `{use} = ...` instead")
        status = raw.get("status", "done")
        if status not in STATUSES:
            bad.append(f"status must be \"pending\" or \"done\", got {status!r}")
        note = raw.get("note", "")
        if not isinstance(note, str):
            bad.append("note must be a string")
        device = values.get("device")
        for m in methods:
            if m not in METHODS:
                continue
            info = get_method_info(m)
            if device is not None and "device" not in info.param_names and device != "cpu":
                bad.append(f"device {device!r}: method {m!r} has no device parameter (it runs on "
                           "the CPU); leave device out or set it to \"cpu\"")
            try:
                resolve_params(m, values["profile"], 0, None,
                               {**params, **({"device": device} if device is not None
                                             and "device" in info.param_names else {})})
            except ValueError as e:
                bad.append(str(e))
        if bad:
            problems += [f"{where}: {b}" for b in bad]
            continue
        cells.append(Cell(index=i, name=name, line=line, methods=tuple(methods),
                          datasets=tuple(datasets), seeds=tuple(values["seeds"]),
                          profile=values["profile"], probe=values["probe"],
                          threads=values["threads"], device=device, params=dict(params),
                          pending=status == "pending", note=note))
    if unknown_methods:
        problems.append("unknown method(s): " + "; ".join(
            f"{m} ({', '.join(w)})" for m, w in unknown_methods.items())
            + f". Known: {', '.join(sorted(METHODS))}")
    if unknown_datasets:
        problems.append("unknown dataset(s): " + "; ".join(
            f"{d} ({', '.join(w)})" for d, w in unknown_datasets.items())
            + f". Known: {', '.join(sorted(DATASETS))}")
    if not problems:  # one run per board row (a GPU run is a row of its own), dataset, seed
        declared: dict[tuple[str, str, int, str], Cell] = {}
        for e in BoardPlan(path, cells).entries():
            c, row = e.cell, e.row()
            other = declared.setdefault((row, e.dataset, e.seed, c.profile), c)
            if other is not c:
                problems.append(f"{c.label}: {row} on {e.dataset} seed {e.seed} ({c.profile} "
                                f"profile) is already declared by {other.label}")
    if problems:
        shown = problems[:30] + ([f"... and {len(problems) - 30} more"] if len(problems) > 30
                                 else [])
        raise PlanError(f"plan {path}: {len(problems)} problem(s):\n  " + "\n  ".join(shown))
    return BoardPlan(path, cells)


# ---------------------------------------------------------------------- the board report
def pending_note(board: Board) -> list[str]:
    """Markdown lines of the board's plan section: what is declared, found, pending, missing."""
    n_pending = sum(len(s) for s in board.pending.values())
    lines = ["## Plan", "",
             f"The cells of this board are declared in `plan.toml` ({board.n_declared} runs; "
             "`python -m benchmark run --plan leaderboard/plan.toml --dry-run` lists what is "
             "left). Runs outside the plan are not shown. `pending` marks a cell the plan "
             "declares but whose runs are not made yet; a `p` after a value marks a cell with "
             f"seeds still pending. {n_pending} pending run(s)"
             + (f", {len(board.missing)} declared run(s) not found" if board.missing else "")
             + ".", ""]
    if board.pending:
        lines += ["| row | dataset | pending seeds |", "|---|---|---|"]
        lines += [f"| {m} | {d} | {', '.join(map(str, s))} |"
                  for (m, d), s in sorted(board.pending.items())]
        lines.append("")
    if board.missing:
        lines += ["Declared but not found (not pending):", ""]
        lines += [f"* {e.method} on {e.dataset} seed {e.seed} ({e.cell.label})"
                  for e in board.missing[:50]]
        lines.append("")
    return lines


def fill_pending(header: list[str], rows: list[list[str]],
                 pending: dict[tuple[str, str], list[int]]) -> None:
    """Write ``pending`` into the empty cells of ``rows`` (a table of
    :func:`benchmark.harness.report.build_table`) whose (row, dataset) the plan has pending."""
    for row in rows:
        for j, d in enumerate(header[1:], 1):
            if not row[j] and (row[0], d) in pending:
                row[j] = "pending"


# --------------------------------------------------------------------- reproducing a run
@dataclass
class Reproduction:
    """What :func:`reproduce_run` found (see :meth:`lines` for the printed form)."""

    record: dict[str, Any]
    new_record: dict[str, Any]
    key_now: str
    metrics: list[tuple[str, float | None, float | None, bool]]  # name, committed, now, checked
    labels: str  # "identical", "differ: ...", "absent"
    embeddings: str
    identical: bool
    kept: Path | None

    @property
    def ok(self) -> bool:
        return self.identical and self.new_record.get("status") == "ok" and all(
            a is not None and b is not None and abs(a - b) <= REPRODUCE_TOL
            for _, a, b, checked in self.metrics if checked)


def _compare_arrays(old: Path, new: Path, what: str) -> tuple[str, bool]:
    if not old.exists() and not new.exists():
        return "absent in both runs", True
    if not old.exists():  # e.g. embeddings.npy, which the repository does not keep
        return "not stored with the committed run (nothing to compare)", what != "labels"
    if not new.exists():
        return "only in the committed run", False
    a, b = np.load(old), np.load(new)
    if a.shape == b.shape and np.array_equal(a, b):
        return f"identical ({a.shape[0]} sequences)", True
    if a.shape != b.shape:
        return f"differ: shape {a.shape} vs {b.shape}", False
    if what == "labels":
        from sklearn.metrics import adjusted_rand_score

        same = adjusted_rand_score(a, b) == 1.0
        return (f"differ in {int((a != b).sum())} of {a.shape[0]} sequences"
                + (" (the same partition, renamed)" if same else "")), False
    return f"differ: max |difference| {float(np.max(np.abs(a - b))):.3g}", False


def reproduce_run(run_dir: Path | str, data_dir: Path | None, cache_dir: Path, *,
                  sandbox: str = "auto", timeout_s: float = 3600.0, memory_mb: float = 16000.0,
                  keep: bool = False, log: Callable[[str], None] = print) -> Reproduction:
    """Rerun the stored run ``run_dir`` (same method, parameters, dataset, seed, probe flag and
    threads; sandboxed as ``run`` does) into a temporary results directory, evaluate it, and
    compare labels, embeddings and metrics with the stored ones. Records without ``argv`` or
    ``plan_cell`` (made before they were recorded) are reproduced the same way.

    Raises
    ------
    ValueError
        When ``run_dir`` holds no record, or a run that did not finish ok, or its method or
        dataset is unknown or unavailable here.
    """
    from .evaluate import evaluate_runs
    from .runner import run_plan

    discover()
    run_dir = Path(run_dir)
    if run_dir.name == "record.json":
        run_dir = run_dir.parent
    try:
        rec = ResultsStore.read_record(run_dir)
    except (OSError, ValueError) as e:
        raise ValueError(f"{run_dir}: no readable record.json ({e})") from None
    if rec.get("status") != "ok":
        raise ValueError(f"{run_dir}: the run ended {rec.get('status')!r}; only finished runs "
                         "can be compared")
    method, dataset, seed = rec["method"], rec["dataset"], int(rec["seed"])
    get_method_info(method)
    overrides = {k: v for k, v in rec.get("params", {}).items() if k not in ("seed", "n_clusters")}
    plan = plan_runs([method], [dataset], [seed], rec.get("profile", "quick"), data_dir, cache_dir,
                     probe=bool(rec.get("probe", True)), overrides={method: overrides}, log=log,
                     unlabelled_k=rec.get("n_clusters_given"))
    if plan.skipped:
        raise ValueError(f"cannot rerun {method} on {dataset}: {plan.skipped[0][2]}")
    spec, = plan.runs
    spec.plan_cell = rec.get("plan_cell")
    threads = int(rec.get("threads") or 1)
    tmp = Path(tempfile.mkdtemp(prefix="evseq-reproduce-"))
    try:
        new, = run_plan(plan, tmp, threads=threads, timeout_s=timeout_s, memory_mb=memory_mb,
                        progress=False, log=log, sandbox=sandbox, hidden=(data_dir, cache_dir))
        committed_file = run_dir / METRICS_FILE
        committed = json.loads(committed_file.read_text()) if committed_file.exists() else {}
        now: dict[str, float] = {}
        new_dir = spec.run_dir(tmp)
        if new.get("status") == "ok":
            skip = frozenset(n for n in METRICS if committed and n not in committed)
            evaluate_runs(tmp, data_dir, cache_dir, log=lambda _: None, skip=skip)
            if (new_dir / METRICS_FILE).exists():
                now = json.loads((new_dir / METRICS_FILE).read_text())
        metrics = []
        for name in [n for n in METRICS if n in committed or n in now] + sorted(
                (set(committed) | set(now)) - set(METRICS)):
            checked = name in METRICS and name not in COST_METRICS and name in committed
            metrics.append((name, committed.get(name), now.get(name), checked))
        labels, same_labels = _compare_arrays(run_dir / "labels.npy", new_dir / "labels.npy",
                                              "labels")
        embeddings, _ = _compare_arrays(run_dir / "embeddings.npy", new_dir / "embeddings.npy",
                                        "embeddings")
        return Reproduction(rec, new, spec.key, metrics, labels, embeddings,
                            same_labels and new.get("status") == "ok", tmp if keep else None)
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)


def reproduction_lines(run_dir: Path, r: Reproduction) -> list[str]:
    """The report ``python -m benchmark reproduce`` prints."""
    rec, new = r.record, r.new_record
    argv = rec.get("argv")
    out = [(f"run {run_dir}: {rec['method']} on {rec['dataset']} seed {rec['seed']} "
            f"({rec.get('profile')} profile, probe {'on' if rec.get('probe', True) else 'off'}, "
            f"{rec.get('threads') or 1} thread(s), plan cell {rec.get('plan_cell') or '-'})"),
           "  recorded command: " + (" ".join(argv) if argv else "not recorded (older record)"),
           "  run key: " + ("the same" if r.key_now == rec.get("key") else
                            f"now {r.key_now[:12]}, recorded {str(rec.get('key'))[:12]} (dataset "
                            "fingerprint, method version or suite version changed)"),
           f"  rerun: {new.get('status')}"
           + (f", {new.get('wall_time_s', 0):.1f} s wall (committed "
              f"{rec.get('wall_time_s', 0):.1f} s)" if new.get("status") == "ok"
              else f": {new.get('error', '')}")
           + (f"; kept in {r.kept}" if r.kept else ""),
           "", f"  {'metric':<34} {'committed':>14} {'now':>14} {'difference':>12}"]
    for name, a, b, checked in r.metrics:
        diff = f"{b - a:+.3g}" if a is not None and b is not None else "-"
        fmt = (lambda v: "-" if v is None else f"{v:.6g}")
        note = "" if checked else "  (not checked)"
        out.append(f"  {name:<34} {fmt(a):>14} {fmt(b):>14} {diff:>12}{note}")
    out += ["", f"  labels: {r.labels}", f"  embeddings: {r.embeddings}",
            ("REPRODUCED: labels identical and quality metrics within "
             f"{REPRODUCE_TOL:g}" if r.ok else
             "NOT REPRODUCED: " + ("labels differ" if not r.identical else
                                   "a quality metric differs or is missing"))]
    return out
