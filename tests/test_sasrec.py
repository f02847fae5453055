"""Tests of ``sasrec`` (baselines/sasrec.py): SASRec embeddings + k-means (seeds 002, 004)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

torch = pytest.importorskip("torch")

from baselines.sasrec import SASRec, last_events_padded  # noqa: E402
from benchmark.core.registry import get_method  # noqa: E402
from benchmark.core.sequences import EventSequences  # noqa: E402

SMALL = dict(hidden_size=32, n_blocks=1, max_len=20, n_epochs=10, batch_size=32, lr=5e-3)


def markov_sequences(n: int, n_types: int = 30, length: int = 20, p: float = 0.85,
                     vocab: tuple[int, int] | None = None, step: int = 1, seed: int = 0):
    """Next type = previous + step (mod vocabulary) with probability p, else uniform."""
    rng = np.random.default_rng(seed)
    lo, hi = vocab or (0, n_types)
    times, types = [], []
    for _ in range(n):
        k = [int(rng.integers(lo, hi))]
        for _ in range(length - 1):
            k.append(lo + (k[-1] - lo + step) % (hi - lo) if rng.random() < p
                     else int(rng.integers(lo, hi)))
        types.append(k)
        times.append(np.sort(rng.uniform(0, 10, length)))
    return times, types


@pytest.fixture(scope="module")
def markov():
    t, k = markov_sequences(300)
    return EventSequences.from_lists(t, k, n_types=30)


@pytest.fixture(scope="module")
def fitted(markov):
    return SASRec(n_clusters=2, seed=0, **SMALL).fit(markov)


def test_registered_with_presets():
    cls = get_method("sasrec")
    assert cls is SASRec and cls.needs_n_clusters and "torch" in cls.requires
    assert {"quick", "paper"} <= set(cls.presets)
    assert set(cls.presets["paper"]) <= set(cls.param_names())


def test_last_events_padded_left_pads_the_window():
    token = np.array([1, 2, 3, 4, 5, 6])
    feat = np.arange(6, dtype=np.float32)
    offsets = np.array([0, 4, 6])
    tok, f = last_events_padded(token, feat, offsets, np.array([3, 6]), np.array([0, 1]), 3)
    np.testing.assert_array_equal(tok, [[1, 2, 3], [0, 5, 6]])
    np.testing.assert_array_equal(f, [[0, 1, 2], [0, 4, 5]])


def test_hit_rate_beats_popularity(fitted):
    m = fitted.metrics_
    assert m["hit_rate_at_10"] > m["popularity_hit_rate_at_10"] + 0.3
    assert m["ndcg_at_10"] > m["popularity_ndcg_at_10"] + 0.2
    assert fitted.loss_history_[-1] < fitted.loss_history_[0]


def test_outputs_shapes_and_determinism(markov, fitted):
    emb = fitted.transform(markov)
    assert emb.shape == (300, 32) and emb.dtype == np.float32 and np.isfinite(emb).all()
    assert fitted.labels_.shape == (300,) and set(np.unique(fitted.labels_)) <= {0, 1}
    again = SASRec(n_clusters=2, seed=0, **SMALL).fit(markov)
    np.testing.assert_array_equal(again.transform(markov), emb)
    np.testing.assert_array_equal(again.labels_, fitted.labels_)
    mean = SASRec(n_clusters=2, seed=0, pooling="mean", **SMALL).fit(markov).transform(markov)
    assert not np.allclose(mean, emb)


def test_clusters_of_disjoint_vocabularies_are_recovered():
    t0, k0 = markov_sequences(60, vocab=(0, 10), seed=1)
    t1, k1 = markov_sequences(60, vocab=(10, 20), step=-1, seed=2)
    seqs = EventSequences.from_lists(t0 + t1, k0 + k1, n_types=20)
    truth = np.repeat([0, 1], 60)
    model = SASRec(n_clusters=2, seed=0, pooling="mean", **SMALL).fit(seqs)
    assert adjusted_rand_score(truth, model.labels_) > 0.9


def test_held_out_last_event_is_never_a_training_target():
    """Every sequence ends with type 5, which occurs nowhere else: trained on, it would be
    predicted at the last position; held out, it is only ever a sampled negative."""
    rng = np.random.default_rng(0)
    types = [list(rng.integers(0, 5, 9)) + [5] for _ in range(120)]
    times = [np.arange(10.0)] * 120
    seqs = EventSequences.from_lists(times, types, n_types=6)
    model = SASRec(n_clusters=2, seed=0, **SMALL).fit(seqs)
    assert model.metrics_["popularity_hit_rate_at_1"] == 0.0
    assert model.metrics_["hit_rate_at_1"] < 0.05


def test_gbce_with_t0_is_bce(markov):
    small = dict(SMALL, n_epochs=2)
    bce = SASRec(seed=0, loss="bce", n_negatives=3, **small).fit(markov)
    gbce0 = SASRec(seed=0, loss="gbce", gbce_t=0.0, n_negatives=3, **small).fit(markov)
    gbce = SASRec(seed=0, loss="gbce", gbce_t=0.75, n_negatives=3, **small).fit(markov)
    np.testing.assert_allclose(bce.loss_history_, gbce0.loss_history_, rtol=1e-6)
    assert gbce.loss_history_[0] != pytest.approx(bce.loss_history_[0])


def test_time_feature_is_an_input_channel():
    rng = np.random.default_rng(3)
    types = [list(rng.integers(0, 4, 8)) for _ in range(40)]
    slow = [np.cumsum(rng.exponential(5.0, 8)) for _ in range(40)]
    fast = [t / 100 for t in slow]
    a = EventSequences.from_lists(slow, types, n_types=4)
    b = EventSequences.from_lists(fast, types, n_types=4)
    small = dict(SMALL, n_epochs=1)
    without = SASRec(seed=0, **small).fit(a)
    np.testing.assert_array_equal(without.transform(a), without.transform(b))
    with_time = SASRec(seed=0, time_feature=True, **small).fit(a)
    assert not np.allclose(with_time.transform(a), with_time.transform(b))


def test_short_sequences_are_accepted():
    times = [[0.0], [0.0, 1.0], [0.0, 1.0, 2.0], [0.0, 0.5, 1.0, 3.0]] * 5
    types = [[0], [1, 0], [0, 1, 2], [2, 1, 0, 1]] * 5
    seqs = EventSequences.from_lists(times, types, n_types=3)
    model = SASRec(n_clusters=2, seed=0, **dict(SMALL, n_epochs=1)).fit(seqs)
    assert np.isfinite(model.transform(seqs)).all()


def test_bad_input_and_parameters(markov):
    with pytest.raises(ValueError, match="loss"):
        SASRec(loss="softmax").fit(markov)
    with pytest.raises(ValueError, match="pooling"):
        SASRec(pooling="max").fit(markov)
    with pytest.raises(ValueError, match="n_negatives"):
        SASRec(n_negatives=30).fit(markov)
    with pytest.raises(RuntimeError, match="not fitted"):
        SASRec().transform(markov)
    too_short = EventSequences.from_lists([[0.0, 1.0]] * 3, [[0, 1]] * 3, n_types=2)
    with pytest.raises(ValueError, match="3 or more events"):
        SASRec().fit(too_short)


def test_transform_rejects_other_type_count(fitted):
    other = EventSequences.from_lists([[0.0, 1.0]], [[0, 1]], n_types=2)
    with pytest.raises(ValueError, match="n_types=2"):
        fitted.transform(other)
