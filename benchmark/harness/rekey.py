"""Re-key stored runs whose dataset fingerprint changed while their data did not.

A run is found again under its run key (:attr:`benchmark.harness.runner.RunSpec.key`), which
includes the dataset fingerprint (:func:`benchmark.core.storage.dataset_fingerprint`). When the
fingerprint of a dataset changes for a reason other than its data, the runs made before are
orphaned: ``run`` would redo them and ``evaluate`` refuses them as "dataset changed". The one
such change so far: real datasets stored the *absolute* path of their raw file as the sequences'
``source``, so their fingerprints depended on where the data directory was; loaders now store
the path relative to the data directory (``linkedin/Linkedin.csv``) and the fingerprint depends
on the data only.

:func:`rekey_runs` (``python -m benchmark rekey --results-dir DIR [--dry-run]``) goes through
every stored run (:class:`~benchmark.harness.results_store.ResultsStore`) and computes its key
as the harness now would: same method, parameters, seed and probe flag, and the fingerprint of
its dataset as materialized now. A run whose key is current is left alone, as is one whose key
differs for another reason (method or suite version, parameters: not this command's business).
For a run whose key differs only through the fingerprint, the data must be shown to be the same:

* the run's old fingerprint must be reproduced from the dataset as stored now (every shard read
  and checked, its labels) with only the sequences' ``source`` replaced by an earlier form of it
  (the current ``source`` under the data directory, the cache's download folder or an
  ``--old-data-dir``, or the ``source`` of an older cache entry of the same dataset): then the
  events, sequence ids, window ends, labels, number and names of types are those the run saw;
* the record's ``n_sequences`` and ``n_events`` must match the stored dataset.

Otherwise the run is refused (the data changed, or the old ``source`` is not among the forms
tried) and nothing is written. A re-keyed run is copied to a temporary directory beside it
(:meth:`ResultsStore.begin`), its ``record.json`` gets the new ``key`` and
``dataset_fingerprint`` (the old values are kept in the list ``rekeyed_from``), the copy is
renamed to its new ``seedS-KEY12`` name (:meth:`ResultsStore.commit`) and the old directory is
removed, each under the run's lock; outputs, metrics, log, times and ``spec.json`` are kept as
they are. A rerun finds nothing to do; one interrupted between the rename and the removal
removes the old directory the next time.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.catalog import dataset_dir, materialize
from ..core.dataset import DatasetUnavailable
from ..core.registry import UnknownNameError, discover, get_method_info
from ..core.storage import (
    DatasetIntegrityError,
    dataset_fingerprint,
    fingerprint_from_data,
    read_meta,
    write_atomic_json,
)
from .results_store import RECORD, ResultsStore
from .runner import RunSpec

REKEYED_FROM = "rekeyed_from"
"""Field of ``record.json``: the list of earlier (``key``, ``dataset_fingerprint``) of a run."""


@dataclass
class RekeySummary:
    """What :func:`rekey_runs` did (or would do, with ``dry_run``), run directories by outcome."""

    rekeyed: list[tuple[Path, Path]] = field(default_factory=list)
    """(old directory, new directory) of each run re-keyed."""
    current: list[Path] = field(default_factory=list)
    """Runs whose key is what the harness computes now."""
    refused: list[tuple[Path, str]] = field(default_factory=list)
    """Runs whose fingerprint changed and whose data could not be shown to be the same."""
    other: list[tuple[Path, str]] = field(default_factory=list)
    """Runs whose key differs for another reason (method or suite version, parameters), or
    whose method is not registered here: left alone."""
    unavailable: list[tuple[Path, str]] = field(default_factory=list)
    """Runs on a dataset that cannot be materialized here (files missing or malformed)."""

    @property
    def ok(self) -> bool:
        """No run refused and every dataset available."""
        return not self.refused and not self.unavailable

    def line(self, dry_run: bool = False) -> str:
        """The summary line."""
        verb = "to re-key" if dry_run else "re-keyed"
        return (f"{len(self.rekeyed)} run(s) {verb}, {len(self.current)} already current, "
                f"{len(self.refused)} refused (data changed or not verifiable), "
                f"{len(self.other)} left alone (key differs for another reason), "
                f"{len(self.unavailable)} skipped (dataset unavailable)")


@dataclass
class _DatasetState:
    """A dataset as materialized now and the old fingerprints checked against it."""

    path: Path | None = None
    fingerprint: str = ""
    error: str = ""
    same_data: dict[str, str | None] = field(default_factory=dict)
    """old fingerprint -> the old ``source`` that reproduces it from the current data, or None
    (not reproduced)."""


def _rerooted(source: str, roots: Iterable[Path]) -> list[str]:
    """``source`` (paths relative to the data directory, ``", "``-separated) under each root."""
    parts = [p for p in source.split(", ") if p]
    if not parts or any(Path(p).is_absolute() for p in parts):
        return []
    return [", ".join(str(Path(root) / p) for p in parts) for root in roots]


def old_source_candidates(name: str, sequences_meta: dict, data_dir: Path | None,
                          cache_dir: Path, old_data_dirs: Iterable[Path] = ()) -> list[str]:
    """Earlier forms of the dataset's ``source``, for :func:`rekey_runs`'s check, first found
    first: its files under the data directory (as given and resolved), under the cache's
    download folder (``CACHE/downloads``) and under each of ``old_data_dirs``, where loaders
    used to store absolute paths; and the ``source`` of every other cache entry of the same
    dataset (``CACHE/datasets/NAME-v*``, e.g. the version before the change)."""
    roots: list[Path] = []
    for d in [*([data_dir] if data_dir else []), *old_data_dirs]:
        roots += [Path(d), Path(d).expanduser().absolute(), Path(d).expanduser().resolve()]
    downloads = Path(cache_dir) / "downloads"
    roots += [downloads, downloads.absolute(), downloads.resolve()]
    out = _rerooted(str(sequences_meta.get("source", "")), roots)
    current = dataset_dir(name, cache_dir)
    for entry in sorted(current.parent.glob(f"{name}-v*")):
        if entry.name == current.name or not (entry / "meta.json").is_file():
            continue
        try:  # only a candidate string: the fingerprint check below decides
            src = json.loads((entry / "meta.json").read_text())["sequences_meta"]["source"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if isinstance(src, str):
            out.append(src)
    return list(dict.fromkeys(s for s in out if s != sequences_meta.get("source")))


def _same_data(state: _DatasetState, name: str, old_fingerprint: str, data_dir: Path | None,
               cache_dir: Path, old_data_dirs: Iterable[Path]) -> str | None:
    """The old ``source`` with which the current data reproduce ``old_fingerprint``, or None."""
    if old_fingerprint not in state.same_data:
        meta = read_meta(state.path)
        seq_meta = meta["sequences_meta"]
        found = None
        for src in old_source_candidates(name, seq_meta, data_dir, cache_dir, old_data_dirs):
            if fingerprint_from_data(state.path, {**seq_meta, "source": src}) == old_fingerprint:
                found = src
                break
        state.same_data[old_fingerprint] = found
    return state.same_data[old_fingerprint]


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _move_run(store: ResultsStore, old_dir: Path, new_dir: Path, record: dict[str, Any]) -> None:
    """Copy ``old_dir`` to ``new_dir`` with ``record`` as its record, atomically, then remove
    ``old_dir``; under both runs' locks."""
    method, dataset, seed = record["method"], record["dataset"], record["seed"]
    old_key = record[REKEYED_FROM][-1]["key"]
    with store.lock(method, dataset, seed, old_key), \
            store.lock(method, dataset, seed, record["key"]):
        tmp = store.begin(method, dataset, seed, record["key"])
        try:
            shutil.copytree(old_dir, tmp, dirs_exist_ok=True, copy_function=_link_or_copy)
            (tmp / RECORD).unlink()  # a hard link to the old record: never write through it
            write_atomic_json(tmp / RECORD, record)
            store.commit(tmp, new_dir)
        except BaseException:
            store.discard(tmp)
            raise
        _remove_old(old_dir)


