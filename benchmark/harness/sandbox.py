"""The method's process and what it can see.

A run's worker (``python -m benchmark.harness.worker``) is started by :func:`worker_command` in a private,
empty directory that holds only ``request.json`` (method, module, parameters, probe flag,
threads) and reads the events from one file, ``events.npz``, written once per dataset by
:func:`write_events`: ``times`` (float64, E), ``types`` (int32, E), ``offsets`` (int64, N + 1),
``t_end`` (float64, N, only if the dataset has window ends), ``n_types``, ``type_names`` and the
dataset's name and time unit. Nothing else of the dataset reaches the method: no sequence ids,
no source path, no other metadata, no directory of the dataset, cache or results.

Modes (``--sandbox``):

* ``bwrap`` (Linux, `bubblewrap <https://github.com/containers/bubblewrap>`_): the worker runs
  in new user, mount, pid, network, IPC and UTS namespaces. Its filesystem is the system
  (``/usr``, ``/etc``, ``/sys`` read-only), the Python installation and virtual environment
  (read-only), the code of the suite's core and methods packages and of the method's own
  package (read-only), the events file (read-only, ``/input/events.npz``), its private working
  directory (``/sandbox``, writable) and empty ``/tmp`` and ``/dev/shm``. The data directory,
  the cache, the results directory, the rest of the repository (``leaderboard/``, ``tests/``
  unless the method lives there, ``generators/``, ``loaders/``, ``.git``) and the home
  directory are not there; one of them that lies inside a mounted directory is covered by an
  empty ``tmpfs``. No network, no view of other processes (``/proc`` shows the sandbox's own),
  capabilities dropped, an environment of a fixed allow-list (:data:`ENV_ALLOW`) and no file
  descriptor but stdin (``/dev/null``) and stdout/stderr (the run's log file). bubblewrap's own
  arguments reach it through a pipe, so its command line names no path.
* ``none``: the same private directory, request, events file and scrubbed environment, but the
  process can read anything its user can. Records say ``"sandbox": "none"`` and the
  leaderboard marks such cells.
* ``auto`` (default): ``bwrap`` where it works here, else ``none`` with one warning.

Outputs come back through the same directory (``out/labels.npy``, ``out/embeddings.npy``,
``out/probe_embeddings.npy``, ``out/result.json``) and :func:`read_outputs` validates them
(shape, dtype, finite values, N rows, known JSON fields) before the harness stores anything.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..core.sequences import EventSequences

SANDBOX_MODES = ("auto", "bwrap", "none")
EVENTS_FILE = "events.npz"
BOX_EVENTS = "/input/" + EVENTS_FILE  # where the events file appears inside the bwrap sandbox
BOX_DIR = "/sandbox"  # the private working directory inside the bwrap sandbox
# Core and method packages every worker imports (plus the method's own top-level package);
# the data packages are kept out of view (their generators would redraw a published set).
CODE_PACKAGES = ("benchmark", "baselines")
HIDDEN_PACKAGES = ("generators", "loaders")
# Environment variables passed through (values, not paths of the suite); everything else is
# dropped. EVSEQ_HEAP_REUSE is a switch of benchmark.core.process_memory ("0" or unset).
ENV_ALLOW = ("LANG", "LC_ALL", "TZ", "CUDA_VISIBLE_DEVICES", "EVSEQ_HEAP_REUSE")
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")
RESULT_NUMBERS = ("n_sequences", "n_events", "wall_time_s", "cpu_time_s", "probe_wall_time_s",
                  "peak_rss_mb")


class SandboxUnavailable(RuntimeError):
    """``--sandbox bwrap`` was asked for and cannot run here (the message says why)."""


class InvalidOutput(ValueError):
    """A method's process returned outputs of the wrong shape, type or values."""


