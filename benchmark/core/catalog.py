"""Where data lives and how a registered dataset becomes a stored directory.

* data directory (user files such as ``linkedin/Linkedin.csv``): ``--data-dir``, else the
  environment variable ``EVSEQ_DATA_DIR``, else none;
* ``EVSEQ_OFFLINE=1`` (or ``--offline``) stops loaders from downloading;
* cache directory (generated and converted datasets): ``--cache-dir``, else ``EVSEQ_CACHE_DIR``,
  else ``~/.cache/event-clustering-bench``.

:func:`materialize` calls a dataset's loader once and stores what it returns (a
:class:`~benchmark.core.dataset.Dataset`, or a :class:`~benchmark.core.dataset.ShardedDataset`
written shard by shard) in the common on-disk format under ``CACHE/datasets/NAME-vVERSION``
(:func:`write_dataset`); later calls reuse it after verifying it. Loaders never write the cache.

Every cache entry has an index entry ``CACHE/datasets/.index/NAME-vVERSION.json`` (one file per
entry, written atomically right after the entry, so parallel processes never lose an update)
holding the sha256 of the entry's ``meta.json`` bytes and the dataset fingerprint. ``meta.json``
covers every other file (:mod:`benchmark.core.storage`); the index, kept outside it, covers
``meta.json``, so a directory swapped for another consistent dataset is caught too. Each
:func:`materialize` of an existing entry checks it fully (:func:`~benchmark.core.storage.verify_dataset`,
then ``meta.json`` against the index). An entry without an index entry (made by an older
version) is trusted on first use: verified, given ``meta_sha256`` if it lacks one, and indexed.
An entry that fails is moved to ``CACHE/datasets/.NAME-vVERSION.corrupt`` (replacing an older
one), one line names the file and the problem, and the entry is rebuilt by its loader in the
same call. The first :func:`materialize` of a process on a cache directory removes temporary
directories left there by killed processes (:func:`clean_stale_cache_tmp`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Callable

import numpy as np

from .dataset import Dataset, ShardedDataset
from .registry import LoadContext, get_dataset
from .storage import (
    DatasetIntegrityError,
    DatasetWriter,
    meta_checksum,
    pid_alive,
    read_meta,
    save_dataset,
    temp_writer_pid,
    verify_dataset,
    write_atomic_json,
)

DATA_DIR_ENV = "EVSEQ_DATA_DIR"
CACHE_DIR_ENV = "EVSEQ_CACHE_DIR"
OFFLINE_ENV = "EVSEQ_OFFLINE"  # set: loaders never try the network


def resolve_data_dir(data_dir: str | Path | None = None) -> Path | None:
    if data_dir is not None:
        return Path(data_dir).expanduser()
    env = os.environ.get(DATA_DIR_ENV)
    return Path(env).expanduser() if env else None


def resolve_cache_dir(cache_dir: str | Path | None = None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get(CACHE_DIR_ENV)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "event-clustering-bench"


def dataset_dir(name: str, cache_dir: Path) -> Path:
    """The cache entry of dataset ``name``: ``CACHE/datasets/NAME-vVERSION``."""
    return Path(cache_dir) / "datasets" / f"{name}-v{get_dataset(name).version}"


def index_file(entry: Path) -> Path:
    """The index entry of the cache entry ``entry`` (``CACHE/datasets/NAME-vV``)."""
    return entry.parent / ".index" / f"{entry.name}.json"


def _file_sha256(f: Path) -> str:
    return hashlib.sha256(f.read_bytes()).hexdigest()


def write_index_entry(entry: Path) -> None:
    """Record ``entry``'s current ``meta.json`` as the trusted one (call after writing it)."""
    meta = read_meta(entry)
    write_atomic_json(index_file(entry), {"meta_json_sha256": _file_sha256(entry / "meta.json"),
                                          "fingerprint": meta.get("fingerprint"),
                                          "sha256": meta["sha256"]})


