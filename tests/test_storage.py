import json

import numpy as np
import pytest

from benchmark.core.dataset import Dataset
from benchmark.core.storage import (
    DatasetIntegrityError,
    DatasetWriter,
    dataset_fingerprint,
    iter_shards,
    load_dataset,
    load_sequences,
    read_meta,
    save_dataset,
)
from generators.poisson_mixture import simulate_poisson_mixture


def test_roundtrip_and_sha(tmp_path):
    d = simulate_poisson_mixture(n_per_cluster=10, n_clusters=2)
    sha = save_dataset(d, tmp_path / "ds")
    r = load_dataset(tmp_path / "ds")
    assert np.array_equal(r.sequences.times, d.sequences.times)
    assert np.array_equal(r.labels, d.labels)
    assert np.allclose(r.sequences.t_end, d.sequences.t_end)
    assert json.loads((tmp_path / "ds" / "meta.json").read_text())["sha256"] == sha
    assert save_dataset(d, tmp_path / "ds2") == sha  # deterministic content hash


def _with_times(d: Dataset, times: np.ndarray) -> Dataset:
    return Dataset(d.sequences._replace(times=times), d.labels, d.meta)


def test_fingerprint_ignores_last_bits_but_not_the_data(tmp_path):
    d = simulate_poisson_mixture(n_per_cluster=10, n_clusters=2)
    save_dataset(d, tmp_path / "ds")
    fp = read_meta(tmp_path / "ds")["fingerprint"]
    # another CPU's SIMD exp/log: every time one ulp off -> another sha256, the same fingerprint
    t = d.sequences.times
    ulp = _with_times(d, np.nextafter(t, np.inf) if t.min() > 0 else t + np.spacing(t))
    assert save_dataset(ulp, tmp_path / "ulp") != read_meta(tmp_path / "ds")["sha256"]
    assert read_meta(tmp_path / "ulp")["fingerprint"] == fp
    # a moved event, other labels or another generator description of the same data
    moved = t.copy()
    moved[3] += 1e-3 * (moved[4] - moved[3])
    save_dataset(_with_times(d, moved), tmp_path / "moved")
    relabelled = Dataset(d.sequences, 1 - d.labels, d.meta)
    save_dataset(relabelled, tmp_path / "relabelled")
    save_dataset(Dataset(d.sequences, d.labels, {**d.meta, "note": "x"}), tmp_path / "meta")
    assert read_meta(tmp_path / "moved")["fingerprint"] != fp
    assert read_meta(tmp_path / "relabelled")["fingerprint"] != fp
    assert read_meta(tmp_path / "meta")["fingerprint"] == fp  # methods never see dataset_meta


def test_fingerprint_of_a_dataset_stored_without_one(tmp_path):
    d = simulate_poisson_mixture(n_per_cluster=10, n_clusters=2)
    save_dataset(d, tmp_path / "ds")
    f = tmp_path / "ds" / "meta.json"
    meta = json.loads(f.read_text())
    fp = meta.pop("fingerprint")
    meta.pop("meta_sha256")  # stored before either existed
    for shard in meta["shards"]:
        shard.pop("fingerprint")
    f.write_text(json.dumps(meta))
    assert dataset_fingerprint(tmp_path / "ds") == fp
    load_dataset(tmp_path / "ds")  # still verifies (the sha256 does not cover the fingerprint)


def test_tampered_labels_and_truncated_files_are_caught(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    d = simulate_poisson_mixture(n_per_cluster=10, n_clusters=2)
    save_dataset(d, tmp_path / "ds")
    pq.write_table(pa.table({"label": np.zeros(20, np.int64)}), tmp_path / "ds" / "labels.parquet")
    with pytest.raises(DatasetIntegrityError, match="sha256"):
        load_dataset(tmp_path / "ds")
    save_dataset(d, tmp_path / "ds")
    f = tmp_path / "ds" / "events-00000.parquet"
    f.write_bytes(f.read_bytes()[: len(f.read_bytes()) // 2])
    with pytest.raises(DatasetIntegrityError, match="events-00000"):
        load_dataset(tmp_path / "ds")


def test_failed_write_leaves_nothing(tmp_path):
    d = simulate_poisson_mixture(n_per_cluster=5, n_clusters=2)
    with pytest.raises(RuntimeError):
        with DatasetWriter(tmp_path / "ds", n_types=d.sequences.n_types) as w:
            w.write_shard(d.sequences)
            raise RuntimeError("disk full")
    assert list(tmp_path.iterdir()) == []


def test_sharded_lazy_reading(tmp_path):
    d = simulate_poisson_mixture(n_per_cluster=30, n_clusters=2)
    s = d.sequences
    with DatasetWriter(tmp_path / "ds", n_types=s.n_types) as w:
        for a in range(0, len(s), 25):
            w.write_shard(s.slice(a, min(a + 25, len(s))))
        w.set_labels(d.labels)
    shards = list(iter_shards(tmp_path / "ds"))
    assert [len(x) for x in shards] == [25, 25, 10]
    whole = load_sequences(tmp_path / "ds")
    assert np.array_equal(whole.times, s.times) and np.array_equal(whole.offsets, s.offsets)
    assert isinstance(load_dataset(tmp_path / "ds"), Dataset)
