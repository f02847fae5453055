"""Shared parsing helpers for the loaders: checked table reading, grouping rows into sequences,
label encoding and the hold-out of the labelled last event.

Every error is a :class:`~loaders._fetch.DataFormatError` naming the file, the row (CSV: the line
number in the file, header = line 1; Parquet: the 0-based row) or the sequence, and the problem.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from benchmark.core.sequences import EventSequences
from loaders._fetch import DataFormatError


def row_name(path: Path, row: int) -> str:
    """Human name of data row ``row`` (0-based) of a CSV (its line number) or Parquet file."""
    return f"row {row}" if Path(path).suffix.lower() == ".parquet" else f"line {row + 2}"


def show(value: Any) -> str:
    """``repr`` of a value from a table, with numpy scalars shown as plain Python values."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def read_table(path: str | Path, columns: list[str] | None = None, *,
               only_columns: bool = False, **csv_kwargs: Any):
    """Read a CSV or Parquet file into a pandas DataFrame; check that ``columns`` exist.

    ``only_columns=True`` reads just ``columns`` (less memory for wide files). Raises
    :class:`DataFormatError` for a missing, empty, truncated or unparsable file, and for missing
    columns (listing the columns that are there).
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise DataFormatError(f"{path}: no such file")
    parquet = path.suffix.lower() == ".parquet"
    try:
        if parquet:
            import pyarrow.parquet as pq

            header = pq.read_schema(path).names
        else:
            header = list(pd.read_csv(path, nrows=0, **csv_kwargs).columns)
        absent = [c for c in columns or () if c not in header]
        if absent:
            raise DataFormatError(f"{path}: missing column(s) {absent}; the file has "
                                  f"{list(map(str, header))}")
        use = list(columns) if only_columns and columns else None
        if parquet:
            df = pd.read_parquet(path, columns=use)
        else:
            df = pd.read_csv(path, usecols=use, **csv_kwargs)
    except DataFormatError:
        raise
    except pd.errors.EmptyDataError:
        raise DataFormatError(f"{path}: the file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as e:
        raise DataFormatError(f"{path}: cannot be parsed (truncated or corrupt?): {e}") from None
    except Exception as e:  # pyarrow raises ArrowInvalid and others for corrupt Parquet
        raise DataFormatError(f"{path}: cannot be read (truncated or corrupt?): {e}") from None
    if len(df) == 0:
        raise DataFormatError(f"{path}: the table has a header but no rows")
    return df


def numeric_column(df, column: str, path: Path, *, integer: bool = False) -> np.ndarray:
    """Column as float64 (or int64 with ``integer=True``); a blank, non-numeric, non-finite or
    (for integers) fractional value raises :class:`DataFormatError` naming its row."""
    import pandas as pd

    raw = df[column]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if integer:
        bad |= np.isfinite(values) & (values != np.round(values))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        kind = "an integer" if integer else "a finite number"
        raise DataFormatError(
            f"{path}: {row_name(path, i)}: column {column!r} is {show(raw.iloc[i])}, "
            f"expected {kind}"
        )
    return values.astype(np.int64) if integer else values


def group_into_sequences(
    path: Path,
    ids: np.ndarray,
    times: np.ndarray,
    *,
    sort: bool,
    id_column: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group event rows into sequences.

    Sequences are ordered by the first appearance of their id. With ``sort=False`` the rows of a
    sequence must be contiguous and their times non-decreasing (else :class:`DataFormatError`
    naming the sequence and row); with ``sort=True`` rows are grouped and stably sorted by time.

    Returns ``order`` int64 (E,) (row indices in event order), ``offsets`` int64 (N + 1,) and the
    unique ids (N,).
    """
    import pandas as pd

    codes, uniq = pd.factorize(ids, sort=False)
    if (codes < 0).any():
        i = int(np.flatnonzero(codes < 0)[0])
        raise DataFormatError(f"{path}: {row_name(path, i)}: column {id_column!r} is empty")
    if sort:  # two stable sorts: by time, then by sequence (much faster than lexsort)
        by_time = np.argsort(times, kind="stable")
        order = by_time[np.argsort(codes[by_time], kind="stable")]
    else:
        order = np.arange(len(codes))
        jumps = np.flatnonzero(np.diff(codes) != 0) + 1
        if len(jumps) != len(uniq) - 1:
            seen = np.zeros(len(uniq), bool)
            for j in np.concatenate([[0], jumps]):
                if seen[codes[j]]:
                    raise DataFormatError(
                        f"{path}: {row_name(path, int(j))}: sequence {show(uniq[codes[j]])} "
                        f"continues after other sequences (its rows must be contiguous; pass "
                        f"sort=True to group them)"
                    )
                seen[codes[j]] = True
        back = np.flatnonzero((np.diff(times) < 0) & (np.diff(codes) == 0)) + 1
        if len(back):
            j = int(back[0])
            raise DataFormatError(
                f"{path}: {row_name(path, j)}: sequence {show(uniq[codes[j]])} has unsorted times "
                f"({times[j]} after {times[j - 1]}; pass sort=True to sort them)"
            )
    lengths = np.bincount(codes, minlength=len(uniq))
    return order, np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64), np.asarray(uniq)


def encode_categories(values: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Map category values to int codes ``0..K-1`` in sorted order of the values.

    Returns codes int64 (len(values),) and the K names (``str`` of each value).
    """
    import pandas as pd

    codes, names = pd.factorize(np.asarray(values), sort=True)  # hashing: O(n), not a full sort
    if (codes < 0).any():
        raise ValueError("missing values cannot be encoded as categories")
    return codes.astype(np.int64), [str(n) for n in names]


def drop_last_event(seqs: EventSequences) -> EventSequences:
    """The sequences without their last event (the hold-out variant of last-event pseudo-labels).

    The observation window ends at the new last event (``t_end=None``), so neither the type nor
    the time of the removed event stays visible. Every sequence needs at least 2 events.
    """
    lengths = seqs.lengths
    if (lengths < 2).any():
        i = int(np.flatnonzero(lengths < 2)[0])
        raise DataFormatError(
            f"{seqs.meta.get('name', 'dataset')}: sequence {show(seqs.seq_ids[i])} has "
            f"{lengths[i]} event(s); hiding its last event needs at least 2"
        )
    keep = np.ones(seqs.n_events, bool)
    keep[seqs.offsets[1:] - 1] = False
    return EventSequences(
        seqs.times[keep], seqs.types[keep], seqs.offsets - np.arange(len(seqs) + 1),
        seqs.n_types, seq_ids=seqs.seq_ids, type_names=seqs.type_names, t_end=None,
        meta={**seqs.meta, "holdout": "last event removed (it defines the pseudo-label)"},
    )
