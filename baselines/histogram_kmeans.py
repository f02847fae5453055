"""``histogram-kmeans``: k-means on event-type histograms plus inter-event-time statistics.

A cheap, honest reference that every learned method should beat.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval

from benchmark.core.method import Clusterer, check_input, fit_context
from benchmark.core.registry import register_method
from benchmark.core.sequences import EventSequences


def histogram_features(seqs: EventSequences) -> np.ndarray:
    """Float64 (N, n_types + 5) features per sequence.

    Columns: fraction of events of each type; log(1 + length); log event rate over the window;
    mean, std and median of log(1 + inter-event time). Sequences with < 2 events get 0 for the
    inter-event statistics.
    """
    n, c = len(seqs), seqs.n_types
    lens = seqs.lengths
    seq = seqs.seq_index()
    hist = np.bincount(seq * c + seqs.types, minlength=n * c).reshape(n, c).astype(np.float64)
    frac = hist / np.maximum(lens, 1)[:, None]
    span = seqs.window_end() - seqs.first_times()
    rate = np.log((lens + 1.0) / (span + 1e-9 + 1.0))
    dt = np.diff(seqs.times)
    same = seq[1:] == seq[:-1]
    ldt, dseq = np.log1p(dt[same]), seq[1:][same]
    cnt = np.bincount(dseq, minlength=n).astype(np.float64)
    mean = np.bincount(dseq, ldt, minlength=n) / np.maximum(cnt, 1)
    var = np.bincount(dseq, (ldt - mean[dseq]) ** 2, minlength=n) / np.maximum(cnt, 1)
    median = np.zeros(n)
    if len(ldt):
        order = np.lexsort((ldt, dseq))
        starts = np.concatenate([[0], np.cumsum(cnt)[:-1]]).astype(np.int64)
        has = cnt > 0
        mid = starts[has] + ((cnt[has] - 1) // 2).astype(np.int64)
        mid2 = starts[has] + (cnt[has] // 2).astype(np.int64)
        sorted_ldt = ldt[order]
        median[has] = 0.5 * (sorted_ldt[mid] + sorted_ldt[mid2])
    return np.column_stack([frac, np.log1p(lens), rate, mean, np.sqrt(var), median])


@register_method("histogram-kmeans")
class HistogramKMeans(Clusterer):
    """Standardised :func:`histogram_features` clustered by k-means (scikit-learn).

    Parameters
    ----------
    n_clusters : int, default=2
        Number of clusters (the harness passes the dataset's K).
    n_init : int, default=10
        k-means restarts (the lowest inertia is kept).
    seed : int, default=0
        Random seed (k-means ``random_state``).

    Attributes
    ----------
    labels_ : ndarray of shape (n_sequences,)
        k-means cluster of every sequence.
    scaler_ : sklearn.preprocessing.StandardScaler
        Standardisation of the features, fitted on the training sequences.
    kmeans_ : sklearn.cluster.KMeans
        The fitted k-means.
    """

    outputs = ("labels", "embeddings")
    needs_n_clusters = True
    presets = {"quick": {"n_init": 3}, "paper": {"n_init": 10}}
    paper = "reference floor (this suite)"
    _parameter_constraints = {
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "seed": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(self, n_clusters: int = 2, n_init: int = 10, seed: int = 0) -> None:
        self.n_clusters = n_clusters
        self.n_init = n_init
        self.seed = seed

    @fit_context
    def fit(self, seqs: EventSequences) -> HistogramKMeans:
        from sklearn.cluster import KMeans
        from sklearn.preprocessing import StandardScaler

        check_input(seqs, min_sequences=self.n_clusters)
        X = histogram_features(seqs)
        self.scaler_ = StandardScaler().fit(X)
        self.kmeans_ = KMeans(self.n_clusters, n_init=self.n_init, random_state=self.seed)
        self.labels_ = self.kmeans_.fit_predict(self.scaler_.transform(X))
        return self

    def transform(self, seqs: EventSequences) -> np.ndarray:
        """Standardised features, float64 (N, n_types + 5)."""
        return self.scaler_.transform(histogram_features(seqs))
