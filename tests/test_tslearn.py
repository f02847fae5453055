"""Tests of ``baselines/tslearn_kmeans.py``, ``baselines/tslearn_kshape.py`` and ``baselines/_series.py``."""

from __future__ import annotations

import numpy as np
import pytest

from baselines._series import count_series, inter_event_times, znormalised_series
from benchmark.core.registry import discover, get_method
from benchmark.core.sequences import EventSequences
from benchmark.harness.metrics import purity_score

pytest.importorskip("tslearn")

from baselines.tslearn_kmeans import TslearnKMeans  # noqa: E402
from baselines.tslearn_kshape import TslearnKShape  # noqa: E402

METHODS = [TslearnKMeans, TslearnKShape]


@pytest.fixture(scope="module")
def two_clusters():
    """A small LAL-protocol set: 2 exponential-kernel Hawkes clusters x 60 sequences, 5 types."""
    from generators.hawkes_synthetic import make_lal_dataset

    return make_lal_dataset("exp", 2, n_per_cluster=60, seed=0)


@pytest.fixture(scope="module")
def two_shapes():
    """2 clusters x 40 inhomogeneous Poisson sequences on [0, 10], 2 types, about 30 events each:
    intensity rising in time (density of times ∝ t) or falling (∝ 10 − t). Returns (seqs, labels)."""
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 40)
    times, types = [], []
    for k in labels:
        u = np.sqrt(rng.uniform(size=max(rng.poisson(30), 1)))
        times.append(np.sort(10 * u if k == 0 else 10 * (1 - u)))
        types.append(rng.integers(0, 2, len(u)))
    seqs = EventSequences.from_lists(times, types, n_types=2, t_end=np.full(len(labels), 10.0))
    return seqs, labels


def tiny() -> EventSequences:
    return EventSequences.from_lists(
        [[0.5, 1.0, 3.0], [0.2, 2.5], [1.0, 1.5, 2.0, 3.5], [0.1, 3.9]],
        [[0, 1, 0], [1, 1], [0, 0, 1, 1], [1, 0]],
        n_types=2, t_end=np.full(4, 4.0))


# ------------------------------------------------------------------------------------ series
def test_count_series_bins_each_type_over_the_window():
    x = count_series(tiny(), 4, series="counts")
    assert x.shape == (4, 4, 2)
    # sequence 0 on [0, 4] with width 1: type 0 at 0.5 (bin 0) and 3.0 (bin 3), type 1 at 1.0
    np.testing.assert_array_equal(x[0], [[1, 0], [0, 1], [0, 0], [1, 0]])
    np.testing.assert_array_equal(x.sum(axis=(1, 2)), tiny().lengths)


def test_cumulative_series_is_the_counting_process_at_bin_ends():
    x = count_series(tiny(), 4, series="cumulative")
    np.testing.assert_array_equal(x[2], [[0, 0], [2, 0], [2, 1], [2, 2]])
    np.testing.assert_array_equal(x[:, -1].sum(axis=1), tiny().lengths)


def test_znormalised_series_has_zero_mean_unit_variance_per_channel():
    z = znormalised_series(tiny(), 8, series="cumulative")
    varies = count_series(tiny(), 8, series="cumulative").std(axis=1) > 0  # (N, n_types)
    assert varies.sum() == 6  # sequences 1 and 3 lack one type each
    np.testing.assert_allclose(z.mean(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=1), np.where(varies, 1.0, 0.0), atol=1e-9)


def test_znormalised_constant_channel_becomes_zero_not_nan():
    seqs = EventSequences.from_lists([[1.0, 2.0], [1.0, 3.0]], [[0, 0], [0, 0]], n_types=2)
    z = znormalised_series(seqs, 4, series="counts")
    assert np.isfinite(z).all()
    np.testing.assert_array_equal(z[:, :, 1], 0.0)  # type 1 never occurs


def test_inter_event_times_stay_within_sequences():
    seq, dt = inter_event_times(tiny())
    np.testing.assert_array_equal(seq, [0, 0, 1, 2, 2, 2, 3])
    np.testing.assert_allclose(dt, [0.5, 2.0, 2.3, 0.5, 0.5, 1.5, 3.8])


