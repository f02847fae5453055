"""Multivariate Hawkes processes: kernel families and a batched (lockstep) Ogata thinning simulator.

A C-type Hawkes process has conditional intensities

    lambda_i(t) = mu_i + sum_{events k with t_k < t} phi_{i, c_k}(t - t_k),      i = 0..C-1,

with the **tick convention**: ``phi[i, j]`` is the kernel by which an event of type ``j`` excites
type ``i`` (row = target, column = source). Times are in arbitrary units (a.u.); intensities in
events per unit time.

Kernel families (all of them vectorised over sequences):

* :class:`ExpKernels`    ``phi_ij(t) = A_ij * B_ij * exp(-B_ij t)`` (``A`` = L1 norms, ``B`` = decays);
  simulated with an O(1) recursive state per sequence (one excitation per non-zero pair).
* :class:`SinKernels`    ``phi_ij(t) = b_ij (1 - cos(w_ij (t - s_ij)))`` sampled on ``n_knots``
  equally spaced points of [0, 1] and linearly interpolated (support [0, 1]);
* :class:`BoxKernels`    piecewise-constant kernels ``height_ij * 1[0 <= t < width_ij]``
  (the ``2b round(phi / 2b)`` truncation of the sin kernel is such a box).

:func:`simulate_hawkes` advances *all* sequences of one parameter set at once with numpy arrays:
each iteration draws one thinning candidate per still-active sequence from a per-sequence upper
bound of the total intensity (Ogata, 1981), accepts it with probability lambda(t) / bound, and
assigns the type proportionally to the per-type intensities. Python overhead is paid per
iteration, not per event, so the cost per event falls as the batch grows.

:func:`compensator_at_events` / :func:`rescaled_intervals` (time-rescaling checks) and
:func:`mean_count_steps` / :func:`window_for_mean_count` (the observation window giving a target
mean length) are exact for the exponential family; the window is accurate to O(h) (``h`` = grid
step) for the finite-support families. :func:`simulate_hawkes_tick` runs tick's simulator on the
same parameters (the reference).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
from scipy.linalg import expm

# ----------------------------------------------------------------------------------------- kernels


def _check_nonnegative(name: str, arr: np.ndarray) -> None:
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {arr}")
    if np.any(arr < 0):
        raise ValueError(f"{name} must be non-negative (rates and kernels cannot be negative), got {arr}")


@dataclass(frozen=True, eq=False)
class ExpKernels:
    """Exponential kernels ``phi_ij(t) = adjacency_ij * decays_ij * exp(-decays_ij * t)``.

    adjacency : (C, C) L1 norms (tick's ``adjacency``); decays : (C, C) decay rates (1 / a.u.).
    """

    adjacency: np.ndarray
    decays: np.ndarray

    def __post_init__(self) -> None:
        a = np.asarray(self.adjacency, dtype=np.float64)
        b = np.asarray(self.decays, dtype=np.float64)
        if a.ndim != 2 or a.shape[0] != a.shape[1] or b.shape != a.shape:
            raise ValueError(f"adjacency {a.shape} and decays {b.shape} must be the same square shape")
        _check_nonnegative("adjacency", a)
        _check_nonnegative("decays", b)
        object.__setattr__(self, "adjacency", a)
        object.__setattr__(self, "decays", b)

    @property
    def n_types(self) -> int:
        return self.adjacency.shape[0]

    def norms(self) -> np.ndarray:
        return self.adjacency

    def intensity_and_bound(self, lags: np.ndarray, src: np.ndarray, row: np.ndarray, n_rows: int
                            ) -> tuple[np.ndarray, np.ndarray]:
        """Kernel part of the intensities (n_rows, C) from events at ``lags`` (L,) of types ``src``
        in sequences ``row``, and a bound (n_rows,) of its later total (the kernels only decay).
        The simulator keeps an O(1) recursive state instead; this serves the likelihood."""
        b = self.decays.T[src]
        per_event = self.adjacency.T[src] * b * np.exp(-b * np.asarray(lags)[:, None])  # (L, C)
        lam = np.stack([np.bincount(row, weights=per_event[:, i], minlength=n_rows)
                        for i in range(self.n_types)], axis=1)
        return lam, lam.sum(axis=1)

    def integral(self, lags: np.ndarray, src: np.ndarray) -> np.ndarray:
        a = self.adjacency.T[src]  # (..., C): row src of A^T = column src of A
        b = self.decays.T[src]
        return a * -np.expm1(-b * np.asarray(lags)[..., None])


@dataclass(frozen=True, eq=False)
class SinKernels:
    """Sinusoidal kernels ``b (1 - cos(omega (t - shift)))`` tabulated on ``n_knots`` points of [0, 1].

    amplitude, omega, shift : (C, C) arrays (``b``, ``omega``, ``s`` of the LAL/DMHP protocol).
    Between knots the kernel is linear; it is zero outside [0, 1] (the authors' generator).
    """

    amplitude: np.ndarray
    omega: np.ndarray
    shift: np.ndarray
    n_knots: int = 10
    support: float = 1.0
    knot_values: np.ndarray = field(init=False, repr=False)
    _table: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        b = np.asarray(self.amplitude, dtype=np.float64)
        w = np.asarray(self.omega, dtype=np.float64)
        s = np.asarray(self.shift, dtype=np.float64)
        if b.ndim != 2 or b.shape[0] != b.shape[1] or w.shape != b.shape or s.shape != b.shape:
            raise ValueError("amplitude, omega and shift must be (C, C) arrays of the same shape")
        _check_nonnegative("amplitude", b)
        if not (np.all(np.isfinite(w)) and np.all(np.isfinite(s))):
            raise ValueError("omega and shift must be finite")
        if self.n_knots < 2 or not self.support > 0:
            raise ValueError(f"need n_knots >= 2 and support > 0, got {self.n_knots}, {self.support}")
        knots = np.linspace(0.0, self.support, self.n_knots)
        vals = b[..., None] * (1.0 - np.cos(w[..., None] * (knots - s[..., None])))  # (C, C, G)
        for name, v in (("amplitude", b), ("omega", w), ("shift", s)):
            object.__setattr__(self, name, v)
        object.__setattr__(self, "knot_values", vals)
        object.__setattr__(self, "_table", self._segment_table)

    @property
    def n_types(self) -> int:
        return self.amplitude.shape[0]

    @property
    def knots(self) -> np.ndarray:
        return np.linspace(0.0, self.support, self.n_knots)

    @property
    def _step(self) -> float:
        return self.support / (self.n_knots - 1)

    def norms(self) -> np.ndarray:
        v = self.knot_values
        return self._step * (v[..., 1:] + v[..., :-1]).sum(-1) / 2.0

    @property
    def _segment_table(self) -> np.ndarray:
        """(C * (G - 1) + 1, 2C + 1) rows [value at segment start (C), slope per unit of segment (C),
        max of the total over targets from the segment on (1)] for source ``j`` and segment ``g``
        at row ``j * (G - 1) + g``; the last row (lags outside the support) is all zeros."""
        v = self.knot_values.transpose(1, 2, 0)  # [source, knot, target]
        total_suffix_max = np.maximum.accumulate(v[:, ::-1], axis=1)[:, ::-1].sum(axis=2)
        rows = np.concatenate([v[:, :-1], np.diff(v, axis=1), total_suffix_max[:, :-1, None]], axis=2)
        return np.concatenate([rows.reshape(-1, 2 * self.n_types + 1),
                               np.zeros((1, 2 * self.n_types + 1))])

    def intensity_and_bound(self, lags: np.ndarray, src: np.ndarray, row: np.ndarray, n_rows: int
                            ) -> tuple[np.ndarray, np.ndarray]:
        """Kernel part of the intensities of ``n_rows`` sequences from events at ``lags`` (L,) of
        types ``src`` (L,) belonging to sequence ``row`` (L,): returns (n_rows, C) and an upper
        bound (n_rows,) of its total at any later time (per-event table look-ups + bincount).
        """
        c, g = self.n_types, self.n_knots - 1
        u = lags / self._step
        inside = (u >= 0) & (u < g)
        seg = np.floor(np.where(inside, u, 0.0))
        rows = np.take(self._table, np.where(inside, src * g + seg.astype(np.intp), c * g), axis=0)
        per_event = rows[:, :c] + rows[:, c:2 * c] * (u - seg)[:, None]  # (L, C)
        lam = np.stack([np.bincount(row, weights=per_event[:, i], minlength=n_rows)
                        for i in range(c)], axis=1)
        return lam, np.bincount(row, weights=rows[:, 2 * c], minlength=n_rows)

    def jump_bound(self) -> np.ndarray:
        """(C,) upper bound of the total kernel intensity a fresh event of each source type adds."""
        return self.knot_values.max(axis=2).sum(axis=0)

    def integral(self, lags: np.ndarray, src: np.ndarray) -> np.ndarray:
        lags = np.clip(np.asarray(lags, dtype=np.float64), 0.0, self.support)
        vt = self.knot_values.transpose(1, 0, 2)
        h = self._step
        cum = np.concatenate([np.zeros(vt.shape[:2] + (1,)),
                              np.cumsum(h * (vt[..., 1:] + vt[..., :-1]) / 2.0, axis=-1)], axis=-1)
        u = lags / h
        idx = np.clip(np.floor(u).astype(np.intp), 0, self.n_knots - 2)
        frac = (u - idx)[..., None]
        lo = vt[src, :, idx]
        hi = vt[src, :, idx + 1]
        return cum[src, :, idx] + h * frac * (lo + (hi - lo) * frac / 2.0)


@dataclass(frozen=True, eq=False)
class BoxKernels:
    """Piecewise-constant kernels ``height_ij * 1[0 <= t < width_ij]`` (a width of 0 = no effect)."""

    height: np.ndarray
    width: np.ndarray

    def __post_init__(self) -> None:
        h = np.asarray(self.height, dtype=np.float64)
        w = np.asarray(self.width, dtype=np.float64)
        if h.ndim != 2 or h.shape[0] != h.shape[1] or w.shape != h.shape:
            raise ValueError("height and width must be (C, C) arrays of the same shape")
        _check_nonnegative("height", h)
        _check_nonnegative("width", w)
        object.__setattr__(self, "height", h)
        object.__setattr__(self, "width", w)

    @property
    def n_types(self) -> int:
        return self.height.shape[0]

    @property
    def support(self) -> float:
        return float(self.width.max()) if self.width.size else 0.0

    def norms(self) -> np.ndarray:
        return self.height * self.width

    def intensity_and_bound(self, lags: np.ndarray, src: np.ndarray, row: np.ndarray, n_rows: int
                            ) -> tuple[np.ndarray, np.ndarray]:
        """Kernel part of the intensities (n_rows, C) from events at ``lags`` (L,) of types ``src``
        in sequences ``row``, and a bound (n_rows,) of its later total (boxes only switch off)."""
        on = (lags[:, None] >= 0) & (lags[:, None] < self.width.T[src])  # (L, C)
        contrib = np.where(on, self.height.T[src], 0.0)
        lam = np.stack([np.bincount(row, weights=contrib[:, i], minlength=n_rows)
                        for i in range(self.n_types)], axis=1)
        return lam, lam.sum(axis=1)

    def jump_bound(self) -> np.ndarray:
        """(C,) total kernel intensity a fresh event of each source type adds."""
        return np.where(self.width > 0, self.height, 0.0).sum(axis=0)

    def integral(self, lags: np.ndarray, src: np.ndarray) -> np.ndarray:
        lags = np.maximum(np.asarray(lags, dtype=np.float64), 0.0)[..., None]
        return self.height.T[src] * np.minimum(lags, self.width.T[src])


@dataclass(frozen=True, eq=False)
class HawkesParams:
    """One Hawkes process: ``baseline`` (C,) events per unit time and its kernels."""

    baseline: np.ndarray
    kernels: ExpKernels | SinKernels | BoxKernels

    def __post_init__(self) -> None:
        mu = np.asarray(self.baseline, dtype=np.float64)
        if mu.shape != (self.kernels.n_types,):
            raise ValueError(f"baseline has shape {mu.shape}, expected ({self.kernels.n_types},)")
        _check_nonnegative("baseline", mu)
        object.__setattr__(self, "baseline", mu)

    @property
    def n_types(self) -> int:
        return self.kernels.n_types

    def spectral_radius(self) -> float:
        """Spectral radius of the kernel norms: < 1 is needed for a stationary (non-exploding) process."""
        return float(np.max(np.abs(np.linalg.eigvals(self.kernels.norms()))))

    @classmethod
    def from_dict(cls, d: dict) -> "HawkesParams":
        """Inverse of :meth:`to_dict` (e.g. a cluster of a synthetic set's ``params`` metadata)."""
        family = d.get("family")
        if family == "ExpKernels":
            kernels = ExpKernels(np.asarray(d["adjacency"]), np.asarray(d["decays"]))
        elif family == "SinKernels":
            kernels = SinKernels(np.asarray(d["amplitude"]), np.asarray(d["omega"]),
                                 np.asarray(d["shift"]), int(d["n_knots"]), float(d["support"]))
        elif family == "BoxKernels":
            kernels = BoxKernels(np.asarray(d["height"]), np.asarray(d["width"]))
        else:
            raise ValueError(f"unknown kernel family {family!r} in Hawkes parameters")
        return cls(np.asarray(d["baseline"]), kernels)

    def to_dict(self) -> dict:
        """The true parameters as plain arrays (for dataset metadata)."""
        k = self.kernels
        out: dict = {"baseline": self.baseline, "family": type(k).__name__}
        if isinstance(k, ExpKernels):
            out.update(adjacency=k.adjacency, decays=k.decays)
        elif isinstance(k, SinKernels):
            out.update(amplitude=k.amplitude, omega=k.omega, shift=k.shift, n_knots=k.n_knots,
                       support=k.support)
        else:
            out.update(height=k.height, width=k.width)
        out["spectral_radius"] = self.spectral_radius()
        return out


# --------------------------------------------------------------------------------------- simulation


@dataclass
class _Events:
    """Accepted events collected iteration by iteration: sequence index, rank of the event in its
    sequence, time and type."""

    seq: list = field(default_factory=list)
    rank: list = field(default_factory=list)
    time: list = field(default_factory=list)
    type: list = field(default_factory=list)

    def add(self, seq: np.ndarray, rank: np.ndarray, time: np.ndarray, typ: np.ndarray) -> None:
        if len(seq):
            self.seq.append(seq)
            self.rank.append(rank)
            self.time.append(time)
            self.type.append(typ)

    def ragged(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(times (E,), types (E,) int32, offsets (n + 1,)) sorted by sequence then time: every
        event goes straight to ``offsets[seq] + rank`` (no sort)."""
        if not self.seq:
            return np.zeros(0), np.zeros(0, np.int32), np.zeros(n + 1, np.int64)
        seq = np.concatenate(self.seq)
        offsets = np.concatenate([[0], np.cumsum(np.bincount(seq, minlength=n))]).astype(np.int64)
        pos = offsets[seq] + np.concatenate(self.rank)
        times = np.empty(len(seq))
        types = np.empty(len(seq), np.int32)
        times[pos] = np.concatenate(self.time)
        types[pos] = np.concatenate(self.type)
        return times, types, offsets


def _pick_type(lam: np.ndarray, total: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Type index drawn proportionally to ``lam`` (n, C) given uniforms ``u`` (n,)."""
    k = (np.cumsum(lam, axis=1) < (u * total)[:, None]).sum(axis=1)
    return np.minimum(k, lam.shape[1] - 1)


def _cap_alive(t: np.ndarray, end: np.ndarray, counts: np.ndarray, max_events: int | None
               ) -> np.ndarray:
    """Which sequences go on: candidate time inside the window and the event cap not reached."""
    alive = (t <= end) & np.isfinite(t)
    if max_events is not None:
        alive &= counts < max_events
    return alive


def _simulate_exp(params: HawkesParams, horizon: np.ndarray, max_events: int | None,
                  rng: np.random.Generator, events: _Events) -> None:
    """Exponential kernels: per sequence one excitation per non-zero (target, source) pair,
    decaying as exp(-B dt) between candidates (O(pairs) work per candidate). Arrays are laid out
    [pair or type, sequence] so that every per-pair operation runs over a contiguous row."""
    kern: ExpKernels = params.kernels
    c = kern.n_types
    mu = params.baseline
    target, source = np.nonzero(kern.adjacency * kern.decays)  # the pairs that ever excite, by target
    neg_b = -kern.decays[target, source][:, None]  # (P, 1)
    rows_of = [np.flatnonzero(target == i) for i in range(c)]
    by_target = [(i, r[0], r[-1] + 1) for i, r in enumerate(rows_of) if len(r)]  # contiguous rows
    jump = np.zeros((len(target), c))  # [pair, event type]: jump of each pair after an event
    jump[np.arange(len(target)), source] = (kern.adjacency * kern.decays)[target, source]
    jump_total = jump.sum(axis=0)
    ids = np.arange(len(horizon))
    t = np.zeros(len(ids))
    end = horizon
    excite = np.zeros((len(target), len(ids)))
    counts = np.zeros(len(ids), np.int64)
    bound = np.full(len(ids), mu.sum())  # total intensity now; it only decays until the next event
    while len(ids):
        with np.errstate(divide="ignore"):
            dt = rng.exponential(size=len(ids)) / bound
        t = t + dt
        alive = _cap_alive(t, end, counts, max_events)
        if not alive.all():
            ids, t, dt, end, counts, bound = (a[alive] for a in (ids, t, dt, end, counts, bound))
            excite = excite[:, alive]
            if not len(ids):
                break
        excite *= np.exp(neg_b * dt)
        lam = np.repeat(mu[:, None], len(ids), axis=1)  # (C, m)
        for i, lo, hi in by_target:
            lam[i] += excite[lo:hi].sum(axis=0) if hi - lo > 1 else excite[lo]
        total = lam.sum(axis=0)
        u = rng.random((2, len(ids)))
        acc = np.flatnonzero(u[0] * bound <= total)
        kind = _pick_type(lam[:, acc].T, total[acc], u[1, acc])
        excite[:, acc] += jump[:, kind]
        events.add(ids[acc], counts[acc], t[acc], kind)
        counts[acc] += 1
        bound = total
        bound[acc] += jump_total[kind]


def _simulate_finite(params: HawkesParams, horizon: np.ndarray, max_events: int | None,
                     rng: np.random.Generator, events: _Events) -> None:
    """Finite-support kernels: the events still inside the support, of all sequences, are kept in
    flat arrays (row = position of the sequence among the active ones), so the work per iteration
    is proportional to the number of live events, not to the busiest sequence."""
    kern = params.kernels
    mu = params.baseline
    jump_bound = kern.jump_bound()
    ids = np.arange(len(horizon))
    t = np.zeros(len(ids))
    end = horizon
    counts = np.zeros(len(ids), np.int64)
    bound = np.full(len(ids), mu.sum())
    live_row = np.zeros(0, np.intp)  # live events: active-sequence row, time, type
    live_time = np.zeros(0)
    live_type = np.zeros(0, np.intp)
    while len(ids):
        with np.errstate(divide="ignore"):
            t = t + rng.exponential(size=len(ids)) / bound
        alive = _cap_alive(t, end, counts, max_events)
        if not alive.all():
            ids, t, end, counts, bound = (a[alive] for a in (ids, t, end, counts, bound))
            keep = alive[live_row]
            live_row = (np.cumsum(alive) - 1)[live_row[keep]]
            live_time, live_type = live_time[keep], live_type[keep]
            if not len(ids):
                break
        lags = t[live_row] - live_time
        expired = lags >= kern.support
        if expired.any():
            keep = ~expired
            live_row, live_time, live_type, lags = (a[keep] for a in (live_row, live_time, live_type, lags))
        kernel_part, kernel_bound = kern.intensity_and_bound(lags, live_type, live_row, len(ids))
        lam = mu + kernel_part  # (m, C)
        total = lam.sum(axis=1)
        u = rng.random((len(ids), 2))
        acc = np.flatnonzero(u[:, 0] * bound <= total)
        kind = _pick_type(lam[acc], total[acc], u[acc, 1])
        live_row = np.concatenate([live_row, acc])
        live_time = np.concatenate([live_time, t[acc]])
        live_type = np.concatenate([live_type, kind])
        events.add(ids[acc], counts[acc], t[acc], kind)
        counts[acc] += 1
        bound = mu.sum() + kernel_bound  # valid from t on for the events before t ...
        bound[acc] += jump_bound[kind]  # ... plus the new one


def simulate_hawkes(params: HawkesParams, n_sequences: int, horizon: float | np.ndarray,
                    rng: np.random.Generator, max_events: int | None = None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Simulate ``n_sequences`` independent realisations on [0, horizon] (lockstep thinning).

    horizon : observation window end, scalar or (n_sequences,) array, in a.u. An infinite horizon
        needs ``max_events`` and a subcritical process (spectral radius < 1).
    max_events : optional cap on the events of a sequence (the sequence stops there).
    Returns ``(times (E,) float64, types (E,) int32, offsets (n + 1,) int64, t_end (n,) float64)``,
    times sorted within each sequence; ``t_end`` is the horizon, or the time of the last event for
    a sequence stopped by ``max_events``.
    """
    if n_sequences < 0:
        raise ValueError(f"n_sequences must be >= 0, got {n_sequences}")
    horizon = np.broadcast_to(np.asarray(horizon, dtype=np.float64), (n_sequences,)).copy()
    if np.any(np.isnan(horizon)) or np.any(horizon < 0):
        raise ValueError("the observation window must be a non-negative time")
    if max_events is not None and max_events < 1:
        raise ValueError(f"max_events must be >= 1, got {max_events}")
    if np.any(np.isinf(horizon)):
        if max_events is None:
            raise ValueError("an unbounded window (horizon=inf) needs max_events")
        rho = params.spectral_radius()
        if rho >= 1:
            raise ValueError(f"spectral radius {rho:.3f} >= 1: the process explodes on an unbounded "
                             "window; use a finite horizon or kernels with smaller norms")
    events = _Events()
    if isinstance(params.kernels, ExpKernels):
        _simulate_exp(params, horizon, max_events, rng, events)
    else:
        _simulate_finite(params, horizon, max_events, rng, events)
    times, types, offsets = events.ragged(n_sequences)
    t_end = horizon
    if max_events is not None:
        capped = np.diff(offsets) >= max_events
        t_end[capped] = times[offsets[1:][capped] - 1]
    return times, types, offsets, t_end


# ------------------------------------------------------------------------------------------ checks


def compensator_at_events(params: HawkesParams, times: np.ndarray, types: np.ndarray) -> np.ndarray:
    """Per-type compensators ``Lambda_i(t_k) = int_0^{t_k} lambda_i`` at each event of one sequence.

    times (n,) sorted, types (n,) in [0, C). Returns (n, C). By the time-rescaling theorem the
    increments of ``Lambda_i`` between consecutive type-i events are i.i.d. Exp(1). O(n^2) memory.
    """
    times = np.asarray(times, dtype=np.float64)
    types = np.asarray(types, dtype=np.intp)
    lags = times[:, None] - times[None, :]  # [at event k, from event j]
    before = np.tril(np.ones(lags.shape, dtype=bool), k=-1)
    contrib = params.kernels.integral(np.where(before, lags, 0.0),
                                      np.broadcast_to(types[None, :], lags.shape))
    return params.baseline * times[:, None] + (contrib * before[..., None]).sum(axis=1)


def log_likelihood(params: HawkesParams, times: np.ndarray, types: np.ndarray,
                   t_end: float) -> float:
    """Exact log-likelihood (nats) of one sequence observed on [0, t_end] under ``params``:
    ``sum_k log lambda_{c_k}(t_k) - sum_i Lambda_i(t_end)``.

    times (n,) sorted, types (n,) in [0, C), t_end >= times[-1]. O(n^2) memory, like
    :func:`compensator_at_events`; intensities just before each event (left limits).
    """
    times = np.asarray(times, dtype=np.float64)
    types = np.asarray(types, dtype=np.intp)
    n, k = len(times), params.kernels
    lam = np.tile(params.baseline, (n, 1))
    if n > 1:
        at, src_event = np.tril_indices(n, -1)  # pairs (event at, earlier event src_event)
        lam += k.intensity_and_bound(times[at] - times[src_event], types[src_event], at, n)[0]
    compensator = params.baseline.sum() * t_end
    if n:
        compensator += k.integral(t_end - times, types).sum()
    with np.errstate(divide="ignore"):  # an event where the intensity is 0 has likelihood 0
        return float(np.log(lam[np.arange(n), types]).sum() - compensator)


def rescaled_intervals(params: HawkesParams, times: np.ndarray, types: np.ndarray,
                       per_type: bool = False) -> np.ndarray:
    """Compensator increments between consecutive events, from 0 (time-rescaling theorem).

    ``per_type=False``: increments of the total compensator between consecutive events of any
    type; i.i.d. Exp(1) exactly when the sequence was stopped at a fixed event count.
    ``per_type=True``: increments of ``Lambda_i`` between consecutive type-i events, pooled over
    types; i.i.d. Exp(1) too, but dropping each type's censored last interval biases them by
    O(1 / events per type) on a finite window.
    """
    comp = compensator_at_events(params, times, types)
    if not per_type:
        return np.diff(np.concatenate([[0.0], comp.sum(axis=1)]))
    out = []
    for c in range(params.n_types):
        sel = np.flatnonzero(np.asarray(types) == c)
        out.append(np.diff(np.concatenate([[0.0], comp[sel, c]])))
    return np.concatenate(out)


def mean_count_steps(params: HawkesParams, step: float) -> Iterator[float]:
    """Yield the expected number of events (all types) ``E N(k * step)`` for k = 0, 1, 2, ...

    Solves the renewal equation ``m(t) = mu + int_0^t phi(t - s) m(s) ds`` for the mean intensity
    ``m``: exactly (matrix exponential of a linear ODE on the mean excitation state) for
    exponential kernels; for finite-support kernels on the grid of ``step`` with ``m`` held
    constant on each cell (first-order accurate, exact kernel integrals).
    """
    if not (np.isfinite(step) and step > 0):
        raise ValueError(f"step must be a positive finite time, got {step}")
    kern = params.kernels
    c = params.n_types
    mu = params.baseline
    if isinstance(kern, ExpKernels):
        # state x = [E excite (C*C, [target, source] row-major), E N (C), 1]
        d = c * c + c + 1
        gen = np.zeros((d, d))
        jump = kern.adjacency * kern.decays
        for i in range(c):
            for j in range(c):
                r = i * c + j
                gen[r, r] -= kern.decays[i, j]
                gen[r, j * c:(j + 1) * c] += jump[i, j]  # E lambda_j = mu_j + sum_l E excite_jl
                gen[r, -1] += jump[i, j] * mu[j]
            gen[c * c + i, i * c:(i + 1) * c] = 1.0
            gen[c * c + i, -1] = mu[i]
        propagate = expm(gen * step)
        x = np.zeros(d)
        x[-1] = 1.0
        while True:
            yield float(x[c * c:c * c + c].sum())
            x = propagate @ x
    n_lags = max(1, int(np.ceil(kern.support / step)))
    lag_grid = np.arange(n_lags + 1) * step
    cum = kern.integral(np.repeat(lag_grid, c), np.tile(np.arange(c), n_lags + 1))
    cum = cum.reshape(n_lags + 1, c, c).transpose(0, 2, 1)  # [lag, target, source]
    weights = np.diff(cum, axis=0)[::-1]  # mass of phi on lag cells, farthest first
    history = np.zeros((n_lags, c))  # mean intensity on the last n_lags cells, oldest first
    count = 0.0
    while True:
        yield count
        lam = mu + np.einsum("dij,dj->i", weights, history)
        count += float(lam.sum()) * step
        history = np.concatenate([history[1:], lam[None]])


def mean_count_curve(params: HawkesParams, t_max: float, n_steps: int = 2000
                     ) -> tuple[np.ndarray, np.ndarray]:
    """``(t (n_steps + 1,), E N(t))`` on an even grid of [0, t_max] (see :func:`mean_count_steps`)."""
    steps = mean_count_steps(params, t_max / n_steps)
    return np.linspace(0.0, t_max, n_steps + 1), np.array([next(steps) for _ in range(n_steps + 1)])


def window_for_mean_count(params: list[HawkesParams], target: float, step: float = 0.005,
                          max_time: float = 1e5) -> float:
    """Observation window T at which the expected events per sequence, averaged over the
    processes in ``params`` (equal shares), reach ``target``; linear between grid points."""
    if not target > 0:
        raise ValueError(f"the target mean length must be positive, got {target}")
    streams = [mean_count_steps(p, step) for p in params]
    prev = float(np.mean([next(s) for s in streams]))
    k = 0
    while True:
        cur = float(np.mean([next(s) for s in streams]))
        k += 1
        if cur >= target:
            return (k - 1 + (target - prev) / (cur - prev)) * step
        if k * step > max_time:
            raise ValueError(f"the processes reach only {cur:.3g} events on average by t = {max_time:g}; "
                             f"cannot reach a mean length of {target:g} (baselines too small?)")
        prev = cur


# ------------------------------------------------------------------------------ tick (reference)


def tick_simulator(params: HawkesParams, end_time: float, seed: int = 0):
    """tick's ``SimuHawkes`` for the same process (the reference simulator; needs ``tick``).

    Exponential kernels become ``HawkesKernelExp(A_ij, B_ij)``, sin kernels
    ``HawkesKernelTimeFunc`` on the same knots (linear interpolation, zero after the support),
    boxes a constant ``TimeFunction`` on [0, width].
    """
    from tick.base import TimeFunction
    from tick.hawkes import (
        HawkesKernel0,
        HawkesKernelExp,
        HawkesKernelTimeFunc,
        SimuHawkes,
    )

    kern = params.kernels
    c = params.n_types

    def kernel(i: int, j: int):
        if isinstance(kern, ExpKernels):
            if kern.adjacency[i, j] == 0:
                return HawkesKernel0()
            return HawkesKernelExp(kern.adjacency[i, j], kern.decays[i, j])
        if isinstance(kern, SinKernels):
            return HawkesKernelTimeFunc(t_values=kern.knots, y_values=kern.knot_values[i, j])
        if kern.width[i, j] == 0 or kern.height[i, j] == 0:
            return HawkesKernel0()
        h = kern.height[i, j]
        return HawkesKernelTimeFunc(TimeFunction(([0.0, kern.width[i, j]], [h, h]),
                                                 border_type=TimeFunction.Border0,
                                                 inter_mode=TimeFunction.InterConstRight))

    return SimuHawkes(kernels=[[kernel(i, j) for j in range(c)] for i in range(c)],
                      baseline=list(params.baseline), end_time=float(end_time), seed=seed,
                      verbose=False)


def simulate_hawkes_tick(params: HawkesParams, n_sequences: int, horizon: float, seed: int = 0
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """tick's per-sequence loop (one ``simulate()`` per sequence, seeds ``seed + 1 ...``):
    ``(times (E,), types (E,) int32, offsets (n + 1,))`` like :func:`simulate_hawkes`."""
    sim = tick_simulator(params, horizon, seed + 1)
    times, types, lengths = [], [], []
    for i in range(n_sequences):
        sim.reset()
        sim.seed = seed + 1 + i
        sim.simulate()
        t = np.concatenate(sim.timestamps)
        k = np.concatenate([np.full(len(ts), c, np.int32) for c, ts in enumerate(sim.timestamps)])
        order = np.argsort(t, kind="stable")
        times.append(t[order])
        types.append(k[order])
        lengths.append(len(t))
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    if not n_sequences:
        return np.zeros(0), np.zeros(0, np.int32), offsets
    return np.concatenate(times), np.concatenate(types), offsets
