"""Converters between :class:`EventSequences` and other representations.

Every ``to_X`` has a ``from_X`` and the pair round-trips (tests/test_convert.py):

* pandas long table (``seq_id, time, type``); :func:`from_columns` is the one conversion of a
  long table's columns into sequences, used by :func:`from_pandas` and by every loader of tables;
* Hugging Face ``datasets`` with the EasyTPP schema (``time_since_start``,
  ``time_since_last_event``, ``type_event``, ``dim_process``, ``seq_len``, ``seq_idx``);
* tick's list (sequences) of lists (types) of timestamp arrays;
* padded torch tensors (times, types, lengths, mask).

``binned_counts`` gives the per-sequence binned count matrix that LAL and other methods read.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .sequences import EventSequences, SequenceValidationError


# ---------------------------------------------------------------------------------------- pandas
def to_pandas(seqs: EventSequences):
    """Long table with columns ``seq_id, time, type`` (one row per event, sequence order kept)."""
    import pandas as pd

    return pd.DataFrame({
        "seq_id": np.repeat(seqs.seq_ids, seqs.lengths),
        "time": seqs.times,
        "type": seqs.types,
    })


class TableRowError(SequenceValidationError):
    """A row of a long table that cannot become an event; raised by :func:`from_columns`.

    Parameters
    ----------
    row : int
        Position (0-based) of the bad row in the columns given, i.e. in the table.
    problem : str
        What is wrong, without the row's name, e.g. ``"negative time -1.0"`` or ``"sequence 'u1'
        has unsorted times (1.0 after 2.0; pass sort=True to sort them)"``. A reader of a file
        prefixes it with the file and line.
    where : str, optional
        How the message names the row; default ``"row ROW"``.
    """

    def __init__(self, row: int, problem: str, where: str | None = None) -> None:
        super().__init__(f"{where or f'row {row}'}: {problem}", problem=problem)
        self.row = int(row)


def _show(value: Any) -> str:
    """``repr`` of a table value, numpy scalars shown as plain Python values."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def from_columns(
    ids,
    times,
    types,
    n_types: int | None = None,
    *,
    sort: bool = False,
    seq_col: str = "seq_id",
    time_col: str = "time",
    type_col: str = "type",
    **kwargs: Any,
) -> tuple[EventSequences, np.ndarray]:
    """Group the rows of a long table (one row per event) into :class:`EventSequences`.

    Parameters
    ----------
    ids : array-like (E,)
        Sequence id of each row (any hashable values; NaN/None is an error).
    times : array-like of float (E,)
        Event times.
    types : array-like of int (E,)
        Event types, codes in ``[0, n_types)``.
    n_types : int, optional
        Number of event types; default the largest code + 1 (at least 1).
    sort : bool, default False
        False: the rows of a sequence must be contiguous and in time order. True: rows are
        grouped by sequence and stably sorted by time (ties keep the table's order).
    seq_col, time_col, type_col : str
        Column names, used in the error messages only.
    **kwargs
        Passed to :class:`EventSequences` (``type_names``, ``meta``, ...), except ``seq_ids``.

    Returns
    -------
    sequences : EventSequences
        Sequences in order of the first appearance of their id; ``seq_ids`` are the ids.
    rows : int64 ndarray (E,)
        The table row of each event (event order), e.g. to reorder other columns.

    Raises
    ------
    TableRowError
        For the first bad row: an empty id, a sequence whose rows are not contiguous
        (``sort=False``), and what :meth:`EventSequences.validate` finds (a non-finite or negative
        time, unsorted times, a type outside ``[0, n_types)``), mapped back to the row.
    """
    import pandas as pd

    times = np.asarray(times, dtype=np.float64)
    types = np.asarray(types, dtype=np.int64)
    codes, uniq = pd.factorize(np.asarray(ids), sort=False)
    if (codes < 0).any():
        raise TableRowError(int(np.flatnonzero(codes < 0)[0]), f"column {seq_col!r} is empty")
    if sort:  # two stable sorts: by time, then by sequence (much faster than lexsort)
        by_time = np.argsort(times, kind="stable")
        rows = by_time[np.argsort(codes[by_time], kind="stable")]
    else:
        rows = np.arange(len(codes))
        starts = np.concatenate([[0], np.flatnonzero(np.diff(codes) != 0) + 1])
        if len(starts) != len(uniq):  # ids are coded in order of first appearance
            j = int(starts[np.flatnonzero(codes[starts] != np.arange(len(starts)))[0]])
            raise TableRowError(j, f"sequence {_show(uniq[codes[j]])} continues after other "
                                   f"sequences (its rows must be contiguous; pass sort=True to "
                                   f"group them)")
    offsets = np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=len(uniq)))])
    given = n_types is not None
    if not given:
        n_types = max(int(types.max()) + 1, 1) if len(types) else 1
    t, k = times[rows], types[rows]
    try:
        seqs = EventSequences(t, k, offsets, n_types, seq_ids=np.asarray(uniq), **kwargs)
    except SequenceValidationError as err:
        if err.sequence is None or err.event is None:
            raise
        e = int(offsets[err.sequence]) + err.event
        sid = _show(uniq[err.sequence])
        if not np.isfinite(t[e]):
            problem = f"column {time_col!r} is {t[e]}, expected a finite number"
        elif t[e] < 0:
            problem = f"negative {time_col} {t[e]}"
        elif err.event > 0 and t[e] < t[e - 1]:
            problem = (f"sequence {sid} has unsorted times ({t[e]} after {t[e - 1]}; pass "
                       f"sort=True to sort them)")
        elif not 0 <= k[e] < n_types:
            problem = (f"{type_col} {k[e]} is outside [0, {n_types})" if given or k[e] >= 0
                       else f"{type_col} {k[e]} is negative")
        else:
            problem = f"sequence {sid}: {err.problem}"
        raise TableRowError(int(rows[e]), problem) from None
    return seqs, rows


