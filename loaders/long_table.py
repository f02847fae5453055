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

The sequences' ``meta["source"]`` is ``source`` (e.g. the path relative to the data directory)
or the file's name, never its path: it is part of the dataset fingerprint, which must not depend
on where the file is (:func:`loaders._common.portable_source`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmark.core.dataset import Dataset
from loaders._common import (
    encode_categories,
    numeric_column,
    portable_source,
    read_table,
    row_name,
    show,
    table_to_sequences,
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
    source: str | None = None,
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
    for col in [type_col] + ([label_col] if label_col else []):
        blank = df[col].isna().to_numpy()
        if blank.any():
            i = int(np.flatnonzero(blank)[0])
            raise DataFormatError(f"{path}: {row_name(path, i)}: column {col!r} is empty")
    type_names = None
    if df[type_col].dtype.kind in "iuf":  # numeric codes, range-checked by the core
        types = numeric_column(df, type_col, path, integer=True)
    else:
        types, type_names = encode_categories(df[type_col].to_numpy().astype(str))
        n_types = len(type_names)
    seqs, order = table_to_sequences(  # checks times (finite, non-negative, sorted) and types
        path, df[seq_col].to_numpy(), times, types, n_types, sort=sort, seq_col=seq_col,
        time_col=time_col, type_col=type_col, type_names=type_names,
        meta={"name": path.stem, "source": portable_source(path, source=source),
              "time_unit": "as in the file"},
    )
    ids, offsets = seqs.seq_ids, seqs.offsets
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
