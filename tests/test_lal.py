"""Tests of LAL (baselines/lal.py): partition likelihood, network shapes and causality, EM run,
determinism, double batching, likelihood-only cluster-count moves, label firewall."""

from __future__ import annotations

import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from baselines._lal_net import IntensityNet, poisson_log_likelihood  # noqa: E402
from baselines.lal import (  # noqa: E402
    LAL,
    PartitionScaler,
    _cluster_log_likelihoods,
    _relabel,
    _sampled_pairs,
)
from benchmark.core.dataset import Dataset  # noqa: E402
from benchmark.core.process_memory import HEAP_REUSE_ENV  # noqa: E402
from benchmark.core.registry import METHODS, discover, get_method_info  # noqa: E402
from benchmark.core.sequences import EventSequences  # noqa: E402
from benchmark.harness.metrics import purity_score  # noqa: E402
from generators.poisson_mixture import simulate_poisson_mixture  # noqa: E402

TINY = dict(n_em_epochs=3, n_m_epochs=1, n_prune_epochs=1, hidden_size=8, batch_size=64,
            max_computation_size=200)


@pytest.fixture(scope="module")
def two_clusters() -> Dataset:
    return simulate_poisson_mixture(n_per_cluster=60, n_clusters=2, n_types=3, mean_length=20,
                                    seed=3)


def test_registered_with_presets():
    discover()
    assert METHODS["lal"].cls is LAL
    names = set(LAL.param_names())
    for profile in ("quick", "paper"):
        assert set(LAL.presets[profile]) <= names
    paper = {**LAL.default_params(), **LAL.presets["paper"]}
    assert (paper["n_em_epochs"], paper["n_m_epochs"], paper["max_computation_size"],
            paper["lr"], paper["max_clusters"]) == (50, 10, 2000, 0.1, 10)


def test_poisson_log_likelihood_matches_scipy():
    from scipy.stats import poisson

    rng = np.random.default_rng(0)
    lam = rng.gamma(2.0, 1.0, size=(3, 7, 4))
    width = rng.uniform(0.1, 2.0, size=3)
    counts = rng.poisson(lam * width[:, None, None])
    got = poisson_log_likelihood(torch.tensor(lam), torch.tensor(counts, dtype=torch.float64),
                                 torch.tensor(width)).numpy()
    const = np.array([sum(np.log(np.arange(1, c + 1)).sum() for c in row.ravel())
                      for row in counts])
    want = poisson.logpmf(counts, lam * width[:, None, None]).sum(axis=(1, 2))
    np.testing.assert_allclose(got - const, want, rtol=1e-10)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_network_shapes_and_causality(cell):
    torch.manual_seed(0)
    net = IntensityNet(n_types=3, hidden_size=6, n_layers=2, cell=cell, max_clusters=4,
                       batch_norm=True).eval()
    x = torch.randn(5, 9, 4)
    x[4] = x[0]
    slots = torch.tensor([0, 1, 2, 3, 0])
    intensity, rep = net(x, slots)
    assert intensity.shape == (5, 9, 3) and rep.shape == (5, 12)
    assert bool((intensity > 0).all())
    # bin t's intensity depends on bins < t only: changing bin 4 leaves bins 0..4 unchanged
    x2 = x.clone()
    x2[:, 4] += 3.0
    intensity2, _ = net(x2, slots)
    torch.testing.assert_close(intensity[:, :5], intensity2[:, :5])
    assert not torch.allclose(intensity[:, 5:], intensity2[:, 5:])
    # clusters differ only by initial states: same slot, same output; other slot, other output
    torch.testing.assert_close(intensity[0], intensity[4])
    assert not torch.allclose(intensity[0], intensity[1])


def test_partition_scaler_normalises_rows(two_clusters):
    seqs = two_clusters.sequences
    scaler = PartitionScaler.fit(seqs, 16, "zero")
    part = scaler.transform(seqs)
    assert part.x.shape == (len(seqs), 16, seqs.n_types + 1)
    means = part.x.reshape(-1, seqs.n_types + 1).mean(dim=0)
    np.testing.assert_allclose(means[1:].numpy(), 0.0, atol=1e-4)
    assert int(part.counts.sum()) == seqs.n_events
    np.testing.assert_allclose(float(part.width.mean()), 1.0, rtol=1e-5)


