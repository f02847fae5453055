"""Typed dataset specs: fields, the clear error on unknown keywords, the ``-holdout`` twin helper,
the oracle hook behind ``python -m benchmark oracle`` and Huge written by the catalog."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark.core.catalog import dataset_dir, materialize, write_dataset
from benchmark.core.dataset import Dataset, ShardedDataset
from benchmark.core.registry import (
    DATASETS,
    DatasetSpec,
    LoadContext,
    discover,
    get_dataset,
    register_dataset,
    register_dataset_with_holdout,
)
from benchmark.core.sequences import EventSequences
from benchmark.core.storage import load_dataset, load_labels, read_meta
from generators.poisson_mixture import simulate_poisson_mixture

REPO = Path(__file__).resolve().parent.parent
LAL_NAMES = [f"{p}K{k}_C5" for p in ("", "sin_", "trunc_") for k in (2, 3, 4, 5)]
FIELDS = ["name", "load", "kind", "n_clusters", "description", "version", "family", "heavy",
          "paper_stats", "generate", "oracle", "draw"]


@pytest.fixture
def scratch_names():
    """Names registered by a test, unregistered afterwards."""
    names: list[str] = []
    yield names
    for n in names:
        DATASETS.pop(n, None)


def _toy(ctx=None) -> Dataset:
    return simulate_poisson_mixture(n_per_cluster=5, n_clusters=2, seed=3)


# ------------------------------------------------------------------------------ typed fields
def test_spec_has_typed_fields_and_no_extra():
    assert [f.name for f in dataclasses.fields(DatasetSpec)] == FIELDS
    assert DatasetSpec.__doc__ and all(f"{f} :" in DatasetSpec.__doc__ for f in FIELDS)
    spec = get_dataset("K2_C5")
    assert not hasattr(spec, "extra") and not hasattr(spec, "offline")
    assert (spec.kind, spec.n_clusters, spec.version, spec.family, spec.heavy) == \
        ("synthetic", 2, "1", "exp", False)
    assert spec.paper_stats == {"mean_length": 50.0, "n_sequences": 800, "n_types": 5}
    assert callable(spec.generate) and callable(spec.oracle)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.heavy = True  # type: ignore[misc]


def test_registered_fields_per_kind():
    discover()
    assert [get_dataset(n).family for n in ("K3_C5", "sin_K3_C5", "trunc_K3_C5")] == \
        ["exp", "sin", "trunc"]
    huge = get_dataset("Huge")
    assert huge.heavy and huge.family is None and callable(huge.generate)
    assert [n for n, s in DATASETS.items() if s.heavy] == ["Huge"]
    for name in ("LinkedIn", "LinkedIn-holdout", "IPTV", "IPTV-holdout", "Amazon", "Age"):
        spec = get_dataset(name)
        # version 2: meta["source"] relative to the data directory (machine-independent)
        assert (spec.kind, spec.family, spec.version) == ("real", "real", "2")
        assert spec.generate is None and spec.oracle is None and spec.paper_stats
    toy = get_dataset("poisson_mixture")
    assert toy.kind == "toy" and toy.family is None and toy.oracle is None


def test_unknown_keyword_is_a_clear_error(scratch_names):
    scratch_names.append("test_spec_bad")
    with pytest.raises(TypeError, match=r"register_dataset\('test_spec_bad'\): unknown "
                                        r"keyword\(s\) 'offline'; the fields are kind, "):
        register_dataset("test_spec_bad", kind="toy", offline=True)(_toy)
    with pytest.raises(TypeError, match="'paper_group' is now 'family'"):
        register_dataset("test_spec_bad", kind="toy", paper_group="exp")(_toy)
    with pytest.raises(ValueError, match="kind 'generated' is not one of synthetic, real, toy"):
        register_dataset("test_spec_bad", kind="generated")(_toy)
    with pytest.raises(ValueError, match="version must be a non-empty str"):
        register_dataset("test_spec_bad", kind="toy", version=2)(_toy)
    assert "test_spec_bad" not in DATASETS


def test_description_defaults_to_docstring(scratch_names):
    def loader(ctx):
        """Two clusters of toy sequences.

        More text."""
        return _toy()

    scratch_names.append("test_spec_doc")
    register_dataset("test_spec_doc", kind="toy")(loader)
    spec = DATASETS["test_spec_doc"]
    assert spec.description == "Two clusters of toy sequences."
    assert (spec.version, spec.family, spec.heavy, spec.paper_stats, spec.generate,
            spec.oracle) == ("1", None, False, None, None, None)


# ---------------------------------------------------------------------------- holdout twins
def test_holdout_helper_registers_both(scratch_names):
    calls = []

    def load(ctx, holdout_last):
        calls.append(holdout_last)
        return _toy()

    scratch_names += ["test_twin", "test_twin-holdout"]
    full, held = register_dataset_with_holdout(
        "test_twin", load, kind="real", n_clusters=2, family="real", version="3",
        paper_stats={"n_sequences": 10}, description="full", holdout_description="last hidden")
    a, b = DATASETS["test_twin"], DATASETS["test_twin-holdout"]
    assert (a.load, b.load) == (full, held)
    assert (a.description, b.description) == ("full", "last hidden")
    same = [f for f in FIELDS if f not in ("name", "load", "description")]
    assert [getattr(a, f) for f in same] == [getattr(b, f) for f in same]
    ctx = LoadContext(None, Path("/nonexistent"))
    full(ctx), held(ctx)
    assert calls == [False, True]


@pytest.mark.parametrize("name", ["LinkedIn", "IPTV"])
def test_real_twins_differ_only_in_loader_and_description(name):
    a, b = get_dataset(name), get_dataset(f"{name}-holdout")
    assert a.description != b.description and a.load is not b.load
    same = [f for f in FIELDS if f not in ("name", "load", "description")]
    assert [getattr(a, f) for f in same] == [getattr(b, f) for f in same]


# ----------------------------------------------------------------------------------- oracle
def test_default_oracle_sets_are_the_12_lal_sets_in_order():
    from benchmark.harness.cli import default_oracle_datasets

    assert default_oracle_datasets() == LAL_NAMES
    assert callable(get_dataset("Huge").oracle)  # heavy: only when named


def test_oracle_cli_calls_the_spec_hook(cache_dir, capsys, scratch_names):
    from benchmark.harness.cli import main

    seen = []

    def oracle(ddir: Path) -> np.ndarray:  # a perfect classifier read from the stored labels
        seen.append(ddir)
        labels = load_labels(ddir)
        return np.eye(2)[labels]

    scratch_names.append("test_spec_oracle")
    register_dataset("test_spec_oracle", kind="toy", n_clusters=2, oracle=oracle)(_toy)
    assert main(["oracle", "test_spec_oracle"]) == 0
    out = capsys.readouterr().out
    assert "test_spec_oracle     10   2         1.0000    1.0000" in out
    assert seen == [dataset_dir("test_spec_oracle", cache_dir)]


def test_oracle_cli_output_matches_committed_reference(cache_dir, capsys):
    from benchmark.harness.cli import main

    assert main(["oracle", "K2_C5", "trunc_K2_C5"]) == 0
    out = capsys.readouterr().out.splitlines()
    ref = pd.read_csv(REPO / "leaderboard" / "oracle_reference.csv").set_index("dataset")
    for line, name in zip(out[1:], ["K2_C5", "trunc_K2_C5"]):
        r = ref.loc[name]
        assert line == (f"{name:12s} {int(r.n_sequences):6d} {2:3d}  {r.purity:13.4f}  "
                        f"{r.accuracy:8.4f}")


def test_oracle_hook_is_the_true_parameter_likelihood(tmp_path):
    from generators.hawkes_kernels import HawkesParams
    from generators.hawkes_synthetic import make_lal_dataset, true_cluster_log_likelihoods

    ds = make_lal_dataset("sin", 2, n_per_cluster=15, seed=4)
    write_dataset(ds, tmp_path / "d")
    ll = get_dataset("sin_K2_C5").oracle(tmp_path / "d")
    params = [HawkesParams.from_dict(p) for p in ds.meta["params"]]
    np.testing.assert_allclose(ll, true_cluster_log_likelihoods(ds.sequences, params))
    write_dataset(_toy(), tmp_path / "toy")
    with pytest.raises(ValueError, match="no true Hawkes parameters"):
        get_dataset("K2_C5").oracle(tmp_path / "toy")


# ------------------------------------------------------------------------- Huge and shards
def test_huge_loader_returns_shards_and_writes_nothing(tmp_path):
    out = get_dataset("Huge").load(LoadContext(None, tmp_path))
    assert isinstance(out, ShardedDataset) and out.n_types == 5
    assert out.sequences_meta["name"] == "Huge" and len(out.meta["params"]) == 5
    assert list(tmp_path.iterdir()) == []  # nothing simulated or written yet


def test_huge_via_the_catalog_equals_write_huge(tmp_path, monkeypatch):
    from generators import huge

    monkeypatch.setattr(huge, "HUGE_N_SEQUENCES", 300)
    monkeypatch.setattr(huge, "HUGE_SHARD_SIZE", 100)
    monkeypatch.setattr(huge.os, "cpu_count", lambda: 1)
    if hasattr(huge.os, "sched_getaffinity"):
        monkeypatch.setattr(huge.os, "sched_getaffinity", lambda pid: {0})
    stored = materialize("Huge", None, tmp_path / "cache")
    assert stored == dataset_dir("Huge", tmp_path / "cache")
    direct = huge.write_huge(tmp_path / "direct", n_sequences=300, shard_size=100, n_workers=2)
    a, b = read_meta(stored), read_meta(direct)
    assert (a["fingerprint"], a["sha256"]) == (b["fingerprint"], b["sha256"])
    assert len(a["shards"]) == 3 and a["sequences_meta"]["name"] == "Huge"
    ds = load_dataset(stored)
    assert np.array_equal(np.bincount(ds.labels), np.full(5, 60))
    assert list(ds.sequences.seq_ids[:3]) == [0, 1, 2]


def test_write_dataset_shards_without_labels_and_bad_input(tmp_path):
    s = simulate_poisson_mixture(n_per_cluster=4, n_clusters=2, seed=1).sequences
    parts = [s.slice(0, 4), s.slice(4, 8)]
    write_dataset(ShardedDataset(((p, None) for p in parts), n_types=s.n_types,
                                 sequences_meta={"name": "x"}), tmp_path / "x")
    back = load_dataset(tmp_path / "x")
    assert back.labels is None and np.array_equal(back.sequences.times, s.times)
    mixed = ShardedDataset([(parts[0], np.zeros(4, int)), (parts[1], None)], n_types=s.n_types)
    with pytest.raises(ValueError, match="all have labels or none"):
        write_dataset(mixed, tmp_path / "y")
    assert not (tmp_path / "y").exists()
    with pytest.raises(TypeError, match="Dataset or a ShardedDataset, got PosixPath"):
        write_dataset(tmp_path / "x", tmp_path / "z")


def test_no_generator_import_cycle_and_no_cache_writes_in_plugins():
    def imports(path: Path) -> set[str]:
        tree = ast.parse(path.read_text())
        out = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                out.add(("." * node.level) + (node.module or ""))
                out.update(f"{'.' * node.level}{node.module or ''}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                out.update(a.name for a in node.names)
        return out

    synthetic = imports(REPO / "generators" / "hawkes_synthetic.py")
    assert not any("huge" in m for m in synthetic)
    for path in [*(REPO / "generators").glob("*.py"), *(REPO / "loaders").glob("*.py")]:
        assert "benchmark.core.catalog.dataset_dir" not in imports(path), path
    cli = imports(REPO / "benchmark" / "harness" / "cli.py")
    assert not any(m.startswith(("generators", "loaders")) for m in cli)


def test_sharded_dataset_holds_event_sequences():
    s = EventSequences.from_lists([[0.0, 1.0]], [[0, 1]], n_types=2)
    d = ShardedDataset([(s, np.array([0]))], n_types=2)
    assert d.type_names is None and d.meta == {} and d.sequences_meta == {}
