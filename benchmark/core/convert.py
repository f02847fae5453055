"""Converters between :class:`EventSequences` and other representations.

Every ``to_X`` has a ``from_X`` and the pair round-trips (tests/test_convert.py):

* pandas long table (``seq_id, time, type``);
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
    """Build from a long table. Rows of one sequence must be contiguous unless ``sort=True``
    (then rows are grouped by sequence id in order of first appearance and sorted by time,
    stably). Unsorted times within a sequence raise unless ``sort=True``.

    The type column holds integer codes (a float column only whole numbers); ``n_types`` defaults
    to the largest code + 1. A NaN, fractional or negative type, or (``n_types`` given) one
    ``>= n_types``, raises :class:`SequenceValidationError` naming the row and its sequence."""
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
    types = values.astype(np.int64)
    codes, uniq = pd.factorize(ids, sort=False)
    if sort:
        order = np.lexsort((np.arange(len(times)), times, codes))
        codes, times, types = codes[order], times[order], types[order]
    elif len(codes) and np.count_nonzero(np.diff(codes)) != len(uniq) - 1:
        raise SequenceValidationError(
            "rows of a sequence are not contiguous; pass sort=True to group them"
        )
    lengths = np.bincount(codes, minlength=len(uniq))
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    if n_types is None:
        n_types = int(types.max()) + 1 if len(types) else 1
    return EventSequences(times, types, offsets, n_types, seq_ids=np.asarray(uniq), **kwargs)


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