def test_fit_outputs_and_history(two_clusters):
    seqs = two_clusters.sequences
    model = LAL(**TINY, seed=1).fit(seqs)
    assert model.labels_.shape == (len(seqs),) and model.labels_.dtype == np.int64
    assert model.n_clusters_ == len(np.unique(model.labels_))
    assert len(model.history_) == TINY["n_em_epochs"]
    emb = model.transform(seqs)
    assert emb.shape == (len(seqs), TINY["hidden_size"]) and np.isfinite(emb).all()
    assert set(model.metrics_) == {"log_likelihood_per_event", "n_clusters_found",
                                   "seconds_per_em_epoch"}
    assert model.metrics_["log_likelihood_per_event"] < 0


def test_training_increases_likelihood(two_clusters):
    model = LAL(n_clusters=2, n_em_epochs=4, n_m_epochs=2, hidden_size=8, batch_size=32,
                seed=0).fit(two_clusters.sequences)
    ll = [h["e_step_log_lik_per_event"] for h in model.history_]
    assert ll[-1] > ll[0] + 0.1
    assert all(h["n_clusters"] == 2 for h in model.history_)


def test_same_seed_same_output_other_seed_differs(two_clusters):
    seqs = two_clusters.sequences
    a = LAL(**TINY, seed=4).fit(seqs)
    b = LAL(**TINY, seed=4).fit(seqs)
    c = LAL(**TINY, seed=5).fit(seqs)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.transform(seqs), b.transform(seqs))
    assert not np.allclose(a.transform(seqs), c.transform(seqs))


def test_double_batching_subset_size():
    d = simulate_poisson_mixture(n_per_cluster=150, n_clusters=2, n_types=3, mean_length=10,
                                 seed=0)
    model = LAL(**{**TINY, "max_computation_size": 70}).fit(d.sequences)
    assert [h["n_sequences"] for h in model.history_] == [70] * TINY["n_em_epochs"]
    assert model.labels_.shape == (300,)  # every sequence is labelled in the end


def test_prune_deletes_empty_then_least_costly_cluster():
    model = LAL(seed=0, prune_mixing="uniform")  # version-1 removal test: weights 1/K
    rng = np.random.default_rng(0)
    n = 50
    good = torch.tensor(rng.normal(-10, 1, size=(n, 2)), dtype=torch.float64)
    good[:25, 0] += 20.0  # first 25 sequences prefer cluster 0, the rest cluster 1
    good[25:, 1] += 20.0
    empty = torch.full((n, 1), -1e3, dtype=torch.float64)  # nobody prefers it
    slots = [3, 5, 7]
    move, loglik = model._prune_step(torch.cat([good, empty], dim=1), slots, rng)
    assert move["move"] == "delete-empty" and slots == [3, 5] and loglik.shape == (n, 2)
    # a near-copy of cluster 0 that a few sequences prefer by 0.5 nats: deleting it costs
    # 1.5 nats and raises every other cluster's mixing probability, so the ratio accepts it
    near = good[:, :1] - 1.0
    near[:3] += 1.5
    dup = torch.cat([good, near], dim=1)
    slots = [3, 5, 7]
    move, loglik = model._prune_step(dup, slots, rng)
    assert move["move"] == "prune" and move["accepted"] and move["log_ratio"] > 0
    assert len(slots) == 2 and loglik.shape == (n, 2)
    # two well-separated clusters: deleting either costs ~20 nats per sequence, rejected
    move, _ = model._prune_step(good, slots, rng)
    assert not move["accepted"] and slots and len(slots) == 2


