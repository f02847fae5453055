"""The common in-memory format: :class:`EventSequences`, a columnar ragged array of event sequences.

N sequences with E events in total are held as three numpy arrays and nothing per event:

* ``times``   float64, shape (E,): event times, in ``time_unit``, non-decreasing within a sequence;
* ``types``   int32,   shape (E,): event types in ``[0, n_types)``;
* ``offsets`` int64,   shape (N + 1,): sequence i is ``times[offsets[i]:offsets[i + 1]]``.

Slicing one sequence or a contiguous range of sequences returns numpy views (no copy).
Ground-truth labels are *not* part of this object: a method only ever receives an
``EventSequences``; labels live in :class:`benchmark.core.dataset.Dataset` and stay with the harness.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import numpy as np


class SequenceValidationError(ValueError):
    """Raised when event sequences violate the format (names the sequence and the problem).

    Parameters
    ----------
    message : str
        The whole message, e.g. ``"K2_C5: sequence 3: times are not sorted (event 2 at 1.0
        after 3.0)"``.
    sequence : int, optional
        Index (0-based) of the first bad sequence, when the problem is one sequence's; else None.
    event : int, optional
        Index (0-based, within ``sequence``) of the bad event, when the problem is one event's.
    problem : str, optional
        The message without the dataset and sequence names (``"times are not sorted (event 2 at
        1.0 after 3.0)"``), so that a reader can name the sequence its own way (a file and line).
    """

    def __init__(self, message: str, *, sequence: int | None = None, event: int | None = None,
                 problem: str | None = None) -> None:
        super().__init__(message)
        self.sequence = sequence
        self.event = event
        self.problem = problem


@dataclass(frozen=True, eq=False)
class EventSequences:
    """N event sequences stored as columnar ragged arrays.

    Parameters
    ----------
    times : float64 array (E,), event times (``time_unit``), non-decreasing within each sequence.
    types : int array (E,), event types in ``[0, n_types)``; stored as int32.
    offsets : int64 array (N + 1,), ``offsets[0] == 0``, ``offsets[-1] == E``, non-decreasing.
    n_types : number of event types.
    seq_ids : optional array (N,) of sequence identifiers (str or int); defaults to ``0..N-1``.
    type_names : optional list of ``n_types`` names.
    t_end : optional float64 array (N,), end of each sequence's observation window
        (>= its last event). ``None`` means the window ends at the last event.
    meta : free-form metadata (``name``, ``source``, ``time_unit`` ...). Never holds labels.
    allow_empty : whether sequences without events are permitted.
    """

    times: np.ndarray
    types: np.ndarray
    offsets: np.ndarray
    n_types: int
    seq_ids: np.ndarray | None = None
    type_names: tuple[str, ...] | None = None
    t_end: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    allow_empty: bool = False

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "times", np.ascontiguousarray(self.times, dtype=np.float64))
        set_(self, "types", np.ascontiguousarray(self.types, dtype=np.int32))
        set_(self, "offsets", np.ascontiguousarray(self.offsets, dtype=np.int64))
        set_(self, "n_types", int(self.n_types))
        if self.seq_ids is None:
            set_(self, "seq_ids", np.arange(len(self.offsets) - 1, dtype=np.int64))
        else:
            set_(self, "seq_ids", np.asarray(self.seq_ids))
        if self.type_names is not None:
            set_(self, "type_names", tuple(str(n) for n in self.type_names))
        if self.t_end is not None:
            set_(self, "t_end", np.ascontiguousarray(self.t_end, dtype=np.float64))
        set_(self, "meta", dict(self.meta))
        self.validate()

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_lists(
        cls,
        times: Sequence[Sequence[float]],
        types: Sequence[Sequence[int]],
        n_types: int | None = None,
        **kwargs: Any,
    ) -> "EventSequences":
        """Build from per-sequence lists (convenient for small data and tests)."""
        if len(times) != len(types):
            raise SequenceValidationError(
                f"got {len(times)} time lists but {len(types)} type lists"
            )
        lengths = np.array([len(t) for t in times], dtype=np.int64)
        for i, (t, k) in enumerate(zip(times, types)):
            if len(t) != len(k):
                raise SequenceValidationError(
                    f"sequence {i}: {len(t)} times but {len(k)} types"
                )
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        flat_t = np.concatenate([np.asarray(t, dtype=np.float64) for t in times]) if len(times) else np.zeros(0)
        flat_k = np.concatenate([np.asarray(k, dtype=np.int64) for k in types]) if len(types) else np.zeros(0, int)
        if n_types is None:
            n_types = int(flat_k.max()) + 1 if flat_k.size else 1
        return cls(flat_t, flat_k, offsets, n_types, **kwargs)

    # ------------------------------------------------------------------ validation
    def _name(self, i: int) -> str:
        sid = self.seq_ids[i]
        label = f"sequence {i}" if str(sid) == str(i) else f"sequence {i} (id {sid!r})"
        name = self.meta.get("name")
        return f"{name}: {label}" if name else label

    def _error(self, i: int, problem: str, event: int | None = None,
               sep: str = ": ") -> SequenceValidationError:
        """The error for ``problem`` of sequence ``i`` (and its event ``event``)."""
        return SequenceValidationError(f"{self._name(i)}{sep}{problem}", sequence=int(i),
                                       event=None if event is None else int(event),
                                       problem=problem)

    def validate(self) -> None:
        """Check the invariants; raise :class:`SequenceValidationError` naming the first bad sequence."""
        t, k, off = self.times, self.types, self.offsets
        if t.ndim != 1 or k.ndim != 1 or off.ndim != 1:
            raise SequenceValidationError("times, types and offsets must be 1-D arrays")
        if len(t) != len(k):
            raise SequenceValidationError(f"{len(t)} times but {len(k)} types")
        if len(off) < 1 or off[0] != 0 or off[-1] != len(t):
            raise SequenceValidationError(
                f"offsets must start at 0 and end at the number of events ({len(t)})"
            )
        lengths = np.diff(off)
        if (lengths < 0).any():
            i = int(np.flatnonzero(lengths < 0)[0])
            raise SequenceValidationError(f"offsets decrease at sequence {i}")
        n = len(lengths)
        if len(self.seq_ids) != n:
            raise SequenceValidationError(f"{len(self.seq_ids)} sequence ids for {n} sequences")
        if self.n_types < 1:
            raise SequenceValidationError(f"n_types must be >= 1, got {self.n_types}")
        if self.type_names is not None and len(self.type_names) != self.n_types:
            raise SequenceValidationError(
                f"{len(self.type_names)} type names for n_types={self.n_types}"
            )
        if not self.allow_empty and (lengths == 0).any():
            i = int(np.flatnonzero(lengths == 0)[0])
            raise self._error(i, "is empty (no events)", sep=" ")
        seq_of = np.repeat(np.arange(n), lengths) if len(t) else np.zeros(0, int)
        bad = ~np.isfinite(t)
        if bad.any():
            e = int(np.flatnonzero(bad)[0])
            i = int(seq_of[e])
            raise self._error(i, f"event {e - off[i]} has a non-finite time ({t[e]})", e - off[i])
        if (t < 0).any():
            e = int(np.flatnonzero(t < 0)[0])
            i = int(seq_of[e])
            raise self._error(i, f"event {e - off[i]} has a negative time ({t[e]})", e - off[i])
        if len(t) > 1:
            dec = np.diff(t) < 0
            inner = off[1:-1]
            dec[inner[(inner > 0) & (inner < len(t))] - 1] = False  # boundaries may decrease
            if dec.any():
                e = int(np.flatnonzero(dec)[0]) + 1
                i = int(seq_of[e])
                raise self._error(i, f"times are not sorted (event {e - off[i]} at {t[e]} after "
                                     f"{t[e - 1]})", e - off[i])
        if len(k):
            badk = (k < 0) | (k >= self.n_types)
            if badk.any():
                e = int(np.flatnonzero(badk)[0])
                i = int(seq_of[e])
                raise self._error(i, f"event {e - off[i]} has type {k[e]} outside "
                                     f"[0, {self.n_types})", e - off[i])
        if self.t_end is not None:
            if self.t_end.shape != (n,):
                raise SequenceValidationError(f"t_end has shape {self.t_end.shape}, expected ({n},)")
            last = self.last_times()
            nonempty = lengths > 0
            badw = ~np.isfinite(self.t_end) | (nonempty & (self.t_end < last))
            if badw.any():
                i = int(np.flatnonzero(badw)[0])
                raise self._error(i, f"window end {self.t_end[i]} is before its last event "
                                     f"{last[i]}")

    # ------------------------------------------------------------------ access
    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def n_events(self) -> int:
        return len(self.times)

    @property
    def lengths(self) -> np.ndarray:
        """int64 array (N,): number of events per sequence."""
        return np.diff(self.offsets)

    def sequence(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(times, types) of sequence ``i`` as views into the columnar arrays."""
        a, b = self.offsets[i], self.offsets[i + 1]
        return self.times[a:b], self.types[a:b]

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for i in range(len(self)):
            yield self.sequence(i)

    def first_times(self) -> np.ndarray:
        """float64 (N,): time of each sequence's first event (0 for empty sequences)."""
        out = np.zeros(len(self))
        ne = self.lengths > 0
        out[ne] = self.times[self.offsets[:-1][ne]]
        return out

    def last_times(self) -> np.ndarray:
        """float64 (N,): time of each sequence's last event (0 for empty sequences)."""
        out = np.zeros(len(self))
        ne = self.lengths > 0
        out[ne] = self.times[self.offsets[1:][ne] - 1]
        return out

    def window_end(self) -> np.ndarray:
        """float64 (N,): end of each observation window (``t_end`` or the last event time)."""
        return self.t_end.copy() if self.t_end is not None else self.last_times()

    def seq_index(self) -> np.ndarray:
        """int64 (E,): index of the sequence each event belongs to."""
        return np.repeat(np.arange(len(self), dtype=np.int64), self.lengths)

    def _replace(self, **changes: Any) -> "EventSequences":
        fields = dict(
            times=self.times, types=self.types, offsets=self.offsets, n_types=self.n_types,
            seq_ids=self.seq_ids, type_names=self.type_names, t_end=self.t_end,
            meta=self.meta, allow_empty=self.allow_empty,
        )
        fields.update(changes)
        return EventSequences(**fields)

    def slice(self, start: int, stop: int) -> "EventSequences":
        """Sequences ``start:stop`` sharing memory with this object (no copy of events)."""
        a, b = self.offsets[start], self.offsets[stop]
        return self._replace(
            times=self.times[a:b], types=self.types[a:b],
            offsets=self.offsets[start:stop + 1] - a,
            seq_ids=self.seq_ids[start:stop],
            t_end=None if self.t_end is None else self.t_end[start:stop],
        )

    def subset(self, index: np.ndarray) -> "EventSequences":
        """Sequences at ``index`` (any order); copies the selected events."""
        index = np.asarray(index, dtype=np.int64)
        lengths = self.lengths[index]
        starts = self.offsets[:-1][index]
        ev = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths) + np.arange(lengths.sum())
        return self._replace(
            times=self.times[ev], types=self.types[ev],
            offsets=np.concatenate([[0], np.cumsum(lengths)]),
            seq_ids=self.seq_ids[index],
            t_end=None if self.t_end is None else self.t_end[index],
        )

    def time_prefix(self, fraction: float) -> tuple["EventSequences", np.ndarray]:
        """Keep events in the first ``fraction`` of each sequence's time span.

        The span is [first event, window end]. Returns the prefix sequences (window end set to
        the cut point) and a bool mask (E,) of the events that were kept. Sequences may become
        empty only if they were; the first event is always kept.
        """
        first = self.first_times()
        cut = first + fraction * (self.window_end() - first)
        seq = self.seq_index()
        keep = self.times <= cut[seq]
        new_len = np.bincount(seq[keep], minlength=len(self))
        return (
            self._replace(
                times=self.times[keep], types=self.types[keep],
                offsets=np.concatenate([[0], np.cumsum(new_len)]), t_end=cut,
            ),
            keep,
        )

    def without_meta(self) -> "EventSequences":
        """A copy of the view with only neutral metadata (name, source, time_unit)."""
        keep = {k: v for k, v in self.meta.items() if k in ("name", "source", "time_unit")}
        return self._replace(meta=keep)

    def summary(self) -> dict[str, Any]:
        """Basic statistics: sequences, events, mean/min/max length, types, mean window."""
        lens = self.lengths
        return {
            "n_sequences": len(self),
            "n_events": int(self.n_events),
            "mean_length": float(lens.mean()) if len(lens) else 0.0,
            "min_length": int(lens.min()) if len(lens) else 0,
            "max_length": int(lens.max()) if len(lens) else 0,
            "n_types": self.n_types,
            "mean_window": float((self.window_end() - self.first_times()).mean()) if len(lens) else 0.0,
        }

    def __repr__(self) -> str:
        name = self.meta.get("name", "")
        return (
            f"EventSequences({name + ', ' if name else ''}n_sequences={len(self)}, "
            f"n_events={self.n_events}, n_types={self.n_types})"
        )
