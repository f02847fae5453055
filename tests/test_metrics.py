import numpy as np
import pytest

from benchmark.harness.metrics import (
    MetricInput,
    ari,
    macro_ovr_auc,
    n_clusters,
    nmi,
    probe_split,
    purity_score,
    roc_auc,
)
from tests.test_sequences import make


def test_purity_hand_computed():
    # clusters: {a,a,b}, {b,b,c}, {c}: 2 + 2 + 1 = 5 of 7
    true = np.array([0, 0, 1, 1, 1, 2, 2])
    pred = np.array([0, 0, 0, 1, 1, 1, 2])
    assert purity_score(true, pred) == pytest.approx(5 / 7)
    assert purity_score(true, true) == 1.0
    assert purity_score(true, np.zeros(7, int)) == pytest.approx(3 / 7)


def test_ari_nmi_n_clusters():
    true = np.array([0, 0, 1, 1])
    m = MetricInput(true, np.array([1, 1, 0, 0]))
    assert ari(m) == pytest.approx(1.0) and nmi(m) == pytest.approx(1.0)
    assert n_clusters(m) == 2
    assert ari(MetricInput(true, np.array([0, 1, 0, 1]))) == pytest.approx(-0.5)
    assert ari(MetricInput(None, true)) is None


def test_probe_split_target():
    s = make([[0.0, 1.0, 9.5, 9.6, 10.0], [0.0, 10.0]], [[0, 0, 2, 1, 1], [1, 2]])
    prefix, target = probe_split(s)
    assert prefix.lengths.tolist() == [2, 1]
    assert target.tolist() == [1, 2]  # 1 appears twice in the last 10%


def test_macro_ovr_auc_by_hand():
    y = np.array([0, 0, 1, 1])
    proba = np.array([[0.9, 0.1], [0.6, 0.4], [0.7, 0.3], [0.2, 0.8]])
    auc, per = macro_ovr_auc(y, proba, np.array([0, 1]))
    assert per[0] == pytest.approx(0.75) and per[1] == pytest.approx(0.75) and auc == pytest.approx(0.75)


def test_roc_auc_probe_separable_vs_noise():
    rng = np.random.default_rng(0)
    target = rng.integers(0, 3, 300)
    informative = np.eye(3)[target] + 0.1 * rng.normal(size=(300, 3))
    m = MetricInput(None, None, probe_embeddings=informative, probe_target=target)
    assert roc_auc(m) > 0.95
    noise = MetricInput(None, None, probe_embeddings=rng.normal(size=(300, 3)), probe_target=target)
    assert 0.35 < roc_auc(noise) < 0.65