def from_pandas(
    df,
    *,
    seq_col: str = "seq_id",
    time_col: str = "time",
    type_col: str = "type",
    n_types: int | None = None,
    sort: bool = False,
    **kwargs: Any,
) -> EventSequences:
    """Build from a long table (a thin wrapper of :func:`from_columns`).

    Rows of one sequence must be contiguous and in time order unless ``sort=True`` (then rows are
    grouped by sequence id in order of first appearance and sorted by time, stably). The type
    column holds integer codes (a float column only whole numbers); ``n_types`` defaults to the
    largest code + 1. Times that are not numbers become NaN.

    Raises
    ------
    SequenceValidationError
        A missing column; a NaN, fractional or negative type, or (``n_types`` given) one
        ``>= n_types``, naming the row (its index label) and its sequence; and the errors of
        :func:`from_columns` as :class:`TableRowError` naming the row by its index label.
    """
    import pandas as pd

    for c in (seq_col, time_col, type_col):
        if c not in df.columns:
            raise SequenceValidationError(f"column {c!r} missing; have {list(df.columns)}")
    ids = df[seq_col].to_numpy()
    times = pd.to_numeric(df[time_col], errors="coerce").to_numpy(dtype=np.float64)
    col = df[type_col]
    if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
        raise SequenceValidationError(
            f"column {type_col!r} must hold integer event types, not {col.dtype}")
    values = col.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~(values >= 0) | (values != np.round(values)) | (values >= (n_types or np.inf))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        row, seq, v = (x.item() if isinstance(x, np.generic) else x
                       for x in (df.index[i], ids[i], col.iloc[i]))
        raise SequenceValidationError(
            f"row {row!r} (sequence {seq!r}): column {type_col!r} is {v!r}, expected "
            + (f"an integer event type in [0, {n_types})" if n_types else
               "a non-negative integer event type"))
    try:
        seqs, _ = from_columns(ids, times, values.astype(np.int64), n_types, sort=sort,
                               seq_col=seq_col, time_col=time_col, type_col=type_col, **kwargs)
    except TableRowError as e:
        raise TableRowError(e.row, e.problem, f"row {_show(df.index[e.row])}") from None
    return seqs


# ---------------------------------------------------------------------- Hugging Face / EasyTPP
def to_easytpp_records(seqs: EventSequences) -> list[dict[str, Any]]:
    """EasyTPP rows: one dict per sequence with lists ``time_since_start``,
    ``time_since_last_event``, ``type_event`` and ints ``seq_len``, ``seq_idx``, ``dim_process``.
    ``time_since_start`` is measured from the sequence's first event, as EasyTPP does."""
    rows = []
    for i in range(len(seqs)):
        t, k = seqs.sequence(i)
        since_start = t - t[0] if len(t) else t
        since_last = np.diff(t, prepend=t[0]) if len(t) else t
        rows.append({
            "time_since_start": since_start.tolist(),
            "time_since_last_event": since_last.tolist(),
            "type_event": k.astype(int).tolist(),
            "seq_len": int(len(t)),
            "seq_idx": i,
            "dim_process": seqs.n_types,
        })
    return rows


def from_easytpp_records(rows, n_types: int | None = None, **kwargs: Any) -> EventSequences:
    """Inverse of :func:`to_easytpp_records`; accepts any iterable of EasyTPP rows/dicts."""
    times, types = [], []
    dims = set()
    for j, row in enumerate(rows):
        for key in ("time_since_start", "type_event"):
            if key not in row:
                raise SequenceValidationError(f"EasyTPP row {j} has no {key!r} field")
        times.append(np.asarray(row["time_since_start"], dtype=np.float64))
        types.append(np.asarray(row["type_event"], dtype=np.int64))
        if row.get("dim_process") is not None:
            dims.add(int(row["dim_process"]))
    if n_types is None:
        n_types = max(dims) if dims else None
    return EventSequences.from_lists(times, types, n_types=n_types, **kwargs)


def to_hf_dataset(seqs: EventSequences):
    """A ``datasets.Dataset`` with the EasyTPP schema."""
    import datasets

    return datasets.Dataset.from_list(to_easytpp_records(seqs))


