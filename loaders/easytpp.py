"""EasyTPP data: the "Gatech" pickle format and the EasyTPP Hugging Face datasets.

Pickle format (used by EasyTPP, THP, cdiff ...)::

    {"dim_process": K, "<split>": [sequence, ...]}    # split = "train" | "dev" | "test"
    sequence = [{"type_event": int in [0, K), "time_since_start": float,
                 "time_since_last_event": float}, ...]

Hugging Face schema (``easytpp/*`` hub datasets): one row per sequence with lists
``time_since_start``, ``time_since_last_event``, ``type_event`` and ints ``dim_process``,
``seq_len``, ``seq_idx``.

Times are kept as given (``time_since_start``). Neither format has labels: datasets read here have
``labels=None`` (they serve the downstream probe and label-free metrics).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from benchmark.core.dataset import Dataset, DatasetUnavailable
from benchmark.core.sequences import EventSequences, SequenceValidationError
from loaders._common import lists_to_sequences, portable_source
from loaders._fetch import DataFormatError

_ALLOWED_CLASSES = {  # numpy scalars and their dtypes, which some EasyTPP writers leave in
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"), ("numpy", "dtype"),
}


class _PlainDataUnpickler(pickle.Unpickler):
    """Unpickler that builds only plain containers, numbers and numpy scalars: a pickle that asks
    for any other class (code execution, or a format other than EasyTPP's) is refused."""

    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED_CLASSES:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} (not plain EasyTPP data)")


def read_easytpp_pickle(path: str | Path, split: str | None = None, *,
                        source: str | None = None) -> tuple[EventSequences, str]:
    """Sequences of one split of an EasyTPP pickle; returns ``(sequences, split)``.

    ``split=None`` takes the only split in the file (error if there are several). Sequence ids are
    ``"<split>-<index>"``; types are ``type_event``; times are ``time_since_start``. The
    sequences' ``meta["source"]`` is ``source``, else the file's name, never its path (it is
    part of the fingerprint; :func:`loaders._common.portable_source`).
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = _PlainDataUnpickler(f).load()
    except FileNotFoundError:
        raise DataFormatError(f"{path}: no such file") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, MemoryError) as e:
        raise DataFormatError(f"{path}: not a readable EasyTPP pickle (truncated or corrupt?): "
                              f"{type(e).__name__}: {e}") from None
    if not isinstance(data, dict) or "dim_process" not in data:
        raise DataFormatError(f"{path}: expected a dict with 'dim_process' and a split list")
    splits = [k for k, v in data.items() if k != "dim_process" and isinstance(v, list)]
    if split is None:
        if len(splits) != 1:
            raise DataFormatError(f"{path}: holds splits {splits}; choose one with split=")
        split = splits[0]
    elif split not in splits:
        raise DataFormatError(f"{path}: no split {split!r}; it holds {splits}")
    try:
        n_types = int(data["dim_process"])
    except (TypeError, ValueError):
        raise DataFormatError(
            f"{path}: dim_process is {data['dim_process']!r}, not an integer") from None
    if n_types < 1:
        raise DataFormatError(f"{path}: dim_process is {n_types}, must be >= 1")
    times, types = [], []
    for i, seq in enumerate(data[split]):
        where = f"{path}: {split} sequence {i}"
        if not isinstance(seq, list) or not seq:
            raise DataFormatError(f"{where} is empty or not a list of events")
        try:
            t = np.array([ev["time_since_start"] for ev in seq], dtype=np.float64)
            k = np.array([ev["type_event"] for ev in seq])
        except (KeyError, TypeError) as e:
            raise DataFormatError(f"{where}: an event lacks {e} (needs 'time_since_start' "
                                  f"and 'type_event')") from None
        except ValueError as e:
            raise DataFormatError(f"{where}: a time is not a number ({e})") from None
        if k.dtype.kind not in "iu":
            raise DataFormatError(f"{where}: 'type_event' values must be integers, got {k.dtype}")
        times.append(t)
        types.append(k.astype(np.int64))
    if not times:
        raise DataFormatError(f"{path}: split {split!r} holds no sequences")
    seqs = lists_to_sequences(  # validates times (finite, non-negative, sorted) and types
        times, types, path, lambda i, e: f"{path}: {split} sequence {i}", n_types=n_types,
        seq_ids=np.array([f"{split}-{i}" for i in range(len(times))]),
        meta={"name": path.stem, "source": portable_source(path, source=source),
              "time_unit": "as in the file"},
    )
    return seqs, split


def load_easytpp_pickle(path: str | Path, split: str | None = None, *,
                        source: str | None = None) -> Dataset:
    """An EasyTPP pickle as an unlabelled Dataset (see :func:`read_easytpp_pickle`)."""
    seqs, split = read_easytpp_pickle(path, split, source=source)
    return Dataset(seqs, None, {"split": split, "source_format": "easytpp-pickle"})


def load_easytpp_hf(source: str | Path, split: str = "test") -> Dataset:
    """An EasyTPP-schema Hugging Face dataset as an unlabelled Dataset.

    ``source``: a hub name such as ``"easytpp/amazon"`` (needs network access or the local HF
    cache), a directory written by ``datasets.Dataset.save_to_disk`` / ``DatasetDict.save_to_disk``,
    or a local directory/file of JSON or Parquet rows with the EasyTPP schema.
    Raises :class:`DatasetUnavailable` when the hub cannot be reached and nothing is cached.
    """
    import datasets

    from benchmark.core.convert import from_hf_dataset

    local = Path(source)
    try:
        if local.is_dir() and ((local / "dataset_info.json").exists()
                               or (local / "dataset_dict.json").exists()):
            ds = datasets.load_from_disk(str(local))
        elif local.is_file():
            fmt = "parquet" if local.suffix == ".parquet" else "json"
            ds = datasets.load_dataset(fmt, data_files={split: str(local)})
        else:
            ds = datasets.load_dataset(str(source))
    except (ConnectionError, OSError) as e:
        raise DatasetUnavailable(f"EasyTPP dataset {source}: cannot be loaded here ({e}); "
                                 f"download it with network access or pass a local copy") from None
    if isinstance(ds, datasets.DatasetDict):
        if split not in ds:
            raise DataFormatError(f"{source}: no split {split!r}; it holds {list(ds)}")
        ds = ds[split]
    try:
        seqs = from_hf_dataset(  # source: a local copy's name (not its path) or the hub name
            ds, meta={"name": Path(str(source)).name, "time_unit": "as in the dataset",
                      "source": portable_source(local) if local.exists() else str(source)},
        )
    except SequenceValidationError as e:
        raise DataFormatError(f"{source} ({split}): {e}") from None
    return Dataset(seqs, None, {"split": split, "source_format": "easytpp-hf"})
