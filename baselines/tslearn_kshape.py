"""``tslearn-kshape``: tslearn's k-Shape on the per-sequence count series.

The "clustering methods from the tslearn library" baseline of the LAL paper (§5, Tables 5 and 8).
k-Shape (Paparrizos & Gravano, SIGMOD 2015) clusters z-normalised series under the shape-based
distance (1 − max normalised cross-correlation over shifts) with shape-extraction centroids.
Each sequence becomes a multivariate series with one channel per event type (see
``baselines/_series.py``), z-normalised per sequence and channel with
``TimeSeriesScalerMeanVariance``, which k-Shape requires.
"""

from __future__ import annotations

from baselines._series import TslearnSeriesClusterer, tslearn_clustering
from benchmark.core.registry import register_method


@register_method("tslearn-kshape")
class TslearnKShape(TslearnSeriesClusterer):
    """k-Shape (tslearn) on z-normalised per-type count series.

    Parameters
    ----------
    n_clusters : int, default=2
        Number of clusters (the harness passes the dataset's K).
    n_steps : int >= 2, default=128
        Bins per sequence (time steps of each series); the LAL authors' partition uses 128.
    series : {"cumulative", "counts"}, default="cumulative"
        The counting process N_c(t) at each bin end, or the events per bin.
    window_start : {"zero", "first"}, default="zero"
        Bins cover [0, window end] (as LAL does) or start at the first event.
    n_init : int, default=3
        k-Shape restarts (the best inertia is kept).
    max_iter : int, default=100
        k-Shape iterations per restart.
    seed : int, default=0
        Random seed (``random_state`` of tslearn).

    Attributes
    ----------
    labels_ : ndarray of shape (n_sequences,)
        Cluster of every sequence, int64.
    model_ : tslearn.clustering.KShape
        The fitted estimator.
    metrics_ : dict
        ``inertia`` of the fitted estimator.
    """

    presets = {"quick": {"n_steps": 32, "n_init": 1, "max_iter": 30},
               "paper": {"n_steps": 128, "n_init": 3, "max_iter": 100}}
    paper = ("k-Shape (Paparrizos & Gravano, SIGMOD 2015) in tslearn as a baseline in "
             "the LAL paper, §5")
    _parameter_constraints = TslearnSeriesClusterer._parameter_constraints

    def __init__(
        self,
        n_clusters: int = 2,
        n_steps: int = 128,
        series: str = "cumulative",
        window_start: str = "zero",
        n_init: int = 3,
        max_iter: int = 100,
        seed: int = 0,
    ) -> None:
        self.n_clusters = n_clusters
        self.n_steps = n_steps
        self.series = series
        self.window_start = window_start
        self.n_init = n_init
        self.max_iter = max_iter
        self.seed = seed

    def _model(self):
        return tslearn_clustering().KShape(n_clusters=self.n_clusters, n_init=self.n_init,
                                           max_iter=self.max_iter, random_state=self.seed)