def from_hf_dataset(ds, n_types: int | None = None, **kwargs: Any) -> EventSequences:
    """Read a ``datasets.Dataset`` (or any iterable of rows) with the EasyTPP schema."""
    return from_easytpp_records(iter(ds), n_types=n_types, **kwargs)


# ------------------------------------------------------------------------------------------ tick
def to_tick(seqs: EventSequences) -> list[list[np.ndarray]]:
    """tick's realizations: ``out[i][c]`` = float64 timestamps of type ``c`` in sequence ``i``."""
    out = []
    for i in range(len(seqs)):
        t, k = seqs.sequence(i)
        out.append([np.ascontiguousarray(t[k == c]) for c in range(seqs.n_types)])
    return out


def from_tick(realizations, **kwargs: Any) -> EventSequences:
    """Merge tick's per-type timestamp arrays into sequences (ties ordered by type)."""
    times, types = [], []
    n_types = None
    for i, real in enumerate(realizations):
        if n_types is None:
            n_types = len(real)
        elif len(real) != n_types:
            raise SequenceValidationError(f"realization {i} has {len(real)} types, expected {n_types}")
        t = np.concatenate([np.asarray(r, dtype=np.float64) for r in real])
        k = np.concatenate([np.full(len(r), c, dtype=np.int64) for c, r in enumerate(real)])
        order = np.lexsort((k, t))
        times.append(t[order])
        types.append(k[order])
    return EventSequences.from_lists(times, types, n_types=n_types or 1, **kwargs)


# ----------------------------------------------------------------------------------------- torch
def to_padded(seqs: EventSequences, max_len: int | None = None, pad_type: int | None = None):
    """Padded torch tensors.

    Returns ``(times, types, lengths, mask)``: times float64 (N, L), types int64 (N, L) padded
    with ``pad_type`` (default ``n_types``), lengths int64 (N,), mask bool (N, L).
    Sequences longer than ``max_len`` keep their *last* ``max_len`` events.
    """
    import torch

    lens = seqs.lengths.copy()
    L = int(lens.max()) if len(lens) else 0
    if max_len is not None and L > max_len:
        L = max_len
    pad = seqs.n_types if pad_type is None else pad_type
    seq = seqs.seq_index()
    pos = np.arange(seqs.n_events) - seqs.offsets[seq]
    drop = np.maximum(lens - L, 0)
    pos = pos - drop[seq]
    keep = pos >= 0
    times = np.zeros((len(seqs), L))
    types = np.full((len(seqs), L), pad, dtype=np.int64)
    times[seq[keep], pos[keep]] = seqs.times[keep]
    types[seq[keep], pos[keep]] = seqs.types[keep]
    lens = np.minimum(lens, L)
    mask = np.arange(L)[None, :] < lens[:, None]
    return (torch.from_numpy(times), torch.from_numpy(types), torch.from_numpy(lens),
            torch.from_numpy(mask))


def from_padded(times, types, lengths, n_types: int, **kwargs: Any) -> EventSequences:
    """Inverse of :func:`to_padded` (left-aligned padding)."""
    t = np.asarray(times)
    k = np.asarray(types)
    lens = np.asarray(lengths).astype(np.int64)
    mask = np.arange(t.shape[1])[None, :] < lens[:, None]
    return EventSequences(t[mask], k[mask], np.concatenate([[0], np.cumsum(lens)]), n_types, **kwargs)


# ---------------------------------------------------------------------------------- binned counts
def binned_counts(
    seqs: EventSequences,
    n_steps: int,
    *,
    start: str = "zero",
    dtype=np.float32,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-sequence partition into ``n_steps`` equal bins with per-type counts.

    The window of sequence i is ``[s_i, window_end_i]`` with ``s_i = 0`` (``start="zero"``) or its
    first event time (``start="first"``); a zero-length window (or one so short that its bin
    width underflows to 0) is treated as one of length 1, i.e. bins of width ``1 / n_steps``.

    Returns ``counts`` of shape (N, n_steps, n_types) and ``bin_width`` float64 (N,)
    (time units per bin). Vectorised: one ``bincount`` over all events.
    """
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    if start not in ("zero", "first"):
        raise ValueError(f"start must be 'zero' or 'first', got {start!r}")
    n = len(seqs)
    s = np.zeros(n) if start == "zero" else seqs.first_times()
    width = (seqs.window_end() - s) / n_steps
    # a zero-length span, or one whose bin width underflows to 0, is treated as of length 1
    width = np.where(width > 0, width, 1.0 / n_steps)
    seq = seqs.seq_index()
    b = np.floor((seqs.times - s[seq]) / width[seq]).astype(np.int64)
    np.clip(b, 0, n_steps - 1, out=b)
    flat = (seq * n_steps + b) * seqs.n_types + seqs.types
    counts = np.bincount(flat, minlength=n * n_steps * seqs.n_types).astype(dtype)
    return counts.reshape(n, n_steps, seqs.n_types), width
