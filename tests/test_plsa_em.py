"""Tests of ``plsa-em`` (baselines/plsa_em.py), the pLSA-style EM user clustering for online advertising."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from baselines.plsa_em import PlsaEM, beacon_counts, initial_clusters
from benchmark.core.registry import get_method
from benchmark.core.sequences import EventSequences
from benchmark.core.storage import DatasetIntegrityError
from benchmark.perf.plsa import simulate_multinomial_mixture, write_multinomial_mixture


@pytest.fixture(scope="module")
def mixture():
    """2000 users, 4 planted clusters, 30 event types with peaked Dirichlet(0.3) profiles."""
    return simulate_multinomial_mixture(2000, n_clusters=4, n_types=30, mean_length=40,
                                        concentration=0.3, seed=1)


def test_registered_with_quick_preset():
    cls = get_method("plsa-em")
    assert cls is PlsaEM
    assert cls.needs_n_clusters and "quick" in cls.presets and "paper" in cls.presets


def test_beacon_counts_match_events():
    seqs = EventSequences.from_lists([[0, 1, 2], [0.5]], [[2, 0, 2], [1]], n_types=3)
    counts = beacon_counts(seqs).toarray()
    np.testing.assert_array_equal(counts, [[1, 0, 2], [0, 1, 0]])
    np.testing.assert_array_equal(beacon_counts(seqs, 2).toarray(), [[1, 0], [0, 1]])


def test_hard_em_recovers_planted_clusters(mixture):
    model = PlsaEM(n_clusters=4, seed=0).fit(mixture.sequences)
    assert adjusted_rand_score(mixture.labels, model.labels_) > 0.95
    assert model.converged_
    # the learned p(b|c) matches the planted profiles up to a relabelling
    truth = mixture.meta["beacon_given_cluster"]  # (K, B)
    learned = model.beacon_given_cluster_.T       # (K, B)
    err = np.abs(learned[:, None, :] - truth[None, :, :]).sum(-1)
    assert err.min(axis=1).max() < 0.1


def test_probability_tables_are_normalised(mixture):
    for assignment in ("hard", "soft"):
        m = PlsaEM(n_clusters=4, assignment=assignment, seed=0).fit(mixture.sequences)
        np.testing.assert_allclose(m.cluster_weight_.sum(), 1.0)
        live = m.cluster_weight_ > 0
        np.testing.assert_allclose(m.beacon_given_cluster_[:, live].sum(axis=0), 1.0)
        np.testing.assert_allclose(m.cluster_given_beacon_.sum(axis=1), 1.0)
        np.testing.assert_allclose(m.transform(mixture.sequences).sum(axis=1), 1.0)


def test_soft_em_finds_structure(mixture):
    m = PlsaEM(n_clusters=4, assignment="soft", seed=0).fit(mixture.sequences)
    assert adjusted_rand_score(mixture.labels, m.labels_) > 0.2


def test_paper_cluster_prior_collapses(mixture):
    """The literal p(c|b) = p(c) p(b|c)/p(b) lets big clusters absorb the rest (documented)."""
    literal = PlsaEM(n_clusters=4, assignment="soft", cluster_prior="learned", seed=0)
    assert len(np.unique(literal.fit(mixture.sequences).labels_)) < 4


def test_chunking_does_not_change_the_result(mixture):
    whole = PlsaEM(n_clusters=4, seed=3).fit(mixture.sequences)
    chunked = PlsaEM(n_clusters=4, seed=3, chunk_size=137).fit(mixture.sequences)
    np.testing.assert_array_equal(whole.labels_, chunked.labels_)
    np.testing.assert_allclose(whole.cluster_given_beacon_, chunked.cluster_given_beacon_)
    assert whole.n_iter_ == chunked.n_iter_


def test_out_of_core_fit_over_parquet_shards(tmp_path):
    path = write_multinomial_mixture(tmp_path / "mix", n_users=1500, n_clusters=3, n_types=20,
                                     mean_length=30, concentration=0.3, seed=2, shard_size=400)
    from benchmark.core.storage import load_dataset

    ds = load_dataset(path)
    spill = tmp_path / "spill"
    stored = PlsaEM(n_clusters=3, seed=0).fit_stored(path, spill_dir=spill)
    memory = PlsaEM(n_clusters=3, seed=0).fit(ds.sequences)
    assert len(list(spill.glob("counts-*.npz"))) == 4  # one compressed count matrix per shard
    np.testing.assert_array_equal(stored.labels_, memory.labels_)
    np.testing.assert_allclose(stored.cluster_given_beacon_, memory.cluster_given_beacon_)
    assert adjusted_rand_score(ds.labels, stored.labels_) > 0.95


def test_out_of_core_fit_cleans_up_and_names_bad_path(tmp_path, monkeypatch):
    with pytest.raises(DatasetIntegrityError, match="meta.json"):
        PlsaEM(n_clusters=2).fit_stored(tmp_path / "nowhere")
    path = write_multinomial_mixture(tmp_path / "mix", n_users=40, n_clusters=2, n_types=4,
                                     mean_length=5, shard_size=20)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(scratch))
    PlsaEM(n_clusters=2).fit_stored(path)
    assert list(scratch.iterdir()) == []  # the temporary spill directory is gone
    spill = tmp_path / "spill"
    with pytest.raises(ValueError, match="40 sequences for 50 clusters"):
        PlsaEM(n_clusters=50).fit_stored(path, spill_dir=spill)
    assert list(spill.iterdir()) == []


def test_predict_new_users_without_retraining(mixture):
    seqs, labels = mixture.sequences, mixture.labels
    train, new = np.arange(0, 1500), np.arange(1500, 2000)
    model = PlsaEM(n_clusters=4, seed=0).fit(seqs.subset(train))
    table = model.cluster_given_beacon_.copy()
    pred = model.predict(seqs.subset(new))
    assert pred.shape == (500,)
    np.testing.assert_array_equal(model.cluster_given_beacon_, table)  # model unchanged
    # the cluster ids of new users agree with the ids the training users of their class got
    mapping = {c: np.bincount(model.labels_[labels[train] == c]).argmax() for c in range(4)}
    expected = np.array([mapping[c] for c in labels[new]])
    assert (pred == expected).mean() > 0.97
    np.testing.assert_array_equal(pred, model.transform(seqs.subset(new)).argmax(axis=1))


def test_predict_ignores_unseen_event_types():
    train = EventSequences.from_lists([[0, 1], [0, 1], [0, 1], [0, 1]],
                                      [[0, 0], [0, 0], [1, 1], [1, 1]], n_types=2)
    model = PlsaEM(n_clusters=2, seed=0).fit(train)
    new = EventSequences.from_lists([[0, 1, 2], [0]], [[1, 2, 2], [2]], n_types=3)
    proba = model.transform(new)
    np.testing.assert_allclose(proba[0], model.cluster_given_beacon_[1])  # type 2 is ignored
    np.testing.assert_allclose(proba[1], [0.5, 0.5])                    # nothing known


def test_deterministic_and_seed_dependent(mixture):
    a = PlsaEM(n_clusters=4, seed=5).fit(mixture.sequences)
    b = PlsaEM(n_clusters=4, seed=5).fit(mixture.sequences)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    init5 = initial_clusters(np.arange(100), 4, 5)
    assert not np.array_equal(init5, initial_clusters(np.arange(100), 4, 6))
    assert set(np.unique(init5)) == {0, 1, 2, 3}


def test_bad_parameters_and_unfitted_use():
    seqs = EventSequences.from_lists([[0], [1]], [[0], [1]])
    with pytest.raises(ValueError, match="assignment"):
        PlsaEM(assignment="fuzzy").fit(seqs)
    with pytest.raises(ValueError, match="cluster_prior"):
        PlsaEM(cluster_prior="zipf").fit(seqs)
    with pytest.raises(ValueError, match="at least 3 sequences"):
        PlsaEM(n_clusters=3).fit(seqs)
    with pytest.raises(RuntimeError, match="not fitted"):
        PlsaEM().predict(seqs)


def test_perf_command_runs_all_paths_on_a_small_set(tmp_path, capsys):
    from benchmark.perf.plsa import main

    out = tmp_path / "perf.json"
    assert main(["--n-users", "3000", "--n-types", "10", "--json", str(out)]) == 0
    import json

    results = json.loads(out.read_text())["results"]
    assert set(results) == {"chunked", "in-memory", "reference"}
    assert results["chunked"]["ari"] == results["in-memory"]["ari"]
    assert all(r["peak_rss_mb"] > 0 and r["wall_s"] > 0 for r in results.values())
    assert "time ratio to the KMeans reference" in capsys.readouterr().out
