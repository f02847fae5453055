"""Per-sequence series shared by the tslearn and tsfresh baselines (not a method itself).

Count series: every sequence is cut into ``n_steps`` equal bins of its own window (the LAL
partition, :func:`benchmark.core.convert.binned_counts`) and each bin counts the events of each
type, giving one channel per event type. The ``"cumulative"`` form is the counting process N_c(t)
of each type sampled at the bin ends, i.e. the running sum of the per-bin counts.

Timestamp series (tslearn only, the LAL authors' input): for each type, the times of its first
``n_steps`` events, zero-padded (:func:`timestamp_series`).
"""

from __future__ import annotations

import warnings
from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from benchmark.core.convert import binned_counts
from benchmark.core.method import Clusterer, check_input, fit_context
from benchmark.core.sequences import EventSequences

SERIES_KINDS = ("counts", "cumulative")
TSLEARN_SERIES_KINDS = (*SERIES_KINDS, "timestamps")
WINDOW_STARTS = ("zero", "first")
SCALINGS = ("znorm", "none")


def check_series_params(n_steps: int, series: str, window_start: str) -> None:
    """Raise ValueError naming the bad parameter (called at the start of ``fit``)."""
    if int(n_steps) != n_steps or n_steps < 2:
        raise ValueError(f"n_steps must be an integer >= 2, got {n_steps!r}")
    if series not in SERIES_KINDS:
        raise ValueError(f"series must be one of {SERIES_KINDS}, got {series!r}")
    if window_start not in WINDOW_STARTS:
        raise ValueError(f"window_start must be one of {WINDOW_STARTS}, got {window_start!r}")


def count_series(
    seqs: EventSequences,
    n_steps: int,
    *,
    series: str = "counts",
    window_start: str = "zero",
) -> np.ndarray:
    """Float64 (N, n_steps, n_types) count series of every sequence.

    ``series="counts"``: events of each type in each of the ``n_steps`` equal bins of the window
    ``[s_i, window_end_i]`` (``s_i`` = 0 or the first event time, see ``window_start``);
    ``series="cumulative"``: the running sum over bins (events of each type up to each bin end).
    Counts are dimensionless (events); the bin width differs between sequences.
    """
    check_series_params(n_steps, series, window_start)
    counts, _ = binned_counts(seqs, int(n_steps), start=window_start, dtype=np.float64)
    if series == "cumulative":
        np.cumsum(counts, axis=1, out=counts)
    return counts


def timestamp_series(
    seqs: EventSequences,
    n_steps: int,
    *,
    window_start: str = "zero",
) -> np.ndarray:
    """Float64 (N, n_steps, n_types): the times of the first ``n_steps`` events of each type.

    ``x[i, k, c]`` is the time of the (k+1)-th event of type c in sequence i, measured from the
    window start ``s_i`` (0 for ``window_start="zero"``, the sequence's first event time for
    ``"first"``), in the sequence's own time unit and unscaled; 0 where type c has k events or
    fewer (zero padding, as the LAL authors' code). Events of one type keep their order in time.
    This is the LAL authors' tslearn input (their array is the transpose, (n_types, n_steps)).
    """
    if int(n_steps) != n_steps or n_steps < 1:
        raise ValueError(f"n_steps must be an integer >= 1, got {n_steps!r}")
    if window_start not in WINDOW_STARTS:
        raise ValueError(f"window_start must be one of {WINDOW_STARTS}, got {window_start!r}")
    n_steps = int(n_steps)
    n, n_types = len(seqs), seqs.n_types
    seq = seqs.seq_index()
    start = np.zeros(n) if window_start == "zero" else seqs.first_times()
    group = seq * n_types + seqs.types.astype(np.int64)  # (sequence, type) of every event
    order = np.argsort(group, kind="stable")  # stable: each group keeps its events' time order
    g = group[order]
    first = np.searchsorted(g, g, side="left")  # index (in sorted order) of the group's first event
    rank = np.arange(len(g)) - first  # 0 for the first event of its type in its sequence, ...
    keep = rank < n_steps
    out = np.zeros((n, n_steps, n_types))
    ev = order[keep]
    out[seq[ev], rank[keep], seqs.types[ev]] = seqs.times[ev] - start[seq[ev]]
    return out


def tslearn_series(
    seqs: EventSequences,
    n_steps: int,
    *,
    series: str = "timestamps",
    window_start: str = "zero",
    scaling: str = "none",
) -> np.ndarray:
    """Float64 (N, n_steps, n_types): what the tslearn methods cluster.

    ``series="timestamps"``: :func:`timestamp_series`; ``"counts"``, ``"cumulative"``:
    :func:`count_series`. ``scaling="znorm"``: z-normalised per sequence and channel
    (:func:`znormalise`); ``"none"``: as built.
    """
    if series not in TSLEARN_SERIES_KINDS:
        raise ValueError(f"series must be one of {TSLEARN_SERIES_KINDS}, got {series!r}")
    if scaling not in SCALINGS:
        raise ValueError(f"scaling must be one of {SCALINGS}, got {scaling!r}")
    if series == "timestamps":
        x = timestamp_series(seqs, n_steps, window_start=window_start)
    else:
        x = count_series(seqs, n_steps, series=series, window_start=window_start)
    return znormalise(x) if scaling == "znorm" else x


