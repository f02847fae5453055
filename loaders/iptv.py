"""IPTV viewing sequences (``IPTV``, ``IPTV-holdout``).

Raw file: ``iptv/IPTVdata.zip`` from the Hawkes-Process-Toolkit (THAP), holding the MATLAB v5 file
``IPTVdata/Data_IPTV_subset.mat`` with ``PID`` (16×1 cell of genre names) and ``seq`` (1473×1
cell; each a 2×n integer array: row 0 = time stamp, row 1 = genre 1..16). The MATLAB file is read
from inside the zip (nothing is extracted). Times are kept as stored (integer stamps; the source
does not state the unit).

Pseudo-label (LAL paper §5): the genre of the last event (16 classes). ``IPTV`` keeps full
sequences (the paper's protocol, comparable with its Table 8, where that event is visible);
``IPTV-holdout`` removes each sequence's last event. The paper used a 302-user cut (mean length
3225) that is not public; this file has 1473 sequences.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from benchmark.core.dataset import Dataset
from benchmark.core.registry import LoadContext, register_dataset_with_holdout
from loaders._common import drop_last_event, lists_to_sequences, portable_source
from loaders._fetch import DataFormatError, RemoteFile, fetch

ARCHIVE_FILE = RemoteFile(
    "iptv/IPTVdata.zip",
    "eb2f9368b09e31d9d75e0b8773b294a0029c7fd3035391a65a352b07f3e21c85",
    ("https://github.com/HongtengXu/Hawkes-Process-Toolkit/raw/master/Data/IPTVdata.zip",),
)
MAT_MEMBER = "IPTVdata/Data_IPTV_subset.mat"
PAPER_STATS = {"n_sequences": 302, "mean_length": 3225.159, "n_types": 16, "n_clusters": None}


def _read_mat(path: Path) -> dict:
    """The MATLAB variables of ``path`` (a .mat file, or a .zip holding ``MAT_MEMBER``)."""
    import scipy.io
    import scipy.io.matlab

    try:
        if path.suffix.lower() == ".zip":
            with zipfile.ZipFile(path) as z:
                members = [m for m in z.namelist() if m.endswith(".mat") and "__MACOSX" not in m]
                if not members:
                    raise DataFormatError(f"{path}: the archive holds no .mat file "
                                          f"(expected {MAT_MEMBER})")
                member = MAT_MEMBER if MAT_MEMBER in members else members[0]
                data = z.read(member)
            return scipy.io.loadmat(io.BytesIO(data))
        return scipy.io.loadmat(path)
    except DataFormatError:
        raise
    except (zipfile.BadZipFile, scipy.io.matlab.MatReadError, ValueError, TypeError, OSError,
            EOFError, KeyError, IndexError, NotImplementedError) as e:  # last: MATLAB v7.3 (HDF5)
        raise DataFormatError(f"{path}: cannot be read as a zip/MATLAB file (truncated or "
                              f"corrupt?): {e}") from None


def load_iptv(path: str | Path, *, holdout_last: bool = False,
              source: str | None = None) -> Dataset:
    """Read IPTV from ``IPTVdata.zip`` or the extracted ``Data_IPTV_subset.mat`` (no checksum).

    Returns one sequence per cell of ``seq`` (ids 0..N-1), types = genre − 1 (names from ``PID``),
    labels = type of the last event (0..15; names in ``meta["label_names"]``). With
    ``holdout_last`` the last event of every sequence is removed from the sequences. The
    sequences' ``meta["source"]`` is ``source`` (the registered loader: ``"iptv/IPTVdata.zip"``),
    else the file's name (:func:`loaders._common.portable_source`).
    """
    path = Path(path)
    mat = _read_mat(path)
    for key in ("PID", "seq"):
        if key not in mat:
            raise DataFormatError(f"{path}: MATLAB variable {key!r} missing; has "
                                  f"{sorted(k for k in mat if not k.startswith('__'))}")
    try:
        genres = [str(np.asarray(c).ravel()[0]) for c in np.asarray(mat["PID"]).ravel()]
    except (IndexError, TypeError) as e:
        raise DataFormatError(f"{path}: 'PID' is not a cell array of genre names ({e})") from None
    n_types = len(genres)
    cells = np.asarray(mat["seq"]).ravel()
    times, types = [], []
    for i, cell in enumerate(cells):
        arr = np.asarray(cell)
        if arr.ndim != 2 or arr.shape[0] != 2 or not np.issubdtype(arr.dtype, np.number):
            raise DataFormatError(f"{path}: sequence {i}: expected a 2×n numeric array "
                                  f"[time; genre], got shape {arr.shape} of {arr.dtype}")
        if arr.shape[1] == 0:
            raise DataFormatError(f"{path}: sequence {i} is empty (no events)")
        times.append(arr[0].astype(np.float64))
        types.append(arr[1])
    if not times:
        raise DataFormatError(f"{path}: 'seq' holds no sequences")
    genre = np.concatenate(types)
    bad = (genre < 1) | (genre > n_types) | (genre != np.round(genre))
    if bad.any():  # genre codes are 1-based: a code maps to the type code - 1
        offsets = np.cumsum([0] + [len(t) for t in times])
        e = int(np.flatnonzero(bad)[0])
        i = int(np.searchsorted(offsets, e, side="right")) - 1
        raise DataFormatError(f"{path}: sequence {i}: event {e - offsets[i]} has genre code "
                              f"{genre[e]}; known codes are 1..{n_types} (PID)")
    seqs = lists_to_sequences(  # validates the times (finite, non-negative, sorted)
        times, [g.astype(np.int64) - 1 for g in types], path,
        lambda i, e: f"{path}: sequence {i}", n_types=n_types, type_names=genres,
        meta={"name": "IPTV-holdout" if holdout_last else "IPTV",
              "source": portable_source(path, source=source),
              "time_unit": "raw time stamps of the file (unit not documented)"},
    )
    labels = seqs.types[seqs.offsets[1:] - 1].astype(np.int64)
    if holdout_last:
        seqs = drop_last_event(seqs)
    meta = {
        "label_names": genres,
        "label_definition": "genre (event type) of the last event",
        "labelled_event_visible": not holdout_last,
        "paper_stats": PAPER_STATS,
    }
    return Dataset(seqs, labels, meta)


def _load(ctx: LoadContext, holdout_last: bool) -> Dataset:
    (archive,) = fetch(ctx, [ARCHIVE_FILE], "IPTV-holdout" if holdout_last else "IPTV")
    return load_iptv(archive, holdout_last=holdout_last, source=ARCHIVE_FILE.relpath)


iptv, iptv_holdout = register_dataset_with_holdout(
    "IPTV", _load, kind="real", n_clusters=16, family="real",
    version="2",  # 2: meta["source"] relative to the data directory (was the absolute path)
    paper_stats=PAPER_STATS,
    description="1473 IPTV viewing sequences, 16 genres; label = genre of the last event (visible)",
    holdout_description="IPTV with each sequence's last event (which defines the label) removed",
)