# ------------------------------------------------------------------------------ events file
def write_events(seqs: EventSequences, path: Path, name: str) -> Path:
    """Write the events a method may see to ``path`` (an ``.npz``; atomic). Returns ``path``."""
    arrays: dict[str, Any] = {"times": seqs.times, "types": seqs.types, "offsets": seqs.offsets,
                              "n_types": np.int64(seqs.n_types), "name": np.str_(name)}
    if seqs.t_end is not None:
        arrays["t_end"] = seqs.t_end
    if seqs.type_names is not None:
        arrays["type_names"] = np.array(seqs.type_names, dtype=str)
    if seqs.meta.get("time_unit") is not None:
        arrays["time_unit"] = np.str_(seqs.meta["time_unit"])
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    os.replace(tmp, path)
    return path


def read_events(path: Path) -> EventSequences:
    """The :class:`EventSequences` written by :func:`write_events` (ids ``0..N-1``; metadata
    ``name`` and, where known, ``time_unit``)."""
    with np.load(path, allow_pickle=False) as z:
        meta = {"name": str(z["name"])}
        if "time_unit" in z:
            meta["time_unit"] = str(z["time_unit"])
        return EventSequences(
            z["times"], z["types"], z["offsets"], int(z["n_types"]),
            type_names=[str(n) for n in z["type_names"]] if "type_names" in z else None,
            t_end=z["t_end"] if "t_end" in z else None, meta=meta)


# ------------------------------------------------------------------------------ availability
@functools.lru_cache(maxsize=None)
def bwrap_problem() -> str | None:
    """Why a bubblewrap sandbox cannot run here (None when it can); checked once per process."""
    if not sys.platform.startswith("linux"):
        return f"bubblewrap needs Linux (this is {sys.platform})"
    exe = shutil.which("bwrap")
    if exe is None:
        return ("bubblewrap is not installed (`apt-get install bubblewrap`; `make setup` does it "
                "where it runs as root)")
    try:
        out = subprocess.run([exe, "--ro-bind", "/", "/", "--unshare-all", "--unshare-user-try",
                              "--die-with-parent", "--", "/bin/true"],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as e:
        return f"bubblewrap failed to start: {e}"
    if out.returncode != 0:
        return ("bubblewrap cannot create namespaces here (" + (out.stderr.strip() or
                f"exit code {out.returncode}") + "); unprivileged user namespaces may be off")
    return None


def resolve_mode(mode: str, warn=None) -> str:
    """``bwrap`` or ``none`` for the requested mode; ``auto`` falls back to ``none`` with one
    warning (through ``warn``, default :func:`warnings.warn`); ``bwrap`` unavailable raises
    :class:`SandboxUnavailable`."""
    if mode not in SANDBOX_MODES:
        raise ValueError(f"unknown sandbox mode {mode!r}; use one of {', '.join(SANDBOX_MODES)}")
    if mode == "none":
        return "none"
    problem = bwrap_problem()
    if problem is None:
        return "bwrap"
    if mode == "bwrap":
        raise SandboxUnavailable(f"--sandbox bwrap: {problem}")
    (warn or (lambda m: warnings.warn(m, stacklevel=2)))(
        f"warning: methods run WITHOUT a sandbox ({problem}); records say \"sandbox\": \"none\" "
        "and the leaderboard marks their cells")
    return "none"


# ------------------------------------------------------------------------------ the command
def _code_locations(method_module: str) -> tuple[list[Path], list[Path]]:
    """(directories or files to mount read-only, their import roots) of the core and methods
    packages and of the method's own top-level package or module."""
    mounts: list[Path] = []
    roots: list[Path] = []
    for top in dict.fromkeys(CODE_PACKAGES + (method_module.split(".")[0],)):
        spec = importlib.util.find_spec(top)
        if spec is None:
            continue
        if spec.submodule_search_locations:
            loc = Path(list(spec.submodule_search_locations)[0]).resolve()
        elif spec.origin:
            loc = Path(spec.origin).resolve()
        else:
            continue
        mounts.append(loc)
        roots.append(loc.parent)
    return mounts, list(dict.fromkeys(roots))


def _inside(path: Path, parent: Path) -> bool:
    try:
        path.relative_to(parent)
        return True
    except ValueError:
        return False


def _environment(threads: int, home: str, pythonpath: list[Path]) -> dict[str, str]:
    env = {k: os.environ[k] for k in ENV_ALLOW if k in os.environ}
    env.update(PATH=os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin",
                                     "/usr/bin", "/bin"]),
               HOME=home, TMPDIR="/tmp", PYTHONNOUSERSITE="1", PYTHONDONTWRITEBYTECODE="1",
               PYTHONPATH=os.pathsep.join(str(p) for p in pythonpath), MPLBACKEND="Agg",
               NUMBA_CACHE_DIR=f"{home}/.cache/numba")
    for var in THREAD_ENV_VARS:
        env[var] = str(threads)
    return env


