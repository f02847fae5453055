"""On-disk format: a directory of Parquet shards plus ``meta.json`` with content checksums.

::

    DATASET_DIR/
      meta.json                 # format version, n_types, type names, metadata, shard list, sha256
      events-00000.parquet      # columns: seq (int64, global sequence index), time (float64), type (int32)
      sequences-00000.parquet   # columns: seq_id (string), t_end (float64, NaN = last event)
      labels.parquet            # column: label (int64), only if the dataset has labels

Every file is covered by a checksum that ``meta.json`` carries: each shard's sha256 covers its
arrays (both files of the shard); the dataset sha256 covers the shard hashes, the labels and the
header (``n_types``, ``type_names``, ``sequences_meta``, ``dataset_meta``); ``meta_sha256`` covers
every other field of ``meta.json`` (a ``meta.json`` without it, written by an older version, is
checked through the dataset sha256 only). Every load verifies what it reads: :func:`read_meta`
checks ``meta_sha256``, :func:`load_sequences` each shard's sha256, :func:`load_labels` the labels
and header against the dataset sha256 (from the shard hashes in ``meta.json``, without reading the
shards), so a load that never opens ``labels.parquet`` still rejects an edited ``meta.json``.
:func:`verify_dataset` checks everything. Failures raise :class:`DatasetIntegrityError` with one
line ``FILE: problem``. A whole directory swapped for another consistent dataset is caught by the
catalog's index, kept outside it (:mod:`benchmark.core.catalog`).

The sha256 guards the *files*: it changes with the last bit of any float, and a generator's floats
depend on the CPU (numpy picks SIMD code paths for ``exp``/``log`` by the instructions the machine
has), so the same generator and seed give a different sha256 on another machine. The
**fingerprint** is the dataset's machine-independent identity, used for run keys and for "is this
the dataset the run saw": it hashes what methods and metrics read (offsets, types, sequence ids,
labels, types' names, the sequences' metadata) with times and window ends rounded to float32 (7
significant digits), and leaves out the generator's parameters (``dataset_meta``), which methods
never see. It depends on the data only, never on where they were read: the sequences' metadata
hold a name, a time unit and a machine-independent ``source`` (a generator's module, or the raw
files' paths relative to the data directory such as ``linkedin/Linkedin.csv``; never an absolute
path, host or user; :func:`loaders._common.portable_source`). :func:`fingerprint_from_data`
recomputes it from the stored events and labels with other metadata (``python -m benchmark
rekey`` uses it to check that a run's dataset is the same data). Writes go to a temporary
directory that is renamed into place, so a crash (or a full disk) never leaves a half-written
dataset.

Methods never read ``labels.parquet``: the harness's worker calls :func:`load_sequences`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .dataset import Dataset
from .sequences import EventSequences

FORMAT_VERSION = 1


class DatasetIntegrityError(RuntimeError):
    """A stored dataset is missing files, truncated or fails its checksum."""


def to_jsonable(obj: Any) -> Any:
    """Recursively turn numpy values into JSON-serialisable Python values."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def canonical_json(obj: Any) -> bytes:
    return json.dumps(to_jsonable(obj), sort_keys=True, separators=(",", ":")).encode()


def _shard_hash(seqs: EventSequences, time_dtype: type = np.float64) -> str:
    """Hash of a shard's arrays and ids: the sha256 (``float64``, every bit) or, with
    ``float32``, the fingerprint (times and window ends rounded to float32)."""
    h = hashlib.sha256()
    for arr in (seqs.times.astype(time_dtype, copy=False), seqs.types, seqs.offsets):
        h.update(np.ascontiguousarray(arr).tobytes())
    h.update(canonical_json([str(s) for s in seqs.seq_ids]))
    if seqs.t_end is not None:
        h.update(seqs.t_end.astype(time_dtype, copy=False).tobytes())
    return h.hexdigest()


