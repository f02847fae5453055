"""``random``: uniformly random cluster labels — the floor of the leaderboard."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval

from benchmark.core.method import Clusterer, check_input, fit_context
from benchmark.core.registry import register_method
from benchmark.core.sequences import EventSequences


@register_method("random")
class RandomLabels(Clusterer):
    """Assign each sequence to one of ``n_clusters`` clusters uniformly at random.

    Parameters
    ----------
    n_clusters : int, default=2
        Number of clusters (the harness passes the dataset's K).
    seed : int, default=0
        Random seed.

    Attributes
    ----------
    labels_ : ndarray of shape (n_sequences,)
        A cluster in ``0..n_clusters-1`` drawn uniformly for every sequence, int64.
    """

    outputs = ("labels",)
    needs_n_clusters = True
    paper = "floor"
    _parameter_constraints = {
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "seed": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(self, n_clusters: int = 2, seed: int = 0) -> None:
        self.n_clusters = n_clusters
        self.seed = seed

    @fit_context
    def fit(self, seqs: EventSequences) -> RandomLabels:
        check_input(seqs, min_sequences=1, min_events=0)
        rng = np.random.default_rng(self.seed)
        self.labels_ = rng.integers(0, self.n_clusters, size=len(seqs))
        return self
