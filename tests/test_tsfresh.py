"""Tests of ``baselines/tsfresh_kmeans.py``."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.core.registry import discover, get_method
from benchmark.core.sequences import EventSequences
from benchmark.harness.metrics import purity_score

pytest.importorskip("tsfresh")

from baselines.tsfresh_kmeans import TsfreshKMeans, tsfresh_features  # noqa: E402


@pytest.fixture(scope="module")
def two_clusters():
    """2 clusters x 60 sequences, 5 types, whose per-type Poisson rates differ (mean length 50)."""
    from generators.poisson_mixture import simulate_poisson_mixture

    return simulate_poisson_mixture(n_per_cluster=60, n_clusters=2, n_types=5, mean_length=50.0,
                                    seed=0)


def tiny() -> EventSequences:
    """Four sequences, two types; sequence 3 has a single event (no inter-event time)."""
    return EventSequences.from_lists(
        [[0.5, 1.0, 3.0], [0.2, 2.5], [1.0, 1.5, 2.0, 3.5], [0.1]],
        [[0, 1, 0], [1, 1], [0, 0, 1, 1], [1]],
        n_types=2, t_end=np.full(4, 4.0))


def test_features_of_counts_and_gaps_match_direct_computation():
    feats = tsfresh_features(tiny(), 4, feature_set="minimal", n_jobs=0)
    assert list(feats.index) == [0, 1, 2, 3]
    assert {c.split("__")[0] for c in feats.columns} == {"count_0", "count_1", "dt"}
    # per-bin counts of type 0 in sequence 2 on [0, 4]: bins [0, 2, 0, 0]
    assert feats.loc[2, "count_0__sum_values"] == 2.0
    assert feats.loc[2, "count_0__maximum"] == 2.0
    np.testing.assert_allclose(feats["dt__mean"].iloc[:3], [1.25, 2.3, 2.5 / 3])
    np.testing.assert_allclose(feats["dt__length"].iloc[:3], [2, 1, 3])
    assert feats.loc[3, [c for c in feats.columns if c.startswith("dt__")]].isna().all()


def test_parallel_extraction_equals_serial():
    serial = tsfresh_features(tiny(), 4, feature_set="minimal", n_jobs=0)
    parallel = tsfresh_features(tiny(), 4, feature_set="minimal", n_jobs=2)
    np.testing.assert_array_equal(serial.to_numpy(), parallel.to_numpy())


def test_chunked_extraction_equals_one_chunk(monkeypatch):
    import baselines.tsfresh_kmeans as module

    whole = tsfresh_features(tiny(), 4, feature_set="minimal", n_jobs=0)
    monkeypatch.setattr(module, "MAX_ROWS_PER_CHUNK", 10)  # one sequence per chunk
    chunked = tsfresh_features(tiny(), 4, feature_set="minimal", n_jobs=0)
    assert list(chunked.index) == [0, 1, 2, 3]
    np.testing.assert_array_equal(chunked[whole.columns].to_numpy(), whole.to_numpy())


def test_registered_with_labels_and_embeddings():
    discover()
    assert get_method("tsfresh-kmeans") is TsfreshKMeans
    assert set(TsfreshKMeans.outputs) == {"labels", "embeddings"}
    assert TsfreshKMeans.needs_n_clusters and "tsfresh" in TsfreshKMeans.requires
    for preset in TsfreshKMeans.presets.values():
        assert set(preset) <= set(TsfreshKMeans.param_names())
        assert preset.get("n_jobs", 2) <= 2


def test_quick_preset_beats_the_random_floor_on_two_rate_clusters(two_clusters):
    model = TsfreshKMeans(n_clusters=2, seed=0, **TsfreshKMeans.presets["quick"])
    model.fit(two_clusters.sequences)
    n = len(two_clusters.sequences)
    assert model.labels_.shape == (n,) and model.labels_.dtype == np.int64
    # balanced 2 clusters: a random split gives ~0.5 (0.56 at most, 2 sd, for N = 120)
    assert purity_score(two_clusters.labels, model.labels_) >= 0.75
    emb = model.transform(two_clusters.sequences)
    assert emb.shape == (n, int(model.metrics_["n_features"])) and np.isfinite(emb).all()
    np.testing.assert_allclose(emb.mean(axis=0), 0.0, atol=1e-9)  # standardised in fit


def test_nan_features_are_imputed_and_transform_keeps_the_fitted_columns():
    model = TsfreshKMeans(n_clusters=2, n_steps=4, feature_set="minimal", n_jobs=0, n_init=2)
    model.fit(tiny())  # sequence 3 has NaN inter-event features
    emb = model.transform(tiny())
    assert np.isfinite(emb).all() and emb.shape[0] == 4
    # new data where no sequence has an inter-event time: same columns, still finite
    singles = EventSequences.from_lists([[1.0], [2.0]], [[0], [1]], n_types=2)
    new = model.transform(singles)
    assert new.shape == (2, emb.shape[1]) and np.isfinite(new).all()


def test_same_seed_same_labels(two_clusters):
    seqs = two_clusters.sequences.subset(np.arange(40))
    kw = dict(n_clusters=2, n_steps=8, feature_set="minimal", n_jobs=0, n_init=2, seed=5)
    np.testing.assert_array_equal(TsfreshKMeans(**kw).fit(seqs).labels_,
                                  TsfreshKMeans(**kw).fit(seqs).labels_)


def test_degenerate_input_gives_one_clear_error():
    with pytest.raises(ValueError, match="at least 3 sequences"):
        TsfreshKMeans(n_clusters=3, n_steps=4).fit(tiny().subset(np.arange(2)))
    empty = EventSequences.from_lists([[1.0], []], [[0], []], n_types=1, allow_empty=True)
    with pytest.raises(ValueError, match=r"sequence 1 .* 0 events"):
        TsfreshKMeans(n_clusters=2, n_steps=4).fit(empty)
    with pytest.raises(ValueError, match="feature_set"):
        TsfreshKMeans(n_clusters=2, n_steps=4, feature_set="all").fit(tiny())
    with pytest.raises(ValueError, match="n_jobs"):
        TsfreshKMeans(n_clusters=2, n_steps=4, n_jobs=-1).fit(tiny())


@pytest.mark.perf
@pytest.mark.slow
@pytest.mark.parametrize("n_jobs", [0, 2])
def test_perf_extraction_on_2000_sequences(benchmark, n_jobs):
    """Extraction time of the paper preset's feature set on the K5_C5 protocol (2000 sequences,
    128 bins): tsfresh's process pool (n_jobs=2) against in-process extraction (n_jobs=0), in
    one pytest-benchmark group. Run: ``pytest -m perf tests/test_tsfresh.py --benchmark-enable``."""
    from generators.hawkes_synthetic import make_lal_dataset

    seqs = make_lal_dataset("exp", 5, seed=0).sequences
    benchmark.group = "tsfresh-fast-2000-sequences"
    feats = benchmark.pedantic(tsfresh_features, args=(seqs, 128),
                               kwargs={"feature_set": "fast", "n_jobs": n_jobs},
                               rounds=1, iterations=1)
    assert feats.shape[0] == 2000
