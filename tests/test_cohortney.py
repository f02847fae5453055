"""Tests of ``baselines/cohortney.py`` (COHORTNEY)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from baselines.cohortney import (
    PEEK_SCHEDULE_HOURS,
    QUANTILE_GRID,
    Cohortney,
    _peek_outcome,
    check_delay,
    peek_schedule,
    spectrum_clustering,
    weight_vectors,
)
from benchmark.core.sequences import EventSequences
from generators.poisson_mixture import simulate_poisson_mixture

FAST = dict(n_grid=4, max_scale=3, min_cluster_size=5, verbose=False)

# three event patterns (times since the first event, types) on a window of 8 time units
PATTERNS = [  # times kept away from the interval edges (multiples of 1/16)
    ([0.0, 0.33, 0.61, 1.07, 5.13], [0, 0, 1, 0, 1]),
    ([0.0, 2.53, 4.54, 6.57, 7.47], [1, 1, 0, 1, 1]),
    ([0.0, 0.21, 4.09, 4.22, 4.28, 4.41], [0, 1, 1, 1, 0, 1]),
]


def copies(n_copies: int, shift_seed: int = 0) -> tuple[EventSequences, np.ndarray]:
    """``n_copies`` identical copies of each pattern (shifted in absolute time), shuffled."""
    rng = np.random.default_rng(shift_seed)
    times, types, labels = [], [], []
    for k, (t, c) in enumerate(PATTERNS):
        for _ in range(n_copies):
            start = rng.uniform(0, 100)
            times.append(np.asarray(t) + start)
            types.append(c)
            labels.append(k)
    perm = rng.permutation(len(labels))
    t_end = np.array([times[i][0] + 8.0 for i in perm])
    seqs = EventSequences.from_lists([times[i] for i in perm], [types[i] for i in perm],
                                     n_types=2, t_end=t_end)
    return seqs, np.asarray(labels)[perm]


def test_weight_function_is_log2_of_counts_per_interval():
    rel = np.array([0.0, 0.1, 0.2, 3.0, 3.5, 9.0])
    types = np.array([0, 0, 0, 0, 1, 1])
    w = weight_vectors(rel, types, np.zeros(6, np.int64), 1, 2, node=4.0, scale=1)
    # [0, 2): three type-0 events -> floor(log2 4) = 2; [2, 4): one type-0 -> 1, one type-1 -> 1
    np.testing.assert_array_equal(w, [[2, 1, 0, 1]])
    np.testing.assert_array_equal(
        weight_vectors(rel, types, np.zeros(6, np.int64), 1, 2, node=4.0, scale=0), [[2, 1]])


def test_check_delay_is_eq7_order_statistic():
    delays = np.array([1.0, 2.0, 3.0, np.inf, np.inf])
    assert check_delay(delays, 0.2) == 1.0
    assert check_delay(delays, 0.6) == 3.0
    assert check_delay(delays, 0.8) == np.inf  # fewer than 80% of the cohort have a next event


def test_identical_sequences_are_grouped_together():
    seqs, truth = copies(12)
    model = Cohortney(n_clusters=3, **FAST, seed=0).fit(seqs)
    for k in range(3):
        assert len(np.unique(model.labels_[truth == k])) == 1
    assert len(np.unique(model.labels_)) == 3
    spectral = Cohortney(n_clusters=3, label_method="spectrum", eval_fraction=0, **FAST).fit(seqs)
    for k in range(3):
        assert len(np.unique(spectral.labels_[truth == k])) == 1
    # identical sequences share their cohort at every grid node and scale
    for row in model.model_.levels:
        for level in row:
            assert set(level.sizes) <= {12, 24, 36}


def test_nearest_cohort_for_a_new_sequence():
    seqs, _ = copies(12)
    model = Cohortney(n_clusters=3, **FAST, next_event_quantile=0.5, eval_fraction=0).fit(seqs)
    t, c = PATTERNS[0]
    jittered = np.asarray(t) + np.array([0, 0.01, -0.01, 0.01, 0.02])  # same intervals
    now = 7.9
    level, row = model.nearest_cohort(jittered, c, now)
    j = int(np.searchsorted(model.grid_, now, side="right")) - 1
    assert level is model.model_.levels[j][-1]  # exact match down to the finest scale
    assert level.sizes[row] == 12
    expected = weight_vectors(np.asarray(t), np.asarray(c), np.zeros(5, np.int64), 1, 2,
                              level.node, level.scale)[0]
    np.testing.assert_array_equal(level.keys[row], expected)
    # a sequence matching no cohort exactly is sent to the closest one at the coarsest scale
    odd_t = np.array([0.0, 0.33, 0.61, 1.07, 1.11, 1.17, 1.23, 1.29, 5.13])  # 7 type-0 events
    odd_c = np.array([0, 0, 1, 0, 0, 0, 0, 0, 1])
    level, row = model.nearest_cohort(odd_t, odd_c, now)
    assert level.scale == model.model_.levels[j][0].scale
    coarse = weight_vectors(np.asarray(t), np.asarray(c), np.zeros(5, np.int64), 1, 2,
                            level.node, level.scale)[0]
    np.testing.assert_array_equal(level.keys[row], coarse)
    assert np.isfinite(model.next_check_time(jittered[:2], c[:2], 0.5))


def test_next_event_metrics_against_the_peek_schedule():
    data = simulate_poisson_mixture(n_per_cluster=100, n_clusters=2, n_types=3, mean_length=20,
                                    seed=3)
    model = Cohortney(n_clusters=2, **FAST, seed=1).fit(data.sequences)
    m = model.metrics_
    assert m["peek_schedule_peeks_mean"] == len(PEEK_SCHEDULE_HOURS)
    assert m["next_event_quantile"] in QUANTILE_GRID
    for prefix in ("next_event", "peek_schedule"):
        for name in ("delay_per_sequence", "delay_per_event"):
            for stat in ("mean", "median", "q90"):
                value = m[f"{prefix}_{name}_{stat}"]
                assert np.isfinite(value) and value >= 0
    assert m["next_event_delay_per_event_median"] <= m["next_event_delay_per_event_q90"]
    assert 0 <= m["next_event_missed_event_share"] <= 1
    # the calibration matches the work of the schedule within a few peeks
    assert abs(m["next_event_peeks_mean"] - len(PEEK_SCHEDULE_HOURS)) < 3


def test_peek_outcome_and_schedule_units():
    times = np.array([0.0, 1.0, 2.5, 9.0])
    total, per_event, n_peeks, missed = _peek_outcome(times, np.array([2.0, 3.0]))
    assert (total, per_event, n_peeks) == (1.5, 0.75, 2) and missed == pytest.approx(1 / 3)
    seqs = EventSequences.from_lists([[0.0, 1.0]], [[0, 0]], meta={"time_unit": "seconds"})
    np.testing.assert_allclose(peek_schedule(seqs, 10.0), np.array(PEEK_SCHEDULE_HOURS) * 3600)
    plain = EventSequences.from_lists([[0.0, 1.0]], [[0, 0]])
    assert peek_schedule(plain, 10.0)[-1] == pytest.approx(10.0)


def test_spectrum_algorithm_splits_blocks():
    block = np.kron(np.eye(3), np.ones((4, 4))) * 5 + 0.1
    labels = spectrum_clustering(block, 3, np.random.default_rng(0))
    for b in range(3):
        assert len(np.unique(labels[4 * b:4 * b + 4])) == 1
    assert len(np.unique(labels)) == 3


def test_deterministic_honest_and_transform():
    assert list(inspect.signature(Cohortney.fit).parameters) == ["self", "seqs"]
    data = simulate_poisson_mixture(n_per_cluster=40, n_clusters=2, n_types=3, seed=2)
    a = Cohortney(n_clusters=2, **FAST, seed=5).fit(data.sequences)
    b = Cohortney(n_clusters=2, **FAST, seed=5).fit(
        data.sequences._replace(meta={"labels": data.labels}))
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert a.metrics_ == b.metrics_
    emb = a.transform(data.sequences)
    assert emb.shape[0] == len(data.sequences) and emb.dtype == np.float32
    assert emb.shape[1] == sum(3 * 2 ** min(a.feature_scale, n) for n in a.scales_)


def test_degenerate_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="single event"):
        Cohortney(n_clusters=2, **FAST).fit(EventSequences.from_lists([[1.0], [2.0]], [[0], [1]]))
    same = EventSequences.from_lists([[0.5, 1.0, 3.0]] * 6, [[0, 1, 0]] * 6)
    with pytest.raises(ValueError, match="identical"):
        Cohortney(n_clusters=2, **FAST).fit(same)
    stacked = EventSequences.from_lists([[1.0, 1.0], [2.0, 2.0, 2.0]], [[0, 1], [1, 1, 0]])
    with pytest.raises(ValueError, match="zero time"):
        Cohortney(n_clusters=2, **FAST).fit(stacked)
    seqs, _ = copies(3)
    with pytest.raises(ValueError, match="label_method"):
        Cohortney(n_clusters=2, label_method="dbscan", **FAST).fit(seqs)
