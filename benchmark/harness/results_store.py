"""The ``runs/`` folder of a results directory: where each run is written, found and listed.

Layout, under a results directory ``ROOT``::

    ROOT/runs/METHOD/DATASET/seedS-KEY12/      one finished run (KEY12: first 12 hex digits
        record.json                            of the run key, see
        labels.npy, embeddings.npy,            :attr:`benchmark.harness.runner.RunSpec.key`)
        probe_embeddings.npy                   the method's outputs (those it declares)
        log.txt                                the method process's output
        metrics.json                           written later by ``python -m benchmark evaluate``
    ROOT/runs/METHOD/DATASET/.seedS-KEY12.PID.XXXXXXXX.tmp   a run being written by process PID
    ROOT/runs/METHOD/DATASET/.seedS-KEY12.old-PID            the run it replaces, while it does
    ROOT/runs/METHOD/DATASET/.seedS-KEY12.lock               held while a process runs it

A run is built in its temporary directory (:meth:`ResultsStore.begin`) and renamed into place
when finished (:meth:`ResultsStore.commit`), so a ``kill -9`` leaves no half-written run, only a
temporary directory that :meth:`ResultsStore.clean_stale_tmp` removes later. Names starting
with a dot are never runs. :class:`ResultsStore` is the only code that knows this layout.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..core.storage import pid_alive, temp_writer_pid

RUNS = "runs"
"""Name of the folder of runs inside a results directory."""
RECORD = "record.json"
"""A run's record: what ran, where, how it ended (``status``), its timings."""
METRICS_FILE = "metrics.json"
"""A run's metric values, written by :func:`benchmark.harness.evaluate.evaluate_runs`."""
KEY_CHARS = 12
"""Characters of the run key in a run directory's name."""


class NoRunsFolder(ValueError):
    """A results directory that does not exist or has no ``runs/`` folder."""


class RunLock:
    """Exclusive lock of one run across processes and threads: ``flock`` on a lock file.

    The lock file (``.seedS-KEY12.lock`` beside the run directory) exists only while the lock
    is held: the holder removes it before releasing, and an acquirer that finds it has locked
    a removed file tries again, so no lock files accumulate and two holders never coexist.
    The kernel releases the lock of a killed process; its file is then removed by the next
    holder or by :meth:`ResultsStore.clean_stale_tmp`. Use as a context manager (blocking) or
    call :meth:`acquire` and :meth:`release`.

    Parameters
    ----------
    path : Path
        The lock file.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def acquire(self, blocking: bool = True) -> bool:
        """Take the lock.

        Parameters
        ----------
        blocking : bool, default True
            Wait while another process or thread holds it; if False, return at once.

        Returns
        -------
        bool
            True when the lock is now held, False when ``blocking`` is False and it is taken.
        """
        if self._fd is not None:
            raise RuntimeError(f"{self.path}: lock already held by this object")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                os.close(fd)
                return False
            except BaseException:
                os.close(fd)
                raise
            try:
                now = os.stat(self.path)
                mine = os.fstat(fd)
                same = (now.st_dev, now.st_ino) == (mine.st_dev, mine.st_ino)
            except FileNotFoundError:
                same = False
            if same:
                self._fd = fd
                return True
            os.close(fd)  # its holder removed the file before releasing: lock the new one

    def release(self) -> None:
        """Remove the lock file and release the lock (nothing if not held)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(fd)

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


