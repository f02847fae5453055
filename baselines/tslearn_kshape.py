"""``tslearn-kshape``: tslearn's k-Shape on per-type timestamp or count series.

The "clustering methods from the tslearn library" baseline of the LAL paper (§5, Tables 5 and 8).
k-Shape (Paparrizos & Gravano, SIGMOD 2015) clusters series under the shape-based distance
(1 − max normalised cross-correlation over shifts) with shape-extraction centroids.
Each sequence becomes a multivariate series (N, n_steps, n_types) with one channel per event type
(see ``baselines/_series.py``): by default and in both presets the LAL authors' input, the times
of the first 100 events of each type, zero-padded and unscaled. Shifts run along the step axis
(the k-th event of every type at once), never across types. tslearn's ``KShape.fit`` does not
z-normalise its input: "unscaled" means the series reach the cross-correlation as built, which
divides by each whole series' norm (invariant to one scale factor per sequence, not to offsets);
the centroids are z-normalised per channel after each update. ``scaling="znorm"`` (the input
before issue 32, with ``series="cumulative"``) z-normalises every channel first.
"""

from __future__ import annotations

from baselines._series import TslearnSeriesClusterer, tslearn_clustering
from benchmark.core.registry import register_method


@register_method("tslearn-kshape")
class TslearnKShape(TslearnSeriesClusterer):
    """k-Shape (tslearn) on per-type timestamp (or count) series.

    Parameters
    ----------
    n_clusters : int, default=2
        Number of clusters (the harness passes the dataset's K).
    n_steps : int >= 2, default=100
        Time steps of each series: timestamps kept per type (the LAL authors kept 100), or bins
        per sequence for the count series (the LAL authors' partition uses 128).
    series : {"timestamps", "cumulative", "counts"}, default="timestamps"
        The times of the first ``n_steps`` events of each type, zero-padded (the LAL authors'
        input); or the counting process N_c(t) at each of ``n_steps`` bin ends; or the events
        per bin (``baselines/_series.py``).
    window_start : {"zero", "first"}, default="zero"
        Times (and bins) count from 0 (as LAL does) or from the sequence's first event.
    scaling : {"none", "znorm"}, default="none"
        ``"none"``: the series as built (the LAL authors' input is unscaled); ``"znorm"``: each
        channel of each sequence z-normalised over time (``TimeSeriesScalerMeanVariance``, the
        board's input before issue 32; ``leaderboard/variants/tslearn_znorm``).
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

    # both presets: the LAL authors' input (first 100 timestamps per type, unscaled); quick is a
    # shorter schedule of the same method
    presets = {"quick": {"series": "timestamps", "scaling": "none", "n_steps": 100,
                         "n_init": 1, "max_iter": 30},
               "paper": {"series": "timestamps", "scaling": "none", "n_steps": 100,
                         "n_init": 3, "max_iter": 100}}
    paper = ("k-Shape (Paparrizos & Gravano, SIGMOD 2015) in tslearn as a baseline in "
             "the LAL paper, §5")
    _parameter_constraints = TslearnSeriesClusterer._parameter_constraints

    def __init__(
        self,
        n_clusters: int = 2,
        n_steps: int = 100,
        series: str = "timestamps",
        window_start: str = "zero",
        scaling: str = "none",
        n_init: int = 3,
        max_iter: int = 100,
        seed: int = 0,
    ) -> None:
        self.n_clusters = n_clusters
        self.n_steps = n_steps
        self.series = series
        self.window_start = window_start
        self.scaling = scaling
        self.n_init = n_init
        self.max_iter = max_iter
        self.seed = seed

    def _model(self):
        return tslearn_clustering().KShape(n_clusters=self.n_clusters, n_init=self.n_init,
                                           max_iter=self.max_iter, random_state=self.seed)
