"""Shared parsing helpers for the loaders: checked table reading, the core's conversion and
validation with errors that name the file and line, label encoding and the hold-out of the
labelled last event.

Every error is a :class:`~loaders._fetch.DataFormatError` naming the file, the row (CSV: the line
number in the file, header = line 1; Parquet: the 0-based row) or the sequence, and the problem.
Rows are grouped into sequences and times and types checked by the core
(:func:`benchmark.core.convert.from_columns`, :meth:`EventSequences.validate`, both vectorised);
the helpers here map the failing row, sequence or event back to the file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.core.convert import TableRowError, from_columns
from benchmark.core.sequences import EventSequences, SequenceValidationError
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


def table_to_sequences(
    path: Path,
    ids: np.ndarray,
    times: np.ndarray,
    types: np.ndarray,
    n_types: int | None = None,
    *,
    sort: bool,
    seq_col: str,
    time_col: str = "time",
    type_col: str = "type",
    rows: np.ndarray | None = None,
    **kwargs: Any,
) -> tuple[EventSequences, np.ndarray]:
    """:func:`benchmark.core.convert.from_columns` on columns read from ``path``.

    Parameters
    ----------
    path : Path
        The file the columns come from (for messages).
    ids, times, types, n_types, sort, seq_col, time_col, type_col, **kwargs
        As in :func:`~benchmark.core.convert.from_columns`.
    rows : int ndarray, optional
        The file's data row (0-based) of each entry of the columns, when they are a selection
        of the file's rows; default the identity.

    Returns
    -------
    sequences : EventSequences
    order : int64 ndarray (E,)
        The index into the given columns of each event, in event order.

    Raises
    ------
    DataFormatError
        ``FILE: line N: problem`` (Parquet: ``row N``) for the first bad row.
    """
    try:
        return from_columns(ids, times, types, n_types, sort=sort, seq_col=seq_col,
                            time_col=time_col, type_col=type_col, **kwargs)
    except TableRowError as e:
        row = e.row if rows is None else int(rows[e.row])
        raise DataFormatError(f"{path}: {row_name(path, row)}: {e.problem}") from None


def lists_to_sequences(times: list[np.ndarray], types: list[np.ndarray], source: str | Path,
                       where: Callable[[int, int | None], str], **kwargs: Any) -> EventSequences:
    """:meth:`EventSequences.from_lists` with errors that name the source's sequence and event.

    Parameters
    ----------
    times, types : list of ndarray
        One array per sequence.
    source : str or Path
        The file or folder read, for a problem that is not one sequence's.
    where : callable
        ``where(sequence, event)`` names sequence ``sequence`` (0-based) and, when not None, its
        event ``event`` (0-based) in the source, e.g. ``"FILE: sequence 3"`` or
        ``"DIR/4.csv: line 5"``.
    **kwargs
        Passed to :meth:`EventSequences.from_lists`.

    Raises
    ------
    DataFormatError
        ``where(...): problem`` for the first problem that :meth:`EventSequences.validate`
        finds (a non-finite or negative time, unsorted times, a type outside the range).
    """
    try:
        return EventSequences.from_lists(times, types, **kwargs)
    except SequenceValidationError as e:
        if e.sequence is None:
            raise DataFormatError(f"{source}: {e}") from None
        raise DataFormatError(f"{where(e.sequence, e.event)}: {e.problem}") from None


def portable_source(*paths: str | Path, source: str | None = None) -> str:
    """The ``source`` a loader stores in the sequences' metadata (``meta["source"]``).

    That metadata is part of the dataset fingerprint, hence of every run key, so it must not
    depend on where the files are: ``source`` when given (registered loaders pass their raw
    files' paths relative to the data directory, e.g. ``"linkedin/Linkedin.csv"``), else the
    file (or folder) names of ``paths``, joined with ``", "``; never an absolute path, a home
    directory, a host or a user name.
    """
    if source is not None:
        return source
    return ", ".join(Path(p).name for p in paths)


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