def _unbalanced_with_duplicate(n=200, majority=160, seed=0, noise=0.01):
    """Per-cluster log-likelihoods (n, 3): clusters 0 and 1 separated by 20 nats, ``majority``
    sequences in cluster 0, column 2 a copy of column 0 up to ±``noise`` nats per sequence (so
    about half of cluster 0 prefers the copy and it is not 'empty')."""
    rng = np.random.default_rng(seed)
    base = torch.tensor(rng.normal(-10, 3, size=(n, 1)), dtype=torch.float64)
    first = torch.arange(n)[:, None] < majority
    two = torch.cat([torch.where(first, base, base - 20), torch.where(first, base - 20, base)],
                    dim=1)
    copy = two[:, :1] + torch.tensor(rng.uniform(-noise, noise, size=(n, 1)))
    return two, torch.cat([two, copy], dim=1)


def test_prune_removes_duplicate_of_majority_cluster():
    """With weights fixed at 1/K a duplicate of the 80 % cluster acts as extra mixing weight:
    deleting it costs 0.15 nats per sequence and the plain ratio keeps it. The default removal
    test (fitted weights) sees that it adds nothing and deletes it; a true cluster is kept."""
    two, dup = _unbalanced_with_duplicate()
    rng = np.random.default_rng(0)
    old = LAL(seed=0, prune_mixing="uniform", prune_penalty=0)
    slots = [0, 1, 2]
    move, _ = old._prune_step(dup, slots, rng, old._penalty(None))
    assert move["log_ratio"] < -20 and not move["accepted"] and slots == [0, 1, 2]

    model = LAL(seed=0, hidden_size=8)  # defaults: fitted weights, AIC penalty
    net = IntensityNet(n_types=3, hidden_size=8, n_layers=1, cell="lstm", max_clusters=3,
                       batch_norm=True)
    assert model._penalty(net) == 2 * 1 * 8  # (hidden, cell) x layers x hidden size
    slots = [0, 1, 2]
    move, loglik = model._prune_step(dup, slots, rng, model._penalty(net))
    assert move["move"] == "prune" and move["accepted"] and abs(move["log_ratio"]) < 0.1
    assert slots in ([0, 1], [1, 2]) and loglik.shape == (200, 2)
    # the two real clusters: deleting one costs ~20 nats x 40 sequences >> penalty, kept
    for _ in range(5):
        move, loglik = model._prune_step(loglik, slots, rng, model._penalty(net))
        assert not move["accepted"] and len(slots) == 2


def test_prune_penalty_removes_near_duplicate():
    """A near-copy (each sequence ±2 nats) survives the plain likelihood ratio under fitted
    weights (deleting it always costs something) but not a penalty of 20 nats."""
    _, dup = _unbalanced_with_duplicate(majority=100, noise=2.0)
    plain = LAL(seed=0, prune_penalty=0)
    slots = [0, 1, 2]
    move, _ = plain._prune_step(dup, slots, np.random.default_rng(0), plain._penalty(None))
    assert -15 < move["log_ratio"] < -3 and not move["accepted"] and len(slots) == 3
    model = LAL(seed=0, prune_penalty=20.0)
    move, _ = model._prune_step(dup, slots, np.random.default_rng(0), model._penalty(None))
    assert move["accepted"] and len(slots) == 2 and 1 in slots  # a copy of cluster 0 went


def test_split_is_accepted_only_by_likelihood(two_clusters):
    """The walk's split proposal is evaluated on the subset's likelihood and undone on
    rejection (initial states restored exactly)."""
    seqs = two_clusters.sequences
    model = LAL(hidden_size=8, seed=0)
    torch.manual_seed(0)
    net = IntensityNet(seqs.n_types, 8, 1, "lstm", 3, True)
    data = PartitionScaler.fit(seqs, 16, "zero").transform(seqs)
    optimizer = torch.optim.Adam(net.parameters(), lr=0.1)
    before = net.init_states.detach().clone()
    for step in range(3):
        slots = [0]
        loglik = _cluster_log_likelihoods(net, data, slots)
        move, new = model._walk_step(net, optimizer, data, slots, loglik,
                                     np.random.default_rng(step))
        assert move["move"] == "split"  # one cluster can only grow
        assert len(slots) == (2 if move["accepted"] else 1)
        if move["accepted"]:
            recomputed = _cluster_log_likelihoods(net, data, slots)
            np.testing.assert_allclose(new.numpy(), recomputed.numpy(), rtol=1e-6)
            with torch.no_grad():
                net.init_states.copy_(before)
        else:
            assert torch.equal(net.init_states[0], before[0])


