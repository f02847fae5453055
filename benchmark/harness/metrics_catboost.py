"""The CatBoost probe of the SASRec + CatBoost slides as harness metrics, for any method that
gives embeddings.

A CatBoost classifier is trained on a method's embeddings (``MetricInput.embeddings``, from the fit
on the full sequences) to predict the dataset's labels (``MetricInput.labels_true``: the true
cluster on synthetic sets, the pseudo-label on real ones), with a held-out split by sequence
(stratified, 30 % test, seeded by the run's seed: :func:`benchmark.harness.metrics.probe_data`). On the
held-out sequences it reports

* ``catboost_roc_auc``: one-vs-rest ROC-AUC, macro-averaged over classes (as the LAL probe);
* ``catboost_precision`` and ``catboost_recall``: macro-averaged over classes.

The three metrics share one classifier fit per (embeddings, labels, seed). CatBoost is optional:
if it cannot be imported the metrics return ``None`` and the reason is logged once.
"""

from __future__ import annotations

import hashlib
import logging

import numpy as np

from ..core.registry import register_metric
from .metrics import MetricInput, macro_ovr_auc, probe_data

log = logging.getLogger(__name__)

CATBOOST_PARAMS = {"iterations": 300, "depth": 6, "learning_rate": 0.1, "thread_count": 2}
"""Classifier settings (CatBoost defaults apart from a fixed, CI-sized number of trees)."""

_cache: dict[str, dict[str, float] | None] = {}
_warned: list[str] = []


def _key(emb: np.ndarray, labels: np.ndarray, seed: int) -> str:
    h = hashlib.sha256()
    for arr in (emb, labels):
        h.update(str((arr.shape, arr.dtype)).encode())
        h.update(np.ascontiguousarray(arr).tobytes())
    h.update(str(seed).encode())
    return h.hexdigest()


def catboost_probe(embeddings: np.ndarray, labels: np.ndarray, seed: int) -> dict[str, float] | None:
    """Fit the probe; return ``{"roc_auc", "precision", "recall"}`` on the held-out 30 %, or
    ``None`` when CatBoost is missing or the labels leave fewer than 2 classes / 10 sequences.

    embeddings : float (N, d); labels : int (N,); seed : split and CatBoost random seed.
    """
    try:
        from catboost import CatBoostClassifier
    except ImportError as e:
        if not _warned:
            log.warning("CatBoost probe skipped: catboost is not importable (%s); "
                        "install with `pip install -e .[catboost]`", e)
            _warned.append(str(e))
        return None
    from sklearn.metrics import precision_score, recall_score

    emb = np.nan_to_num(np.asarray(embeddings, dtype=np.float64))
    labels = np.asarray(labels)
    if emb.ndim != 2 or len(emb) != len(labels):
        raise ValueError(f"embeddings of shape {emb.shape} for {len(labels)} labels")
    key = _key(emb, labels, seed)
    if key in _cache:
        return _cache[key]
    split = probe_data(emb, labels.astype(np.int64), seed)
    result = None
    if split is not None:
        X_train, X_test, y_train, y_test = split
        clf = CatBoostClassifier(**CATBOOST_PARAMS, random_seed=seed, verbose=False,
                                 allow_writing_files=False)
        clf.fit(X_train, y_train)
        classes = np.asarray(clf.classes_).astype(np.int64)
        proba = clf.predict_proba(X_test)
        pred = classes[proba.argmax(axis=1)]
        auc, _ = macro_ovr_auc(y_test, proba, classes)
        result = {
            "roc_auc": auc,
            "precision": float(precision_score(y_test, pred, average="macro", zero_division=0)),
            "recall": float(recall_score(y_test, pred, average="macro", zero_division=0)),
        }
    _cache.clear()  # keep only the latest run's fit: the three metrics are asked in a row
    _cache[key] = result
    return result


def _probe_value(m: MetricInput, name: str) -> float | None:
    if m.embeddings is None or m.labels_true is None:
        return None
    result = catboost_probe(m.embeddings, m.labels_true, m.seed)
    return None if result is None else result[name]


@register_metric("catboost_roc_auc", higher_is_better=True,
                 description="CatBoost on embeddings -> labels (SASRec + CatBoost slides), "
                             "macro OvR ROC-AUC")
def catboost_roc_auc(m: MetricInput) -> float | None:
    return _probe_value(m, "roc_auc")


@register_metric("catboost_precision", higher_is_better=True,
                 description="CatBoost on embeddings -> labels (SASRec + CatBoost slides), "
                             "macro precision")
def catboost_precision(m: MetricInput) -> float | None:
    return _probe_value(m, "precision")


@register_metric("catboost_recall", higher_is_better=True,
                 description="CatBoost on embeddings -> labels (SASRec + CatBoost slides), "
                             "macro recall")
def catboost_recall(m: MetricInput) -> float | None:
    return _probe_value(m, "recall")
