"""``cohortney``: non-parametric cohort clustering of event sequences (COHORTNEY).

Times are measured from each sequence's first event (the "post" of the source; later events are
its "comments"). The method, as the source describes it (§3):

* a geometric time grid T_j = T_b * gamma^j (j = 0, 1, ...) up to the threshold T_h after which no
  events are expected;
* for every grid node T_j and partition scale n, the half-interval [0, T_j) is cut into 2^n equal
  intervals (step Delta_n = T_j / 2^n, refined while Delta_n >= Delta_min); the weight of an
  interval holding k events is floor(log2(1 + k)), counted per event type;
* the triplet (T_j, Delta_n, weight vector) is a sequence's cohort id; sequences with equal ids
  form a cohort, and cohorts smaller than the minimum size are discarded; one sequence belongs to
  one cohort per (node, scale);
* per cohort, the "engineering approach" (§2.2, Eq. 7): sort the members' delays from T_j to their
  first later event; the cohort's check delay t* is the ceil(q * m)-th smallest (q =
  ``next_event_quantile``), or infinity when fewer than q * m members have any later event;
* a new sequence at current time t finds its nearest cohort (§3.0.3): the largest node T_j <= t,
  then scales n = 0, 1, ...: an exact id match refines the choice; at the coarsest scale without an
  exact match the cohort with the closest weight vector (L1) is taken; the search stops at the
  first scale without a match and keeps the previous one.

For the benchmark's K clusters (the source clusters cohorts, not K groups) the cohort features —
weight vectors at every grid node for scale ``feature_scale`` — are clustered either with the
spectrum algorithm of the source's appendix on the cohort co-membership matrix
(``label_method="spectrum"``) or with k-means (``"kmeans"``). ``transform`` returns the features.

The method's own task (§6) is measured during ``fit`` on a held-out part of the sequences (cohorts
built from the rest): the COHORT2 peeking loop against the deterministic schedule 1, 3, 12, 24,
168, 744 hours; delays are reported in ``metrics_``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from benchmark.core.method import Clusterer, check_input, fit_context
from benchmark.core.registry import register_method
from benchmark.core.sequences import EventSequences

#: largest N for the spectrum algorithm's dense N x N connection matrix (20000^2 floats = 3.2 GB)
SPECTRUM_MAX_SEQUENCES = 20_000
#: cap on COHORT2 peeks per held-out sequence in the §6 evaluation
MAX_PEEKS_PER_SEQUENCE = 1000
#: candidate q of Eq. 7 when it is calibrated to the schedule's number of peeks
QUANTILE_GRID = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
#: the deterministic peeking schedule of §6, in hours after the first event
PEEK_SCHEDULE_HOURS = (1.0, 3.0, 12.0, 24.0, 168.0, 744.0)
_HOURS_PER_UNIT = {"s": 1 / 3600, "sec": 1 / 3600, "second": 1 / 3600, "seconds": 1 / 3600,
                   "min": 1 / 60, "minute": 1 / 60, "minutes": 1 / 60,
                   "h": 1.0, "hour": 1.0, "hours": 1.0, "d": 24.0, "day": 24.0, "days": 24.0,
                   "week": 168.0, "weeks": 168.0, "year": 8766.0, "years": 8766.0}


def weight_vectors(rel_times: np.ndarray, types: np.ndarray, seq: np.ndarray, n_seqs: int,
                   n_types: int, node: float, scale: int) -> np.ndarray:
    """Interval weights floor(log2(1 + count)) of [0, node) cut into 2^scale intervals.

    rel_times (E,) are times since each sequence's first event, types (E,) and seq (E,) the event
    types and sequence indices. Returns int8 (n_seqs, n_types * 2^scale), type-major.
    """
    n_bins = 2 ** scale
    inside = rel_times < node
    bins = np.minimum((rel_times[inside] * (n_bins / node)).astype(np.int64), n_bins - 1)
    flat = (seq[inside] * n_types + types[inside]) * n_bins + bins
    counts = np.bincount(flat, minlength=n_seqs * n_types * n_bins)
    return np.floor(np.log2(1.0 + counts)).astype(np.int8).reshape(n_seqs, n_types * n_bins)


def first_delay_after(rel_times: np.ndarray, seq: np.ndarray, n_seqs: int, node: float
                      ) -> np.ndarray:
    """float64 (n_seqs,): from ``node`` to each sequence's first later event (inf if none)."""
    after = rel_times > node
    delay = np.full(n_seqs, np.inf)
    np.minimum.at(delay, seq[after], rel_times[after] - node)
    return delay