def worker_command(mode: str, box: Path, events: Path, method_module: str, threads: int,
                   hidden: list[Path], args_fd: int = 3
                   ) -> tuple[list[str], dict[str, str], str, bytes | None]:
    """(argv, environment, working directory, bubblewrap's arguments to write into the pipe
    ``args_fd`` or None) that start the worker for the private directory ``box`` and the events
    file ``events``. ``hidden`` are directories that must not be visible (data, cache, results,
    repository); under ``bwrap`` any of them inside a mounted directory is covered."""
    mounts, roots = _code_locations(method_module)
    python = [sys.executable, "-m", "benchmark.harness.worker"]
    if mode == "none":
        home = str(box / "home")
        return python, _environment(threads, home, roots), str(box), None
    env = _environment(threads, f"{BOX_DIR}/home", roots)
    args = ["--unshare-all", "--unshare-user-try", "--die-with-parent", "--cap-drop", "ALL",
            "--clearenv", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
            "--hostname", "sandbox"]
    for top in ("usr", "etc", "sys"):
        if Path("/" + top).is_dir():
            args += ["--ro-bind", "/" + top, "/" + top]
    for link in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        p = Path("/" + link)
        if p.is_symlink():
            args += ["--symlink", os.readlink(p), "/" + link]
        elif p.is_dir():
            args += ["--ro-bind", str(p), str(p)]
    visible = [Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(),
               Path(sys.executable).resolve().parent] + mounts
    visible = list(dict.fromkeys(visible))
    for p in visible:
        args += ["--ro-bind", str(p), str(p)]
    for top in HIDDEN_PACKAGES:
        spec = importlib.util.find_spec(top)
        if spec is not None and spec.submodule_search_locations:
            hidden = [*hidden, Path(list(spec.submodule_search_locations)[0])]
    for h in hidden:
        h = Path(h).resolve()
        if any(_inside(h, v) and h != v for v in visible) and h.exists():
            args += ["--tmpfs", str(h)]
    for dev in sorted(Path("/dev").glob("nvidia*")):  # GPUs, where a method asks for one
        args += ["--dev-bind", str(dev), str(dev)]
    args += ["--bind", str(box), BOX_DIR, "--ro-bind", str(events), BOX_EVENTS,
             "--chdir", BOX_DIR]
    for k, v in env.items():
        args += ["--setenv", k, v]
    payload = b"".join(a.encode() + b"\0" for a in args)
    return [shutil.which("bwrap") or "bwrap", "--args", str(args_fd), "--"] + python, \
        {"PATH": "/usr/bin:/bin"}, str(box), payload


def request_events_path(mode: str, events: Path) -> str:
    """The events file's path as the worker sees it."""
    return BOX_EVENTS if mode == "bwrap" else str(events)