class ResultsStore:
    """The runs of one results directory (see the module docstring for the layout).

    Constructing a store touches nothing on disk; :meth:`create` makes the ``runs/`` folder,
    :meth:`require` checks that it exists.

    Parameters
    ----------
    root : Path or str
        The results directory (``results/``, ``leaderboard/`` ...). Run directories are
        returned under it as given (a relative root gives relative paths).
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.runs = self.root / RUNS

    def __repr__(self) -> str:
        return f"ResultsStore({str(self.root)!r})"

    # ------------------------------------------------------------------------ the folder
    def exists(self) -> bool:
        """Whether the results directory has a ``runs/`` folder."""
        return self.runs.is_dir()

    def require(self) -> ResultsStore:
        """This store, if its ``runs/`` folder exists.

        Raises
        ------
        NoRunsFolder
            When the results directory does not exist or has no ``runs/`` folder; the message
            names the command that makes one.
        """
        if not self.exists():
            what = "does not exist" if not self.root.exists() else "has no runs/ folder"
            raise NoRunsFolder(f"results directory {self.root} {what} (`python -m benchmark run "
                               f"--results-dir {self.root}` makes one)")
        return self

    def create(self) -> ResultsStore:
        """Make the ``runs/`` folder (and the results directory) if absent; return this store."""
        self.runs.mkdir(parents=True, exist_ok=True)
        return self

    # ------------------------------------------------------------------- finding runs
    @staticmethod
    def run_name(seed: int, key: str) -> str:
        """A run directory's name: ``seedS-KEY12``."""
        return f"seed{seed}-{key[:KEY_CHARS]}"

    def run_dir(self, method: str, dataset: str, seed: int, key: str) -> Path:
        """Where the run of ``method`` on ``dataset`` with ``seed`` and run key ``key`` lives
        (whether or not it exists)."""
        return self.runs / method / dataset / self.run_name(seed, key)

    @staticmethod
    def read_record(run_dir: Path) -> dict[str, Any]:
        """The parsed ``record.json`` of a run directory."""
        return json.loads((Path(run_dir) / RECORD).read_text())

    def find_done(self, method: str, dataset: str, seed: int, key: str) -> Path | None:
        """The run directory if that run finished with status ``ok``, else None (absent,
        failed, timed out, or an unreadable record: all to be run again)."""
        d = self.run_dir(method, dataset, seed, key)
        try:
            status = self.read_record(d).get("status")
        except (OSError, ValueError):  # absent, or malformed JSON / text
            return None
        return d if status == "ok" else None

    def iter_runs(self) -> Iterator[tuple[Path, dict[str, Any]]]:
        """Every stored run as (run directory, record), sorted by path.

        Temporary and other hidden entries (a name starting with a dot at any level) are
        skipped, as are runs whose directory disappears while listing (replaced by another
        process). A malformed record is skipped with a warning.

        Yields
        ------
        tuple of (Path, dict)
            The run directory and its parsed ``record.json``.
        """
        for rec_file in sorted(self.runs.glob(f"*/*/*/{RECORD}")):
            if any(part.startswith(".") for part in rec_file.relative_to(self.runs).parts[:3]):
                continue
            try:
                record = json.loads(rec_file.read_text())
            except FileNotFoundError:
                continue
            except ValueError:  # JSONDecodeError, UnicodeDecodeError
                warnings.warn(f"{rec_file}: malformed record, ignored")
                continue
            yield rec_file.parent, record

    # ------------------------------------------------------------------- writing runs
    def lock(self, method: str, dataset: str, seed: int, key: str) -> RunLock:
        """The (not yet acquired) :class:`RunLock` of a run: hold it while running the run so
        that no other harness process or thread runs it at the same time."""
        d = self.run_dir(method, dataset, seed, key)
        return RunLock(d.with_name(f".{d.name}.lock"))

    def begin(self, method: str, dataset: str, seed: int, key: str) -> Path:
        """A new empty temporary directory for the run, ``.seedS-KEY12.PID.XXXXXXXX.tmp`` beside
        its final place; fill it, then :meth:`commit` or :meth:`discard` it."""
        final = self.run_dir(method, dataset, seed, key)
        final.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f".{final.name}.{os.getpid()}.", suffix=".tmp",
                                     dir=final.parent))

    def commit(self, tmp: Path, final: Path) -> None:
        """Rename the finished temporary directory ``tmp`` to ``final``, replacing an older run.

        The older run is renamed to ``.NAME.old-PID``, ``tmp`` to ``final``, then the older run
        is removed. If the second rename fails the older run is put back and the error raised
        (``tmp`` is left for the caller to :meth:`discard`); if the process dies between the
        renames, :meth:`clean_stale_tmp` puts it back. Either the older or the new run is
        therefore always kept. Hold the run's :meth:`lock` while committing.

        Raises
        ------
        ValueError
            When ``tmp`` and ``final`` are not in the same folder (the rename would not be
            atomic).
        """
        tmp, final = Path(tmp), Path(final)
        if tmp.parent != final.parent:
            raise ValueError(f"{tmp} is not beside {final}")
        if not final.exists():
            os.replace(tmp, final)
            return
        trash = final.with_name(f".{final.name}.old-{os.getpid()}")
        shutil.rmtree(trash, ignore_errors=True)  # left by an earlier process with this pid
        os.replace(final, trash)
        try:
            os.replace(tmp, final)
        except BaseException:
            os.replace(trash, final)
            raise
        shutil.rmtree(trash, ignore_errors=True)

    @staticmethod
    def discard(tmp: Path) -> None:
        """Remove a temporary run directory (nothing if it is gone)."""
        shutil.rmtree(tmp, ignore_errors=True)

    def clean_stale_tmp(self) -> int:
        """Remove what killed harness processes left in ``runs/``.

        Temporary run directories whose writer (the pid in the name) is dead, or is this
        process, are removed: call this before this process begins runs. Those of other live
        processes are left alone, so several harness processes may share a results directory.
        An older run moved aside (``.NAME.old-PID``) by a dead process is put back if its place
        is empty, else removed; lock files that no process holds are removed.

        Returns
        -------
        int
            The number of entries removed or put back.
        """
        n = 0

        def stale(pid: int | None) -> bool:
            return pid is None or pid == os.getpid() or not pid_alive(pid)

        for p in sorted(self.runs.glob("*/*/.*.tmp")):
            if stale(temp_writer_pid(p.name)[1]):
                shutil.rmtree(p, ignore_errors=True)
                n += 1
        for p in sorted(self.runs.glob("*/*/.*.old-*")):
            if not stale(temp_writer_pid(p.name)[1]):
                continue
            final = p.with_name(p.name[1:].rpartition(".old-")[0])
            lock = RunLock(final.with_name(f".{final.name}.lock"))
            if not lock.acquire(blocking=False):
                continue  # a live process is replacing that run now
            try:
                if final.exists():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    os.replace(p, final)
                n += 1
            finally:
                lock.release()
        for p in sorted(self.runs.glob("*/*/.*.lock")):
            lock = RunLock(p)
            if lock.acquire(blocking=False):  # nobody holds it: releasing removes the file
                lock.release()
                n += 1
        return n
