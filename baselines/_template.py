"""Template for a new method: copy to ``baselines/my_method.py`` and fill in.

Files whose name starts with ``_`` are not registered, so this template stays out of the suite.
A method is one file plus one test (``tests/test_my_method.py``); nothing else needs editing.
``tests/test_method_contract.py`` checks every registered method against the contract
(constraints, ``clone``, ``set_params``, validation at ``fit``).
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval

from benchmark.core.method import Clusterer, check_input, fit_context
from benchmark.core.registry import register_method
from benchmark.core.sequences import EventSequences


# 1. Pick a unique name; it is what users type after --methods.
@register_method("my-method")
class MyMethod(Clusterer):
    """One line saying what the method is; then its paper, by title.

    Parameters
    ----------
    n_clusters : int, default=2
        Number of clusters (the harness passes the dataset's K because
        ``needs_n_clusters = True``).
    n_epochs : int, default=10
        An example hyper-parameter: what it does, in the current code.
    seed : int, default=0
        Random seed; the same seed gives the same output.

    Attributes
    ----------
    labels_ : ndarray of shape (n_sequences,)
        Cluster of every sequence, int.
    """

    # 2. Describe the method to the harness (register_method copies these into its MethodInfo).
    outputs = ("labels", "embeddings")      # what fit/transform give
    needs_n_clusters = True                  # False if the method chooses K itself
    requires = ()                            # optional modules, e.g. ("torch",)
    presets = {"quick": {"n_epochs": 2},     # small enough for CI (seconds)
               "paper": {"n_epochs": 100}}   # the setting whose numbers go on the leaderboard
    paper = "Author et al., Title of the paper, Venue Year"

    # 3. One constraint list per __init__ parameter (scikit-learn's constraint objects:
    #    Interval, StrOptions, None, types, "boolean"); checked once when fit starts.
    _parameter_constraints = {
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "n_epochs": [Interval(Integral, 1, None, closed="left")],
        "seed": [Interval(Integral, 0, None, closed="left")],
    }

    # 4. Every parameter is a keyword argument stored unchanged under the same name; no work
    #    here (get_params, set_params, clone and repr come from scikit-learn).
    def __init__(self, n_clusters: int = 2, n_epochs: int = 10, seed: int = 0) -> None:
        self.n_clusters = n_clusters
        self.n_epochs = n_epochs
        self.seed = seed

    # 5. Learn from events only; labels never reach this method. @fit_context validates the
    #    parameters first; checks between parameters, or against the data, go at the top.
    @fit_context
    def fit(self, seqs: EventSequences) -> MyMethod:
        check_input(seqs, min_sequences=self.n_clusters)
        rng = np.random.default_rng(self.seed)
        emb = self._embed(seqs)
        centers = emb[rng.choice(len(emb), self.n_clusters, replace=False)]
        self.labels_ = ((emb[:, None, :] - centers[None]) ** 2).sum(-1).argmin(1)  # (N,)
        return self

    # 6. Embeddings (N, d) for the downstream probe, if outputs has "embeddings".
    def transform(self, seqs: EventSequences) -> np.ndarray:
        return self._embed(seqs)

    def _embed(self, seqs: EventSequences) -> np.ndarray:
        counts = np.bincount(seqs.seq_index() * seqs.n_types + seqs.types,
                             minlength=len(seqs) * seqs.n_types)
        return counts.reshape(len(seqs), seqs.n_types) / seqs.lengths[:, None].clip(1)
