"""``tslearn-kmeans``: tslearn's TimeSeriesKMeans on the per-sequence count series.

The "clustering methods from the tslearn library" baseline of the LAL paper (§5, Tables 5 and 8).
Each sequence becomes a multivariate series with one channel per event type (see
``baselines/_series.py``), z-normalised per sequence and channel with
``TimeSeriesScalerMeanVariance`` as tslearn recommends, and all sequences are clustered at once by
``tslearn.clustering.TimeSeriesKMeans``.
"""

from __future__ import annotations

from sklearn.utils._param_validation import StrOptions

from baselines._series import TslearnSeriesClusterer, tslearn_clustering
from benchmark.core.registry import register_method

METRICS = ("euclidean", "dtw", "softdtw")


@register_method("tslearn-kmeans")
class TslearnKMeans(TslearnSeriesClusterer):
    """k-means for time series (tslearn) on z-normalised per-type count series.

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
    metric : {"euclidean", "dtw", "softdtw"}, default="euclidean"
        ``TimeSeriesKMeans`` metric; "dtw" uses DBA barycentres; the DTW variants cost
        O(n_steps²) per pair.
    n_init : int, default=5
        k-means restarts (the best inertia is kept).
    max_iter : int, default=100
        k-means iterations per restart.
    seed : int, default=0
        Random seed (``random_state`` of tslearn).

    Attributes
    ----------
    labels_ : ndarray of shape (n_sequences,)
        Cluster of every sequence, int64.
    model_ : tslearn.clustering.TimeSeriesKMeans
        The fitted estimator.
    metrics_ : dict
        ``inertia`` of the fitted estimator.
    """

    presets = {"quick": {"n_steps": 32, "n_init": 2, "max_iter": 30},
               "paper": {"n_steps": 128, "n_init": 5, "max_iter": 100}}
    paper = ("tslearn TimeSeriesKMeans (Tavenard et al., JMLR 2020) as a baseline in "
             "the LAL paper, §5")
    _parameter_constraints = {
        **TslearnSeriesClusterer._parameter_constraints,
        "metric": [StrOptions(set(METRICS))],
    }

    def __init__(
        self,
        n_clusters: int = 2,
        n_steps: int = 128,
        series: str = "cumulative",
        window_start: str = "zero",
        metric: str = "euclidean",
        n_init: int = 5,
        max_iter: int = 100,
        seed: int = 0,
    ) -> None:
        self.n_clusters = n_clusters
        self.n_steps = n_steps
        self.series = series
        self.window_start = window_start
        self.metric = metric
        self.n_init = n_init
        self.max_iter = max_iter
        self.seed = seed

    def _model(self):
        return tslearn_clustering().TimeSeriesKMeans(
            n_clusters=self.n_clusters, metric=self.metric, n_init=self.n_init,
            max_iter=self.max_iter, random_state=self.seed,
        )
