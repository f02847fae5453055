"""``random``: uniformly random cluster labels — the floor of the leaderboard."""

from __future__ import annotations

import numpy as np

from benchmark.core.method import Clusterer, check_input
from benchmark.core.registry import register_method
from benchmark.core.sequences import EventSequences


@register_method("random")
class RandomLabels(Clusterer):
    """Assign each sequence to one of ``n_clusters`` clusters uniformly at random.

    Parameters
    ----------
    n_clusters : number of clusters (the harness passes the dataset's K).
    seed : random seed.
    """

    outputs = ("labels",)
    needs_n_clusters = True
    paper = "floor"

    def __init__(self, n_clusters: int = 2, seed: int = 0) -> None:
        self.n_clusters = n_clusters
        self.seed = seed

    def fit(self, seqs: EventSequences) -> "RandomLabels":
        check_input(seqs, min_sequences=1, min_events=0)
        rng = np.random.default_rng(self.seed)
        self.labels_ = rng.integers(0, self.n_clusters, size=len(seqs))
        return self
