"""``tsfresh-kmeans``: k-means on tsfresh features of each sequence's count series and gaps.

The "k-means over features from the tsfresh library" baseline of the LAL paper (§5, Tables 5, 8
and 9). For every sequence tsfresh (Christ et al., Neurocomputing 2018) summarises
``n_types + 1`` univariate series: the per-bin event counts of each type (``baselines/_series.py``)
and the inter-event times. The features are made NaN-safe (±inf → NaN, NaN → the column median
learnt in ``fit``, columns that are NaN everywhere dropped), standardised and clustered by
scikit-learn's k-means. Extraction runs in tsfresh's own process pool with ``n_jobs`` workers.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from baselines._series import SERIES_KINDS, WINDOW_STARTS, count_series, inter_event_times
from benchmark.core.method import Clusterer, check_input, fit_context
from benchmark.core.registry import register_method
from benchmark.core.sequences import EventSequences

FEATURE_SETS = ("minimal", "fast", "efficient", "comprehensive")
MAX_ROWS_PER_CHUNK = 4_000_000  # long-format rows handed to tsfresh at once (bounds memory)

# The calculators of tsfresh's EfficientFCParameters that took 76 % of its extraction time on
# 128-bin count series and inter-event times of LAL-protocol Hawkes sequences (measured one
# calculator at a time, docs/tslearn_tsfresh.md); the "fast" set is "efficient" without them.
COSTLY_CALCULATORS = (
    "change_quantiles", "agg_linear_trend", "augmented_dickey_fuller", "number_cwt_peaks",
    "friedrich_coefficients", "max_langevin_fixed_point", "fourier_entropy", "ar_coefficient",
)


def feature_settings(feature_set: str) -> dict:
    """tsfresh calculator settings of a named feature set (see :data:`FEATURE_SETS`)."""
    from tsfresh.feature_extraction import (
        ComprehensiveFCParameters,
        EfficientFCParameters,
        MinimalFCParameters,
    )

    if feature_set not in FEATURE_SETS:
        raise ValueError(f"feature_set must be one of {FEATURE_SETS}, got {feature_set!r}")
    if feature_set == "fast":
        return {k: v for k, v in EfficientFCParameters().items() if k not in COSTLY_CALCULATORS}
    return {"minimal": MinimalFCParameters, "efficient": EfficientFCParameters,
            "comprehensive": ComprehensiveFCParameters}[feature_set]()


def tsfresh_features(
    seqs: EventSequences,
    n_steps: int,
    *,
    feature_set: str = "fast",
    series: str = "counts",
    window_start: str = "zero",
    n_jobs: int = 2,
):
    """tsfresh features of every sequence: a pandas DataFrame (N, F) indexed 0..N−1, float64.

    Columns are ``"<kind>__<feature>"`` with kind ``count_<c>`` (the count series of type c,
    ``n_steps`` values) or ``dt`` (the inter-event times, in the sequences' time unit; a sequence
    with one event has none, so its ``dt__*`` features are NaN). ``feature_set`` picks tsfresh's
    ``MinimalFCParameters`` (10 features per series), ``"fast"`` (``EfficientFCParameters``
    without :data:`COSTLY_CALCULATORS`), ``EfficientFCParameters`` (all but tsfresh's costliest)
    or ``ComprehensiveFCParameters`` (everything). ``n_jobs`` tsfresh worker processes (0: none).
    Sequences go to tsfresh in chunks of at most :data:`MAX_ROWS_PER_CHUNK` table rows.
    """
    import pandas as pd

    settings = feature_settings(feature_set)
    per_seq = seqs.n_types * n_steps + max(seqs.n_events / max(len(seqs), 1), 1.0)
    step = max(1, int(MAX_ROWS_PER_CHUNK // per_seq))
    parts = []
    for start in range(0, len(seqs), step):
        stop = min(start + step, len(seqs))
        part = _extract(seqs.slice(start, stop), n_steps, settings, series, window_start, n_jobs)
        parts.append(part.set_axis(part.index + start))
    return pd.concat(parts).reindex(np.arange(len(seqs))).astype(np.float64)


def _extract(seqs: EventSequences, n_steps: int, settings: dict, series: str, window_start: str,
             n_jobs: int):
    """tsfresh on one chunk: long frame (id, kind, sort, value) -> features indexed by id."""
    import pandas as pd
    from tsfresh import extract_features

    n, c = len(seqs), seqs.n_types
    counts = count_series(seqs, n_steps, series=series, window_start=window_start)
    gap_seq, gaps = inter_event_times(seqs)
    gap_pos = np.arange(len(gap_seq)) - np.searchsorted(gap_seq, gap_seq)  # position within seq
    kind_names = [f"count_{k}" for k in range(c)] + ["dt"]
    long = pd.DataFrame({
        "id": np.concatenate([np.repeat(np.arange(n), c * n_steps), gap_seq]),
        "kind": pd.Categorical.from_codes(
            np.concatenate([np.tile(np.repeat(np.arange(c), n_steps), n),
                            np.full(len(gaps), c)]), kind_names),
        "sort": np.concatenate([np.tile(np.arange(n_steps), n * c), gap_pos]),
        "value": np.concatenate([counts.transpose(0, 2, 1).ravel(), gaps]),
    })
    feats = extract_features(
        long, column_id="id", column_sort="sort", column_kind="kind", column_value="value",
        default_fc_parameters=settings, n_jobs=n_jobs, disable_progressbar=True,
        impute_function=None,
    )
    # with worker processes tsfresh's column order follows the order results come back in;
    # sort by feature name so the feature matrix (and the embeddings) are the same every run
    return feats.reindex(np.arange(n)).sort_index(axis=1)


@register_method("tsfresh-kmeans")
class TsfreshKMeans(Clusterer):
    """k-means on standardised, NaN-safe tsfresh features of count series and inter-event times.

    Parameters
    ----------
    n_clusters : int, default=2
        Number of clusters (the harness passes the dataset's K).
    n_steps : int >= 2, default=128
        Bins per sequence for the count series; the LAL authors' partition uses 128.
    feature_set : {"minimal", "fast", "efficient", "comprehensive"}, default="fast"
        tsfresh calculators: "fast" is tsfresh's efficient set without
        :data:`COSTLY_CALCULATORS`; the LAL authors' code used the comprehensive set.
    series : {"counts", "cumulative"}, default="counts"
        Events per bin (as the LAL authors' code) or their running sum.
    window_start : {"zero", "first"}, default="zero"
        Bins cover [0, window end] (as LAL does) or start at the first event.
    n_jobs : int, default=2
        tsfresh extraction processes (0 = in this process).
    n_init : int, default=10
        k-means restarts.
    seed : int, default=0
        Random seed (k-means ``random_state``).

    Attributes
    ----------
    labels_ : ndarray of shape (n_sequences,)
        k-means cluster of every sequence, int64.
    feature_names_ : list of str
        tsfresh feature columns, sorted by name.
    imputer_ : sklearn.impute.SimpleImputer
        Median imputation of the non-finite feature values.
    scaler_ : sklearn.preprocessing.StandardScaler
        Standardisation of the imputed features.
    kmeans_ : sklearn.cluster.KMeans
        The fitted k-means.
    metrics_ : dict
        k-means inertia and the number of features.
    """

    outputs = ("labels", "embeddings")
    needs_n_clusters = True
    requires = ("tsfresh",)
    presets = {"quick": {"n_steps": 32, "feature_set": "minimal", "n_init": 3},
               "paper": {"n_steps": 128, "feature_set": "fast", "n_init": 10}}
    paper = ("tsfresh (Christ et al., Neurocomputing 2018) features + k-means as a baseline in "
             "the LAL paper, §5")
    _parameter_constraints = {
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "n_steps": [Interval(Integral, 2, None, closed="left")],
        "feature_set": [StrOptions(set(FEATURE_SETS))],
        "series": [StrOptions(set(SERIES_KINDS))],
        "window_start": [StrOptions(set(WINDOW_STARTS))],
        "n_jobs": [Interval(Integral, 0, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "seed": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(
        self,
        n_clusters: int = 2,
        n_steps: int = 128,
        feature_set: str = "fast",
        series: str = "counts",
        window_start: str = "zero",
        n_jobs: int = 2,
        n_init: int = 10,
        seed: int = 0,
    ) -> None:
        self.n_clusters = n_clusters
        self.n_steps = n_steps
        self.feature_set = feature_set
        self.series = series
        self.window_start = window_start
        self.n_jobs = n_jobs
        self.n_init = n_init
        self.seed = seed

    @fit_context
    def fit(self, seqs: EventSequences) -> TsfreshKMeans:
        from sklearn.cluster import KMeans
        from sklearn.impute import SimpleImputer
        from sklearn.preprocessing import StandardScaler

        check_input(seqs, min_sequences=max(self.n_clusters, 2))
        feats = self._features(seqs)
        self.feature_names_ = list(feats.columns)
        x = self._finite(feats)
        self.imputer_ = SimpleImputer(strategy="median").fit(x)
        x = self.imputer_.transform(x)
        if x.shape[1] == 0:
            raise ValueError("tsfresh gave no feature with a finite value for any sequence")
        self.scaler_ = StandardScaler().fit(x)
        x = self.scaler_.transform(x)
        self.kmeans_ = KMeans(self.n_clusters, n_init=self.n_init, random_state=self.seed)
        self.labels_ = self.kmeans_.fit_predict(x).astype(np.int64)
        self.metrics_ = {"inertia": float(self.kmeans_.inertia_),
                         "n_features": float(x.shape[1])}
        return self

    def transform(self, seqs: EventSequences) -> np.ndarray:
        """Standardised features: float64 (N, F), F = features with a finite value in ``fit``."""
        feats = self._features(seqs).reindex(columns=self.feature_names_)
        return self.scaler_.transform(self.imputer_.transform(self._finite(feats)))

    def _features(self, seqs: EventSequences):
        return tsfresh_features(seqs, self.n_steps, feature_set=self.feature_set,
                                series=self.series, window_start=self.window_start,
                                n_jobs=self.n_jobs)

    @staticmethod
    def _finite(feats) -> np.ndarray:
        x = feats.to_numpy(dtype=np.float64, copy=True)
        x[~np.isfinite(x)] = np.nan
        return x
