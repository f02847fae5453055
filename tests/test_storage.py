import json

import numpy as np
import pytest

from benchmark.dataset import Dataset
from benchmark.storage import (DatasetIntegrityError, DatasetWriter, iter_shards, load_dataset,
                               load_sequences, save_dataset)
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
