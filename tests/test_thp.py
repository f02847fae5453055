"""Tests of ``thp`` (baselines/thp.py): Transformer Hawkes Process + k-means, and its benchmark."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("torch_one_thread")

from baselines.thp import (  # noqa: E402
    TransformerHawkesKMeans,
    gauss_legendre_unit,
    point_process_loglik,
)
from benchmark.core.registry import get_method  # noqa: E402
from benchmark.core.sequences import EventSequences  # noqa: E402
from benchmark.harness.metrics import purity_score  # noqa: E402
from generators.poisson_mixture import simulate_poisson_mixture  # noqa: E402

SMALL = dict(d_model=16, d_inner=32, n_epochs=2, batch_size=16, n_init=1)


@pytest.fixture(scope="module")
def toy():
    return simulate_poisson_mixture(n_per_cluster=20, n_clusters=2, n_types=3, mean_length=15,
                                    seed=3)


def softplus_linear_integral(a, alpha, beta, delta):
    """Closed form of int_0^delta beta*softplus((a + alpha*s)/beta) ds via the dilogarithm:
    (beta^2/alpha) * (Li2(-e^u0) - Li2(-e^u1)), Li2(-e^u) = scipy's spence(1 + e^u)."""
    from scipy.special import spence

    u0, u1 = a / beta, (a + alpha * delta) / beta
    return beta ** 2 / alpha * (spence(1 + np.exp(u0)) - spence(1 + np.exp(u1)))


def test_registered_with_labels_and_embeddings():
    cls = get_method("thp")
    assert cls is TransformerHawkesKMeans
    assert set(cls.outputs) == {"labels", "embeddings"} and cls.needs_n_clusters
    assert {"quick", "paper"} <= set(cls.presets)
    assert set(cls.presets["quick"]) <= set(cls.param_names())


def test_gauss_legendre_integrates_softplus_of_linear_exactly():
    rng = np.random.default_rng(0)
    a, alpha = rng.normal(0, 2, 50), rng.normal(0, 2, 50)
    beta, delta = np.exp(rng.normal(0, 0.5, 50)), rng.uniform(0.01, 3, 50)
    exact = softplus_linear_integral(a, alpha, beta, delta)
    for n_nodes, tol in ((8, 1e-4), (64, 1e-10)):
        u, w = gauss_legendre_unit(n_nodes)
        s = delta[:, None] * u
        f = beta[:, None] * np.logaddexp(0, (a[:, None] + alpha[:, None] * s) / beta[:, None])
        np.testing.assert_allclose(f @ w * delta, exact, rtol=tol)


def test_point_process_loglik_matches_poisson_closed_form():
    # constant intensities r_k: LL = sum log r_{k_j} - sum_k r_k * (t_last - t_first)
    rates = np.array([0.5, 2.0])
    times = np.array([[0.0, 1.0, 2.5, 0.0], [1.0, 1.5, 0.0, 0.0]])
    types = np.array([[0, 1, 1, 2], [1, 0, 2, 2]])
    lengths = np.array([3, 2])
    ll, n = point_process_loglik(
        lambda e: np.broadcast_to(rates, e.shape + (2,)), times, types, lengths, n_nodes=4)
    expected = (np.log(2.0) * 2 + np.log(0.5)) - rates.sum() * (2.5 + 0.5)
    assert n == 3
    assert ll == pytest.approx(expected, rel=1e-12)


def test_training_loss_equals_evaluator_and_padding_does_not_leak(toy):
    seqs = toy.sequences.slice(0, 6)
    m = TransformerHawkesKMeans(n_clusters=2, n_quadrature=64, **SMALL)
    m.epoch_runner(seqs)  # builds an untrained net, time_scale_ etc.
    nodes, weights = (torch.from_numpy(a).float() for a in gauss_legendre_unit(64))
    times, types, lengths, tail = m._padded(seqs)
    with torch.no_grad():
        batch_nll, batch_n = m._neg_loglik(m.net_, times, types, lengths, tail, nodes, weights)
        alone = [m._neg_loglik(m.net_, times[i:i + 1, :lengths[i]], types[i:i + 1, :lengths[i]],
                               lengths[i:i + 1], tail[i:i + 1], nodes, weights)
                 for i in range(len(seqs))]
    # a sequence's loss is the same alone (no padding) as inside a padded batch
    assert float(batch_nll) == pytest.approx(sum(float(x[0]) for x in alone), rel=1e-4)
    assert batch_n == sum(x[1] for x in alone) == int((seqs.lengths - 1).sum())
    # the same number from the shared evaluator, in the data's time unit, once the integral after
    # the last event (up to the window end, part of training) is added back
    no_tail = torch.zeros_like(tail)
    with torch.no_grad():
        nll_events, _ = m._neg_loglik(m.net_, times, types, lengths, no_tail, nodes, weights)
    ll_scaled = -float(nll_events)
    per_event = m.log_likelihood(seqs, n_nodes=64)
    expected = (ll_scaled - batch_n * np.log(m.time_scale_)) / batch_n
    assert per_event == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("use_lstm", [False, True])