def check_delay(sorted_delays: np.ndarray, quantile: float) -> float:
    """Eq. 7: the ceil(q * m)-th smallest delay of a cohort of m members (inf if it is inf)."""
    rank = max(1, int(np.ceil(quantile * len(sorted_delays))))
    return float(sorted_delays[rank - 1])


@dataclass
class CohortLevel:
    """The kept cohorts of one (grid node, scale).

    keys (U, D) int8 cohort ids; sizes (U,); member_delays: per cohort, the members' sorted delays
    from the node to their next event (inf = none); check_delay (U,): t* for the current quantile.
    """

    node: float
    scale: int
    keys: np.ndarray
    sizes: np.ndarray
    member_delays: list[np.ndarray]
    check_delay: np.ndarray = field(default_factory=lambda: np.zeros(0))
    index: dict[bytes, int] = field(default_factory=dict)


@dataclass
class CohortModel:
    """All kept cohorts: ``levels[j][n]`` for grid node j and scale n, plus the root cohort's t*."""

    grid: np.ndarray
    levels: list[list[CohortLevel]]
    root_delays: np.ndarray
    n_types: int
    root_check_delay: float = np.inf

    def set_quantile(self, quantile: float) -> None:
        """Recompute every cohort's t* (Eq. 7) for the quantile q."""
        self.root_check_delay = check_delay(self.root_delays, quantile)
        for row in self.levels:
            for level in row:
                level.check_delay = np.array([check_delay(d, quantile)
                                              for d in level.member_delays])


def build_cohorts(rel_times: np.ndarray, types: np.ndarray, seq: np.ndarray, n_seqs: int,
                  n_types: int, grid: np.ndarray, scales: list[int], min_size: int,
                  quantile: float) -> tuple[CohortModel, list[np.ndarray]]:
    """Cohorts for every grid node and scale (§3.0.2) with their check delays (§2.2).

    Returns the model and, per (node, scale), int64 (n_seqs,) cohort codes (-1 = discarded), in the
    order node-major.
    """
    levels, codes = [], []
    for node, n_max in zip(grid, scales):
        delays = first_delay_after(rel_times, seq, n_seqs, node)
        row = []
        for scale in range(n_max + 1):
            w = weight_vectors(rel_times, types, seq, n_seqs, n_types, node, scale)
            keys, inverse, sizes = np.unique(w, axis=0, return_inverse=True, return_counts=True)
            inverse = inverse.ravel()
            kept = np.flatnonzero(sizes >= min_size)
            remap = np.full(len(keys), -1)
            remap[kept] = np.arange(len(kept))
            member = remap[inverse]
            order = np.argsort(member, kind="stable")
            starts = np.searchsorted(member[order], np.arange(len(kept)))
            ends = np.append(starts[1:], len(order))
            member_delays = [np.sort(delays[order[a:b]]) for a, b in zip(starts, ends)]
            level = CohortLevel(float(node), scale, keys[kept], sizes[kept], member_delays)
            level.index = {k.tobytes(): i for i, k in enumerate(level.keys)}
            row.append(level)
            codes.append(member)
        levels.append(row)
    model = CohortModel(grid, levels, np.sort(first_delay_after(rel_times, seq, n_seqs, 0.0)),
                        n_types)
    model.set_quantile(quantile)
    return model, codes


