"""Tests of ``autoencoder`` (baselines/autoencoder.py): conv autoencoder on binned counts +
k-means."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("torch_one_thread")

from baselines.autoencoder import ConvAutoencoderKMeans, count_image  # noqa: E402
from benchmark.core.registry import get_method  # noqa: E402
from benchmark.core.sequences import EventSequences  # noqa: E402
from benchmark.harness.metrics import purity_score  # noqa: E402
from generators.poisson_mixture import simulate_poisson_mixture  # noqa: E402

SMALL = dict(n_steps=8, hidden_channels=(4, 8), latent_dim=3, n_epochs=2, batch_size=8, n_init=1)


@pytest.fixture(scope="module")
def toy():
    return simulate_poisson_mixture(n_per_cluster=15, n_clusters=2, n_types=3, mean_length=15,
                                    seed=3)


def test_registered_with_labels_and_embeddings():
    cls = get_method("autoencoder")
    assert cls is ConvAutoencoderKMeans
    assert set(cls.outputs) == {"labels", "embeddings"} and cls.needs_n_clusters
    assert set(cls.presets["quick"]) <= set(cls.param_names())


def test_count_image_has_type_channels_and_a_time_channel():
    seqs = EventSequences.from_lists([[1.0, 1.5, 4.9, 5.0], [0.0, 8.0]], [[0, 0, 1, 1], [1, 0]],
                                     n_types=2)
    img = count_image(seqs, 4)
    assert img.shape == (2, 3, 4) and img.dtype == np.float32
    # sequence 0: window [1, 5], bins of width 1 -> type 0 twice in bin 0, type 1 twice in bin 3
    np.testing.assert_allclose(img[0, 0], np.log1p([2, 0, 0, 0]))
    np.testing.assert_allclose(img[0, 1], np.log1p([0, 0, 0, 2]))
    np.testing.assert_allclose(img[0, 2], np.zeros(4), atol=1e-7)  # log(width 1)
    np.testing.assert_allclose(img[1, 2], np.full(4, np.log(2.0)))  # window [0, 8] / 4


def test_quick_preset_beats_random_floor_and_loss_decreases():
    ds = simulate_poisson_mixture(n_per_cluster=50, n_clusters=2, n_types=4, mean_length=30,
                                  seed=1)
    m = ConvAutoencoderKMeans(n_clusters=2, **ConvAutoencoderKMeans.presets["quick"])
    labels = m.fit_predict(ds.sequences)
    assert purity_score(ds.labels, labels) >= 0.75  # random labels give about 0.55 here
    assert m.loss_history_[-1] < m.loss_history_[0]
    assert m.metrics_["reconstruction_mse"] < 1.0  # below predicting the (standardised) mean
    assert m.embeddings_.shape == (100, m.latent_dim)


def test_deterministic_with_seed_and_transform_matches(toy):
    a = ConvAutoencoderKMeans(n_clusters=2, seed=4, **SMALL).fit(toy.sequences)
    b = ConvAutoencoderKMeans(n_clusters=2, seed=4, **SMALL).fit(toy.sequences)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.embeddings_, b.embeddings_)
    np.testing.assert_allclose(a.transform(toy.sequences), a.embeddings_, rtol=1e-5, atol=1e-6)
    c = ConvAutoencoderKMeans(n_clusters=2, seed=5, **SMALL).fit(toy.sequences)
    assert not np.array_equal(a.embeddings_, c.embeddings_)


def test_clear_errors_on_degenerate_input(toy):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(ValueError, match="multiple of 4"):
        ConvAutoencoderKMeans(n_clusters=2, n_steps=10).fit(toy.sequences)
    with pytest.raises(ValueError, match="odd"):
        ConvAutoencoderKMeans(n_clusters=2, kernel_size=4).fit(toy.sequences)
    with pytest.raises(ValueError, match="at least 3 sequences"):
        ConvAutoencoderKMeans(n_clusters=3, **SMALL).fit(toy.sequences.slice(0, 2))
    with pytest.raises(NotFittedError):
        ConvAutoencoderKMeans().transform(toy.sequences)
    m = ConvAutoencoderKMeans(n_clusters=2, **SMALL).fit(toy.sequences)
    with pytest.raises(ValueError, match="fitted on 3 event types"):
        m.transform(EventSequences.from_lists([[0.0, 1.0]], [[0, 4]], n_types=5))


@pytest.mark.perf
def test_perf_training_throughput(benchmark):
    """Training events/s of the autoencoder (paper preset sizes, 10 epochs, 1000 sequences)."""
    ds = simulate_poisson_mixture(n_per_cluster=500, n_clusters=2, n_types=5, mean_length=50,
                                  seed=0)
    m = ConvAutoencoderKMeans(n_clusters=2, n_epochs=10, n_init=1)
    benchmark.pedantic(m.fit, args=(ds.sequences,), rounds=1, iterations=1)
    events_per_s = ds.sequences.n_events * m.n_epochs / m.train_seconds_
    benchmark.extra_info["train_events_per_s"] = events_per_s
    assert m.train_seconds_ > 0
