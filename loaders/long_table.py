"""A long table of events (CSV or Parquet): one row per event, columns named by the user.

::

    seq_id,time,type[,label]
    u1,0.5,click,A
    u1,2.0,buy,A
    u2,0.1,click,B

* sequence ids: any values; sequences are ordered by first appearance;
* time: numeric (any unit), non-decreasing within a sequence unless ``sort=True``;
* type: integer codes ``0..C-1`` are used as they are (a float column must hold whole numbers);
  any other values (e.g. strings) are mapped to ``0..C-1`` in sorted order, with the values kept
  as ``type_names``;
* label (optional): constant within a sequence; mapped to ``0..K-1`` in sorted order of the values
  (``meta["label_names"]``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmark.core.dataset import Dataset
from benchmark.core.sequences import EventSequences
from loaders._common import (
    encode_categories,
    group_into_sequences,
    numeric_column,
    read_table,
    row_name,
    show,
)
from loaders._fetch import DataFormatError


def load_long_table(
    path: str | Path,
    *,
    seq_col: str = "seq_id",
    time_col: str = "time",
    type_col: str = "type",
    label_col: str | None = None,
    sort: bool = False,
    n_types: int | None = None,
) -> Dataset:
    """Read a CSV (``.csv``, any other suffix) or Parquet (``.parquet``) long table into a Dataset.

    ``sort=False`` requires each sequence's rows to be contiguous and in time order (an error names
    the offending row); ``sort=True`` groups and stably sorts them. ``n_types`` (numeric codes only)
    defaults to the largest code + 1; a fractional or negative code, or one ``>= n_types``, is a
    :class:`DataFormatError` naming the row. Returns labels (N,) int64 when ``label_col`` is
    given.
    """
    path = Path(path)
    columns = [seq_col, time_col, type_col] + ([label_col] if label_col else [])
    df = read_table(path, columns)
    times = numeric_column(df, time_col, path)
    if (times < 0).any():
        i = int(np.flatnonzero(times < 0)[0])
        raise DataFormatError(f"{path}: {row_name(path, i)}: negative time {times[i]}")
    for col in [type_col] + ([label_col] if label_col else []):
        blank = df[col].isna().to_numpy()
        if blank.any():
            i = int(np.flatnonzero(blank)[0])
            raise DataFormatError(f"{path}: {row_name(path, i)}: column {col!r} is empty")
    order, offsets, ids = group_into_sequences(
        path, df[seq_col].to_numpy(), times, sort=sort, id_column=seq_col)
    type_names = None
    if df[type_col].dtype.kind in "iuf":  # numeric codes
        codes = numeric_column(df, type_col, path, integer=True)
        bad = (codes < 0) | (codes >= (np.inf if n_types is None else n_types))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            allowed = "negative" if n_types is None else f"outside [0, {n_types})"
            raise DataFormatError(f"{path}: {row_name(path, i)}: type {codes[i]} is {allowed}")
        types = codes[order]
        n_types = int(types.max()) + 1 if n_types is None else n_types
    else:
        types, type_names = encode_categories(df[type_col].to_numpy()[order].astype(str))
        n_types = len(type_names)
    seqs = EventSequences(
        times[order], types, offsets, n_types, seq_ids=ids, type_names=type_names,
        meta={"name": path.stem, "source": str(path), "time_unit": "as in the file"},
    )
    meta: dict = {"source_format": "long-table"}
    labels = None
    if label_col:
        raw_labels = df[label_col].to_numpy()[order]
        seq = seqs.seq_index()
        first = raw_labels[offsets[:-1]]
        differs = np.flatnonzero(raw_labels != first[seq])
        if len(differs):
            e = int(differs[0])
            raise DataFormatError(
                f"{path}: {row_name(path, int(order[e]))}: sequence {show(ids[seq[e]])} has "
                f"label {show(raw_labels[e])} but its first row has {show(first[seq[e]])} "
                f"(a label must be constant within a sequence)")
        labels, meta["label_names"] = encode_categories(first)
    return Dataset(seqs, labels, meta)
