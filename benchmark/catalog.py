"""Where data lives and how a registered dataset becomes a stored directory.

* data directory (user files such as ``linkedin/Linkedin.csv``): ``--data-dir``, else the
  environment variable ``EVSEQ_DATA_DIR``, else none;
* ``EVSEQ_OFFLINE=1`` (or ``--offline``) stops loaders from downloading;
* cache directory (generated and converted datasets): ``--cache-dir``, else ``EVSEQ_CACHE_DIR``,
  else ``~/.cache/event-clustering-bench``.

:func:`materialize` calls a dataset's loader once and stores the result in the common on-disk
format under ``CACHE/datasets/NAME-vVERSION``; later calls reuse it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .dataset import Dataset
from .registry import LoadContext, get_dataset
from .storage import read_meta, replace_dir, save_dataset

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
    spec = get_dataset(name)
    return Path(cache_dir) / "datasets" / f"{name}-v{spec.extra.get('version', '1')}"


def materialize(name: str, data_dir: Path | None, cache_dir: Path) -> Path:
    """Return the stored directory of dataset ``name``, building it on first use.

    Raises :class:`~benchmark.dataset.DatasetUnavailable` when its files are missing.
    """
    spec = get_dataset(name)
    target = dataset_dir(name, cache_dir)
    if (target / "meta.json").exists():
        return target
    out = spec.load(LoadContext(data_dir=data_dir, cache_dir=Path(cache_dir)))
    if isinstance(out, Dataset):
        save_dataset(out, target)
    else:
        out = Path(out)
        read_meta(out)  # must be a complete stored dataset
        if out.resolve() != target.resolve():
            tmp = target.with_name(f".{target.name}.copy-{os.getpid()}")
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(out, tmp)
            replace_dir(tmp, target)
    return target
