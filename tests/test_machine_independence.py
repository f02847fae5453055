"""Dataset fingerprints and run keys depend on the data and parameters only, never on where the
data directory or the cache is: the same raw files under two data directories give the same
fingerprint and run keys, the committed leaderboard's real-set runs are found with the data
moved, and ``python -m benchmark rekey`` migrates runs whose fingerprint held an absolute path
(checking that the data are the same, refusing otherwise)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from benchmark.core.catalog import materialize
from benchmark.core.dataset import DatasetUnavailable
from benchmark.core.registry import DATASETS, LoadContext, discover, register_dataset
from benchmark.core.storage import dataset_fingerprint, fingerprint_from_data, read_meta
from benchmark.harness.cli import main
from benchmark.harness.evaluate import chosen_runs
from benchmark.harness.rekey import REKEYED_FROM, rekey_runs
from benchmark.harness.results_store import ResultsStore
from benchmark.harness.runner import Plan, RunSpec, resolve_params, split_done
from loaders._fetch import RemoteFile, fetch
from loaders.long_table import load_long_table
from tests.conftest import shared_data_dir

REPO = Path(__file__).resolve().parent.parent
LEADERBOARD = REPO / "leaderboard"
REAL = ["LinkedIn", "LinkedIn-holdout", "IPTV", "IPTV-holdout", "Amazon"]
TABLE = "mine/events.csv"  # the self-contained dataset's raw file, relative to the data directory
NAME = "test_machine_long_table"


def _spec(dataset: str, fingerprint: str, method: str = "random", seed: int = 0) -> RunSpec:
    return RunSpec(method=method, dataset=dataset, seed=seed, profile="quick",
                   params=resolve_params(method, "quick", seed, 2), dataset_fingerprint=fingerprint)


@pytest.fixture
def long_table_dataset(monkeypatch):
    """A registered user dataset read with :func:`fetch` + :func:`load_long_table` from
    ``DATA/mine/events.csv`` (unregistered afterwards); returns a function writing its raw file
    into a data directory."""
    discover()
    monkeypatch.setenv("EVSEQ_OFFLINE", "1")

    def load(ctx: LoadContext):
        (path,) = fetch(ctx, [RemoteFile(TABLE, None)], NAME)
        return load_long_table(path, label_col="segment", source=TABLE)

    register_dataset(NAME, kind="toy", n_clusters=2)(load)
    rng = np.random.default_rng(0)
    rows = ["seq_id,time,type,segment"]
    for u in range(12):
        t = np.sort(rng.uniform(0, 10, 5))
        rows += [f"u{u},{x:.6f},{'ab'[(u + i) % 2]},{'AB'[u % 2]}" for i, x in enumerate(t)]

    def write(data_dir: Path) -> Path:
        (data_dir / "mine").mkdir(parents=True)
        (data_dir / TABLE).write_text("\n".join(rows) + "\n")
        return data_dir

    yield write
    DATASETS.pop(NAME, None)


def test_same_fingerprint_and_run_keys_from_two_data_directories(tmp_path, long_table_dataset):
    a = long_table_dataset(tmp_path / "a")
    b = long_table_dataset(tmp_path / "elsewhere" / "deeper" / "b")
    da = materialize(NAME, a, tmp_path / "cache1")
    db = materialize(NAME, b, tmp_path / "other" / "cache2")
    assert read_meta(da)["sequences_meta"]["source"] == TABLE
    assert dataset_fingerprint(da) == dataset_fingerprint(db)
    assert _spec(NAME, dataset_fingerprint(da)).key == _spec(NAME, dataset_fingerprint(db)).key
    assert str(tmp_path) not in json.dumps(read_meta(da)["sequences_meta"])


def test_path_based_loaders_store_no_path(tmp_path):
    """Called on a path directly, the loaders keep only the file's name as the source."""
    f = tmp_path / "somewhere" / "events.csv"
    f.parent.mkdir()
    f.write_text("seq_id,time,type\nu1,0.5,0\nu1,1.0,1\nu2,0.2,1\n")
    assert load_long_table(f).sequences.meta["source"] == "events.csv"


@pytest.mark.parametrize("name", REAL)
def test_real_sets_same_fingerprint_from_two_data_directories(tmp_path, monkeypatch, name):
    """The real raw files (LinkedIn 0.3 MB, IPTV 3 MB, Amazon 1.3 MB) copied under two data
    directories and materialized into two caches: one fingerprint, relative sources."""
    data = shared_data_dir()
    folder = name.removesuffix("-holdout").lower()
    if data is None or not (data / folder).is_dir():
        pytest.skip("real data directory absent (set EVSEQ_DATA_DIR)")
    monkeypatch.setenv("EVSEQ_OFFLINE", "1")
    discover()
    fps, sources = [], []
    for i, root in enumerate([tmp_path / "a", tmp_path / "x" / "y" / "b"]):
        shutil.copytree(data / folder, root / folder)
        d = materialize(name, root, tmp_path / f"cache{i}")
        fps.append(dataset_fingerprint(d))
        sources.append(read_meta(d)["sequences_meta"]["source"])
    assert fps[0] == fps[1] and sources[0] == sources[1]
    assert all(not Path(s).is_absolute() and str(tmp_path) not in s
               for s in sources[0].split(", "))
    assert _spec(name, fps[0], "histogram-kmeans").key == _spec(name, fps[1],
                                                                 "histogram-kmeans").key


