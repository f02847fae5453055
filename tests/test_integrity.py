"""Stored datasets are verified on every load and every materialize: a changed file is named,
moved aside and rebuilt; temporary leftovers of killed processes are cleaned."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import tests.harness_methods  # noqa: F401  (registers test_tiny and test_tiny_shuffled)
from benchmark.core.catalog import (
    clean_stale_cache_tmp,
    dataset_dir,
    index_file,
    materialize,
    verify_entry,
)
from benchmark.core.dataset import DatasetUnavailable
from benchmark.core.registry import register_dataset
from benchmark.core.storage import (
    DatasetIntegrityError,
    DatasetWriter,
    load_dataset,
    load_labels,
    load_sequences,
    read_meta,
    save_dataset,
    verify_dataset,
)
from generators.poisson_mixture import simulate_poisson_mixture


@register_dataset("test_integrity_raw", kind="toy", n_clusters=2, version="1")
def _from_raw(ctx):
    """Built from a raw file in the data directory; unavailable once it is gone."""
    raw = ctx.data_dir / "raw.txt" if ctx.data_dir else None
    if raw is None or not raw.exists():
        raise DatasetUnavailable("raw.txt is gone")
    return simulate_poisson_mixture(n_per_cluster=5, n_clusters=2, seed=int(raw.read_text()))


def _edit_meta(**fields):
    def edit(d, cache_dir):
        meta = json.loads((d / "meta.json").read_text())
        (d / "meta.json").write_text(json.dumps({**meta, **fields}))
    return edit


def _zero_labels(d, cache_dir):
    n = pq.read_table(d / "labels.parquet").num_rows
    pq.write_table(pa.table({"label": np.zeros(n, np.int64)}), d / "labels.parquet")


def _truncate_events(d, cache_dir):
    f = d / "events-00000.parquet"
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])


def _swap_in_other_dataset(d, cache_dir):  # same events, permuted labels: consistent on its own
    other = materialize("test_tiny_shuffled", None, cache_dir)
    for f in other.iterdir():
        shutil.copyfile(f, d / f.name)


TAMPER = {  # case: (change, file named, message)
    "zeroed labels": (_zero_labels, "labels.parquet",
                      "labels do not match the dataset's sha256 in meta.json"),
    "zeroed sha256": (_edit_meta(sha256="0" * 64), "meta.json", "does not match its meta_sha256"),
    "edited type_names": (_edit_meta(type_names=["x", "y", "z"]), "meta.json",
                          "does not match its meta_sha256"),
    "truncated events shard": (_truncate_events, "events-00000.parquet", "unreadable Parquet"),
    "deleted sequences shard": (lambda d, c: (d / "sequences-00000.parquet").unlink(),
                                "sequences-00000.parquet", "missing"),
    "swapped directory": (_swap_in_other_dataset, "meta.json",
                          "differs from the catalog's record"),
}


@pytest.mark.parametrize("case", TAMPER)
def test_tampered_cache_entry_is_named_moved_aside_and_rebuilt(case, cache_dir):
    change, fname, problem = TAMPER[case]
    target = materialize("test_tiny", None, cache_dir)
    good = read_meta(target)
    change(target, cache_dir)
    with pytest.raises(DatasetIntegrityError) as err:
        verify_entry(target)
    msg = str(err.value)
    assert msg.startswith(str(target / fname) + ":") and problem in msg and "\n" not in msg
    lines = []
    assert materialize("test_tiny", None, cache_dir, log=lines.append) == target
    corrupt = target.with_name(".test_tiny-v1.corrupt")
    assert lines == [f"{msg}; moved to {corrupt}, rebuilding test_tiny"]
    assert read_meta(target) == good and verify_dataset(target) == good  # rebuilt, verified
    assert load_dataset(target).labels.any()
    if case == "swapped directory":  # the corrupt copy is kept as it was
        other = target.with_name("test_tiny_shuffled-v1")
        assert read_meta(corrupt)["sha256"] == read_meta(other)["sha256"]
    else:
        pytest.raises(DatasetIntegrityError, verify_dataset, corrupt)
    assert materialize("test_tiny", None, cache_dir, log=lines.append) == target and len(lines) == 1


@pytest.mark.parametrize("case", ["zeroed sha256", "edited type_names"])
def test_an_edited_meta_json_fails_every_load(case, cache_dir):
    target = materialize("test_tiny", None, cache_dir)
    TAMPER[case][0](target, cache_dir)
    for load in (load_sequences, load_labels, load_dataset, read_meta):
        with pytest.raises(DatasetIntegrityError, match="meta.json: does not match its meta_sha"):
            load(target)


def test_load_labels_verifies_the_labels(tmp_path):
    d = simulate_poisson_mixture(n_per_cluster=10, n_clusters=2)
    sha = save_dataset(d, tmp_path / "ds")
    np.testing.assert_array_equal(load_labels(tmp_path / "ds"), d.labels)
    _zero_labels(tmp_path / "ds", None)
    with pytest.raises(DatasetIntegrityError, match=r"labels.parquet: labels do not match"):
        load_labels(tmp_path / "ds")
    assert not load_labels(tmp_path / "ds", verify=False).any()
    load_sequences(tmp_path / "ds")  # events are intact, and reading them never opens the labels
    # a meta.json written before meta_sha256 existed: the culprit may be either file
    meta = read_meta(tmp_path / "ds")
    del meta["meta_sha256"]
    (tmp_path / "ds" / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(DatasetIntegrityError, match="labels or the meta.json header do not match"):
        load_labels(tmp_path / "ds")
    assert read_meta(tmp_path / "ds")["sha256"] == sha


def test_verify_dataset_full_hashes_the_shards(tmp_path):
    d = simulate_poisson_mixture(n_per_cluster=10, n_clusters=2)
    save_dataset(d, tmp_path / "ds")
    f = tmp_path / "ds" / "events-00000.parquet"
    t = pq.read_table(f)
    pq.write_table(t.set_column(1, "time", pa.array(t.column("time").to_numpy() * 1.0000001)), f)
    verify_dataset(tmp_path / "ds", full=False)  # row counts, labels and header only
    with pytest.raises(DatasetIntegrityError, match=f"{f} / sequences-00000.parquet: shard does "
                                                    "not match its sha256 in meta.json"):
        verify_dataset(tmp_path / "ds")
    _truncate_events(tmp_path / "ds", None)
    with pytest.raises(DatasetIntegrityError, match="events-00000.parquet: unreadable Parquet"):
        verify_dataset(tmp_path / "ds", full=False)


def test_an_entry_of_an_older_version_is_trusted_on_first_use_then_guarded(cache_dir):
    target = materialize("test_tiny", None, cache_dir)
    meta = read_meta(target)
    old = {k: v for k, v in meta.items() if k != "meta_sha256"}
    (target / "meta.json").write_text(json.dumps(old))
    index_file(target).unlink()
    lines = []
    assert materialize("test_tiny", None, cache_dir, log=lines.append) == target and not lines
    assert read_meta(target) == meta  # meta_sha256 added; sha256 and fingerprint unchanged
    entry = json.loads(index_file(target).read_text())
    assert entry["fingerprint"] == meta["fingerprint"] and entry["sha256"] == meta["sha256"]
    _swap_in_other_dataset(target, cache_dir)
    materialize("test_tiny", None, cache_dir, log=lines.append)
    assert len(lines) == 1 and "differs from the catalog's record" in lines[0]
    # a tampered old entry fails its first verification and is rebuilt
    (target / "meta.json").write_text(json.dumps(old))
    index_file(target).unlink()
    _zero_labels(target, cache_dir)
    materialize("test_tiny", None, cache_dir, log=lines.append)
    assert "labels.parquet: labels or the meta.json header do not match" in lines[-1]
    assert read_meta(target) == meta


def test_fingerprint_and_sha256_are_unchanged(cache_dir):
    """Run keys hash the fingerprint: it must stay what earlier versions computed."""
    meta = read_meta(materialize("test_tiny", None, cache_dir))
    assert meta["fingerprint"] == "7ce1fc6b3e3fe81c5de84c62851267002875f48cc5d09056fb89b58ac22ce651"
    assert set(meta) == {"format_version", "n_types", "type_names", "n_sequences", "n_events",
                         "has_labels", "shards", "sequences_meta", "dataset_meta", "sha256",
                         "fingerprint", "meta_sha256"}


def test_unrebuildable_entry_raises_unavailable(tmp_path, cache_dir):
    data = tmp_path / "data"
    data.mkdir()
    (data / "raw.txt").write_text("3")
    target = materialize("test_integrity_raw", data, cache_dir)
    (data / "raw.txt").unlink()
    _zero_labels(target, cache_dir)
    with pytest.raises(DatasetUnavailable, match="raw.txt is gone"):
        materialize("test_integrity_raw", data, cache_dir, log=lambda s: None)
    assert target.with_name(".test_integrity_raw-v1.corrupt").exists() and not target.exists()


def test_stale_temporaries_are_cleaned_live_ones_spared(cache_dir):
    dead_proc = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_proc.wait()
    dead, live = dead_proc.pid, os.getppid()  # the pytest parent is alive
    base = cache_dir / "datasets"
    stale = [base / f".test_tiny-v1.{dead}.abc123.tmp", base / f".test_tiny-v1.copy-{dead}",
             base / ".test_tiny-v1.abc123.tmp",  # written before the pid was in the name
             base / f".index/.test_tiny-v1.json.{dead}.x1.tmp"]
    kept = [base / f".test_tiny-v1.{live}.abc123.tmp", base / f".test_tiny-v1.copy-{live}",
            base / f".test_tiny-v1.{os.getpid()}.abc123.tmp", base / ".test_tiny-v1.corrupt"]
    for p in stale[:-1] + kept:
        p.mkdir(parents=True)
    stale[-1].parent.mkdir()
    stale[-1].write_text("{")  # a half-written index entry
    materialize("test_tiny", None, cache_dir)
    assert [p for p in stale if p.exists()] == [] and all(p.exists() for p in kept)
    assert clean_stale_cache_tmp(cache_dir) == 0


def test_writer_temporary_names_its_process(tmp_path):
    d = simulate_poisson_mixture(n_per_cluster=5, n_clusters=2)
    with DatasetWriter(dataset_dir("test_tiny", tmp_path), n_types=d.sequences.n_types) as w:
        w.write_shard(d.sequences)
        assert w.tmp.name.startswith(f".test_tiny-v1.{os.getpid()}.") and w.tmp.suffix == ".tmp"
        assert clean_stale_cache_tmp(tmp_path) == 0 and w.tmp.exists()
