"""LinkedIn career sequences (``LinkedIn``, ``LinkedIn-holdout``).

Raw files (data directory layout):

* ``linkedin/Linkedin.csv``: columns ``id,time,event,option1``, one row per job start; ``time`` in
  years, ``event`` = company (the event type), ``option1`` = job title (not used). Rows of a user
  are contiguous and in time order (checked).
* ``linkedin/company_sectors.csv``: columns ``company,sector``; the sector of each company. When it
  is absent, the sectors are derived from ``linkedin/LinkedIn_labelled.csv`` (the COHORTNEY
  authors' labelled copy of the events, column ``sector`` per job), which can be downloaded.

Pseudo-label (LAL paper §5, Table 1): the sector of the company of the user's last job (9 classes).
``LinkedIn`` keeps full sequences (the paper's protocol, comparable with its Table 8), so the
labelled event is visible to methods; ``LinkedIn-holdout`` removes each user's last event.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmark.core.dataset import Dataset, DatasetUnavailable
from benchmark.core.registry import LoadContext, register_dataset_with_holdout
from loaders._common import (
    drop_last_event,
    encode_categories,
    numeric_column,
    portable_source,
    read_table,
    row_name,
    show,
    table_to_sequences,
)
from loaders._fetch import ChecksumMismatch, DataFormatError, RemoteFile, fetch

EVENTS_FILE = RemoteFile(
    "linkedin/Linkedin.csv",
    "f69af2ecf08220d0d4046d0285d0d3e0bad4c9710c8e1776039d60e0882bdcaf",
    ("https://raw.githubusercontent.com/HongtengXu/PoPPy/master/data/Linkedin.csv",),
)
SECTORS_FILE = RemoteFile(  # derived from rorcde/mds20_cohortney data/LinkedIn_labelled.csv
    "linkedin/company_sectors.csv",
    "25ec7643f7f10d31e4a178ef4df11bb88e46c1f1ecfd1bd9a7bbd0be2e9ed2e7",
)
LABELLED_FILE = RemoteFile(  # alternative source of the sectors (column ``sector`` per job)
    "linkedin/LinkedIn_labelled.csv",
    "133f0c2d1445da8ea75e413bfb6e4c3eeae14461d2f1620199c861c2bfb499ad",
    tuple(f"https://raw.githubusercontent.com/rorcde/mds20_cohortney/{ref}/data/"
          "LinkedIn_labelled.csv" for ref in ("master", "main")),
)
PAPER_STATS = {"n_sequences": 2439, "mean_length": 3.073, "n_types": 82, "n_clusters": 9}


def read_sector_map(path: str | Path) -> dict[str, str]:
    """Company -> sector, from ``company_sectors.csv`` (columns ``company,sector``) or from the
    COHORTNEY authors' ``LinkedIn_labelled.csv`` (columns ``event,sector``: one row per job; every
    row of a company must give the same sector)."""
    path = Path(path)
    table = read_table(path, dtype=str)
    key = "company" if "company" in table.columns else "event"
    for col in (key, "sector"):
        if col not in table.columns:
            raise DataFormatError(f"{path}: needs columns 'company,sector' (or 'event,sector'); "
                                  f"the file has {list(map(str, table.columns))}")
    blank = (table[key].isna() | table["sector"].isna()).to_numpy()
    if blank.any():
        i = int(np.flatnonzero(blank)[0])
        raise DataFormatError(f"{path}: {row_name(path, i)}: empty company or sector")
    pairs = table[[key, "sector"]].drop_duplicates()
    dup = pairs[key].duplicated(keep="first").to_numpy()
    if dup.any():
        company = pairs[key].iloc[int(np.flatnonzero(dup)[0])]
        rows = np.flatnonzero((table[key] == company).to_numpy())
        sectors = sorted(set(table["sector"].iloc[rows]))
        raise DataFormatError(f"{path}: company {company!r} has several sectors {sectors} "
                              f"(first at {row_name(path, int(rows[0]))})")
    return dict(zip(pairs[key], pairs["sector"]))


def load_linkedin(events_csv: str | Path, sectors_csv: str | Path, *,
                  holdout_last: bool = False, source: str | None = None) -> Dataset:
    """Read LinkedIn from its two CSV files (no checksum check: any version of the files).

    ``sectors_csv`` is ``company_sectors.csv`` or ``LinkedIn_labelled.csv`` (see
    :func:`read_sector_map`).

    Returns a Dataset of one sequence per user (ids = the ``id`` column, in file order), event
    types = companies in sorted name order, times in years, labels = sector of the last job
    (int codes in sorted sector-name order; names in ``meta["label_names"]``). With
    ``holdout_last`` each user's last event is removed from the sequences. The sequences'
    ``meta["source"]`` is ``source`` (the registered loader: ``"linkedin/Linkedin.csv"``, relative
    to the data directory), else the events file's name: never an absolute path, since it is part
    of the dataset fingerprint (:func:`loaders._common.portable_source`).
    """
    events_csv, sectors_csv = Path(events_csv), Path(sectors_csv)
    df = read_table(events_csv, ["id", "time", "event"], dtype={"event": str})
    sector_of = read_sector_map(sectors_csv)

    companies = df["event"].to_numpy(dtype=object)
    blank = df["event"].isna().to_numpy()
    if blank.any():
        i = int(np.flatnonzero(blank)[0])
        raise DataFormatError(f"{events_csv}: {row_name(events_csv, i)}: column 'event' is empty")
    unknown = ~np.isin(companies, list(sector_of))
    if unknown.any():
        i = int(np.flatnonzero(unknown)[0])
        raise DataFormatError(
            f"{events_csv}: {row_name(events_csv, i)}: company {show(companies[i])} has no sector "
            f"in {sectors_csv}"
        )
    times = numeric_column(df, "time", events_csv)
    types, company_names = encode_categories(companies)
    seqs, order = table_to_sequences(
        events_csv, df["id"].to_numpy(), times, types, len(company_names), sort=False,
        seq_col="id", type_col="event", type_names=company_names,
        meta={"name": "LinkedIn-holdout" if holdout_last else "LinkedIn",
              "source": portable_source(events_csv, source=source), "time_unit": "years"},
    )
    last_company = companies[order][seqs.offsets[1:] - 1]
    label_names = sorted(set(sector_of.values()))
    label_of = {name: i for i, name in enumerate(label_names)}
    labels = np.array([label_of[sector_of[c]] for c in last_company], dtype=np.int64)
    if holdout_last:
        seqs = drop_last_event(seqs)
    meta = {
        "label_names": label_names,
        "label_definition": "sector of the company of the user's last job (last row)",
        "labelled_event_visible": not holdout_last,
        "paper_stats": PAPER_STATS,
    }
    return Dataset(seqs, labels, meta)


def _load(ctx: LoadContext, holdout_last: bool) -> Dataset:
    name = "LinkedIn-holdout" if holdout_last else "LinkedIn"
    try:
        events, sectors = fetch(ctx, [EVENTS_FILE, SECTORS_FILE], name)
    except ChecksumMismatch:
        raise
    except DatasetUnavailable as first:
        try:  # the sectors can also be derived from the authors' labelled file
            events, sectors = fetch(ctx, [EVENTS_FILE, LABELLED_FILE], name)
        except ChecksumMismatch:
            raise
        except DatasetUnavailable:
            raise DatasetUnavailable(
                f"{first}\n  (instead of {SECTORS_FILE.relpath}, {LABELLED_FILE.relpath} also "
                f"works; it was not found or downloadable either)") from None
    return load_linkedin(events, sectors, holdout_last=holdout_last, source=EVENTS_FILE.relpath)


linkedin, linkedin_holdout = register_dataset_with_holdout(
    "LinkedIn", _load, kind="real", n_clusters=9, family="real",
    version="2",  # 2: meta["source"] relative to the data directory (was the absolute path)
    paper_stats=PAPER_STATS,
    description="2439 LinkedIn careers, 82 companies; label = sector of the last job (visible)",
    holdout_description="LinkedIn with each user's last job (which defines the label) removed",
)
