"""Age group prediction: bank-card transactions of clients (``Age``).

Raw files (the public "age group prediction" competition data; not shipped with the suite, put
them in the data directory yourself):

* ``age/transactions_train.csv``: columns ``client_id,trans_date,small_group,amount_rur``, one row
  per transaction; ``trans_date`` = day number (integer), ``small_group`` = transaction category
  code (the event type); ``amount_rur`` is not used.
* ``age/train_target.csv``: columns ``client_id,bins``; ``bins`` = age group 0..3 (the label).

Only clients listed in ``train_target.csv`` are kept (30 000 in the public data), in that file's
order. A client's transactions are stably sorted by day (same-day order = file order). Event types
are the distinct ``small_group`` codes in increasing order (``type_names`` = the codes); with
``max_types=K`` the K−1 most frequent codes keep their own type and the rest share a final
``"other"`` type. The paper's Table 1 reports 64 types but does not say how codes were chosen, so
the registered ``Age`` keeps every code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmark.core.dataset import Dataset
from benchmark.core.registry import LoadContext, register_dataset
from loaders._common import (
    encode_categories,
    numeric_column,
    portable_source,
    read_table,
    row_name,
    table_to_sequences,
)
from loaders._fetch import DataFormatError, RemoteFile, fetch

TRANSACTIONS_FILE = RemoteFile("age/transactions_train.csv", None)
TARGET_FILE = RemoteFile("age/train_target.csv", None)
PAPER_STATS = {"n_sequences": 30000, "mean_length": 862.44, "n_types": 64, "n_clusters": 4}


def _type_codes(groups: np.ndarray, max_types: int | None) -> tuple[np.ndarray, list[str]]:
    """Event type (E,) of each transaction's ``small_group`` code and the type names."""
    if max_types is not None and max_types < 2:
        raise ValueError(f"max_types must be >= 2, got {max_types}")
    inverse, names = encode_categories(groups)
    if max_types is None or len(names) <= max_types:
        return inverse, names
    counts = np.bincount(inverse, minlength=len(names))
    kept = np.sort(np.argsort(-counts, kind="stable")[: max_types - 1])
    remap = np.full(len(names), max_types - 1, dtype=np.int64)
    remap[kept] = np.arange(max_types - 1)
    return remap[inverse], [names[i] for i in kept] + ["other"]


def load_age(transactions_csv: str | Path, target_csv: str | Path, *,
             max_types: int | None = None, source: str | None = None) -> Dataset:
    """Read the Age data from its two CSV files (any path; no checksum check).

    Returns one sequence per client of ``target_csv`` (ids = client_id), times = ``trans_date``
    in days, types = ``small_group`` codes (see the module docstring), labels = ``bins``. The
    sequences' ``meta["source"]`` is ``source`` (the registered loader:
    ``"age/transactions_train.csv"``), else the transactions file's name
    (:func:`loaders._common.portable_source`).
    """
    transactions_csv, target_csv = Path(transactions_csv), Path(target_csv)
    target = read_table(target_csv, ["client_id", "bins"])
    target_ids = numeric_column(target, "client_id", target_csv, integer=True)
    bins = numeric_column(target, "bins", target_csv, integer=True)
    dup = np.flatnonzero(target["client_id"].duplicated().to_numpy())
    if len(dup):
        raise DataFormatError(f"{target_csv}: {row_name(target_csv, int(dup[0]))}: client_id "
                              f"{target_ids[dup[0]]} is listed twice")

    tx = read_table(transactions_csv, ["client_id", "trans_date", "small_group"],
                    only_columns=True)
    client = numeric_column(tx, "client_id", transactions_csv, integer=True)
    day = numeric_column(tx, "trans_date", transactions_csv)
    group = numeric_column(tx, "small_group", transactions_csv, integer=True)

    rows = np.flatnonzero(np.isin(client, target_ids))  # transactions of labelled clients
    types, type_names = _type_codes(group[rows], max_types)
    grouped, _ = table_to_sequences(  # checks the days (finite, non-negative)
        transactions_csv, client[rows], day[rows], types, len(type_names), sort=True,
        seq_col="client_id", time_col="trans_date", type_col="small_group", rows=rows,
        type_names=type_names,
        meta={"name": "Age", "source": portable_source(transactions_csv, source=source),
              "time_unit": "days"},
    )
    ids = grouped.seq_ids
    have = np.isin(target_ids, ids)
    if not have.all():
        i = int(np.flatnonzero(~have)[0])
        raise DataFormatError(f"{target_csv}: {row_name(target_csv, i)}: client_id "
                              f"{target_ids[i]} has no transactions in {transactions_csv}")
    sorter = np.argsort(ids)
    seqs = grouped.subset(sorter[np.searchsorted(ids, target_ids, sorter=sorter)])
    labels, label_names = encode_categories(bins)
    return Dataset(seqs, labels, {
        "label_names": [f"bins={b}" for b in label_names],
        "label_definition": "age group (bins column of train_target.csv)",
        "max_types": max_types, "paper_stats": PAPER_STATS,
    })


@register_dataset(
    "Age", kind="real", n_clusters=4, family="real", paper_stats=PAPER_STATS,
    version="2",  # 2: meta["source"] relative to the data directory (was the absolute path)
    description="bank-card transactions of 30000 clients, type = small_group; label = age group",
)
def age(ctx: LoadContext) -> Dataset:
    transactions, target = fetch(ctx, [TRANSACTIONS_FILE, TARGET_FILE], "Age")
    return load_age(transactions, target, source=TRANSACTIONS_FILE.relpath)
