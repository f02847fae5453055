"""Finding a dataset's raw files: data directory, then download cache, then download.

A registered real dataset declares its raw files as :class:`RemoteFile` entries (path relative to
the data directory, sha256, source URLs). :func:`fetch` returns their local paths:

1. ``ctx.data_dir / relpath`` (the user's data directory: ``--data-dir`` or ``EVSEQ_DATA_DIR``);
2. ``ctx.cache_dir / "downloads" / relpath`` (files downloaded earlier);
3. a download from each URL in turn into (2), streamed to a temporary file in the same directory,
   checked against the sha256 and renamed into place (nothing half-written is ever left at the
   final path). Downloads are skipped when the environment variable ``EVSEQ_OFFLINE`` is set.

Files found locally are checked against their sha256 too. When a file cannot be found or fetched,
:class:`~benchmark.core.dataset.DatasetUnavailable` lists every expected path (the harness reports the
dataset as skipped with that message); a wrong checksum raises :class:`ChecksumMismatch`, a
subclass of it and of :class:`~benchmark.core.storage.DatasetIntegrityError`.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from benchmark.core.catalog import OFFLINE_ENV
from benchmark.core.dataset import DatasetUnavailable
from benchmark.core.registry import LoadContext
from benchmark.core.storage import DatasetIntegrityError

DOWNLOAD_TIMEOUT_S = 30.0
_CHUNK = 1 << 20


class ChecksumMismatch(DatasetIntegrityError, DatasetUnavailable):
    """A raw data file does not have the sha256 its dataset declares.

    Both a :class:`DatasetIntegrityError` and a :class:`DatasetUnavailable`: the harness skips the
    dataset with this message (naming the file and both digests) instead of running on a wrong
    file or stopping the whole run, and counts it as a dataset that could not be loaded (a
    non-zero exit even with ``--allow-missing``: the file is there, but not the declared one)."""


class DataFormatError(ValueError):
    """A malformed raw data file; the message names the file, the row or sequence, the problem."""


@dataclass(frozen=True)
class RemoteFile:
    """One raw file of a dataset.

    relpath : path relative to the data directory, e.g. ``"linkedin/Linkedin.csv"``.
    sha256 : expected hex digest, or ``None`` when the source publishes none (not verified).
    urls : where it can be downloaded from, tried in order (may be empty).
    """

    relpath: str
    sha256: str | None
    urls: tuple[str, ...] = ()


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_sha256(path: Path, expected: str | None) -> None:
    """Raise :class:`ChecksumMismatch` unless ``path`` hashes to ``expected`` (None: no check)."""
    if expected is None:
        return
    got = sha256_of(path)
    if got != expected:
        raise ChecksumMismatch(
            f"{path}: sha256 is {got}, expected {expected} (corrupt, truncated or another version "
            f"of the file; replace it, or load a different version with the loader's path-based "
            f"function, which does not check checksums)"
        )


def download(url: str, dest: Path, sha256: str | None, timeout: float = DOWNLOAD_TIMEOUT_S) -> Path:
    """Stream ``url`` to ``dest`` atomically, verifying ``sha256`` before the file appears.

    On any failure (network, checksum) the temporary file is removed and ``dest`` is untouched.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        h = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            for chunk in iter(lambda: resp.read(_CHUNK), b""):
                h.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if sha256 is not None and h.hexdigest() != sha256:
            raise ChecksumMismatch(
                f"download of {url}: sha256 is {h.hexdigest()}, expected {sha256}; not saved"
            )
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dest


def download_dir(ctx: LoadContext) -> Path:
    """Where downloaded raw files are kept: ``ctx.cache_dir / "downloads"``."""
    return Path(ctx.cache_dir) / "downloads"


def fetch(ctx: LoadContext, files: list[RemoteFile], dataset: str) -> list[Path]:
    """Local, checksum-verified paths of ``files`` (same order), downloading where needed.

    Raises :class:`DatasetUnavailable` naming every file that could not be found or downloaded,
    with the exact paths where it was looked for; :class:`ChecksumMismatch` for a wrong file.
    """
    allow_download = not os.environ.get(OFFLINE_ENV)
    found: list[Path] = []
    missing: list[str] = []
    for f in files:
        candidates = [Path(ctx.data_dir) / f.relpath] if ctx.data_dir is not None else []
        candidates.append(download_dir(ctx) / f.relpath)
        path = next((c for c in candidates if c.is_file()), None)
        if path is not None:
            verify_sha256(path, f.sha256)
            found.append(path)
            continue
        errors: list[str] = []
        for url in f.urls if allow_download else ():
            try:
                path = download(url, candidates[-1], f.sha256)
                break
            except OSError as e:  # URLError, HTTPError and timeouts are OSErrors
                errors.append(f"{url}: {e}")
        if path is not None:
            found.append(path)
            continue
        line = f"  {f.relpath}: looked for " + " and ".join(str(c) for c in candidates)
        if not f.urls:
            line += "; it has no public download URL"
        elif not allow_download:
            line += f"; downloads disabled ({OFFLINE_ENV} is set)"
        else:
            line += "; download failed (" + "; ".join(errors) + ")"
        missing.append(line)
    if missing:
        where = (f"the data directory {ctx.data_dir}" if ctx.data_dir is not None else
                 "a data directory (pass --data-dir DIR or set EVSEQ_DATA_DIR=DIR)")
        raise DatasetUnavailable(
            f"dataset {dataset}: missing raw file(s); put them under {where} at the relative "
            f"path(s) shown:\n" + "\n".join(missing)
        )
    return found