@pytest.mark.parametrize("kwargs, match", [
    ({"n_steps": 1}, "n_steps"), ({"series": "rates"}, "series"),
    ({"window_start": "last"}, "window_start")])
def test_bad_series_parameters_are_named(kwargs, match):
    params = {"n_steps": 4, "series": "counts", "window_start": "zero"} | kwargs
    with pytest.raises(ValueError, match=match):
        count_series(tiny(), **params)


# ----------------------------------------------------------------------------------- methods
@pytest.mark.parametrize("cls, name", [(TslearnKMeans, "tslearn-kmeans"),
                                       (TslearnKShape, "tslearn-kshape")])
def test_registered_with_labels_and_embeddings(cls, name):
    discover()
    assert get_method(name) is cls
    assert set(cls.outputs) == {"labels", "embeddings"}
    assert cls.needs_n_clusters and "tslearn" in cls.requires
    assert set(cls.presets) >= {"quick", "paper"}
    for preset in cls.presets.values():
        assert set(preset) <= set(cls.param_names())


def check_quick_preset_beats_the_random_floor(cls, seqs, labels):
    model = cls(n_clusters=2, seed=0, **cls.presets["quick"]).fit(seqs)
    n = len(seqs)
    assert model.labels_.shape == (n,) and model.labels_.dtype == np.int64
    assert set(np.unique(model.labels_)) <= {0, 1}
    # balanced 2 clusters: a random split gives ~0.5 (under 0.6, 2 sd, for N >= 80)
    assert purity_score(labels, model.labels_) >= 0.75
    emb = model.transform(seqs)
    assert emb.shape == (n, model.n_steps * seqs.n_types) and np.isfinite(emb).all()
    assert np.isfinite(model.metrics_["inertia"])


def test_kmeans_quick_preset_beats_the_random_floor_on_two_hawkes_clusters(two_clusters):
    check_quick_preset_beats_the_random_floor(TslearnKMeans, two_clusters.sequences,
                                              two_clusters.labels)


@pytest.mark.parametrize("cls", METHODS)
def test_quick_preset_beats_the_random_floor_on_two_intensity_shapes(cls, two_shapes):
    check_quick_preset_beats_the_random_floor(cls, *two_shapes)


@pytest.mark.parametrize("cls", METHODS)
def test_same_seed_same_labels(cls, two_shapes):
    seqs = two_shapes[0].subset(np.arange(0, 80, 2))
    a = cls(n_clusters=2, seed=3, n_steps=16, n_init=1).fit(seqs).labels_
    b = cls(n_clusters=2, seed=3, n_steps=16, n_init=1).fit(seqs).labels_
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("cls", METHODS)
def test_degenerate_input_gives_one_clear_error(cls):
    with pytest.raises(ValueError, match="at least 3 sequences"):
        cls(n_clusters=3, n_steps=4).fit(tiny().subset(np.arange(2)))
    empty = EventSequences.from_lists([[1.0], []], [[0], []], n_types=1, allow_empty=True)
    with pytest.raises(ValueError, match=r"sequence 1 .* 0 events"):
        cls(n_clusters=2, n_steps=4).fit(empty)
    with pytest.raises(ValueError, match="n_steps"):
        cls(n_clusters=2, n_steps=1).fit(tiny())
    with pytest.raises(TypeError, match="EventSequences"):
        cls(n_clusters=2, n_steps=4).fit([[0.1, 0.2]])
    same = EventSequences.from_lists([[1.0, 2.0]] * 3, [[0, 1]] * 3, n_types=2)
    with pytest.raises(ValueError, match="only 1 distinct normalised count series"):
        cls(n_clusters=2, n_steps=4).fit(same)


def test_kmeans_rejects_an_unknown_metric():
    with pytest.raises(ValueError, match="metric"):
        TslearnKMeans(n_clusters=2, n_steps=4, metric="cosine").fit(tiny())


@pytest.mark.slow  # numba compiles tslearn's DTW on first use (tens of seconds)
def test_kmeans_dtw_metric_runs():
    model = TslearnKMeans(n_clusters=2, n_steps=6, metric="dtw", n_init=1, max_iter=5).fit(tiny())
    assert model.labels_.shape == (4,)