def test_label_firewall_shuffled_labels_same_output(tmp_path):
    """Run through the harness worker twice on stored copies whose labels are permuted."""
    from benchmark.core.storage import load_sequences, save_dataset
    from benchmark.harness.worker import fit_and_write

    d = simulate_poisson_mixture(n_per_cluster=30, n_clusters=2, n_types=3, mean_length=15,
                                 seed=2)
    shuffled = Dataset(d.sequences, np.random.default_rng(9).permutation(d.labels), d.meta)
    outputs = []
    for name, ds in (("a", d), ("b", shuffled)):
        save_dataset(ds, tmp_path / f"data_{name}")
        out = tmp_path / f"out_{name}"
        out.mkdir()
        fit_and_write({"method": "lal", "method_module": "baselines.lal",
                       "params": {**TINY, "seed": 0}, "probe": False},
                      load_sequences(tmp_path / f"data_{name}"), out)
        outputs.append((np.load(out / "labels.npy"), np.load(out / "embeddings.npy")))
    np.testing.assert_array_equal(outputs[0][0], outputs[1][0])
    np.testing.assert_array_equal(outputs[0][1], outputs[1][1])


def test_quick_preset_separates_two_clusters():
    """K2-like data (two clusters with different per-type rates), quick preset, K chosen by the
    walk: purity >= 0.9."""
    d = simulate_poisson_mixture(n_per_cluster=150, n_clusters=2, n_types=4, mean_length=40,
                                 seed=0)
    model = LAL(**{**LAL.default_params(), **LAL.presets["quick"], "seed": 0}).fit(d.sequences)
    assert purity_score(d.labels, model.labels_) >= 0.9


def test_ensemble_and_other_cells(two_clusters):
    seqs = two_clusters.sequences
    model = LAL(**TINY, n_ensemble=2, n_clusters=2, cell="gru").fit(seqs)
    assert model.labels_.shape == (len(seqs),) and len(model.runs_) == 2
    assert model.transform(seqs).shape == (len(seqs), 2 * TINY["hidden_size"])


def test_ensemble_runs_in_parallel_processes_give_the_same_labels(two_clusters):
    """n_jobs only changes where the runs are fitted (spawned processes), not their result."""
    seqs = two_clusters.sequences
    serial = LAL(**TINY, n_ensemble=3, seed=5).fit(seqs)
    parallel = LAL(**TINY, n_ensemble=3, seed=5, n_jobs=2).fit(seqs)
    np.testing.assert_array_equal(parallel.labels_, serial.labels_)
    for a, b in zip(parallel.runs_, serial.runs_):
        np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_allclose(parallel.transform(seqs), serial.transform(seqs))


def test_ensemble_k_recovers_clusters_that_every_run_merges_differently():
    """Four groups; each run merges a random pair of them (K = 3 everywhere). The median K
    (3) must merge two groups; the consensus by average NMI finds all four."""
    rng = np.random.default_rng(0)
    truth = np.repeat(np.arange(4), 40)
    runs = []
    for _ in range(20):
        a, b = rng.choice(4, 2, replace=False)
        merged = np.where(truth == b, a, truth)
        noisy = np.where(rng.random(len(truth)) < 0.05,
                         rng.choice(np.unique(merged), size=len(truth)), merged)
        runs.append(_relabel(noisy))
    anmi = LAL(n_ensemble=20)._ensemble_labels(runs)
    median = LAL(n_ensemble=20, ensemble_k="median")._ensemble_labels(runs)
    assert len(np.unique(median)) == 3 and purity_score(truth, median) < 0.8
    assert len(np.unique(anmi)) == 4 and purity_score(truth, anmi) > 0.95
    # runs that agree on two groups keep two; runs that mostly found one cluster give one
    two = [np.repeat([0, 1], 80)] * 5
    assert len(np.unique(LAL(n_ensemble=5)._ensemble_labels(two))) == 2
    mostly_one = [np.zeros(160, np.int64)] * 3 + [np.repeat([0, 1], 80)] * 2
    assert len(np.unique(LAL(n_ensemble=5)._ensemble_labels(mostly_one))) == 1
    # a given n_clusters wins over the rule
    assert len(np.unique(LAL(n_ensemble=20, n_clusters=2)._ensemble_labels(runs))) == 2


