"""The LAL / COHORTNEY folder format: one CSV file per sequence plus a label file.

::

    DIR/
      1.csv, 2.csv, ..., N.csv   # columns: (unnamed row index), time, event  -- one row per event
      clusters.csv               # optional: row i-1 holds the label of i.csv

``event`` holds integer event types ``0..C-1``; ``time`` is numeric and non-decreasing within a
file. ``clusters.csv`` has a ``cluster_id`` column (as written by the COHORTNEY tools) or a single
label column (optionally after an unnamed index column). The synthetic sets of the LAL paper are
published in this format. The sequences' ``meta["source"]`` is ``source`` or the folder's name,
never its path (it is part of the dataset fingerprint, which must not depend on where the folder
is; :func:`loaders._common.portable_source`).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from benchmark.core.dataset import Dataset
from loaders._common import (
    encode_categories,
    lists_to_sequences,
    numeric_column,
    portable_source,
    read_table,
    row_name,
)
from loaders._fetch import DataFormatError

_SEQUENCE_FILE = re.compile(r"^(\d+)\.csv$")


def _label_column(df, path: Path) -> str:
    if "cluster_id" in df.columns:
        return "cluster_id"
    named = [c for c in df.columns if not str(c).startswith("Unnamed")]
    if len(named) != 1:
        raise DataFormatError(f"{path}: expected a 'cluster_id' column or a single label column, "
                              f"got columns {list(map(str, df.columns))}")
    return named[0]


def load_folder_format(path: str | Path, n_types: int | None = None, *,
                       source: str | None = None) -> Dataset:
    """Read a folder of ``1.csv … N.csv`` (+ optional ``clusters.csv``) into a Dataset.

    Sequence ids are the file numbers 1..N; ``n_types`` defaults to the largest event code + 1
    (an event code ``>= n_types`` when it is given is a :class:`DataFormatError` naming the file
    and line); labels (if ``clusters.csv`` exists) are encoded 0..K-1 in sorted order of the
    label values (original values in ``meta["label_names"]``), else ``None``.
    """
    path = Path(path)
    if not path.is_dir():
        raise DataFormatError(f"{path}: not a directory")
    numbers = sorted(int(m.group(1)) for f in path.iterdir() if (m := _SEQUENCE_FILE.match(f.name)))
    if not numbers:
        raise DataFormatError(f"{path}: no sequence files 1.csv, 2.csv, ... found")
    expected = np.arange(1, len(numbers) + 1)
    if not np.array_equal(numbers, expected):
        gap = int(expected[np.flatnonzero(np.asarray(numbers) != expected)[0]])
        raise DataFormatError(f"{path}: {gap}.csv is missing (sequence files must be numbered "
                              f"1..N without gaps; found {len(numbers)} files up to "
                              f"{numbers[-1]}.csv)")
    files = [path / f"{i}.csv" for i in numbers]
    times, types = [], []
    for f in files:
        df = read_table(f, ["time", "event"])
        times.append(numeric_column(df, "time", f))
        types.append(numeric_column(df, "event", f, integer=True))
    codes = np.concatenate(types)
    bad = (codes < 0) | (codes >= (np.inf if n_types is None else n_types))
    if bad.any():  # the event codes are the types (named per file and line)
        offsets = np.cumsum([0] + [len(k) for k in types])
        e = int(np.flatnonzero(bad)[0])
        i = int(np.searchsorted(offsets, e, side="right")) - 1
        allowed = "negative" if n_types is None else f"outside [0, {n_types})"
        raise DataFormatError(f"{files[i]}: {row_name(files[i], e - offsets[i])}: event "
                              f"{codes[e]} is {allowed}")
    seqs = lists_to_sequences(  # validates the times (finite, non-negative, sorted)
        times, types, path,
        lambda i, e: f"{files[i]}" + ("" if e is None else f": {row_name(files[i], e)}"),
        n_types=n_types, seq_ids=np.asarray(numbers, dtype=np.int64),
        meta={"name": path.name, "source": portable_source(path, source=source),
              "time_unit": "as in the files"},
    )
    labels_file = path / "clusters.csv"
    if not labels_file.exists():
        return Dataset(seqs, None, {"source_format": "folder"})
    table = read_table(labels_file)
    column = _label_column(table, labels_file)
    if len(table) != len(numbers):
        raise DataFormatError(f"{labels_file}: {len(table)} label rows for {len(numbers)} "
                              f"sequence files (row i-1 must label i.csv)")
    raw = table[column]
    if raw.isna().any():
        j = int(np.flatnonzero(raw.isna().to_numpy())[0])
        raise DataFormatError(f"{labels_file}: {row_name(labels_file, j)}: empty label")
    labels, label_names = encode_categories(raw.to_numpy())
    return Dataset(seqs, labels, {"source_format": "folder", "label_names": label_names})
