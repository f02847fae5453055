"""Tests of ``baselines/dmhp.py`` (Dirichlet mixture of Hawkes processes)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from scipy.special import erf

from baselines.dmhp import DMHP, basis_statistics, gaussian_basis, observation_origins
from benchmark.core.sequences import EventSequences
from generators.poisson_mixture import simulate_poisson_mixture

QUICK = dict(n_init=1, max_outer=15, inner_max=5, max_clusters=4, verbose=False)

# two planted 2-type exponential Hawkes processes: (baseline, adjacency[target, source], decay)
PLANTED = [
    (np.array([0.4, 0.1]), np.array([[0.5, 0.0], [0.4, 0.2]])),
    (np.array([0.1, 0.4]), np.array([[0.2, 0.4], [0.0, 0.5]])),
]


def simulate_exp_hawkes(params, n_per_cluster: int, horizon: float, seed: int):
    """Sequences of exponential-kernel Hawkes processes (decay 1) simulated with tick, shuffled."""
    tick_hawkes = pytest.importorskip("tick.hawkes")
    times, types, labels = [], [], []
    for k, (baseline, adjacency) in enumerate(params):
        sim = tick_hawkes.SimuHawkesExpKernels(
            adjacency=adjacency, decays=np.ones_like(adjacency), baseline=baseline,
            end_time=horizon, verbose=False, seed=seed + 1000 * k)
        multi = tick_hawkes.SimuHawkesMulti(sim, n_simulations=n_per_cluster, n_threads=1)
        multi.simulate()
        for per_type in multi.timestamps:
            t = np.concatenate(per_type)
            c = np.concatenate([np.full(len(x), i) for i, x in enumerate(per_type)])
            order = np.argsort(t, kind="stable")
            times.append(t[order])
            types.append(c[order])
            labels.append(k)
    perm = np.random.default_rng(seed).permutation(len(labels))
    seqs = EventSequences.from_lists([times[i] for i in perm], [types[i] for i in perm],
                                     n_types=len(params[0][0]), t_end=np.full(len(perm), horizon))
    return seqs, np.asarray(labels)[perm]


def purity(y: np.ndarray, pred: np.ndarray) -> float:
    return sum(np.bincount(y[pred == k]).max() for k in np.unique(pred)) / len(y)


def test_recovers_planted_two_cluster_exponential_hawkes():
    seqs, y = simulate_exp_hawkes(PLANTED, n_per_cluster=150, horizon=50.0, seed=3)
    model = DMHP(n_init=1, max_outer=40, inner_max=10, max_clusters=4, verbose=False).fit(seqs)
    assert model.n_clusters_ == 2  # chosen by BIC, no labels
    assert purity(y, model.labels_) >= 0.95
    mass = 0.5 * (1 + erf(model.landmarks_ / (np.sqrt(2) * model.bandwidth_)))  # int_0^inf g_m
    norms = (model.impact_ * mass[None, None, :, None]).sum(axis=2)  # (K, source, target)
    for k in range(2):
        truth = np.bincount(y[model.labels_ == k]).argmax()
        baseline, adjacency = PLANTED[truth]
        np.testing.assert_allclose(model.mu_[k], baseline, atol=0.05)
        # total excitation received by each target type (sum over sources of the kernel norms)
        np.testing.assert_allclose(norms[k].sum(axis=0), adjacency.sum(axis=1), atol=0.12)


def test_bic_chooses_one_cluster_for_one_process():
    seqs, _ = simulate_exp_hawkes(PLANTED[:1], n_per_cluster=150, horizon=30.0, seed=5)
    model = DMHP(**QUICK).fit(seqs)
    assert model.n_clusters_ == 1
    assert set(model.bic_) == {1, 2, 3}  # stopped after two K without improvement
    assert (model.labels_ == 0).all()


def test_deterministic_given_seed_and_outputs():
    data = simulate_poisson_mixture(n_per_cluster=40, n_clusters=2, n_types=3, seed=1)
    a = DMHP(**QUICK, seed=7).fit(data.sequences)
    b = DMHP(**QUICK, seed=7).fit(data.sequences)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    emb = a.transform(data.sequences)
    assert emb.shape == (len(data.sequences), 2 * a.n_clusters_)
    np.testing.assert_allclose(emb[:, :a.n_clusters_].sum(axis=1), 1.0, atol=1e-9)
    np.testing.assert_array_equal(emb[:, :a.n_clusters_].argmax(axis=1), a.labels_)
    # a copy of the training sequences (no cached statistics) gives the same embeddings
    np.testing.assert_allclose(a.transform(data.sequences.subset(np.arange(80))), emb, rtol=1e-9)
    assert set(a.metrics_) >= {"log_likelihood", "bic", "n_clusters_selected"}


def test_fit_sees_no_labels():
    assert list(inspect.signature(DMHP.fit).parameters) == ["self", "seqs"]
    data = simulate_poisson_mixture(n_per_cluster=30, n_clusters=2, n_types=3, seed=2)
    plain = DMHP(**QUICK).fit(data.sequences.without_meta())
    annotated = DMHP(**QUICK).fit(data.sequences._replace(meta={"labels": data.labels}))
    np.testing.assert_array_equal(plain.labels_, annotated.labels_)


def test_fixed_number_of_clusters():
    data = simulate_poisson_mixture(n_per_cluster=40, n_clusters=3, n_types=3, seed=4)
    model = DMHP(**{**QUICK, "n_clusters": 3}).fit(data.sequences)
    assert list(model.bic_) == [3]
    assert 1 <= model.n_clusters_ <= 3
    assert model.labels_.max() == model.n_clusters_ - 1


def test_single_event_type_is_a_univariate_hawkes_process():
    data = simulate_poisson_mixture(n_per_cluster=30, n_clusters=2, n_types=1, seed=3)
    model = DMHP(**QUICK).fit(data.sequences)
    assert model.mu_.shape[1] == 1 and model.labels_.shape == (60,)


def test_degenerate_inputs_raise_clear_errors():
    one_event = EventSequences.from_lists([[1.0], [2.0], [0.5]], [[0], [1], [0]])
    with pytest.raises(ValueError, match="single event time"):
        DMHP(**QUICK).fit(one_event)
    same = EventSequences.from_lists([[0.5, 1.0, 3.0]] * 5, [[0, 1, 0]] * 5, t_end=np.full(5, 4.0))
    with pytest.raises(ValueError, match="identical"):
        DMHP(**QUICK).fit(same)
    with pytest.raises(ValueError, match="at least 2 sequences"):
        DMHP(**QUICK).fit(EventSequences.from_lists([[0.5, 1.0]], [[0, 1]]))
    data = simulate_poisson_mixture(n_per_cluster=20, n_clusters=2, seed=0)
    with pytest.raises(MemoryError, match="max_memory_gb"):
        DMHP(**QUICK, max_memory_gb=1e-6).fit(data.sequences)


def test_basis_statistics_match_direct_sums():
    seqs = EventSequences.from_lists([[0.0, 0.5, 2.0], [1.0, 1.2]], [[0, 1, 0], [1, 1]],
                                     n_types=2, t_end=np.array([3.0, 2.0]))
    origins = observation_origins(seqs, "zero")
    bw, lm = gaussian_basis(seqs, origins, bandwidth=0.7)
    np.testing.assert_allclose(lm, 0.7 * np.arange(4))  # ceil(mean window 2.5 / 0.7) = 4
    stats = basis_statistics(seqs, origins, bw, lm)

    def g(s):
        return np.exp(-0.5 * ((s - lm) / bw) ** 2) / (np.sqrt(2 * np.pi) * bw)

    # 3rd event of sequence 0 (type 0) sees event 0 (type 0, lag 2.0) and event 1 (type 1, lag 1.5)
    row = stats.history[0][1].reshape(2, len(lm))
    np.testing.assert_allclose(row[0], g(2.0), rtol=1e-5)
    np.testing.assert_allclose(row[1], g(1.5), rtol=1e-5)
    np.testing.assert_allclose(stats.span, [3.0, 2.0])


def test_time_origin_auto():
    simulated = EventSequences.from_lists([[0.4, 3.0, 9.0], [1.1, 2.0]], [[0, 1, 0], [1, 1]],
                                          t_end=np.array([10.0, 10.0]))
    np.testing.assert_array_equal(observation_origins(simulated, "auto"), [0.0, 0.0])
    ages = EventSequences.from_lists([[29.0, 31.0, 33.5], [22.0, 25.0]], [[0, 1, 0], [1, 1]])
    np.testing.assert_array_equal(observation_origins(ages, "auto"), [29.0, 22.0])
    with pytest.raises(ValueError, match="time_origin"):
        observation_origins(ages, "start")