def test_hidden_state_never_sees_the_event_it_scores(use_lstm):
    rng = np.random.default_rng(1)
    t = np.sort(rng.uniform(0, 5, 12))
    k = rng.integers(0, 3, 12)
    m = TransformerHawkesKMeans(n_clusters=1, use_lstm=use_lstm, **SMALL)
    seqs = EventSequences.from_lists([t, t], [k, k], n_types=3)
    m.epoch_runner(seqs)
    elapsed = np.full((1, 11, 3), 0.1)
    base = m.intensities_after_events(t[None], k[None], elapsed)
    t2, k2 = t.copy(), k.copy()
    t2[-1] += 3.0
    k2[-1] = (k2[-1] + 1) % 3
    changed = m.intensities_after_events(t2[None], k2[None], elapsed)
    # changing the last event changes nothing used to score it (intervals before it) ...
    torch.testing.assert_close(changed, base)
    k3 = k.copy()
    k3[5] = (k3[5] + 1) % 3
    changed = m.intensities_after_events(t[None], k3[None], elapsed)
    # ... while changing event 5 changes the intensities after it, not before
    torch.testing.assert_close(changed[:, :5], base[:, :5])
    assert not torch.allclose(changed[:, 5:], base[:, 5:])


def test_quick_preset_beats_random_floor_and_loss_decreases():
    ds = simulate_poisson_mixture(n_per_cluster=50, n_clusters=2, n_types=4, mean_length=30,
                                  seed=1)
    m = TransformerHawkesKMeans(n_clusters=2, **TransformerHawkesKMeans.presets["quick"])
    labels = m.fit_predict(ds.sequences)
    assert purity_score(ds.labels, labels) >= 0.75  # random labels give about 0.55 here
    assert m.loss_history_[-1] < m.loss_history_[0]
    assert np.isfinite(m.metrics_["train_loglik_per_event"])
    assert m.embeddings_.shape == (100, m.d_model)


def test_quick_preset_clusters_two_hawkes_processes():
    from generators.hawkes_synthetic import make_lal_dataset

    ds = make_lal_dataset("exp", 2, n_per_cluster=60, seed=0)  # K2_C5 protocol, 120 sequences
    m = TransformerHawkesKMeans(n_clusters=2, **TransformerHawkesKMeans.presets["quick"])
    assert purity_score(ds.labels, m.fit_predict(ds.sequences)) >= 0.75


def test_deterministic_with_seed_and_transform_matches(toy):
    a = TransformerHawkesKMeans(n_clusters=2, seed=5, **SMALL).fit(toy.sequences)
    b = TransformerHawkesKMeans(n_clusters=2, seed=5, **SMALL).fit(toy.sequences)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.embeddings_, b.embeddings_)
    np.testing.assert_allclose(a.transform(toy.sequences), a.embeddings_, rtol=1e-5, atol=1e-6)
    c = TransformerHawkesKMeans(n_clusters=2, seed=6, **SMALL).fit(toy.sequences)
    assert not np.array_equal(a.embeddings_, c.embeddings_)


def test_long_sequences_are_cut_to_max_len(toy):
    m = TransformerHawkesKMeans(n_clusters=2, max_len=5, **SMALL).fit(toy.sequences)
    assert m.embeddings_.shape == (len(toy.sequences), 16)
    assert np.isfinite(m.metrics_["train_loglik_per_event"])


def test_clear_errors_on_degenerate_input(toy):
    from sklearn.exceptions import NotFittedError

    single = EventSequences.from_lists([[1.0], [2.0], [0.5]], [[0], [1], [0]], n_types=2)
    with pytest.raises(ValueError, match="2 or more events"):
        TransformerHawkesKMeans(n_clusters=2, **SMALL).fit(single)
    with pytest.raises(ValueError, match="at least 3 sequences"):
        TransformerHawkesKMeans(n_clusters=3, **SMALL).fit(toy.sequences.slice(0, 2))
    with pytest.raises(ValueError, match="divisible"):
        TransformerHawkesKMeans(n_clusters=2, d_model=10, n_heads=3).fit(toy.sequences)
    with pytest.raises(ValueError, match="time_scale"):
        TransformerHawkesKMeans(n_clusters=2, time_scale=0.0, **SMALL).fit(toy.sequences)
    with pytest.raises(NotFittedError):
        TransformerHawkesKMeans().transform(toy.sequences)
    m = TransformerHawkesKMeans(n_clusters=2, **SMALL).fit(toy.sequences)
    other = EventSequences.from_lists([[0.0, 1.0]], [[0, 4]], n_types=5)
    with pytest.raises(ValueError, match="fitted on 3 event types"):
        m.transform(other)


def test_perf_command_runs_on_a_small_pickle(tmp_path, capsys):
    from benchmark.perf.thp import main

    rng = np.random.default_rng(0)

    def split(n):
        out = []
        for _ in range(n):
            t = np.cumsum(rng.exponential(0.5, 8))
            out.append([{"type_event": int(rng.integers(0, 3)), "time_since_start": float(x),
                         "time_since_last_event": float(d)}
                        for x, d in zip(t, np.diff(t, prepend=t[0]))])
        return out

    (tmp_path / "amazon").mkdir()
    for name, n in (("test", 12), ("dev", 6)):
        with open(tmp_path / "amazon" / f"{name}.pkl", "wb") as fh:
            pickle.dump({"dim_process": 3, name: split(n)}, fh)
    assert main(["--data-dir", str(tmp_path), "--epochs", "1", "--threads", "1",
                 "--n-nodes", "8"]) == 0
    out = capsys.readouterr().out
    assert "12 sequences, 96 events" in out
    assert "ours (baselines/thp.py)" in out
    assert ("throughput ratio ours / EasyTPP" in out) or ("reference unavailable" in out)
    assert main(["--data-dir", str(tmp_path / "nowhere")]) == 2
