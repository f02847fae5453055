"""Metrics, computed from a run's stored raw outputs (never inside a method's process).

Each metric is registered with its direction and receives a :class:`MetricInput`; it returns a
float, or ``None`` when it does not apply (e.g. no labels, no embeddings).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.registry import register_metric
from ..core.sequences import EventSequences

PROBE_FRACTION = 0.9


@dataclass
class MetricInput:
    """What metrics see: true labels (harness side), the method's outputs and its run record."""

    labels_true: np.ndarray | None
    labels_pred: np.ndarray | None
    embeddings: np.ndarray | None = None
    probe_embeddings: np.ndarray | None = None
    probe_target: np.ndarray | None = None
    record: dict[str, Any] = field(default_factory=dict)
    seed: int = 0


def contingency(labels_true: np.ndarray, labels_pred: np.ndarray) -> np.ndarray:
    """Matrix (n_pred_clusters, n_true_classes) of co-occurrence counts."""
    _, t = np.unique(labels_true, return_inverse=True)
    _, p = np.unique(labels_pred, return_inverse=True)
    m = np.zeros((p.max() + 1, t.max() + 1), dtype=np.int64)
    np.add.at(m, (p, t), 1)
    return m


def purity_score(labels_true: np.ndarray, labels_pred: np.ndarray) -> float:
    """LAL paper eq. 23: (1/N) Σ_k max_j |ω_k ∩ c_j|."""
    labels_true = np.asarray(labels_true)
    if len(labels_true) != len(labels_pred):
        raise ValueError(f"{len(labels_true)} true labels but {len(labels_pred)} predictions")
    if len(labels_true) == 0:
        raise ValueError("purity of an empty labelling")
    return float(contingency(labels_true, labels_pred).max(axis=1).sum() / len(labels_true))


@register_metric("purity", higher_is_better=True, description="LAL eq. 23")
def purity(m: MetricInput) -> float | None:
    if m.labels_true is None or m.labels_pred is None:
        return None
    return purity_score(m.labels_true, m.labels_pred)


@register_metric("ari", higher_is_better=True, description="adjusted Rand index")
def ari(m: MetricInput) -> float | None:
    if m.labels_true is None or m.labels_pred is None:
        return None
    from sklearn.metrics import adjusted_rand_score

    return float(adjusted_rand_score(m.labels_true, m.labels_pred))


@register_metric("nmi", higher_is_better=True, description="normalised mutual information")
def nmi(m: MetricInput) -> float | None:
    if m.labels_true is None or m.labels_pred is None:
        return None
    from sklearn.metrics import normalized_mutual_info_score

    return float(normalized_mutual_info_score(m.labels_true, m.labels_pred))


@register_metric("n_clusters", higher_is_better=None, description="number of clusters found")
def n_clusters(m: MetricInput) -> float | None:
    if m.labels_pred is None:
        return None
    return float(len(np.unique(m.labels_pred)))


@register_metric("wall_time_s", higher_is_better=False, description="wall time of the run (s)")
def wall_time_s(m: MetricInput) -> float | None:
    return m.record.get("wall_time_s")


@register_metric("cpu_time_s", higher_is_better=False, description="CPU time of the run (s)")
def cpu_time_s(m: MetricInput) -> float | None:
    return m.record.get("cpu_time_s")


@register_metric("peak_rss_mb", higher_is_better=False, description="peak resident memory (MiB)")
def peak_rss_mb(m: MetricInput) -> float | None:
    return m.record.get("peak_rss_mb")


# ------------------------------------------------------------------------- downstream probe
def probe_split(seqs: EventSequences, fraction: float = PROBE_FRACTION):
    """The LAL paper's downstream task.

    Returns ``(prefix, target)``: the sequences cut to the first ``fraction`` of each one's time
    span (what a method may see), and int64 (N,) target = most frequent event type in the rest
    (ties to the smallest type; -1 where the rest holds no event).
    """
    prefix, keep = seqs.time_prefix(fraction)
    seq = seqs.seq_index()[~keep]
    typ = seqs.types[~keep]
    counts = np.zeros((len(seqs), seqs.n_types), dtype=np.int64)
    np.add.at(counts, (seq, typ), 1)
    target = counts.argmax(axis=1).astype(np.int64)
    target[counts.sum(axis=1) == 0] = -1
    return prefix, target


def macro_ovr_auc(y_true: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> tuple[float, dict]:
    """Macro average of one-vs-rest ROC-AUC over classes present (with negatives) in ``y_true``."""
    from sklearn.metrics import roc_auc_score

    per_class = {}
    for j, c in enumerate(classes):
        pos = y_true == c
        if pos.any() and (~pos).any():
            per_class[int(c)] = float(roc_auc_score(pos, proba[:, j]))
    if not per_class:
        return float("nan"), per_class
    return float(np.mean(list(per_class.values()))), per_class


def probe_data(emb: np.ndarray, target: np.ndarray, seed: int, test_size: float = 0.3):
    """Shared probe preparation: drop sequences without a target and classes with < 2 members,
    then a stratified split by sequence. Returns (X_train, X_test, y_train, y_test) or None."""
    from sklearn.model_selection import train_test_split

    ok = target >= 0
    X, y = emb[ok], target[ok]
    cls, cnt = np.unique(y, return_counts=True)
    keep = np.isin(y, cls[cnt >= 2])
    X, y = X[keep], y[keep]
    if len(np.unique(y)) < 2 or len(y) < 10:
        return None
    return train_test_split(X, y, test_size=test_size, random_state=seed, stratify=y)


@register_metric("roc_auc", higher_is_better=True,
                 description="LAL downstream probe: logistic regression, macro OvR ROC-AUC")
def roc_auc(m: MetricInput) -> float | None:
    if m.probe_embeddings is None or m.probe_target is None:
        return None
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    split = probe_data(np.nan_to_num(m.probe_embeddings.astype(np.float64)), m.probe_target, m.seed)
    if split is None:
        return None
    Xtr, Xte, ytr, yte = split
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    clf.fit(Xtr, ytr)
    auc, _ = macro_ovr_auc(yte, clf.predict_proba(Xte), clf.classes_)
    return auc