def test_lal_ensemble_is_registered_with_table7_defaults(two_clusters):
    from baselines.lal_ensemble import ENSEMBLE_DEFAULTS

    info = get_method_info("lal-ensemble")
    assert info.cls is LAL and info.module == "baselines.lal_ensemble"
    assert info.defaults["n_ensemble"] == 20  # Table 7: 20 runs
    assert info.param_names == tuple(LAL.param_names())
    assert info.create().get_params() == {**LAL().get_params(), **ENSEMBLE_DEFAULTS}
    assert info.create(n_ensemble=2, hidden_size=8).get_params()["hidden_size"] == 8
    assert info.version == get_method_info("lal").version
    model = info.create(**info.presets["quick"]).fit(two_clusters.sequences)
    assert len(model.runs_) == 3 and model.labels_.shape == (len(two_clusters.sequences),)


@pytest.mark.parametrize("params, message", [
    ({"n_clusters": 0}, "n_clusters"),
    ({"window_start": "middle"}, "window_start"),
    ({"n_prune_epochs": 99}, "n_prune_epochs"),
    ({"cell": "transformer"}, "cell"),
    ({"init_scale": 0.0}, "init_scale"),
    ({"init_lr": -1.0}, "init_lr"),
    ({"prune_penalty": -1.0}, "prune_penalty"),
    ({"prune_penalty": "hqc"}, "prune_penalty"),
    ({"prune_mixing": "free"}, "prune_mixing"),
    ({"ensemble_k": "eigengap"}, "ensemble_k"),
    ({"m_step_pairs": "top"}, "m_step_pairs"),
])
def test_bad_parameters_raise(two_clusters, params, message):
    with pytest.raises(ValueError, match=message):
        LAL(**{**TINY, **params}).fit(two_clusters.sequences)


def test_too_few_sequences_raise():
    seqs = EventSequences.from_lists([np.array([0.5, 1.0])], [np.array([0, 1])], n_types=2)
    with pytest.raises(ValueError, match="at least 2 sequences"):
        LAL(**TINY).fit(seqs)


def test_init_scale_and_init_lr(two_clusters):
    """``init_scale`` sets the range of the initial states; ``init_lr`` puts them in their own
    Adam group with that learning rate; defaults reproduce the single-group run."""
    net = IntensityNet(n_types=3, hidden_size=8, n_layers=1, cell="lstm", max_clusters=3,
                       batch_norm=True, init_scale=0.5)
    assert float(net.init_states.abs().max()) <= 0.5
    assert float(net.init_states.abs().max()) > 1.0 / 8
    seqs = two_clusters.sequences
    base = LAL(**TINY, n_clusters=2, seed=2).fit(seqs)
    same = LAL(**TINY, n_clusters=2, seed=2, init_lr=TINY.get("lr", 0.1)).fit(seqs)
    np.testing.assert_array_equal(base.labels_, same.labels_)
    other = LAL(**TINY, n_clusters=2, seed=2, init_lr=0.01, init_scale=0.3).fit(seqs)
    assert other.labels_.shape == (len(seqs),)