def nearest_cohort(model: CohortModel, rel_times: np.ndarray, types: np.ndarray, now: float
                   ) -> tuple[CohortLevel | None, int]:
    """§3.0.3: the cohort (level, row) nearest to one sequence observed up to ``now``.

    rel_times/types: the sequence's events since its first event (only those before the chosen
    node are used). Returns (None, -1) before the first grid node or when no cohort survived there.
    """
    j = int(np.searchsorted(model.grid, now, side="right")) - 1
    if j < 0:
        return None, -1
    best: tuple[CohortLevel | None, int] = (None, -1)
    seq = np.zeros(len(rel_times), dtype=np.int64)
    for level in model.levels[j]:
        if not len(level.keys):
            break
        z = weight_vectors(rel_times, types, seq, 1, model.n_types, level.node, level.scale)[0]
        row = level.index.get(z.tobytes(), -1)
        if row < 0:
            if level.scale == model.levels[j][0].scale:
                dist = np.abs(level.keys.astype(np.int32) - z).sum(axis=1)
                best = (level, int(np.argmin(dist)))
            break
        best = (level, row)
    return best


@register_method("cohortney")
class Cohortney(Clusterer):
    """COHORTNEY cohorts, next-event check times, and K clusters from the cohort features.

    Parameters
    ----------
    n_clusters : int, default=2
        K for ``labels_`` (the harness passes the dataset's K).
    threshold : float > 0 or None, default=None
        T_h, time after the first event beyond which no events are expected; None = the
        0.95-quantile of the sequences' spans.
    base_time : float > 0 or None, default=None
        T_b, the first grid node; None = T_h / gamma^(n_grid - 1), so that ``n_grid`` nodes end
        at T_h. The grid is T_b * gamma^j for all j with T_b * gamma^j <= T_h.
    n_grid : int, default=8
        Number of grid nodes when ``base_time`` is None.
    grid_factor : float > 1, default=2.0
        gamma, the ratio of consecutive grid nodes.
    min_step : float > 0 or None, default=None
        Delta_min, the smallest partition step; None = the median inter-event time.
    max_scale : int, default=5
        Cap on the partition scale n (2^n intervals).
    min_cluster_size : int, default=5
        Cohorts with fewer members are discarded.
    next_event_quantile : float in (0, 1] or None, default=None
        q of Eq. 7 (fraction of the cohort whose next event the check waits for); None =
        calibrate q on the training sequences so that the cohort checks do as many peeks per
        sequence as the deterministic schedule (the source's "same intensity of work").
    feature_scale : int, default=2
        Scale n of the weight vectors used as cohort features (capped per node).
    label_method : {"kmeans", "spectrum"}, default="kmeans"
        "spectrum" = the appendix algorithm (rule 2) on the cohort co-membership matrix;
        "kmeans" = k-means on the standardised cohort features.
    eval_fraction : float in [0, 1], default=0.2
        Share of sequences held out to measure next-event prediction (0 = skip).
    max_eval_sequences : int, default=1000
        Cap on the held-out sequences.
    verbose : bool, default=True
        Print progress to stderr.
    seed : int, default=0
        Random seed (held-out split, spectrum start element, k-means).

    Attributes
    ----------
    labels_ : ndarray of shape (n_sequences,)
        Cluster of every sequence, int64.
    threshold_ : float
        T_h used.
    min_step_ : float
        Delta_min used.
    grid_ : ndarray of shape (n_nodes,)
        The grid nodes T_j.
    scales_ : list of int
        Largest partition scale per grid node.
    model_ : CohortModel
        The cohorts of every (node, scale) with their check delays.
    n_cohorts_ : int
        Number of cohorts kept.
    peek_schedule_ : ndarray of shape (6,)
        The deterministic peeking schedule in the data's time unit.
    next_event_quantile_ : float
        q the model's check delays use (given, or calibrated).
    metrics_ : dict
        Cohort count and the held-out next-event delays against the schedule.
    """

    outputs = ("labels", "embeddings")
    needs_n_clusters = True
    presets = {"quick": {"n_grid": 6, "max_scale": 3, "max_eval_sequences": 200},
               "paper": {"n_grid": 12, "max_scale": 6, "max_eval_sequences": 2000}}
    paper = "COHORTNEY: non-parametric clustering of event sequences"
    _parameter_constraints = {
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "threshold": [Interval(Real, 0, None, closed="neither"), None],
        "base_time": [Interval(Real, 0, None, closed="neither"), None],
        "n_grid": [Interval(Integral, 1, None, closed="left")],
        "grid_factor": [Interval(Real, 1, None, closed="neither")],
        "min_step": [Interval(Real, 0, None, closed="neither"), None],
        "max_scale": [Interval(Integral, 0, None, closed="left")],
        "min_cluster_size": [Interval(Integral, 1, None, closed="left")],
        "next_event_quantile": [Interval(Real, 0, 1, closed="right"), None],
        "feature_scale": [Interval(Integral, 0, None, closed="left")],
        "label_method": [StrOptions({"spectrum", "kmeans"})],
        "eval_fraction": [Interval(Real, 0, 1, closed="both")],
        "max_eval_sequences": [Interval(Integral, 1, None, closed="left")],
        "verbose": ["boolean"],
        "seed": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(self, n_clusters: int = 2, threshold: float | None = None,
                 base_time: float | None = None, n_grid: int = 8, grid_factor: float = 2.0,
                 min_step: float | None = None, max_scale: int = 5, min_cluster_size: int = 5,
                 next_event_quantile: float | None = None, feature_scale: int = 2,
                 label_method: str = "kmeans", eval_fraction: float = 0.2,
                 max_eval_sequences: int = 1000, verbose: bool = True, seed: int = 0) -> None:
        self.n_clusters = n_clusters
        self.threshold = threshold
        self.base_time = base_time
        self.n_grid = n_grid
        self.grid_factor = grid_factor
        self.min_step = min_step
        self.max_scale = max_scale
        self.min_cluster_size = min_cluster_size
        self.next_event_quantile = next_event_quantile
        self.feature_scale = feature_scale
        self.label_method = label_method
        self.eval_fraction = eval_fraction
        self.max_eval_sequences = max_eval_sequences
        self.verbose = verbose
        self.seed = seed

    # ------------------------------------------------------------------ fit
    @fit_context
    def fit(self, seqs: EventSequences) -> Cohortney:
        check_input(seqs, min_sequences=max(2, self.n_clusters))
        _check_inputs(seqs)
        if self.label_method == "spectrum" and len(seqs) > SPECTRUM_MAX_SEQUENCES:
            raise ValueError(f"label_method='spectrum' builds an N x N connection matrix; "
                             f"{len(seqs)} sequences exceed {SPECTRUM_MAX_SEQUENCES}, use 'kmeans'")
        q = self.next_event_quantile
        rel, seq = _relative_times(seqs)
        self.threshold_, self.min_step_, self.grid_, self.scales_ = self._grid(seqs, rel, seq)
        self._log(f"grid of {len(self.grid_)} nodes up to T_h={self.threshold_:.4g}, "
                  f"scales up to {max(self.scales_)}")
        self.model_, codes = build_cohorts(
            rel, seqs.types, seq, len(seqs), seqs.n_types, self.grid_, self.scales_,
            self.min_cluster_size, QUANTILE_GRID[0] if q is None else q)
        self.peek_schedule_ = peek_schedule(seqs, self.threshold_)
        self.n_cohorts_ = int(sum(len(lv.keys) for row in self.model_.levels for lv in row))
        self._log(f"{self.n_cohorts_} cohorts of >= {self.min_cluster_size} sequences")
        features = self.transform(seqs)
        if self.label_method == "spectrum":
            self.labels_ = spectrum_clustering(_co_membership(codes, len(seqs)), self.n_clusters,
                                               np.random.default_rng(self.seed))
        else:
            from sklearn.cluster import KMeans
            from sklearn.preprocessing import StandardScaler

            scaled = StandardScaler().fit_transform(features)
            self.labels_ = KMeans(self.n_clusters, n_init=10, random_state=self.seed
                                  ).fit_predict(scaled).astype(np.int64)
        self.metrics_ = {"n_cohorts": float(self.n_cohorts_)}
        if self.eval_fraction > 0:
            self.metrics_.update(self._evaluate_next_event(seqs, rel, seq))
        if self.next_event_quantile is not None:
            self.next_event_quantile_ = float(self.next_event_quantile)
        elif "next_event_quantile" in self.metrics_:  # calibrated on the training part above
            self.next_event_quantile_ = self.metrics_["next_event_quantile"]
        else:
            everyone = np.arange(len(seqs))
            self.next_event_quantile_ = self._calibrate(self.model_, seqs, rel, everyone)
        self.model_.set_quantile(self.next_event_quantile_)
        return self

    def _calibrate(self, model: CohortModel, seqs: EventSequences, rel: np.ndarray,
                   candidates: np.ndarray) -> float:
        """The q of QUANTILE_GRID whose mean number of peeks is closest to the schedule's."""
        rng = np.random.default_rng(self.seed + 1)
        sample = rng.choice(candidates, min(len(candidates), 200), replace=False)
        target = len(self.peek_schedule_)
        best, best_gap = QUANTILE_GRID[-1], np.inf
        for q in QUANTILE_GRID[::-1]:  # from the fewest peeks; ties keep the larger q
            model.set_quantile(q)
            peeks = [len(_cohort_peeks(model, *_sequence(seqs, rel, i), self.threshold_,
                                       self.min_step_, max_peeks=4 * target)) for i in sample]
            gap = abs(float(np.mean(peeks)) - target)
            if gap < best_gap:
                best, best_gap = q, gap
        return float(best)

    def _grid(self, seqs: EventSequences, rel: np.ndarray, seq: np.ndarray
              ) -> tuple[float, float, np.ndarray, list[int]]:
        """(T_h, Delta_min, grid nodes (J,), largest scale per node)."""
        spans = seqs.window_end() - seqs.first_times()
        t_h = float(self.threshold or np.quantile(spans, 0.95))
        if not t_h > 0:
            raise ValueError("every sequence spans zero time (all events at its first event's "
                             "time); COHORTNEY needs events spread over time")
        gamma = float(self.grid_factor)
        t_b = float(self.base_time or t_h / gamma ** (self.n_grid - 1))
        grid = t_b * gamma ** np.arange(int(np.floor(np.log(t_h / t_b) / np.log(gamma) + 1e-9)) + 1)
        gaps = np.diff(rel)[seq[1:] == seq[:-1]]
        gaps = gaps[gaps > 0]
        d_min = float(self.min_step or (np.median(gaps) if len(gaps) else t_h))
        scales = [int(min(self.max_scale, max(0, np.floor(np.log2(node / d_min)))))
                  for node in grid]
        return t_h, d_min, grid, scales

    # ------------------------------------------------------------------ outputs
    def transform(self, seqs: EventSequences) -> np.ndarray:
        """Cohort features, float32 (N, sum over grid nodes of n_types * 2^min(feature_scale, n_j)).

        For every grid node T_j, the weight vector of [0, T_j) at scale min(feature_scale, n_j).
        """
        rel, seq = _relative_times(seqs)
        blocks = [weight_vectors(rel, seqs.types, seq, len(seqs), seqs.n_types, node,
                                 min(self.feature_scale, n_max))
                  for node, n_max in zip(self.grid_, self.scales_)]
        return np.hstack(blocks).astype(np.float32)

    def nearest_cohort(self, times: np.ndarray, types: np.ndarray, now: float
                       ) -> tuple[CohortLevel | None, int]:
        """§3.0.3 for one sequence: its events (times since its first event) seen up to ``now``."""
        times, types = np.asarray(times, float), np.asarray(types, np.int64)
        seen = times <= now
        return nearest_cohort(self.model_, times[seen], types[seen], now)

    def next_check_time(self, times: np.ndarray, types: np.ndarray, now: float) -> float:
        """When to look for the next event: now + max(t*, Delta_min) of the nearest cohort
        (inf = stop looking)."""
        level, row = self.nearest_cohort(times, types, now)
        delay = self.model_.root_check_delay if level is None else float(level.check_delay[row])
        return now + max(delay, self.min_step_)

    # ------------------------------------------------------------------ §6 evaluation
    def _evaluate_next_event(self, seqs: EventSequences, rel: np.ndarray, seq: np.ndarray
                             ) -> dict[str, float]:
        rng = np.random.default_rng(self.seed)
        n = len(seqs)
        n_test = min(self.max_eval_sequences, max(1, int(round(self.eval_fraction * n))))
        if n - n_test < self.min_cluster_size:
            return {}
        test = np.sort(rng.choice(n, n_test, replace=False))
        is_train = np.ones(n, bool)
        is_train[test] = False
        train_idx = np.flatnonzero(is_train)
        remap = np.full(n, -1)
        remap[train_idx] = np.arange(len(train_idx))
        ev = is_train[seq]
        model, _ = build_cohorts(rel[ev], seqs.types[ev], remap[seq[ev]], len(train_idx),
                                 seqs.n_types, self.grid_, self.scales_, self.min_cluster_size,
                                 QUANTILE_GRID[0])
        q = self.next_event_quantile
        if q is None:
            q = self._calibrate(model, seqs, rel, train_idx)
        model.set_quantile(q)
        cohort_runs, fixed_runs = [], []
        for i in test:
            t, k = _sequence(seqs, rel, i)
            peeks = _cohort_peeks(model, t, k, self.threshold_, self.min_step_,
                                  max_peeks=MAX_PEEKS_PER_SEQUENCE)
            cohort_runs.append(_peek_outcome(t, peeks))
            fixed_runs.append(_peek_outcome(t, self.peek_schedule_))
        out = {"next_event_eval_sequences": float(n_test), "next_event_quantile": float(q)}
        out.update(_summarise(cohort_runs, "next_event"))
        out.update(_summarise(fixed_runs, "peek_schedule"))
        ours = out.get("next_event_delay_per_event_mean", np.nan)
        schedule = out.get("peek_schedule_delay_per_event_mean", np.nan)
        if np.isfinite(ours) and schedule > 0:
            out["next_event_delay_ratio"] = ours / schedule
        self._log(f"next-event delay per event (mean): cohorts {ours:.4g} with "
                  f"{out['next_event_peeks_mean']:.3g} peeks, schedule {schedule:.4g} with "
                  f"{out['peek_schedule_peeks_mean']:.3g} peeks")
        return out

    def _log(self, message: str) -> None:
        if self.verbose:
            print(f"[cohortney] {message}", file=sys.stderr, flush=True)


def peek_schedule(seqs: EventSequences, threshold: float) -> np.ndarray:
    """The deterministic schedule of §6 in the data's time unit (float64 (6,), since first event).

    Known units (``meta["time_unit"]``: seconds ... years) are converted; otherwise the
    schedule is scaled so that its last peek (744 h) falls on the threshold T_h.
    """
    unit = str(seqs.meta.get("time_unit", "")).strip().lower()
    if unit in _HOURS_PER_UNIT:
        return np.array(PEEK_SCHEDULE_HOURS) / _HOURS_PER_UNIT[unit]
    return np.array(PEEK_SCHEDULE_HOURS) * (threshold / PEEK_SCHEDULE_HOURS[-1])


def _sequence(seqs: EventSequences, rel: np.ndarray, i: int) -> tuple[np.ndarray, np.ndarray]:
    a, b = seqs.offsets[i], seqs.offsets[i + 1]
    return rel[a:b], seqs.types[a:b].astype(np.int64)


def _cohort_peeks(model: CohortModel, times: np.ndarray, types: np.ndarray, threshold: float,
                  min_step: float, max_peeks: int) -> np.ndarray:
    """COHORT2 (§6): peek times of one sequence (times since its first event) until t* = inf,
    the threshold T_h, or ``max_peeks``; consecutive peeks are at least ``min_step`` (Delta_min,
    the time resolution of the cohorts) apart."""
    now, peeks = 0.0, []
    while now < threshold and len(peeks) < max_peeks:
        seen = times <= now
        level, row = nearest_cohort(model, times[seen], types[seen], now)
        delay = model.root_check_delay if level is None else float(level.check_delay[row])
        if not np.isfinite(delay):
            break
        now += max(delay, min_step)
        peeks.append(now)
    return np.asarray(peeks)


def _peek_outcome(times: np.ndarray, peeks: np.ndarray) -> tuple[float, float, int, float]:
    """(total delay, mean delay per detected event, number of peeks, share of events missed).

    The events after the first (time 0) are to be detected; an event at t is detected at the
    first peek >= t, with delay peek - t. Sequences without later events give (0, nan, peeks, 0).
    """
    later = times[times > 0]
    if not len(later):
        return 0.0, np.nan, len(peeks), 0.0
    slot = np.searchsorted(peeks, later, side="left")
    found = slot < len(peeks)
    delay = peeks[slot[found]] - later[found]
    per_event = float(delay.mean()) if found.any() else np.nan
    return float(delay.sum()), per_event, len(peeks), float(1.0 - found.mean())


def _summarise(runs: list[tuple[float, float, int, float]], prefix: str) -> dict[str, float]:
    total, per_event, peeks, missed = (np.array(col, dtype=np.float64) for col in zip(*runs))
    per_event = per_event[np.isfinite(per_event)]
    out = {}
    for name, values in (("delay_per_sequence", total), ("delay_per_event", per_event)):
        if len(values):
            out[f"{prefix}_{name}_mean"] = float(values.mean())
            out[f"{prefix}_{name}_median"] = float(np.median(values))
            out[f"{prefix}_{name}_q90"] = float(np.quantile(values, 0.9))
    out[f"{prefix}_peeks_mean"] = float(peeks.mean())
    out[f"{prefix}_missed_event_share"] = float(missed.mean())
    return out


def _relative_times(seqs: EventSequences) -> tuple[np.ndarray, np.ndarray]:
    seq = seqs.seq_index()
    return seqs.times - seqs.first_times()[seq], seq


def _check_inputs(seqs: EventSequences) -> None:
    """Clear errors for inputs COHORTNEY cannot cluster."""
    lens = seqs.lengths
    if (lens < 2).all():
        raise ValueError("every sequence has a single event; COHORTNEY's weight functions need "
                         "events after the first one")
    if (lens == lens[0]).all():
        rel, _ = _relative_times(seqs)
        block_t = rel.reshape(len(seqs), lens[0])
        block_k = seqs.types.reshape(len(seqs), lens[0])
        if (block_t == block_t[0]).all() and (block_k == block_k[0]).all():
            raise ValueError(f"all {len(seqs)} sequences are identical (same event types and "
                             f"relative times); there is nothing to cluster")


def _co_membership(codes: list[np.ndarray], n: int) -> np.ndarray:
    """float64 (N, N): number of (node, scale) levels at which two sequences share a kept cohort."""
    from scipy import sparse

    rows, cols, offset = [], [], 0
    for member in codes:
        kept = member >= 0
        rows.append(np.flatnonzero(kept))
        cols.append(member[kept] + offset)
        offset += int(member.max()) + 1 if kept.any() else 0
    rows_a, cols_a = np.concatenate(rows), np.concatenate(cols)
    onehot = sparse.csr_matrix((np.ones(len(rows_a)), (rows_a, cols_a)), shape=(n, max(offset, 1)))
    return (onehot @ onehot.T).toarray()


def spectrum_clustering(connection: np.ndarray, n_clusters: int, rng: np.random.Generator
                        ) -> np.ndarray:
    """The spectrum algorithm (appendix 8.3) with rule 2; returns int64 labels (N,).

    Starting from a random element, repeatedly append the unselected element with the largest
    mean connection to the already ordered ones (Eq. 9); that mean is the spectrum value. The
    ``n_clusters - 1`` largest relative drops of the spectrum (Eq. 10) start new sections; each
    section of the ordering is a cluster.
    """
    n = len(connection)
    order = np.empty(n, dtype=np.int64)
    spectrum = np.empty(n)
    total = np.zeros(n)
    free = np.ones(n, dtype=bool)
    current = int(rng.integers(n))
    for step in range(n):
        order[step] = current
        spectrum[step] = total[current] / max(step, 1)
        free[current] = False
        total += connection[:, current]
        if step + 1 < n:
            current = int(np.flatnonzero(free)[np.argmax(total[free])])
    spectrum[0] = spectrum[1] if n > 1 else 0.0
    prev = np.maximum(spectrum[:-1], 1e-12)
    drop = (spectrum[:-1] - spectrum[1:]) / prev  # drop before element k + 1
    starts = np.sort(np.argsort(-drop, kind="stable")[: n_clusters - 1] + 1)
    section = np.zeros(n, dtype=np.int64)
    section[starts] = 1
    labels = np.empty(n, dtype=np.int64)
    labels[order] = np.cumsum(section)
    return labels