def verify_entry(entry: Path) -> None:
    """Verify a cache entry (see the module docstring); raise :class:`DatasetIntegrityError`
    naming the bad file. An entry without an index entry is indexed here if it passes."""
    meta = verify_dataset(entry)
    idx = index_file(entry)
    if not idx.exists():
        if "meta_sha256" not in meta:
            write_atomic_json(entry / "meta.json", {**meta, "meta_sha256": meta_checksum(meta)})
        write_index_entry(entry)
        return
    try:
        want = json.loads(idx.read_text()).get("meta_json_sha256")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        want = None
    if _file_sha256(entry / "meta.json") != want:
        raise DatasetIntegrityError(f"{entry / 'meta.json'}: differs from the catalog's record "
                                    f"{idx} (another dataset's files swapped in, or meta.json "
                                    "rewritten)")


def clean_stale_cache_tmp(cache_dir: Path) -> int:
    """Remove temporary directories and files that killed processes left in the cache's
    ``datasets/`` and ``datasets/.index/``; those of a live process (its pid is in the name, this
    process included) are spared. Returns how many were removed."""
    base = Path(cache_dir) / "datasets"
    n = 0
    for p in [*base.glob(".*"), *base.glob(".index/.*")]:
        is_tmp, pid = temp_writer_pid(p.name)
        if not is_tmp or (pid is not None and (pid == os.getpid() or pid_alive(pid))):
            continue
        shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
        n += 1
    return n


_CLEANED: set[Path] = set()


def write_dataset(data: Dataset | ShardedDataset, path: Path) -> Path:
    """Store what a loader returned at ``path`` in the common on-disk format, atomically.

    Parameters
    ----------
    data : Dataset or ShardedDataset
        A :class:`Dataset` is written as one shard (:func:`~benchmark.core.storage.save_dataset`);
        a :class:`ShardedDataset` shard by shard as its iterator yields them, through
        :class:`~benchmark.core.storage.DatasetWriter`, its labels together at the end.
    path : Path
        The dataset directory to write (an older one there is replaced).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    TypeError
        ``data`` is neither.
    OSError
        Writing failed; nothing is left at ``path`` (the writer's temporary directory is
        removed).
    """
    if isinstance(data, Dataset):
        save_dataset(data, path)
        return Path(path)
    if not isinstance(data, ShardedDataset):
        raise TypeError(f"a dataset loader must return a Dataset or a ShardedDataset, got "
                        f"{type(data).__name__}")
    shards = iter(data.shards)
    labels: list[np.ndarray | None] = []
    try:
        with DatasetWriter(path, n_types=data.n_types, type_names=data.type_names,
                           sequences_meta=data.sequences_meta, dataset_meta=data.meta) as writer:
            for seqs, shard_labels in shards:
                writer.write_shard(seqs)
                labels.append(shard_labels)
            if any(lab is None for lab in labels) and not all(lab is None for lab in labels):
                raise ValueError("a ShardedDataset's shards must all have labels or none")
            writer.set_labels(np.concatenate(labels) if labels and labels[0] is not None
                              else None)
    finally:
        close = getattr(shards, "close", None)
        if close is not None:
            close()
    return Path(path)


def _warn(line: str) -> None:
    print(line, file=sys.stderr)


def materialize(name: str, data_dir: Path | None, cache_dir: Path,
                log: Callable[[str], None] = _warn) -> Path:
    """Return the stored directory of dataset ``name``, building it on first use and verifying
    it on every later use; a corrupt or swapped entry is moved aside and rebuilt (``log`` gets
    one line). See the module docstring.

    Raises :class:`~benchmark.core.dataset.DatasetUnavailable` when its files are missing.
    """
    spec = get_dataset(name)
    target = dataset_dir(name, cache_dir)
    if target.parent.resolve() not in _CLEANED:
        clean_stale_cache_tmp(cache_dir)
        _CLEANED.add(target.parent.resolve())
    if target.exists():
        try:
            verify_entry(target)
            return target
        except DatasetIntegrityError as e:
            corrupt = target.with_name(f".{target.name}.corrupt")
            shutil.rmtree(corrupt, ignore_errors=True)
            try:
                os.replace(target, corrupt)
            except FileNotFoundError:  # another process moved it first
                pass
            log(f"{e}; moved to {corrupt}, rebuilding {name}")
    write_dataset(spec.load(LoadContext(data_dir=data_dir, cache_dir=Path(cache_dir))), target)
    verify_dataset(target)
    write_index_entry(target)
    return target