def test_cluster_scale_is_per_slot_and_follows_the_walk(two_clusters):
    """``cluster_scale``: one softplus scale row per slot (a cluster's scale changes only its
    own intensities); a split copies the parent's row to the child, a merge averages the two in
    log space, a rejected move restores the parent; AIC counts the scale row."""
    net = IntensityNet(n_types=3, hidden_size=8, n_layers=1, cell="lstm", max_clusters=4,
                       batch_norm=False, cluster_scale=True)
    assert net.log_softplus_scale.shape == (4, 3)
    assert net.parameters_per_cluster == 2 * 8 + 3
    x = torch.rand(2, 5, 4)
    slots = torch.tensor([0, 1])
    before, _ = net(x, slots)
    with torch.no_grad():
        net.log_softplus_scale[1] += 1.0
    after, _ = net(x, slots)
    assert torch.equal(before[0], after[0]) and not torch.allclose(before[1], after[1])

    seqs = two_clusters.sequences
    data = PartitionScaler.fit(seqs, 16, "zero").transform(seqs)
    optimizer = torch.optim.Adam(net.parameters(), lr=0.1)
    with torch.no_grad():
        net.log_softplus_scale.copy_(torch.randn(4, 3))
    rows = net.log_softplus_scale.detach().clone()
    model = LAL(seed=0, hidden_size=8, cluster_scale=True)
    for seed in range(20):  # until a split is accepted
        slots = [0]
        loglik = _cluster_log_likelihoods(net, data, slots)
        move, _ = model._walk_step(net, optimizer, data, slots, loglik,
                                   np.random.default_rng(seed))
        if move["accepted"]:
            break
        assert torch.equal(net.log_softplus_scale[0], rows[0])
    assert move["accepted"] and slots == [0, 1]
    assert torch.equal(net.log_softplus_scale[1], net.log_softplus_scale[0])
    with torch.no_grad():
        net.log_softplus_scale[1] = rows[2]
    for seed in range(200):  # until a merge is proposed (accepted or not)
        trial = list(slots)
        loglik = _cluster_log_likelihoods(net, data, trial)
        saved = net.log_softplus_scale.detach().clone()
        move, _ = LAL(seed=0, max_clusters=2, cluster_scale=True)._walk_step(
            net, optimizer, data, trial, loglik, np.random.default_rng(seed))
        if move["move"] == "merge":
            break
    assert move["move"] == "merge"
    kept = trial[0]
    if move["accepted"]:
        np.testing.assert_allclose(net.log_softplus_scale[kept].detach(),
                                   0.5 * (saved[0] + saved[1]), rtol=1e-6)
    else:
        assert torch.equal(net.log_softplus_scale, saved)


def test_cluster_scale_fits_deterministically(two_clusters):
    seqs = two_clusters.sequences
    a = LAL(**TINY, seed=4, cluster_scale=True).fit(seqs)
    b = LAL(**TINY, seed=4, cluster_scale=True).fit(seqs)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.transform(seqs), b.transform(seqs))
    assert a.runs_[0].net.log_softplus_scale.shape == (10, seqs.n_types)


def test_sampled_pairs_are_two_per_sequence_and_unbiased():
    """``m_step_pairs="sampled"``: each sequence trains its MAP cluster at weight γ_map and one
    other cluster at weight 1 - γ_map; averaged over draws the weights are the posteriors."""
    import torch

    rng = np.random.default_rng(0)
    posterior = torch.softmax(torch.from_numpy(rng.normal(size=(6, 5)) * 2), dim=1).float()
    posterior[5] = torch.tensor([0.9996, 0.0001, 0.0001, 0.0001, 0.0001])  # rest below floor
    draws = 4000
    mean = torch.zeros_like(posterior, dtype=torch.float64)
    for _ in range(draws):
        keep, weight = _sampled_pairs(posterior, 1e-3, rng)
        assert keep.sum(dim=1).tolist() == [2, 2, 2, 2, 2, 1]
        assert torch.equal(keep, weight > 0)
        np.testing.assert_allclose(weight[:5].sum(dim=1), 1.0, atol=1e-5)
        best = posterior.argmax(dim=1)
        assert torch.equal(weight[torch.arange(6), best], posterior[torch.arange(6), best])
        mean += weight
    mean /= draws
    # binomial sd of the mean <= 0.5 / sqrt(4000) ~ 0.008 per entry
    np.testing.assert_allclose(mean[:5], posterior[:5], atol=0.04)