def meta_checksum(meta: dict) -> str:
    """``meta_sha256``: the hash of every other field of ``meta.json``."""
    return hashlib.sha256(canonical_json({k: v for k, v in meta.items()
                                          if k != "meta_sha256"})).hexdigest()


def _shard_fingerprint(seqs: EventSequences) -> str:
    return _shard_hash(seqs, np.float32)


def _combine_hashes(shard_hashes: list[str], labels: np.ndarray | None, header: list) -> str:
    """Dataset hash from its shards' hashes, the labels and a JSON header (the sha256's header
    includes ``dataset_meta``, the fingerprint's does not)."""
    h = hashlib.sha256()
    for s in shard_hashes:
        h.update(s.encode())
    if labels is not None:
        h.update(np.asarray(labels, dtype=np.int64).tobytes())
    h.update(canonical_json(header))
    return h.hexdigest()


_UMASK = os.umask(0o022)
os.umask(_UMASK)


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (temporary names carry their writer's pid)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def temp_writer_pid(name: str) -> tuple[bool, int | None]:
    """(is a temporary name, pid of its writer or None) for the names this module's writers
    and the harness give temporaries: ``.NAME.PID.XXXXXXXX.tmp`` (DatasetWriter,
    write_atomic_bytes, a run directory being written; without PID from older versions),
    ``.NAME.old-PID`` (replace_dir, a run being replaced) and ``.NAME.copy-PID`` (left in caches
    by older versions)."""
    if name.endswith(".tmp"):
        parts = name[1:-4].rsplit(".", 2)
        return True, int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None
    m = re.fullmatch(r"\..+\.(?:copy|old)-(\d+)", name)
    return m is not None, int(m.group(1)) if m else None


def write_atomic_bytes(path: Path, data: bytes) -> None:
    """Write a file via a temporary file in the same directory and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp",
                               dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; give them the usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic_json(path: Path, obj: Any) -> None:
    write_atomic_bytes(Path(path), json.dumps(to_jsonable(obj), indent=2, sort_keys=True).encode())


def replace_dir(tmp: Path, final: Path) -> None:
    """Move a finished temporary directory to ``final``, replacing an older one."""
    final = Path(final)
    if final.exists():
        trash = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, trash)
        os.replace(tmp, final)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(tmp, final)


class DatasetWriter:
    """Stream a dataset to disk shard by shard; ``close()`` writes meta.json and renames into place.

    Use as a context manager; on an exception nothing is left at ``path``. The temporary
    directory, ``.NAME.PID.XXXXXXXX.tmp`` next to ``path``, names the writing process, so a cleaner
    can tell a killed writer's leftovers from a live one's::

        with DatasetWriter(path, n_types=5, meta=...) as w:
            for shard in shards:
                w.write_shard(shard)
            w.set_labels(labels)
    """

    def __init__(self, path: Path, *, n_types: int, type_names=None,
                 sequences_meta: dict | None = None, dataset_meta: dict | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.{os.getpid()}.",
                                         suffix=".tmp", dir=self.path.parent))
        self.n_types = n_types
        self.type_names = list(type_names) if type_names is not None else None
        self.sequences_meta = dict(sequences_meta or {})
        self.dataset_meta = dict(dataset_meta or {})
        self.shards: list[dict[str, Any]] = []
        self.n_sequences = 0
        self.n_events = 0
        self.labels: np.ndarray | None = None

    def write_shard(self, seqs: EventSequences) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if seqs.n_types != self.n_types:
            raise ValueError(f"shard has n_types={seqs.n_types}, expected {self.n_types}")
        idx = len(self.shards)
        seq = seqs.seq_index() + self.n_sequences
        pq.write_table(pa.table({"seq": seq, "time": seqs.times, "type": seqs.types}),
                       self.tmp / f"events-{idx:05d}.parquet")
        t_end = seqs.t_end if seqs.t_end is not None else np.full(len(seqs), np.nan)
        pq.write_table(pa.table({"seq_id": [str(s) for s in seqs.seq_ids], "t_end": t_end}),
                       self.tmp / f"sequences-{idx:05d}.parquet")
        self.shards.append({
            "index": idx, "n_sequences": len(seqs), "n_events": seqs.n_events,
            "first_sequence": self.n_sequences, "sha256": _shard_hash(seqs),
            "fingerprint": _shard_fingerprint(seqs),
            "has_t_end": seqs.t_end is not None,
            "seq_id_kind": "int" if np.issubdtype(seqs.seq_ids.dtype, np.integer) else "str",
            "allow_empty": seqs.allow_empty,
        })
        self.n_sequences += len(seqs)
        self.n_events += seqs.n_events

    def set_labels(self, labels: np.ndarray | None) -> None:
        self.labels = None if labels is None else np.asarray(labels, dtype=np.int64)

    def close(self) -> str:
        """Finish: write labels and meta.json, move into place; return the sha256."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self.labels is not None:
            if len(self.labels) != self.n_sequences:
                raise ValueError(f"{len(self.labels)} labels for {self.n_sequences} sequences")
            pq.write_table(pa.table({"label": self.labels}), self.tmp / "labels.parquet")
        header = [self.n_types, self.type_names, self.sequences_meta]
        sha = _combine_hashes([s["sha256"] for s in self.shards], self.labels,
                              header + [self.dataset_meta])
        meta = {
            "format_version": FORMAT_VERSION, "n_types": self.n_types,
            "type_names": self.type_names, "n_sequences": self.n_sequences,
            "n_events": self.n_events, "has_labels": self.labels is not None,
            "shards": self.shards, "sequences_meta": self.sequences_meta,
            "dataset_meta": self.dataset_meta, "sha256": sha,
            "fingerprint": _combine_hashes([s["fingerprint"] for s in self.shards], self.labels,
                                           header),
        }
        meta["meta_sha256"] = meta_checksum(meta)
        write_atomic_json(self.tmp / "meta.json", meta)
        replace_dir(self.tmp, self.path)
        return sha

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> "DatasetWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def save_dataset(dataset: Dataset, path: Path) -> str:
    """Write a dataset (one shard) atomically; return its sha256."""
    seqs = dataset.sequences
    with DatasetWriter(path, n_types=seqs.n_types, type_names=seqs.type_names,
                       sequences_meta=seqs.meta, dataset_meta=dataset.meta) as w:
        w.write_shard(seqs)
        w.set_labels(dataset.labels)
    return read_meta(path)["sha256"]


_META_FIELDS = {"n_types", "type_names", "has_labels", "shards", "sequences_meta", "dataset_meta",
                "sha256"}


def read_meta(path: Path) -> dict[str, Any]:
    """``meta.json``, checked: format version, fields, and ``meta_sha256`` where present."""
    f = Path(path) / "meta.json"
    if not f.exists():
        raise DatasetIntegrityError(f"{f}: missing (not a stored dataset, or incomplete)")
    try:
        meta = json.loads(f.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DatasetIntegrityError(f"{f}: malformed JSON ({e})") from None
    version = meta.get("format_version") if isinstance(meta, dict) else None
    if version != FORMAT_VERSION:
        raise DatasetIntegrityError(f"{f}: format version {version}, expected {FORMAT_VERSION}")
    missing = _META_FIELDS - set(meta)
    if missing:
        raise DatasetIntegrityError(f"{f}: fields missing: {', '.join(sorted(missing))}")
    if "meta_sha256" in meta and meta["meta_sha256"] != meta_checksum(meta):
        raise DatasetIntegrityError(f"{f}: does not match its meta_sha256 (edited or corrupt)")
    return meta


def dataset_fingerprint(path: Path) -> str:
    """The stored dataset's machine-independent identity (see the module docstring).

    Read from meta.json; a dataset stored before fingerprints existed is hashed from its shards
    (nothing is written)."""
    path = Path(path)
    meta = read_meta(path)
    if "fingerprint" in meta:
        return meta["fingerprint"]
    shards = [_shard_fingerprint(_read_shard(path, meta, s, verify=False)) for s in meta["shards"]]
    return _combine_hashes(shards, load_labels(path),
                           [meta["n_types"], meta["type_names"], meta["sequences_meta"]])


def fingerprint_from_data(path: Path, sequences_meta: dict | None = None) -> str:
    """The fingerprint of the stored dataset's events and labels, recomputed from its shards
    (each read and checked against its sha256) and labels, with ``sequences_meta`` in place of
    the stored sequences' metadata (None: the stored one, which gives :func:`dataset_fingerprint`).

    ``fingerprint_from_data(path, old_meta) == old_fingerprint`` shows that a fingerprint made
    with other metadata (e.g. an absolute ``source`` path) covers exactly these events, sequence
    ids, window ends and labels. Raises :class:`DatasetIntegrityError` for a corrupt dataset."""
    path = Path(path)
    meta = read_meta(path)
    shards = [_shard_fingerprint(_read_shard(path, meta, s, verify=True)) for s in meta["shards"]]
    seq_meta = meta["sequences_meta"] if sequences_meta is None else sequences_meta
    return _combine_hashes(shards, load_labels(path), [meta["n_types"], meta["type_names"],
                                                       seq_meta])


def _read_table(f: Path, footer: bool = False):
    """The Parquet table in ``f`` (``footer``: only its metadata, e.g. ``num_rows``)."""
    import pyarrow.parquet as pq

    if not f.exists():
        raise DatasetIntegrityError(f"{f}: missing")
    try:
        return pq.read_metadata(f) if footer else pq.read_table(f)
    except Exception as e:  # pyarrow raises several types for truncated files
        why = " ".join(str(e).split())
        raise DatasetIntegrityError(f"{f}: unreadable Parquet ({why})") from None


def _shard_files(path: Path, shard: dict) -> tuple[Path, Path]:
    idx = shard["index"]
    return path / f"events-{idx:05d}.parquet", path / f"sequences-{idx:05d}.parquet"


def _check_rows(path: Path, shard: dict, n_events: int, n_sequences: int) -> None:
    ev_file, sq_file = _shard_files(path, shard)
    for f, n, want in ((ev_file, n_events, shard["n_events"]),
                       (sq_file, n_sequences, shard["n_sequences"])):
        if n != want:
            raise DatasetIntegrityError(f"{f}: {n} rows, meta.json says {want} (truncated?)")


def _read_shard(path: Path, meta: dict, shard: dict, verify: bool) -> EventSequences:
    ev_file, sq_file = _shard_files(path, shard)
    ev, sq = _read_table(ev_file), _read_table(sq_file)
    n = shard["n_sequences"]
    _check_rows(path, shard, ev.num_rows, sq.num_rows)
    try:
        seq = ev.column("seq").to_numpy() - shard["first_sequence"]
        lengths = np.bincount(seq, minlength=n) if len(seq) else np.zeros(n, np.int64)
        ids = np.asarray(sq.column("seq_id").to_pylist(), dtype=object)
        ids = ids.astype(np.int64) if shard["seq_id_kind"] == "int" else ids.astype(str)
        t_end = sq.column("t_end").to_numpy() if shard["has_t_end"] else None
        seqs = EventSequences(
            ev.column("time").to_numpy(), ev.column("type").to_numpy(),
            np.concatenate([[0], np.cumsum(lengths)]), meta["n_types"], seq_ids=ids,
            type_names=meta["type_names"], t_end=t_end, meta=meta["sequences_meta"],
            allow_empty=shard.get("allow_empty", False),
        )
    except (KeyError, ValueError, TypeError) as e:  # a shard rewritten with other columns or data
        raise DatasetIntegrityError(f"{ev_file} / {sq_file.name}: malformed shard "
                                    f"({' '.join(str(e).split())})") from None
    if verify and _shard_hash(seqs) != shard["sha256"]:
        raise DatasetIntegrityError(f"{ev_file} / {sq_file.name}: shard does not match its sha256 "
                                    "in meta.json (changed or corrupt)")
    return seqs


def iter_shards(path: Path, verify: bool = True) -> Iterator[EventSequences]:
    """Yield the stored sequences shard by shard (lazy; for datasets too big for memory)."""
    path = Path(path)
    meta = read_meta(path)
    for shard in meta["shards"]:
        yield _read_shard(path, meta, shard, verify)


def concatenate(parts: list[EventSequences]) -> EventSequences:
    """Concatenate sequences (metadata and type names from the first part)."""
    first = parts[0]
    if len(parts) == 1:
        return first
    offsets = [np.zeros(1, np.int64)]
    base = 0
    for p in parts:
        offsets.append(p.offsets[1:] + base)
        base += p.n_events
    has_end = all(p.t_end is not None for p in parts)
    return EventSequences(
        np.concatenate([p.times for p in parts]), np.concatenate([p.types for p in parts]),
        np.concatenate(offsets), first.n_types,
        seq_ids=np.concatenate([p.seq_ids for p in parts]), type_names=first.type_names,
        t_end=np.concatenate([p.t_end for p in parts]) if has_end else None,
        meta=first.meta, allow_empty=any(p.allow_empty for p in parts),
    )


def load_sequences(path: Path, verify: bool = True) -> EventSequences:
    """Load only the event sequences (no labels): what a method's worker reads."""
    return concatenate(list(iter_shards(path, verify)))


def load_labels(path: Path, verify: bool = True) -> np.ndarray | None:
    """The labels (None if the dataset has none); ``verify``: check them and the header against
    the dataset sha256 (the shards' hashes come from meta.json; no shard is read)."""
    path = Path(path)
    meta = read_meta(path)
    f = path / "labels.parquet"
    labels = None
    if meta["has_labels"]:
        try:
            labels = _read_table(f).column("label").to_numpy()
        except KeyError:
            raise DatasetIntegrityError(f"{f}: no column 'label'") from None
    header = [meta["n_types"], meta["type_names"], meta["sequences_meta"], meta["dataset_meta"]]
    if verify and _combine_hashes([s["sha256"] for s in meta["shards"]], labels,
                                  header) != meta["sha256"]:
        if labels is None:
            raise DatasetIntegrityError(f"{path / 'meta.json'}: header does not match the "
                                        "dataset's sha256 (edited or corrupt)")
        what = "labels" if "meta_sha256" in meta else "labels or the meta.json header"
        raise DatasetIntegrityError(f"{f}: {what} do not match the dataset's sha256 in meta.json "
                                    "(changed or corrupt)")
    return labels


def verify_dataset(path: Path, full: bool = True) -> dict[str, Any]:
    """Check a stored dataset and return its meta: meta.json, every shard (``full``: read and
    hashed; else only present with the right row counts, from the Parquet footers), the labels
    and the header. Raises :class:`DatasetIntegrityError` naming the first bad file."""
    path = Path(path)
    meta = read_meta(path)
    for shard in meta["shards"]:
        if full:
            _read_shard(path, meta, shard, verify=True)
        else:
            _check_rows(path, shard, *(_read_table(f, footer=True).num_rows
                                       for f in _shard_files(path, shard)))
    load_labels(path)
    return meta


def load_dataset(path: Path, verify: bool = True) -> Dataset:
    """Load a stored dataset and verify it (shards, labels and metadata)."""
    path = Path(path)
    meta = read_meta(path)
    return Dataset(load_sequences(path, verify), load_labels(path, verify), meta["dataset_meta"])