def znormalise(x: np.ndarray) -> np.ndarray:
    """``tslearn.preprocessing.TimeSeriesScalerMeanVariance`` on (N, T, d): every channel of every
    series gets zero mean and unit variance over time (a constant channel becomes all zeros)."""
    with warnings.catch_warnings():  # tslearn warns at import when the optional h5py is absent
        warnings.filterwarnings("ignore", message=".*h5py.*")
        from tslearn.preprocessing import TimeSeriesScalerMeanVariance

    return TimeSeriesScalerMeanVariance(mu=0.0, std=1.0).fit_transform(x)


def check_enough_distinct(x: np.ndarray, n_clusters: int) -> None:
    """Raise ValueError if the (N, ...) array has fewer distinct rows than ``n_clusters``
    (centroid methods would then leave a cluster empty)."""
    n_distinct = len(np.unique(x.reshape(len(x), -1), axis=0))
    if n_distinct < n_clusters:
        raise ValueError(
            f"only {n_distinct} distinct series among {len(x)} sequences; "
            f"cannot form n_clusters={n_clusters} clusters"
        )


def inter_event_times(seqs: EventSequences) -> tuple[np.ndarray, np.ndarray]:
    """Gaps between consecutive events of the same sequence.

    Returns ``(seq, dt)``: int64 (M,) sequence index and float64 (M,) gap in the sequences' time
    unit, in sequence order; a sequence with n events contributes n − 1 gaps.
    """
    seq = seqs.seq_index()
    same = seq[1:] == seq[:-1]
    return seq[1:][same], np.diff(seqs.times)[same]


class TslearnSeriesClusterer(Clusterer):
    """Shared body of ``tslearn-kmeans`` and ``tslearn-kshape`` (not registered itself).

    Subclasses define ``__init__`` (with ``n_clusters``, ``n_steps``, ``series``,
    ``window_start``, ``scaling``, ``n_init``, ``max_iter``, ``seed``), ``_parameter_constraints``
    (these constraints plus their own parameters') and ``_model()``, the unfitted tslearn
    estimator. The series (N, n_steps, n_types) are :func:`tslearn_series`.

    ``scaling`` came after the runs with the z-normalised count series were committed; it is
    left out of the run key at ``"znorm"`` (``unkeyed_defaults``), the value those runs used, so
    their keys are unchanged (they are kept in ``leaderboard/variants/tslearn_znorm``).

    Attributes
    ----------
    labels_ : ndarray of shape (n_sequences,)
        Cluster of every sequence, int64.
    model_ : tslearn estimator
        The fitted tslearn estimator.
    metrics_ : dict
        ``inertia`` of the fitted estimator.
    """

    outputs = ("labels", "embeddings")
    needs_n_clusters = True
    requires = ("tslearn",)
    unkeyed_defaults = {"scaling": "znorm"}
    _parameter_constraints = {
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "n_steps": [Interval(Integral, 2, None, closed="left")],
        "series": [StrOptions(set(TSLEARN_SERIES_KINDS))],
        "window_start": [StrOptions(set(WINDOW_STARTS))],
        "scaling": [StrOptions(set(SCALINGS))],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "seed": [Interval(Integral, 0, None, closed="left")],
    }

    def _model(self):
        raise NotImplementedError

    @fit_context
    def fit(self, seqs: EventSequences) -> TslearnSeriesClusterer:
        """Build the series (N, n_steps, n_types) and fit the estimator on them."""
        check_input(seqs, min_sequences=max(self.n_clusters, 2))
        x = self._series(seqs)
        check_enough_distinct(x, self.n_clusters)
        self.model_ = self._model()
        self.labels_ = np.asarray(self.model_.fit_predict(x), dtype=np.int64)
        self.metrics_ = {"inertia": float(self.model_.inertia_)}
        return self

    def transform(self, seqs: EventSequences) -> np.ndarray:
        """The series that are clustered, flattened: float64 (N, n_steps·n_types)."""
        return self._series(seqs).reshape(len(seqs), -1)

    def _series(self, seqs: EventSequences) -> np.ndarray:
        return tslearn_series(seqs, self.n_steps, series=self.series,
                              window_start=self.window_start, scaling=self.scaling)


def tslearn_clustering():
    """``tslearn.clustering``, imported without its warning about the optional h5py."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*h5py.*")
        import tslearn.clustering
    return tslearn.clustering
