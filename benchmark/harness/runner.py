"""The harness: plan (method, dataset, seed) runs, execute each in its own process, store records.

Each run lives in ``RESULTS/runs/METHOD/DATASET/seedS-KEY/`` where KEY is a content hash of
(method, method version, parameters, dataset fingerprint, seed, probe flag, suite version) — the
fingerprint, not the sha256, so that a dataset regenerated on another CPU (same data, other last
bits) finds the runs already made (:func:`benchmark.core.storage.dataset_fingerprint`). The
folder layout, its temporary directories and the per-run lock belong to
:class:`benchmark.harness.results_store.ResultsStore`: a run is built in a temporary directory
and renamed into place when finished, so a ``kill -9`` leaves no half-written run; a rerun skips
runs whose record says ``ok`` and retries the others; a run is executed by one process at a time.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .. import __version__
from ..core.catalog import materialize
from ..core.dataset import DatasetUnavailable
from ..core.registry import get_dataset, get_method_info
from ..core.storage import (
    DatasetIntegrityError,
    canonical_json,
    dataset_fingerprint,
    load_labels,
    read_meta,
    write_atomic_json,
)
from .results_store import ResultsStore
from .sandbox import (
    EVENTS_FILE,
    InvalidOutput,
    Workspace,
    clean_stale_workspaces,
    read_outputs,
    request_events_path,
    resolve_mode,
    worker_command,
)

DEFAULT_TIMEOUT_S = 3600.0
DEFAULT_MEMORY_MB = 16000.0
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CACHE = Path.home() / ".cache" / "event-clustering-bench"


def default_threads(jobs: int) -> int:
    """CPU threads per run so that ``jobs`` parallel runs share the machine's cores."""
    return max(1, (os.cpu_count() or 1) // max(1, jobs))


@dataclass
class RunSpec:
    method: str
    dataset: str
    seed: int
    profile: str = "quick"
    params: dict[str, Any] = field(default_factory=dict)
    n_clusters_given: int | None = None
    dataset_dir: str = ""
    dataset_sha256: str = ""  # of the files the run read (recorded, not part of the key)
    dataset_fingerprint: str = ""
    probe: bool = True
    method_module: str = ""
    threads: int = 1  # CPU threads for the worker's numeric libraries (not part of the key)
    plan_cell: str | None = None  # the plan cell that declared it (recorded, not part of the key)

    @property
    def key(self) -> str:
        info = get_method_info(self.method)
        unkeyed = info.unkeyed_defaults
        params = {name: value for name, value in self.params.items()
                  if not (name in unkeyed and unkeyed[name] == value)}
        payload = {
            "method": self.method, "method_version": info.version,
            "params": params, "dataset_fingerprint": self.dataset_fingerprint, "seed": self.seed,
            "probe": self.probe, "suite_version": __version__,
        }
        return hashlib.sha256(canonical_json(payload)).hexdigest()

    def run_dir(self, results_dir: Path) -> Path:
        """This run's directory in ``results_dir`` (:meth:`ResultsStore.run_dir`)."""
        return ResultsStore(results_dir).run_dir(self.method, self.dataset, self.seed, self.key)


def resolve_params(method: str, profile: str, seed: int, n_clusters: int | None,
                   overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Defaults, then the profile's preset, then user overrides; seed and K filled in."""
    info = get_method_info(method)
    if profile not in ("quick", "paper"):
        raise ValueError(f"unknown profile {profile!r}; use 'quick' or 'paper'")
    params = dict(info.defaults)
    params.update(info.presets.get(profile, {}))
    params.update(overrides or {})
    unknown = set(params) - set(info.param_names)
    if unknown:
        raise ValueError(f"method {method!r} has no parameter(s) {sorted(unknown)}")
    if "seed" in params:
        params["seed"] = seed
    if info.needs_n_clusters:
        params["n_clusters"] = n_clusters
    return params


def git_commit() -> str | None:
    try:
        root = REPO_ROOT
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                              text=True, timeout=5).stdout.strip() or None
    except Exception:
        return None


def environment() -> dict[str, Any]:
    versions = {"python": platform.python_version(), "numpy": np.__version__, "suite": __version__}
    for mod in ("torch", "sklearn", "tick", "tslearn", "tsfresh", "catboost"):
        m = sys.modules.get(mod)
        if m is None:
            try:
                from importlib.metadata import version

                versions[mod] = version({"sklearn": "scikit-learn"}.get(mod, mod))
            except Exception:
                continue
        else:
            versions[mod] = getattr(m, "__version__", "?")
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    hardware = {"cpu": cpu, "n_cpus": os.cpu_count(), "platform": platform.platform()}
    gpu = _gpu_names()
    if gpu:
        hardware["gpu"] = gpu
    return {"versions": versions, "git_commit": git_commit(), "hardware": hardware}


def _gpu_names() -> str | None:
    """NVIDIA GPU model(s) of this machine from ``nvidia-smi`` (None without one)."""
    import shutil
    import subprocess

    if shutil.which("nvidia-smi") is None:
        return None
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    names = [line.strip() for line in out.splitlines() if line.strip()]
    return ", ".join(names) or None


def _child_setup() -> None:
    """In the worker before exec: own process group (killed as a whole on timeout) and death
    with the harness (Linux ``PR_SET_PDEATHSIG``), so a killed harness leaves no orphan."""
    os.setsid()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _watch(proc: subprocess.Popen, timeout_s: float, memory_mb: float) -> tuple[str, float]:
    """Wait for ``proc``; kill its process group on timeout or when RSS exceeds ``memory_mb``.
    Returns (status, peak RSS in MiB seen by polling)."""
    import psutil

    start = time.monotonic()
    peak = 0.0
    try:
        ps = psutil.Process(proc.pid)
    except psutil.Error:
        ps = None
    while True:
        try:
            proc.wait(timeout=0.2)
            return "exited", peak
        except subprocess.TimeoutExpired:
            pass
        if ps is not None:
            try:
                rss = ps.memory_info().rss + sum(c.memory_info().rss for c in ps.children(True))
                peak = max(peak, rss / 2**20)
            except psutil.Error:
                pass
        status = None
        if time.monotonic() - start > timeout_s:
            status = "timeout"
        elif peak > memory_mb:
            status = "oom"
        if status:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
            return status, peak


def execute(spec: RunSpec, results_dir: Path, *, timeout_s: float = DEFAULT_TIMEOUT_S,
            memory_mb: float = DEFAULT_MEMORY_MB, sandbox: str = "none",
            workspace: Workspace | None = None, hidden: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Run one spec in the method's own process (``sandbox``: ``bwrap`` or ``none``, see
    :mod:`benchmark.harness.sandbox`) and store its run directory; return the record.

    The process gets a private directory of ``workspace`` holding the request and sees the
    events file of ``workspace``; ``hidden`` are the directories it must not see. Its outputs
    are validated before anything is stored. The run is written through
    :class:`ResultsStore` (temporary directory, then renamed into place); no lock is taken here:
    :func:`run_plan` holds the run's lock around this call."""
    store = ResultsStore(results_dir)
    final = spec.run_dir(results_dir)
    tmp = store.begin(spec.method, spec.dataset, spec.seed, spec.key)
    own_workspace = workspace is None
    workspace = workspace or Workspace()
    record: dict[str, Any] = {
        "method": spec.method, "dataset": spec.dataset, "seed": spec.seed, "profile": spec.profile,
        "params": spec.params, "n_clusters_given": spec.n_clusters_given,
        "dataset_sha256": spec.dataset_sha256, "dataset_fingerprint": spec.dataset_fingerprint,
        "key": spec.key, "probe": spec.probe,
        "threads": spec.threads, "sandbox": sandbox,
        "argv": list(sys.argv), "plan_cell": spec.plan_cell,  # how to make it again; not keyed
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **environment(),
    }
    try:
        events = workspace.events(Path(spec.dataset_dir), spec.dataset, spec.dataset_fingerprint)
        box = workspace.new_box()
        if sandbox == "none":  # a copy of its own: the process could change a shared file
            events = Path(shutil.copyfile(events, box / EVENTS_FILE))
        write_atomic_json(box / "request.json", {
            "method": spec.method, "method_module": spec.method_module, "params": spec.params,
            "probe": spec.probe, "threads": spec.threads,
            "events": request_events_path(sandbox, events)})
        log_path = box.with_suffix(".log")
        r, w = os.pipe()  # bubblewrap reads its arguments from this pipe
        try:
            argv, env, cwd, bwrap_args = worker_command(sandbox, box, events, spec.method_module,
                                                        spec.threads, list(hidden), args_fd=r)
            if bwrap_args is not None:
                os.write(w, bwrap_args)
            os.close(w)
            w = -1
            with open(log_path, "wb") as log:
                wall0 = time.perf_counter()
                proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, env=env, cwd=cwd,
                                        preexec_fn=_child_setup,
                                        pass_fds=(r,) if bwrap_args is not None else ())
        finally:
            os.close(r)
            if w >= 0:
                os.close(w)
        how, polled_peak = _watch(proc, timeout_s, memory_mb)
        total_wall = time.perf_counter() - wall0
        shutil.copyfile(log_path, tmp / "log.txt")
        error = None
        if how == "exited" and proc.returncode == 0:
            try:
                arrays, result = read_outputs(box / "out", int(_n_sequences(spec)),
                                              get_method_info(spec.method).outputs, spec.probe)
            except InvalidOutput as e:
                error = f"invalid output: {e}"
            else:
                for fname, a in arrays.items():
                    np.save(tmp / fname, a)
                record.update(result)
                record["status"] = "ok"
        if record.get("status") != "ok":
            log_tail = (tmp / "log.txt").read_text(errors="replace").strip().splitlines()[-15:]
            if how == "timeout":
                record["status"], record["error"] = "timeout", f"killed after {timeout_s:.0f} s"
            elif how == "oom":
                record["status"], record["error"] = "oom", f"killed above {memory_mb:.0f} MiB RSS"
            else:
                record["status"] = "failed"
                last = next((ln for ln in reversed(log_tail) if ln.strip()), "")
                record["error"] = error or last or f"exit code {proc.returncode}"
            record["log_tail"] = log_tail
            record["peak_rss_mb"] = polled_peak
        record["process_wall_time_s"] = total_wall
        record["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        write_atomic_json(tmp / "record.json", record)
        store.commit(tmp, final)
    except BaseException:
        store.discard(tmp)
        raise
    finally:
        if own_workspace:
            workspace.close()
        elif "box" in locals():
            shutil.rmtree(box, ignore_errors=True)
            Path(box.with_suffix(".log")).unlink(missing_ok=True)
    return record


def _n_sequences(spec: RunSpec) -> int:
    return int(read_meta(Path(spec.dataset_dir))["n_sequences"])


@dataclass
class Plan:
    runs: list[RunSpec]
    skipped: list[tuple[str, str, str]]  # (method, dataset, reason)


def plan_runs(methods: list[str], datasets: list[str], seeds: list[int], profile: str,
              data_dir: Path | None, cache_dir: Path, probe: bool = True,
              overrides: dict[str, dict[str, Any]] | None = None,
              log: Callable[[str], None] = print, unlabelled_k: int | None = None) -> Plan:
    """Materialize datasets and build specs; unavailable datasets/methods become skips.

    Methods that need K get the dataset's K (registered, else the number of distinct labels);
    on a dataset without labels they get ``unlabelled_k`` (None: such runs are skipped), and the
    record says which K was given.
    """
    runs: list[RunSpec] = []
    skipped: list[tuple[str, str, str]] = []
    for ds in datasets:
        spec_ds = get_dataset(ds)
        try:
            log(f"preparing dataset {ds} ...")
            ddir = materialize(ds, data_dir, cache_dir, log=log)
        except (ValueError, DatasetIntegrityError) as e:  # malformed or wrong source files
            skipped.extend((m, ds, f"dataset could not be loaded: {e}") for m in methods)
            continue
        except DatasetUnavailable as e:
            skipped.extend((m, ds, f"dataset unavailable: {e}") for m in methods)
            continue
        meta = read_meta(ddir)
        fingerprint = dataset_fingerprint(ddir)
        k = spec_ds.n_clusters
        if k is None:
            labels = load_labels(ddir)
            k = int(len(np.unique(labels))) if labels is not None else unlabelled_k
        for m in methods:
            info = get_method_info(m)
            missing = info.missing_dependencies()
            if missing:
                skipped.append((m, ds, f"missing dependency: {', '.join(missing)}"))
                continue
            if info.needs_n_clusters and k is None:
                skipped.append((m, ds, "method needs the number of clusters; dataset has no labels "
                                       "(pass --unlabelled-k K to run it with a chosen K)"))
                continue
            for s in seeds:
                runs.append(RunSpec(
                    method=m, dataset=ds, seed=s, profile=profile,
                    params=resolve_params(m, profile, s, k, (overrides or {}).get(m)),
                    n_clusters_given=k if info.needs_n_clusters else None,
                    dataset_dir=str(ddir), dataset_sha256=meta["sha256"],
                    dataset_fingerprint=fingerprint, probe=probe,
                    method_module=info.module,
                ))
    return Plan(runs, skipped)


def split_done(plan: Plan, results_dir: Path) -> tuple[list[RunSpec], list[dict[str, Any]]]:
    """(runs still to do, records of the finished ones) of ``plan`` in ``results_dir``."""
    store = ResultsStore(results_dir)
    todo, records = [], []
    for spec in plan.runs:
        done = store.find_done(spec.method, spec.dataset, spec.seed, spec.key)
        if done is not None:
            records.append(store.read_record(done))
        else:
            todo.append(spec)
    return todo, records


def estimate_cpu_s(todo: list[RunSpec], results_dir: Path) -> list[float | None]:
    """Expected CPU seconds of each run in ``todo``: the mean CPU time of the finished ok runs
    of the same method and profile on the same dataset in ``results_dir``, else on any dataset;
    None when there is none."""
    by_cell: dict[tuple, list[float]] = {}
    for _, rec in ResultsStore(results_dir).iter_runs():
        if rec.get("status") == "ok" and rec.get("cpu_time_s") is not None:
            for cell in ((rec["method"], rec.get("profile"), rec["dataset"]),
                         (rec["method"], rec.get("profile"), None)):
                by_cell.setdefault(cell, []).append(float(rec["cpu_time_s"]))
    out = []
    for spec in todo:
        times = (by_cell.get((spec.method, spec.profile, spec.dataset))
                 or by_cell.get((spec.method, spec.profile, None)))
        out.append(float(np.mean(times)) if times else None)
    return out


def run_plan(plan: Plan, results_dir: Path, *, jobs: int = 1, timeout_s: float = DEFAULT_TIMEOUT_S,
             memory_mb: float = DEFAULT_MEMORY_MB, progress: bool = True, threads: int | None = None,
             log: Callable[[str], None] = print, sandbox: str = "auto",
             hidden: tuple[Path | None, ...] = ()) -> list[dict[str, Any]]:
    """Execute the plan (skipping finished runs); returns one record per run.

    Each worker gets ``threads`` CPU threads (default: cores // jobs; the specs of a plan cell,
    ``plan_cell`` set, keep their cell's threads unless ``threads`` is given) and runs in the
    ``sandbox`` mode (``auto``: ``bwrap`` where it works, else ``none`` with one warning).
    ``hidden`` (e.g. the data and cache directories) are kept out of the sandbox's view, as are
    ``results_dir``, the repository and the default cache. Each run is executed under its
    :meth:`ResultsStore.lock`: a run that another harness process sharing ``results_dir`` is
    executing is waited for, and its record is taken if it finished ``ok``."""
    from tqdm import tqdm

    results_dir = Path(results_dir)
    for spec in plan.runs:
        if threads or spec.plan_cell is None:  # a plan cell's specs keep the cell's threads
            spec.threads = threads or default_threads(jobs)
    for m, ds, reason in plan.skipped:
        log(f"skip {m} on {ds}: {reason}")
    todo, records = split_done(plan, results_dir)
    if records:
        log(f"{len(records)} run(s) already done, {len(todo)} to run")
    clean_stale_workspaces()
    if not todo:
        return records
    mode = resolve_mode(sandbox, warn=log)
    hide = tuple(Path(h) for h in (*hidden, results_dir, REPO_ROOT, DEFAULT_CACHE) if h)
    workspace = Workspace()
    bar = tqdm(total=len(todo), disable=not progress, unit="run", file=sys.stderr)
    lock = threading.Lock()
    store = ResultsStore(results_dir)

    def one(spec: RunSpec) -> dict[str, Any]:
        try:
            ids = (spec.method, spec.dataset, spec.seed, spec.key)
            run_lock = store.lock(*ids)
            if not run_lock.acquire(blocking=False):
                with lock:
                    line = (f"waiting: another process is running {spec.method} on "
                            f"{spec.dataset} seed {spec.seed}")
                    bar.write(line) if progress else log(line)
                run_lock.acquire()
            try:
                done = store.find_done(*ids)
                rec = store.read_record(done) if done is not None else execute(
                    spec, results_dir, timeout_s=timeout_s, memory_mb=memory_mb, sandbox=mode,
                    workspace=workspace, hidden=hide)
            finally:
                run_lock.release()
        except OSError as e:  # the harness's own I/O failed (disk full, directory removed ...)
            rec = {"method": spec.method, "dataset": spec.dataset, "seed": spec.seed,
                   "status": "failed", "error": f"harness I/O error: {e}"}
        with lock:
            line = (f"{rec['status']:>7}  {spec.method} on {spec.dataset} seed {spec.seed}: "
                    + (f"{rec.get('wall_time_s', 0):.1f} s, {rec.get('peak_rss_mb', 0):.0f} MiB"
                       if rec["status"] == "ok" else rec.get("error", "")))
            bar.write(line) if progress else log(line)
            bar.update(1)
        return rec

    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            records.extend(pool.map(one, todo))
    finally:
        bar.close()
        workspace.close()
    return records