def _remove_old(old_dir: Path) -> None:
    """Remove a run directory that was re-keyed: renamed first to a temporary name (which
    :meth:`ResultsStore.clean_stale_tmp` removes if this process dies), then deleted."""
    trash = old_dir.with_name(f".{old_dir.name}.{os.getpid()}.rekeyed.tmp")
    os.replace(old_dir, trash)
    shutil.rmtree(trash, ignore_errors=True)


def rekey_runs(results_dir: Path, data_dir: Path | None, cache_dir: Path, *,
               dry_run: bool = False, old_data_dirs: Iterable[Path] = (),
               log: Callable[[str], None] = print) -> RekeySummary:
    """Re-key the runs of ``results_dir`` whose dataset fingerprint changed while their data did
    not (see the module docstring); print one line per dataset checked and per run re-keyed,
    refused or left alone.

    Parameters
    ----------
    results_dir : Path
        A results directory with a ``runs/`` folder.
    data_dir, cache_dir : Path
        Where the datasets are materialized from and to (as for ``run``).
    dry_run : bool, default False
        Check everything and print what would be done; write nothing in ``results_dir``.
    old_data_dirs : iterable of Path
        Data directories the runs may have been made with (besides ``data_dir``), to reproduce
        old fingerprints that held absolute paths.
    log : callable
        Gets each line.

    Returns
    -------
    RekeySummary

    Raises
    ------
    NoRunsFolder
        ``results_dir`` has no ``runs/`` folder.
    """
    discover()
    store = ResultsStore(results_dir).require()
    old_data_dirs = [Path(d) for d in old_data_dirs]
    if not dry_run:
        store.clean_stale_tmp()
    summary = RekeySummary()
    datasets: dict[str, _DatasetState] = {}
    verb = "would re-key" if dry_run else "re-keyed"
    for run_dir, rec in list(store.iter_runs()):
        where = str(run_dir.relative_to(store.runs))
        ds = rec.get("dataset", "")
        try:
            get_method_info(rec["method"])  # an unknown method raises here
            spec = RunSpec(method=rec["method"], dataset=ds, seed=int(rec["seed"]),
                           profile=rec.get("profile", "quick"), params=dict(rec["params"]),
                           dataset_fingerprint=rec["dataset_fingerprint"],
                           probe=bool(rec.get("probe", True)))
            old_key = spec.key
        except (UnknownNameError, KeyError, TypeError, ValueError) as e:
            summary.other.append((run_dir, f"record or method not usable here: {e}"))
            log(f"left alone  {where}: record or method not usable here ({e})")
            continue
        if ds not in datasets:
            state = datasets[ds] = _DatasetState()
            try:
                state.path = materialize(ds, data_dir, cache_dir, log=log)
                state.fingerprint = dataset_fingerprint(state.path)
            except (DatasetUnavailable, DatasetIntegrityError, UnknownNameError,
                    ValueError) as e:
                state.error = " ".join(str(e).split())
        state = datasets[ds]
        if state.error:
            summary.unavailable.append((run_dir, state.error))
            log(f"skipped     {where}: dataset {ds} unavailable here ({state.error})")
            continue
        spec.dataset_fingerprint = state.fingerprint
        new_key = spec.key
        if new_key == rec.get("key"):
            if run_dir.name == store.run_name(spec.seed, new_key):
                summary.current.append(run_dir)
            else:
                summary.other.append((run_dir, "directory name differs from its key"))
                log(f"left alone  {where}: its key is current but the directory is not named "
                    f"{store.run_name(spec.seed, new_key)}")
            continue
        if old_key != rec.get("key"):
            why = ("its key is neither the one computed with its own fingerprint nor with the "
                   "current one (method or suite version, or parameters, changed)")
            summary.other.append((run_dir, why))
            log(f"left alone  {where}: {why}")
            continue
        # only the fingerprint differs: are the data the same?
        old_fp = rec["dataset_fingerprint"]
        meta = read_meta(state.path)
        counts = {"n_sequences": meta.get("n_sequences"), "n_events": meta.get("n_events")}
        bad_counts = [f"{k} {rec[k]} in the record, {v} now" for k, v in counts.items()
                      if k in rec and rec[k] != v]
        try:
            old_source = None if bad_counts else _same_data(state, ds, old_fp, data_dir,
                                                            cache_dir, old_data_dirs)
        except DatasetIntegrityError as e:
            old_source, bad_counts = None, [str(e)]
        if old_source is None:
            why = ("; ".join(bad_counts) if bad_counts else
                   f"dataset {ds}: fingerprint {old_fp[:12]} in the record, "
                   f"{state.fingerprint[:12]} now, and no earlier form of its source reproduces "
                   "the old one from the current events and labels (the data changed, or the run "
                   "was made with the data elsewhere: pass --old-data-dir DIR)")
            summary.refused.append((run_dir, why))
            log(f"REFUSED     {where}: {why}")
            continue
        new_dir = store.run_dir(spec.method, ds, spec.seed, new_key)
        why = (f"dataset fingerprint changed, same events and labels (the sequences' source was "
               f"{old_source!r}, is {meta['sequences_meta'].get('source')!r})")
        new_rec = {**rec, "key": new_key, "dataset_fingerprint": state.fingerprint,
                   REKEYED_FROM: [*rec.get(REKEYED_FROM, []),
                                  {"key": rec["key"], "dataset_fingerprint": old_fp, "why": why}]}
        if new_dir.exists():
            try:
                there = store.read_record(new_dir)
            except (OSError, ValueError):
                there = {}
            if there.get("key") == new_key and any(
                    r.get("key") == rec["key"] for r in there.get(REKEYED_FROM, [])):
                if not dry_run:  # an earlier rekey stopped before removing the old directory
                    _remove_old(run_dir)
                summary.rekeyed.append((run_dir, new_dir))
                log(f"{verb:<11} {where} -> {new_dir.name} (finished an interrupted re-key)")
                continue
            why = f"another run is already stored under the new key ({new_dir.name})"
            summary.refused.append((run_dir, why))
            log(f"REFUSED     {where}: {why}")
            continue
        if not dry_run:
            _move_run(store, run_dir, new_dir, new_rec)
        summary.rekeyed.append((run_dir, new_dir))
        log(f"{verb:<11} {where} -> {new_dir.name} (fingerprint {old_fp[:12]} -> "
            f"{state.fingerprint[:12]}, same events and labels)")
    for ds, state in datasets.items():
        for old_fp, src in state.same_data.items():
            if src is not None:
                log(f"{ds}: fingerprint {old_fp} (runs) = current events and labels with source "
                    f"{src!r}; now {state.fingerprint}")
    log(summary.line(dry_run))
    return summary


def cmd_rekey(args, data_dir: Path | None, cache_dir: Path) -> int:
    """``python -m benchmark rekey``: exit 0 when nothing was refused or skipped, else 1."""
    summary = rekey_runs(Path(args.results_dir), data_dir, cache_dir, dry_run=args.dry_run,
                         old_data_dirs=[Path(d) for d in args.old_data_dir or []])
    return 0 if summary.ok else 1
