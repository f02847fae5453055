"""``dmhp``: Dirichlet mixture of Hawkes processes (Xu & Zha, NeurIPS 2017).

Each cluster k is a multivariate Hawkes process with baseline ``mu[k, c]`` and impact functions
expanded on a shared Gaussian basis,

    lambda_c^k(t) = mu[k, c] + sum_{t_j < t} sum_m A[k, c_j, m, c] g_m(t - t_j),
    g_m(s) = N(s; landmark_m, bandwidth^2)        (Gaussian density, time^-1),

with a Dirichlet prior Dir(alpha / K, ..., alpha / K) on the mixing weights, a Rayleigh prior on
the baselines and an exponential prior on the impact coefficients (the paper's priors).

Learning is the paper's variational EM with inner-outer iterations: the outer loop alternates
the variational E-step (responsibilities r[n, k] proportional to
exp(E_q[log pi_k] + log HP(s_n | mu_k, A_k)), q(pi) = Dir(alpha / K + N_k)) with an M-step that is
itself an iterative MM (branching-structure) algorithm with closed-form updates; the number of
inner MM iterations per outer iteration follows an increasing allocation schedule. The number of
clusters is chosen without labels by the Bayesian information criterion over K = 1, 2, ...

Vectorisation: the basis values summed over each event's history (``G``, per event, source
type and basis) and the basis integrals up to the window end (``H``, per sequence, source type
and basis) are computed once per dataset by a loop over *lags* (not events) that stops when all
remaining pairs are beyond the basis support; every E/M update is then a few dense
matrix products over (events x basis) and (clusters x sequences).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from scipy import sparse
from scipy.special import digamma, erf, logsumexp
from sklearn.utils._param_validation import Interval, StrOptions
from threadpoolctl import threadpool_limits

from benchmark.core.method import Clusterer, check_input, fit_context
from benchmark.core.registry import register_method
from benchmark.core.sequences import EventSequences

_SUPPORT_SIGMAS = 5.0  # basis values beyond landmark_max + 5 bandwidths are below 4e-6 / bandwidth


def observation_origins(seqs: EventSequences, time_origin: str = "auto") -> np.ndarray:
    """float64 (N,): where each sequence's observation window starts.

    ``"zero"``: at time 0 (synthetic sets simulated on [0, T]); ``"first"``: at the sequence's first
    event (clock-time or age-like data); ``"auto"``: see :func:`resolve_time_origin`.
    """
    time_origin = resolve_time_origin(seqs, time_origin)
    return np.zeros(len(seqs)) if time_origin == "zero" else seqs.first_times()


def resolve_time_origin(seqs: EventSequences, time_origin: str) -> str:
    """``"zero"`` or ``"first"``; ``"auto"`` is ``"zero"`` when the median time before the first
    event is at most the median time from the first event to the window end."""
    if time_origin == "auto":
        first = seqs.first_times()
        observed = np.median(seqs.window_end() - first)
        return "zero" if np.median(first) <= observed else "first"
    if time_origin not in ("zero", "first"):
        raise ValueError(f"time_origin must be 'auto', 'zero' or 'first', got {time_origin!r}")
    return time_origin


def gaussian_basis(seqs: EventSequences, origins: np.ndarray, max_basis: int = 32,
                   bandwidth: float | None = None) -> tuple[float, np.ndarray]:
    """Bandwidth and landmarks of the Gaussian basis, as in the authors' toolbox.

    Unless ``bandwidth`` is given: per sequence a Silverman-type bandwidth
    ``(4 std(t)^5 / (3 n))^(1/5)`` of its event times; the bandwidth is their mean over sequences
    with >= 2 events. The landmarks are ``bandwidth * (0, 1, ..., ceil(T / bandwidth) - 1)`` with T
    the mean window length (from ``origins`` (N,) to the window end). If that gives more than
    ``max_basis`` functions, ``max_basis`` landmarks are spread evenly over [0, T) and the bandwidth
    is set to their spacing.

    Returns (bandwidth, landmarks (M,)), in the sequences' time unit.
    """
    seq = seqs.seq_index()
    rel = seqs.times - origins[seq]
    lens = seqs.lengths.astype(np.float64)
    mean = np.bincount(seq, rel, minlength=len(seqs)) / np.maximum(lens, 1)
    var = np.bincount(seq, (rel - mean[seq]) ** 2, minlength=len(seqs)) / np.maximum(lens, 1)
    ok = (lens >= 2) & (var > 0)
    if not ok.any():
        raise ValueError(
            "DMHP needs at least one sequence with two events at different times to place its "
            "Gaussian basis; every sequence here has a single event time"
        )
    if bandwidth is None:
        bandwidth = float(np.mean((4.0 * np.sqrt(var[ok]) ** 5 / (3.0 * lens[ok])) ** 0.2))
    span = float(np.mean(seqs.window_end() - origins))
    n_basis = max(1, int(np.ceil(span / bandwidth)))
    if n_basis > max_basis:
        landmarks = np.linspace(0.0, span, max_basis, endpoint=False)
        bandwidth = float(landmarks[1] - landmarks[0]) if max_basis > 1 else span
        return bandwidth, landmarks
    return bandwidth, bandwidth * np.arange(n_basis, dtype=np.float64)


@dataclass
class BasisStatistics:
    """Sufficient statistics of the Gaussian-basis Hawkes likelihood of N sequences.

    Events are grouped by their own (target) type c; for each c:

    * ``event_seq[c]``: int64 (E_c,), the sequence of each event of type c;
    * ``history[c]``: float32 (E_c, C * M), sum over earlier events j of the same sequence of
      g_m(t_i - t_j), in the column (c_j, m)  (units: 1 / time);
    * ``seq_sum[c]``: sparse (N, E_c) indicator summing event rows per sequence.

    ``integral``: float64 (N, C * M), sum over the events j of a sequence of
    int_0^{T_n - t_j} g_m(s) ds in column (c_j, m) (dimensionless); ``span``: float64 (N,), the
    observation window length T_n (origin to window end, in time units).
    """

    event_seq: list[np.ndarray]
    history: list[np.ndarray]
    seq_sum: list[sparse.csr_matrix]
    integral: np.ndarray
    span: np.ndarray
    n_basis: int


def basis_statistics(seqs: EventSequences, origins: np.ndarray, bandwidth: float,
                     landmarks: np.ndarray, max_memory_gb: float = 4.0) -> BasisStatistics:
    """Precompute :class:`BasisStatistics` once per dataset (times measured from ``origins``)."""
    n, c_types, m_basis = len(seqs), seqs.n_types, len(landmarks)
    seq = seqs.seq_index()
    t = seqs.times - origins[seq]
    types = seqs.types.astype(np.int64)
    e = len(t)
    need_gb = 2 * e * c_types * m_basis * 4 / 1e9
    if need_gb > max_memory_gb:
        raise MemoryError(
            f"DMHP's per-event basis sums need {need_gb:.1f} GB ({e} events x {c_types} types x "
            f"{m_basis} basis functions); lower max_basis or raise max_memory_gb"
        )
    pos = np.arange(e) - seqs.offsets[:-1][seq]
    support = float(landmarks[-1]) + _SUPPORT_SIGMAS * bandwidth
    norm = 1.0 / (np.sqrt(2.0 * np.pi) * bandwidth)
    history = np.zeros((e, c_types, m_basis), dtype=np.float32)
    active = np.flatnonzero(pos >= 1)
    lag = 1
    while len(active):
        dt = t[active] - t[active - lag]
        keep = dt <= support
        active, dt = active[keep], dt[keep]
        if not len(active):
            break
        g = norm * np.exp(-0.5 * ((dt[:, None] - landmarks[None, :]) / bandwidth) ** 2)
        history[active, types[active - lag], :] += g.astype(np.float32)
        lag += 1
        active = active[pos[active] >= lag]

    span = seqs.window_end() - origins
    upto = span[seq] - t  # time from each event to its window end
    s2 = np.sqrt(2.0) * bandwidth
    gi = 0.5 * (erf((upto[:, None] - landmarks[None, :]) / s2) + erf(landmarks[None, :] / s2))
    integral = np.zeros((n, c_types * m_basis))
    rows = np.repeat(seq, m_basis)
    cols = (types[:, None] * m_basis + np.arange(m_basis)[None, :]).ravel()
    np.add.at(integral, (rows, cols), gi.ravel())

    event_seq, hist, seq_sum = [], [], []
    flat = history.reshape(e, c_types * m_basis)
    for c in range(c_types):
        idx = np.flatnonzero(types == c)
        event_seq.append(seq[idx])
        hist.append(np.ascontiguousarray(flat[idx]))
        seq_sum.append(sparse.csr_matrix(
            (np.ones(len(idx)), (seq[idx], np.arange(len(idx)))), shape=(n, len(idx))))
    return BasisStatistics(event_seq, hist, seq_sum, integral, span, m_basis)


def hawkes_log_likelihood(stats: BasisStatistics, mu: np.ndarray, impact: np.ndarray
                          ) -> tuple[np.ndarray, list[np.ndarray]]:
    """Log-likelihood of every sequence under every cluster's Hawkes process.

    mu : (K, C) baselines (1 / time); impact : (K, C_src, M, C_target) basis coefficients.
    Returns (loglik (N, K), intensities: per target type c, (E_c, K) lambda at its events).
    """
    k = mu.shape[0]
    cm = impact.shape[1] * impact.shape[2]
    loglik = -stats.span[:, None] * mu.sum(axis=1)[None, :]
    loglik -= stats.integral @ impact.sum(axis=3).reshape(k, cm).T
    intensities = []
    for c, hist in enumerate(stats.history):
        coef = impact[:, :, :, c].reshape(k, cm).T.astype(np.float32)
        lam = (hist @ coef).astype(np.float64) + mu[None, :, c]
        intensities.append(lam)
        if len(lam):
            loglik += stats.seq_sum[c] @ np.log(lam)
    return loglik, intensities


@register_method("dmhp")
class DMHP(Clusterer):
    """Dirichlet mixture of Hawkes processes with Gaussian-basis impact functions.

    Parameters
    ----------
    n_clusters : int or None, default=None
        Fixed number of clusters; None chooses K by BIC over K = 1 .. ``max_clusters``
        (stopping after ``bic_patience`` values without improvement).
    max_clusters : int, default=10
        Largest K tried when ``n_clusters`` is None.
    bic_patience : int, default=2
        Stop the K search after this many K without a lower BIC.
    n_init : int, default=3
        Random restarts per K; the restart with the highest mixture log-likelihood is kept.
    max_outer : int, default=40
        Outer (variational EM) iterations.
    inner_start : int, default=2
        MM iterations of the M-step at the first outer iteration; outer iteration t runs
        ``min(inner_max, inner_start + t)`` (increasing inner-iteration allocation).
    inner_max : int, default=10
        Largest number of MM iterations per M-step.
    tol : float, default=1e-5
        Stop when the mixture log-likelihood changes by less than ``tol`` (relative).
    alpha : float, default=1.0
        Dirichlet concentration; the prior on the weights is Dir(alpha / K, ...).
    mu_prior_scale : float or None, default=None
        Rayleigh scale of the baselines (1 / time); None = the mean per-type event rate.
    impact_prior_rate : float, default=1.0
        Rate of the exponential prior on the impact coefficients (0 = no prior).
    time_origin : {"auto", "zero", "first"}, default="auto"
        Where observation windows start (see :func:`observation_origins`).
    bandwidth : float or None, default=None
        Width of the Gaussian basis (time units); None = the toolbox's Silverman rule.
    max_basis : int, default=32
        Cap on the number of Gaussian basis functions (see :func:`gaussian_basis`).
    max_memory_gb : float, default=4.0
        Refuse datasets whose basis statistics need more memory than this.
    verbose : bool, default=True
        Print progress (one line per K) to stderr.
    seed : int, default=0
        Random seed (initial assignments).

    Attributes
    ----------
    labels_ : ndarray of shape (n_sequences,)
        Arg-max cluster of every sequence, int64, numbered over the kept clusters.
    n_clusters_ : int
        Clusters kept: those that own at least one sequence.
    kept_ : ndarray of int
        Indices of the kept clusters in the selected fit.
    mu_ : ndarray of shape (n_clusters_, n_types)
        Baseline intensities.
    impact_ : ndarray of shape (n_clusters_, n_types, n_basis, n_types)
        Impact coefficients on the Gaussian basis.
    weight_posterior_ : ndarray of shape (n_clusters_,)
        Dirichlet posterior of the mixing weights.
    time_origin_ : str
        ``"zero"`` or ``"first"``, the resolved ``time_origin``.
    bandwidth_ : float
        Basis bandwidth used.
    landmarks_ : ndarray of shape (n_basis,)
        Basis centres.
    mu_prior_scale_ : float
        Rayleigh scale used.
    bic_ : dict
        BIC of every K tried.
    metrics_ : dict
        Log-likelihood, BIC, clusters selected and number of basis functions.
    """

    outputs = ("labels", "embeddings")
    needs_n_clusters = False
    presets = {
        "quick": {"max_clusters": 4, "n_init": 1, "max_outer": 8, "inner_max": 5},
        "paper": {"max_clusters": 10, "n_init": 3, "max_outer": 40, "inner_max": 10},
    }
    paper = ("Xu & Zha, A Dirichlet Mixture Model of Hawkes Processes for Event Sequence "
             "Clustering, NeurIPS 2017")
    _parameter_constraints = {
        "n_clusters": [Interval(Integral, 1, None, closed="left"), None],
        "max_clusters": [Interval(Integral, 1, None, closed="left")],
        "bic_patience": [Interval(Integral, 1, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "max_outer": [Interval(Integral, 1, None, closed="left")],
        "inner_start": [Interval(Integral, 0, None, closed="left")],
        "inner_max": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "mu_prior_scale": [Interval(Real, 0, None, closed="neither"), None],
        "impact_prior_rate": [Interval(Real, 0, None, closed="left")],
        "time_origin": [StrOptions({"auto", "zero", "first"})],
        "bandwidth": [Interval(Real, 0, None, closed="neither"), None],
        "max_basis": [Interval(Integral, 1, None, closed="left")],
        "max_memory_gb": [Interval(Real, 0, None, closed="neither")],
        "verbose": ["boolean"],
        "seed": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(self, n_clusters: int | None = None, max_clusters: int = 10, bic_patience: int = 2,
                 n_init: int = 3, max_outer: int = 40, inner_start: int = 2, inner_max: int = 10,
                 tol: float = 1e-5, alpha: float = 1.0, mu_prior_scale: float | None = None,
                 impact_prior_rate: float = 1.0, time_origin: str = "auto",
                 bandwidth: float | None = None, max_basis: int = 32, max_memory_gb: float = 4.0,
                 verbose: bool = True, seed: int = 0) -> None:
        self.n_clusters = n_clusters
        self.max_clusters = max_clusters
        self.bic_patience = bic_patience
        self.n_init = n_init
        self.max_outer = max_outer
        self.inner_start = inner_start
        self.inner_max = inner_max
        self.tol = tol
        self.alpha = alpha
        self.mu_prior_scale = mu_prior_scale
        self.impact_prior_rate = impact_prior_rate
        self.time_origin = time_origin
        self.bandwidth = bandwidth
        self.max_basis = max_basis
        self.max_memory_gb = max_memory_gb
        self.verbose = verbose
        self.seed = seed

    # ------------------------------------------------------------------ fit
    @fit_context
    def fit(self, seqs: EventSequences) -> DMHP:
        # the products below are skinny (events x C*M by C*M x K): threaded BLAS only adds overhead
        with threadpool_limits(limits=1, user_api="blas"):
            return self._fit(seqs)

    def _fit(self, seqs: EventSequences) -> "DMHP":
        check_input(seqs, min_sequences=max(2, self.n_clusters or 1))
        _check_not_degenerate(seqs)
        rng = np.random.default_rng(self.seed)
        self.time_origin_ = resolve_time_origin(seqs, self.time_origin)
        origins = observation_origins(seqs, self.time_origin_)
        self.bandwidth_, self.landmarks_ = gaussian_basis(seqs, origins, self.max_basis,
                                                          self.bandwidth)
        started = time.perf_counter()
        stats = basis_statistics(seqs, origins, self.bandwidth_, self.landmarks_,
                                 self.max_memory_gb)
        if self.verbose:
            print(f"[dmhp] basis statistics of {seqs.n_events} events x {len(self.landmarks_)} "
                  f"Gaussian basis functions (bandwidth {self.bandwidth_:.4g}, windows from "
                  f"{self.time_origin_}) in {time.perf_counter() - started:.1f} s",
                  file=sys.stderr, flush=True)
        rate = seqs.n_events / max(float(stats.span.sum()), 1e-12) / seqs.n_types
        self.mu_prior_scale_ = float(self.mu_prior_scale or rate)

        candidates = [self.n_clusters] if self.n_clusters else range(1, self.max_clusters + 1)
        best, best_bic, since_best = None, np.inf, 0
        self.bic_ = {}
        for k in candidates:
            fitted = max((self._fit_k(stats, k, rng, rate) for _ in range(self.n_init)),
                         key=lambda f: f["loglik"])
            bic = self._bic(fitted, seqs)
            self.bic_[k] = bic
            if self.verbose:
                print(f"[dmhp] K={k}: log-likelihood {fitted['loglik']:.1f}, BIC {bic:.1f}, "
                      f"{fitted['n_outer']} outer iterations", file=sys.stderr, flush=True)
            if bic < best_bic:
                best, best_bic, since_best = fitted, bic, 0
            else:
                since_best += 1
                if since_best >= self.bic_patience:
                    break
        self._keep(best)
        self.labels_ = np.argmax(best["resp"][:, self.kept_], axis=1).astype(np.int64)
        # transform() of the training sequences reuses their statistics (the precompute dominates
        # the cost on long sequences)
        self._fitted_loglik = (seqs, hawkes_log_likelihood(stats, self.mu_, self.impact_)[0])
        self.metrics_ = {"log_likelihood": float(best["loglik"]), "bic": float(best_bic),
                         "n_clusters_selected": float(len(self.kept_)),
                         "n_basis": float(len(self.landmarks_))}
        return self

    def _fit_k(self, stats: BasisStatistics, k: int, rng: np.random.Generator, rate: float) -> dict:
        """One variational-EM run with K = k from random hard assignments (the toolbox's start)."""
        n, c_types, m_basis = len(stats.span), len(stats.history), stats.n_basis
        resp = np.eye(k)[rng.integers(0, k, n)]
        mu = np.full((k, c_types), rate)
        impact = np.full((k, c_types, m_basis, c_types), 1.0 / (m_basis * c_types ** 2))
        prev, loglik, outer = -np.inf, -np.inf, 0
        for outer in range(1, self.max_outer + 1):
            for _ in range(min(self.inner_max, self.inner_start + outer - 1)):
                mu, impact = self._m_step(stats, resp, mu, impact)
            seq_ll, _ = hawkes_log_likelihood(stats, mu, impact)
            post = self.alpha / k + resp.sum(axis=0)
            logits = digamma(post) - digamma(post.sum()) + seq_ll
            norm = logsumexp(logits, axis=1, keepdims=True)
            resp = np.exp(logits - norm)
            log_w = np.log(np.maximum(resp.mean(axis=0), 1e-300))
            loglik = float(logsumexp(log_w[None, :] + seq_ll, axis=1).sum())
            if abs(loglik - prev) <= self.tol * abs(loglik):
                break
            prev = loglik
        return {"mu": mu, "impact": impact, "resp": resp, "loglik": loglik, "n_outer": outer,
                "post": self.alpha / k + resp.sum(axis=0)}

    def _m_step(self, stats: BasisStatistics, resp: np.ndarray, mu: np.ndarray,
                impact: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One MM (branching-structure) update of all clusters' (mu, impact), weighted by resp."""
        k, c_types, m_basis, _ = impact.shape
        _, intensities = hawkes_log_likelihood(stats, mu, impact)
        exp_mu = np.zeros_like(mu)
        exp_impact = np.zeros_like(impact)
        for c, lam in enumerate(intensities):
            if not len(lam):
                continue
            weight = resp[stats.event_seq[c]] / lam  # (E_c, K)
            exp_mu[:, c] = mu[:, c] * weight.sum(axis=0)
            gw = stats.history[c].T @ weight.astype(np.float32)  # (C*M, K)
            exp_impact[:, :, :, c] = impact[:, :, :, c] * gw.T.reshape(k, c_types, m_basis)
        exposure_mu = resp.T @ stats.span  # (K,)
        exposure_impact = (resp.T @ stats.integral).reshape(k, c_types, m_basis)
        # Rayleigh prior: maximise (P + 1) log mu - B mu - mu^2 / (2 beta^2)
        b, p, inv_b2 = exposure_mu[:, None], exp_mu + 1.0, 1.0 / self.mu_prior_scale_ ** 2
        mu = 2.0 * p / (b + np.sqrt(b * b + 4.0 * p * inv_b2))
        # exponential prior: maximise P log a - (B + rate) a
        impact = exp_impact / (exposure_impact[..., None] + self.impact_prior_rate)
        return mu, impact

    def _bic(self, fitted: dict, seqs: EventSequences) -> float:
        k = int((fitted["resp"].sum(axis=0) >= 0.5).sum())
        c, m = seqs.n_types, len(self.landmarks_)
        n_params = k * (c + c * c * m) + (k - 1)
        return -2.0 * fitted["loglik"] + n_params * np.log(len(seqs))

    def _keep(self, fitted: dict) -> None:
        """Keep the clusters that own at least one sequence (arg-max), in their original order."""
        owners = np.unique(np.argmax(fitted["resp"], axis=1))
        self.kept_ = owners
        self.mu_ = fitted["mu"][owners]
        self.impact_ = fitted["impact"][owners]
        self.weight_posterior_ = fitted["post"][owners]
        self.n_clusters_ = len(owners)

    # ------------------------------------------------------------------ outputs
    def predict_proba(self, seqs: EventSequences) -> np.ndarray:
        """Posterior cluster probabilities, float64 (N, n_clusters_)."""
        return np.exp(self._logits(seqs)[0])

    def transform(self, seqs: EventSequences) -> np.ndarray:
        """float64 (N, 2 * n_clusters_): posterior probabilities, then per-event log-likelihoods."""
        log_post, seq_ll = self._logits(seqs)
        return np.hstack([np.exp(log_post), seq_ll / seqs.lengths[:, None]])

    def _logits(self, seqs: EventSequences) -> tuple[np.ndarray, np.ndarray]:
        with threadpool_limits(limits=1, user_api="blas"):
            return self._logits_single_thread(seqs)

    def _logits_single_thread(self, seqs: EventSequences) -> tuple[np.ndarray, np.ndarray]:
        if seqs.n_types != self.impact_.shape[1]:
            raise ValueError(f"fitted on {self.impact_.shape[1]} event types, got {seqs.n_types}")
        if self._fitted_loglik[0] is seqs:
            seq_ll = self._fitted_loglik[1]
        else:
            stats = basis_statistics(seqs, observation_origins(seqs, self.time_origin_),
                                     self.bandwidth_, self.landmarks_, self.max_memory_gb)
            seq_ll, _ = hawkes_log_likelihood(stats, self.mu_, self.impact_)
        post = self.weight_posterior_
        logits = digamma(post) - digamma(post.sum()) + seq_ll
        return logits - logsumexp(logits, axis=1, keepdims=True), seq_ll


def _check_not_degenerate(seqs: EventSequences) -> None:
    """Reject inputs with nothing to cluster: every sequence identical (times relative to start)."""
    lens = seqs.lengths
    if (lens == lens[0]).all():
        rel = seqs.times - seqs.first_times()[seqs.seq_index()]
        block_t = rel.reshape(len(seqs), lens[0])
        block_k = seqs.types.reshape(len(seqs), lens[0])
        span = seqs.window_end() - seqs.first_times()
        if ((block_t == block_t[0]).all() and (block_k == block_k[0]).all()
                and (span == span[0]).all()):
            raise ValueError(f"all {len(seqs)} sequences are identical (same event types and "
                             f"relative times); there is nothing to cluster")
