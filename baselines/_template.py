"""Template for a new method: copy to ``baselines/my_method.py`` and fill in.

Files whose name starts with ``_`` are not registered, so this template stays out of the suite.
A method is one file plus one test (``tests/test_my_method.py``); nothing else needs editing.
"""

from __future__ import annotations

import numpy as np

from benchmark.core.method import Clusterer, check_input
from benchmark.core.registry import register_method
from benchmark.core.sequences import EventSequences


# 1. Pick a unique name; it is what users type after --methods.
@register_method("my-method")
class MyMethod(Clusterer):
    """One line saying what the method is, then its paper and parameters.

    Parameters
    ----------
    n_clusters : number of clusters (passed by the harness because needs_n_clusters = True).
    n_epochs : an example hyper-parameter.
    seed : random seed; the same seed must give the same output.
    """

    # 2. Describe the method to the harness.
    outputs = ("labels", "embeddings")      # what fit/transform give
    needs_n_clusters = True                  # False if the method chooses K itself
    requires = ()                            # optional modules, e.g. ("torch",)
    presets = {"quick": {"n_epochs": 2},     # small enough for CI (seconds)
               "paper": {"n_epochs": 100}}   # the setting whose numbers go on the leaderboard
    paper = "Author et al., Venue Year"

    # 3. Every parameter is a keyword argument stored under the same name; no work here.
    def __init__(self, n_clusters: int = 2, n_epochs: int = 10, seed: int = 0) -> None:
        self.n_clusters = n_clusters
        self.n_epochs = n_epochs
        self.seed = seed

    # 4. Learn from events only. Labels never reach this method.
    def fit(self, seqs: EventSequences) -> "MyMethod":
        check_input(seqs, min_sequences=self.n_clusters)
        rng = np.random.default_rng(self.seed)
        emb = self._embed(seqs)
        centers = emb[rng.choice(len(emb), self.n_clusters, replace=False)]
        self.labels_ = ((emb[:, None, :] - centers[None]) ** 2).sum(-1).argmin(1)  # (N,)
        return self

    # 5. Embeddings (N, d) for the downstream probe, if outputs has "embeddings".
    def transform(self, seqs: EventSequences) -> np.ndarray:
        return self._embed(seqs)

    def _embed(self, seqs: EventSequences) -> np.ndarray:
        counts = np.bincount(seqs.seq_index() * seqs.n_types + seqs.types,
                             minlength=len(seqs) * seqs.n_types)
        return counts.reshape(len(seqs), seqs.n_types) / seqs.lengths[:, None].clip(1)