def test_committed_real_runs_found_with_data_elsewhere(tmp_path, monkeypatch):
    """The leaderboard's real-set runs (made with the data at another path) are all found by
    the harness with the data directory somewhere else and an empty cache."""
    data = shared_data_dir()
    if data is None:
        pytest.skip("real data directory absent (set EVSEQ_DATA_DIR)")
    monkeypatch.setenv("EVSEQ_OFFLINE", "1")
    discover()
    moved = tmp_path / "moved" / "data"
    moved.parent.mkdir()
    moved.symlink_to(data.resolve(), target_is_directory=True)
    fingerprints = {}
    for ds in REAL:
        try:
            fingerprints[ds] = dataset_fingerprint(materialize(ds, moved, tmp_path / "cache"))
        except DatasetUnavailable:
            continue
    if not fingerprints:
        pytest.skip("no real dataset's files here")
    specs = []
    for (_, ds, seed), (_, rec) in chosen_runs(LEADERBOARD).items():
        if ds in fingerprints:
            specs.append(RunSpec(method=rec["method"], dataset=ds, seed=seed,
                                 profile=rec["profile"], params=rec["params"],
                                 dataset_fingerprint=fingerprints[ds], probe=rec["probe"]))
    assert len(specs) > 100
    todo, records = split_done(Plan(specs, []), LEADERBOARD)
    assert not todo, [f"{s.method}/{s.dataset}/seed{s.seed}" for s in todo[:10]]
    assert len(records) == len(specs)


def _store_run(store: ResultsStore, spec: RunSpec, n_sequences: int) -> Path:
    d = store.run_dir(spec.method, spec.dataset, spec.seed, spec.key)
    d.mkdir(parents=True)
    np.save(d / "labels.npy", np.zeros(n_sequences, np.int64))
    (d / "metrics.json").write_text('{"purity": 0.5}')
    (d / "record.json").write_text(json.dumps({
        "method": spec.method, "dataset": spec.dataset, "seed": spec.seed, "profile": "quick",
        "params": spec.params, "probe": spec.probe, "key": spec.key, "status": "ok",
        "dataset_fingerprint": spec.dataset_fingerprint, "n_sequences": n_sequences}))
    return d


def test_rekey_migrates_runs_with_an_absolute_source_and_refuses_changed_data(
        tmp_path, long_table_dataset, capsys):
    data = long_table_dataset(tmp_path / "data")
    cache = tmp_path / "cache"
    ddir = materialize(NAME, data, cache)
    meta = read_meta(ddir)
    n = meta["n_sequences"]
    # what the loaders stored before: the absolute path of the raw file
    old_fp = fingerprint_from_data(ddir, {**meta["sequences_meta"], "source": str(data / TABLE)})
    assert old_fp != dataset_fingerprint(ddir)
    store = ResultsStore(tmp_path / "results").create()
    old_run = _store_run(store, _spec(NAME, old_fp), n)
    changed = _store_run(store, _spec(NAME, "0" * 64, seed=1), n)  # other data: refused
    moved_elsewhere = fingerprint_from_data(ddir, {**meta["sequences_meta"],
                                                   "source": f"/elsewhere/{TABLE}"})
    other_dir = _store_run(store, _spec(NAME, moved_elsewhere, seed=2), n)
    current = _store_run(store, _spec(NAME, dataset_fingerprint(ddir), seed=3), n)

    before = sorted(p.name for p in old_run.parent.iterdir())
    summary = rekey_runs(store.root, data, cache, dry_run=True, log=lambda line: None)
    assert [d for d, _ in summary.rekeyed] == [old_run] and summary.current == [current]
    assert sorted(p.name for p in old_run.parent.iterdir()) == before  # dry run: untouched

    summary = rekey_runs(store.root, data, cache, log=print)
    out = capsys.readouterr().out
    new_dir = store.run_dir("random", NAME, 0, _spec(NAME, dataset_fingerprint(ddir)).key)
    assert summary.rekeyed == [(old_run, new_dir)] and not old_run.exists()
    assert {d for d, _ in summary.refused} == {changed, other_dir} and changed.exists()
    assert not summary.ok and "REFUSED" in out and "re-keyed" in out
    rec = store.read_record(new_dir)
    assert rec["key"] == _spec(NAME, dataset_fingerprint(ddir)).key
    assert rec["dataset_fingerprint"] == dataset_fingerprint(ddir)
    assert rec[REKEYED_FROM][0]["dataset_fingerprint"] == old_fp
    assert json.loads((new_dir / "metrics.json").read_text()) == {"purity": 0.5}
    assert (new_dir / "labels.npy").exists()
    assert not [p for p in new_dir.parent.iterdir() if p.name.startswith(".")]
    assert store.find_done("random", NAME, 0, rec["key"]) == new_dir

    # the data directory the run was made with, given: the last one is migrated too
    summary = rekey_runs(store.root, data, cache, old_data_dirs=[Path("/elsewhere")],
                         log=lambda line: None)
    assert [d for d, _ in summary.rekeyed] == [other_dir]
    assert [d for d, _ in summary.refused] == [changed]
    # the command line: nothing left to do but the refused run (exit 1)
    assert main(["rekey", "--results-dir", str(store.root), "--data-dir", str(data),
                 "--cache-dir", str(cache), "--dry-run"]) == 1
    assert "0 run(s) to re-key, 3 already current, 1 refused" in capsys.readouterr().out