# ------------------------------------------------------------------------------ outputs
def _load_array(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except Exception as e:
        raise InvalidOutput(f"{path.name}: not a readable numpy array ({e})") from None


def read_outputs(out: Path, n: int, outputs: tuple[str, ...], probe: bool) -> tuple[dict, dict]:
    """Validate what the worker left in ``out``: ({file name: array}, result dict).

    ``labels.npy`` integer (N,); ``embeddings.npy`` and ``probe_embeddings.npy`` finite
    float32 (N, d); ``result.json`` an object with the numbers of :data:`RESULT_NUMBERS` and a
    ``method_metrics`` object of numbers. Anything else raises :class:`InvalidOutput`."""
    arrays: dict[str, np.ndarray] = {}
    wanted = ([("labels.npy", "labels")] if "labels" in outputs else []) + (
        [("embeddings.npy", "embeddings")] if "embeddings" in outputs else []) + (
        [("probe_embeddings.npy", "embeddings")] if probe and "embeddings" in outputs else [])
    for fname, kind in wanted:
        if not (out / fname).is_file():
            raise InvalidOutput(f"the method's process wrote no {fname}")
        a = _load_array(out / fname)
        if kind == "labels":
            if a.shape != (n,) or not np.issubdtype(a.dtype, np.integer):
                raise InvalidOutput(f"{fname}: expected integers of shape ({n},), got {a.dtype} "
                                    f"{a.shape}")
            a = a.astype(np.int64)
        else:
            if a.ndim != 2 or a.shape[0] != n or a.dtype != np.float32:
                raise InvalidOutput(f"{fname}: expected float32 of shape ({n}, d), got {a.dtype} "
                                    f"{a.shape}")
            if not np.isfinite(a).all():
                raise InvalidOutput(f"{fname}: non-finite values")
        arrays[fname] = a
    try:
        raw = json.loads((out / "result.json").read_text())
    except (OSError, ValueError) as e:
        raise InvalidOutput(f"result.json: unreadable ({e})") from None
    if not isinstance(raw, dict):
        raise InvalidOutput("result.json: not a JSON object")
    result: dict[str, Any] = {}
    for k in RESULT_NUMBERS:
        if k in raw:
            if not isinstance(raw[k], (int, float)) or isinstance(raw[k], bool):
                raise InvalidOutput(f"result.json: {k} is not a number")
            result[k] = raw[k]
    mm = raw.get("method_metrics", {})
    if not isinstance(mm, dict) or not all(
            isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool)
            for k, v in mm.items()):
        raise InvalidOutput("result.json: method_metrics must map names to numbers")
    result["method_metrics"] = {k: (float(v) if math.isfinite(v) else None) for k, v in mm.items()}
    if result.get("n_sequences", n) != n:
        raise InvalidOutput(f"result.json: n_sequences {result['n_sequences']}, expected {n}")
    return arrays, result


# ------------------------------------------------------------------------------ workspace
class Workspace:
    """The harness's private temporary directory (``TMPDIR/evseq-PID-*``): one events file per
    dataset, written once and shared read-only by that dataset's runs, and one private
    directory per run. :meth:`close` removes it; :func:`clean_stale_workspaces` removes those
    of harness processes that died."""

    def __init__(self) -> None:
        import tempfile
        import threading

        self.root = Path(tempfile.mkdtemp(prefix=f"evseq-{os.getpid()}-"))
        self._lock = threading.Lock()
        self._events: dict[str, Path] = {}

    def events(self, dataset_dir: Path, name: str, fingerprint: str) -> Path:
        """The events file of a stored dataset (verified when read; written on first use). Its
        name is the sequences' own ``meta["name"]``, else ``name``."""
        from ..core.storage import load_sequences

        with self._lock:
            if fingerprint not in self._events:
                path = self.root / f"events-{fingerprint[:16]}.npz"
                seqs = load_sequences(Path(dataset_dir))
                write_events(seqs, path, seqs.meta.get("name") or name)
                self._events[fingerprint] = path
            return self._events[fingerprint]

    def new_box(self) -> Path:
        """A new, empty private directory for one run."""
        import tempfile

        return Path(tempfile.mkdtemp(prefix="run-", dir=self.root))

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def clean_stale_workspaces() -> int:
    """Remove ``TMPDIR/evseq-PID-*`` directories whose harness process is gone; return how many."""
    import tempfile

    from ..core.storage import pid_alive

    n = 0
    for p in Path(tempfile.gettempdir()).glob("evseq-*-*"):
        pid = p.name.split("-")[1]
        if not pid.isdigit() or int(pid) == os.getpid() or pid_alive(int(pid)):
            continue
        shutil.rmtree(p, ignore_errors=True)
        n += 1
    return n
