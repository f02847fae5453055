"""Tests of the CatBoost probe metrics (benchmark/harness/metrics_catboost.py; the SASRec + CatBoost slides)."""

from __future__ import annotations

import logging
import sys

import numpy as np
import pytest

pytest.importorskip("catboost")

from benchmark.core.registry import METRICS  # noqa: E402
from benchmark.harness import metrics_catboost as mc  # noqa: E402
from benchmark.harness.metrics import MetricInput  # noqa: E402

NAMES = ("catboost_roc_auc", "catboost_precision", "catboost_recall")


def _blobs(n: int = 300, k: int = 3, d: int = 4, spread: float = 0.3, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, n)
    centres = rng.normal(0, 3, size=(k, d))
    return (centres[labels] + rng.normal(0, spread, size=(n, d))).astype(np.float32), labels


def _input(emb, labels, seed=0):
    return MetricInput(labels_true=labels, labels_pred=None, embeddings=emb, seed=seed)


def test_registered_as_higher_is_better():
    for name in NAMES:
        assert METRICS[name].higher_is_better


def test_separable_embeddings_score_high():
    emb, labels = _blobs()
    m = _input(emb, labels)
    values = [METRICS[name].fn(m) for name in NAMES]
    assert values[0] > 0.99
    assert values[1] > 0.95 and values[2] > 0.95


def test_uninformative_embeddings_score_near_chance():
    _, labels = _blobs(n=400)
    noise = np.random.default_rng(1).normal(size=(400, 4))
    auc = METRICS["catboost_roc_auc"].fn(_input(noise, labels))
    assert 0.35 < auc < 0.65


def test_binary_labels_and_determinism():
    emb, labels = _blobs(n=200, k=2, spread=2.0, seed=3)
    a = mc.catboost_probe(emb, labels, seed=4)
    mc._cache.clear()
    b = mc.catboost_probe(emb, labels, seed=4)
    assert a == b
    assert 0.5 < a["roc_auc"] <= 1.0


def test_one_fit_serves_the_three_metrics(monkeypatch):
    from catboost import CatBoostClassifier

    fits = []
    original = CatBoostClassifier.fit
    monkeypatch.setattr(CatBoostClassifier, "fit",
                        lambda self, *a, **k: fits.append(1) or original(self, *a, **k))
    emb, labels = _blobs(seed=7)
    mc._cache.clear()
    m = _input(emb, labels, seed=2)
    for name in NAMES:
        METRICS[name].fn(m)
    assert len(fits) == 1


def test_not_applicable_returns_none():
    emb, labels = _blobs()
    assert mc.catboost_roc_auc(_input(None, labels)) is None
    assert mc.catboost_recall(_input(emb, None)) is None
    one_class = np.zeros(len(emb), dtype=np.int64)
    assert mc.catboost_precision(_input(emb, one_class)) is None


def test_shape_mismatch_is_an_error():
    emb, labels = _blobs()
    with pytest.raises(ValueError, match="embeddings of shape"):
        mc.catboost_probe(emb[:10], labels, seed=0)


def test_missing_catboost_skips_with_logged_reason(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "catboost", None)  # makes `import catboost` fail
    monkeypatch.setattr(mc, "_warned", [])
    emb, labels = _blobs()
    with caplog.at_level(logging.WARNING, logger="benchmark.harness.metrics_catboost"):
        assert mc.catboost_roc_auc(_input(emb, labels, seed=11)) is None
    assert "catboost is not importable" in caplog.text