def test_sampled_m_step_same_as_all_at_two_clusters_and_runs_at_more(two_clusters):
    seqs = two_clusters.sequences
    base = LAL(**TINY, n_clusters=2, seed=1).fit(seqs)
    same = LAL(**TINY, n_clusters=2, seed=1, m_step_pairs="sampled").fit(seqs)
    np.testing.assert_array_equal(base.labels_, same.labels_)
    np.testing.assert_array_equal(base.transform(seqs), same.transform(seqs))
    a = LAL(**TINY, n_clusters=4, seed=1, m_step_pairs="sampled").fit(seqs)
    b = LAL(**TINY, n_clusters=4, seed=1, m_step_pairs="sampled").fit(seqs)
    c = LAL(**TINY, n_clusters=4, seed=1).fit(seqs)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert not np.array_equal(a.transform(seqs), c.transform(seqs))
    # what an M-step costs, recorded per EM epoch: 1..2 pairs per sequence sampled, 1..K all
    assert all(1.0 <= h["m_step_pairs_per_sequence"] <= 2.0 for h in a.history_)
    assert all(1.0 <= h["m_step_pairs_per_sequence"] <= 4.0 for h in c.history_)
    assert max(h["m_step_pairs_per_sequence"] for h in c.history_) > 2.0


def test_perf_huge_reports_time_memory_and_purity(capsys):
    """``python -m benchmark perf lal huge`` runs one child process per size and prints one row
    with seconds per EM epoch, peak RSS, clusters found and purity."""
    from benchmark.perf.lal import main

    assert main(["huge", "--sizes", "100", "--em-epochs", "1"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert "not comparable to Table 2" in out[0]
    row = out[-1].split()
    assert row[0] == "100" and row[1] == "1"
    assert float(row[2]) > 0 and float(row[6]) >= float(row[5]) > 0  # peak RSS never drops
    assert 1 <= int(row[7]) <= 10 and 0.2 <= float(row[8]) <= 1.0


def test_perf_epoch_compares_settings(capsys):
    """``perf lal epoch --threads A,B --m-step-pairs all,sampled --heap-reuse off,on`` fits
    once per setting and prints the speed-up over the first, the CPU time and page faults.
    (One thread here: two torch threads on a CI machine already busy with the other test
    worker make OpenMP spin-wait, which is what the command exists to show, not what a test
    should do.)"""
    from benchmark.perf.lal import main

    env_before = os.environ.get(HEAP_REUSE_ENV)
    assert main(["epoch", "--family", "exp", "--clusters", "2", "--em-epochs", "1",
                 "--threads", "1", "--m-step-pairs", "all,sampled", "--heap-reuse", "on",
                 "--n-clusters", "3"]) == 0
    assert main(["epoch", "--family", "exp", "--clusters", "2", "--em-epochs", "1",
                 "--threads", "1", "--heap-reuse", "off", "--n-clusters", "3"]) == 0
    out = capsys.readouterr().out
    headers = [line for line in out.splitlines() if line.startswith("n_threads=")]
    assert headers == ["n_threads=1, m_step_pairs=all, heap reuse on:",
                       "n_threads=1, m_step_pairs=sampled, heap reuse on:",
                       "n_threads=1, m_step_pairs=all, heap reuse off:"]
    assert out.count("K=3") == 3
    assert "s/EM-epoch:" in out
    assert "ms per (sequence, cluster) pair" in out
    assert out.count("M minor page faults") == 3
    assert ("speed-up per (sequence, cluster) pair over n_threads=1, m_step_pairs=all, heap "
            "reuse on: n_threads=1, m_step_pairs=sampled, heap reuse on") in out
    assert os.environ.get(HEAP_REUSE_ENV) == env_before  # the "off" fit's switch does not leak


def test_release_freed_memory_reaches_glibc():
    """On glibc Linux (CI) the labelling pass's heap trim is a real call, not the no-op
    fallback of other platforms."""
    import platform

    from benchmark.core.process_memory import _malloc_trim, release_freed_memory

    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert _malloc_trim() is not None
    release_freed_memory()
