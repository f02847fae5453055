"""The results store owns the ``runs/`` layout: paths, listing, finished runs, temporary
directories, replacement, cleanup of killed writers and the per-run lock."""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from benchmark.harness.results_store import NoRunsFolder, ResultsStore

REPO = Path(__file__).resolve().parent.parent
KEY = "0123456789abcdef" * 4


def _write_run(store: ResultsStore, method: str, dataset: str, seed: int, key: str = KEY,
               **record) -> Path:
    """A finished run written the way the harness writes one: temporary directory, commit."""
    tmp = store.begin(method, dataset, seed, key)
    (tmp / "record.json").write_text(json.dumps({"method": method, "dataset": dataset,
                                                 "seed": seed, "status": "ok", **record}))
    final = store.run_dir(method, dataset, seed, key)
    store.commit(tmp, final)
    return final


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_layout_and_temporary_names(tmp_path):
    store = ResultsStore(tmp_path / "res")
    assert not store.exists()
    assert store.run_dir("lal", "K3_C5", 2, KEY) == (
        tmp_path / "res" / "runs" / "lal" / "K3_C5" / "seed2-0123456789ab")
    tmp = store.begin("lal", "K3_C5", 2, KEY)
    assert store.exists() and tmp.is_dir() and not any(tmp.iterdir())
    assert tmp.parent == store.run_dir("lal", "K3_C5", 2, KEY).parent
    _, name, pid, rand, suffix = tmp.name.split(".")
    assert (name, pid, suffix) == ("seed2-0123456789ab", str(os.getpid()), "tmp") and rand
    store.discard(tmp)
    assert not tmp.exists()
    store.discard(tmp)  # gone already: nothing happens
    assert ResultsStore("rel").run_dir("m", "d", 0, KEY) == Path("rel/runs/m/d/seed0-0123456789ab")


def test_require_and_create(tmp_path):
    with pytest.raises(NoRunsFolder, match="does not exist"):
        ResultsStore(tmp_path / "nope").require()
    with pytest.raises(ValueError, match="has no runs/ folder"):
        ResultsStore(tmp_path).require()
    store = ResultsStore(tmp_path).create()
    assert store.require() is store and (tmp_path / "runs").is_dir()


def test_iter_runs_is_sorted_and_skips_temporaries_hidden_and_malformed(tmp_path):
    store = ResultsStore(tmp_path)
    assert list(store.iter_runs()) == []  # no runs/ folder: nothing
    for method, dataset, seed in [("b", "x", 1), ("a", "y", 0), ("a", "x", 3), ("a", "x", 1)]:
        _write_run(store, method, dataset, seed)
    tmp = store.begin("a", "x", 7, KEY)  # a run being written: not listed
    (tmp / "record.json").write_text(json.dumps({"status": "ok"}))
    hidden = store.runs / ".trash" / "x" / "seed0-abc"
    hidden.mkdir(parents=True)
    (hidden / "record.json").write_text("{}")
    (store.runs / "a" / "x" / "seed9-norecord").mkdir()
    bad = store.run_dir("c", "x", 0, KEY)
    bad.mkdir(parents=True)
    (bad / "record.json").write_text("{not json")
    with pytest.warns(UserWarning, match="malformed record"):
        runs = list(store.iter_runs())
    assert [(r["method"], r["dataset"], r["seed"]) for _, r in runs] == [
        ("a", "x", 1), ("a", "x", 3), ("a", "y", 0), ("b", "x", 1)]
    assert all(d == store.run_dir(r["method"], r["dataset"], r["seed"], KEY) for d, r in runs)


def test_find_done_only_for_status_ok(tmp_path):
    store = ResultsStore(tmp_path)
    assert store.find_done("m", "d", 0, KEY) is None  # absent
    ok = _write_run(store, "m", "d", 0)
    assert store.find_done("m", "d", 0, KEY) == ok
    assert store.read_record(ok)["status"] == "ok"
    assert store.find_done("m", "d", 0, "f" * 64) is None  # another key
    for status in ("failed", "timeout", "oom"):
        _write_run(store, "m", "d", 1, status=status)
        assert store.find_done("m", "d", 1, KEY) is None
    (store.run_dir("m", "d", 0, KEY) / "record.json").write_text("{truncated")
    assert store.find_done("m", "d", 0, KEY) is None


def test_commit_replaces_an_older_run_and_leaves_nothing_behind(tmp_path):
    store = ResultsStore(tmp_path)
    final = _write_run(store, "m", "d", 0, status="failed")
    (final / "log.txt").write_text("old")
    new = _write_run(store, "m", "d", 0, status="ok")
    assert new == final and store.read_record(final)["status"] == "ok"
    assert not (final / "log.txt").exists()  # the whole directory was replaced
    assert sorted(p.name for p in final.parent.iterdir()) == [final.name]
    with pytest.raises(ValueError, match="not beside"):
        store.commit(store.begin("m", "d", 0, KEY), store.run_dir("m", "other", 0, KEY))


def test_commit_puts_the_older_run_back_when_the_rename_fails(tmp_path, monkeypatch):
    store = ResultsStore(tmp_path)
    final = _write_run(store, "m", "d", 0, status="failed")
    tmp = store.begin("m", "d", 0, KEY)
    real = os.replace

    def failing(src, dst):
        if Path(src) == tmp:
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(OSError, match="No space"):
        store.commit(tmp, final)
    monkeypatch.undo()
    assert store.read_record(final)["status"] == "failed" and tmp.is_dir()
    assert not list(final.parent.glob(".*.old-*"))


def test_clean_stale_tmp_spares_live_writers(tmp_path):
    store = ResultsStore(tmp_path)
    base = store.runs / "m" / "d"
    dead = _dead_pid()
    live = base / f".seed0-abc.{os.getppid()}.x1.tmp"  # the pytest parent: alive
    gone = base / f".seed0-abc.{dead}.x2.tmp"
    own = base / f".seed1-abc.{os.getpid()}.x3.tmp"  # this process has begun no run yet
    for d in (live, gone, own):
        d.mkdir(parents=True)
    assert store.clean_stale_tmp() == 2
    assert live.exists() and not gone.exists() and not own.exists()
    assert ResultsStore(tmp_path / "nothing").clean_stale_tmp() == 0


def test_clean_stale_tmp_puts_back_a_run_a_dead_process_was_replacing(tmp_path):
    store = ResultsStore(tmp_path)
    dead = _dead_pid()
    kept = _write_run(store, "m", "d", 0, status="ok")
    aside = kept.with_name(f".{kept.name}.old-{dead}")  # killed between the two renames
    os.replace(kept, aside)
    replaced = _write_run(store, "m", "d", 1)
    leftover = replaced.with_name(f".{replaced.name}.old-{dead}")  # killed before removing it
    leftover.mkdir()
    busy = _write_run(store, "m", "d", 2)
    live = busy.with_name(f".{busy.name}.old-{os.getppid()}")
    live.mkdir()
    assert store.clean_stale_tmp() == 2
    assert store.find_done("m", "d", 0, KEY) == kept and not aside.exists()
    assert not leftover.exists() and live.exists()


def test_clean_stale_tmp_removes_unheld_lock_files_only(tmp_path):
    store = ResultsStore(tmp_path)
    held = store.lock("m", "d", 0, KEY)
    assert held.acquire()
    left = store.lock("m", "d", 1, KEY).path  # a killed holder's file: the kernel freed the lock
    left.touch()
    assert store.clean_stale_tmp() == 1
    assert not left.exists() and held.path.exists()
    held.release()
    assert not held.path.exists()


def test_lock_excludes_a_second_writer_in_this_process(tmp_path):
    store = ResultsStore(tmp_path)
    first, second = store.lock("m", "d", 0, KEY), store.lock("m", "d", 0, KEY)
    assert first.path == store.run_dir("m", "d", 0, KEY).with_name(".seed0-0123456789ab.lock")
    assert first.acquire(blocking=False) and first.held
    assert not second.acquire(blocking=False) and not second.held
    with pytest.raises(RuntimeError, match="already held"):
        first.acquire()
    with store.lock("m", "d", 1, KEY):  # another run: independent
        pass
    got = threading.Event()

    def wait_for_it():
        second.acquire()  # blocks until ``first`` is released, then locks a fresh file
        got.set()

    waiter = threading.Thread(target=wait_for_it)
    waiter.start()
    assert not got.wait(0.3)
    first.release()
    assert got.wait(10)
    waiter.join()
    assert second.held and second.path.exists()
    assert not store.lock("m", "d", 0, KEY).acquire(blocking=False)
    second.release()
    assert not second.path.exists()


def test_lock_excludes_a_second_harness_process(tmp_path):
    store = ResultsStore(tmp_path)
    code = ("import sys; from benchmark.harness.results_store import ResultsStore; "
            f"lock = ResultsStore(sys.argv[1]).lock('m', 'd', 0, {KEY!r}); "
            "lock.acquire(); print('held', flush=True); sys.stdin.read(); lock.release()")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], cwd=REPO,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        mine = store.lock("m", "d", 0, KEY)
        assert not mine.acquire(blocking=False)
        proc.stdin.close()
        assert proc.wait(30) == 0
        assert mine.acquire(blocking=False)
        mine.release()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_run_plan_waits_for_a_run_held_by_another_process_and_reuses_it(tmp_path, monkeypatch):
    """Two harness processes sharing a results directory never both run the same run: the
    second waits on the run's lock and then takes the finished record instead of running it."""
    from benchmark.core.registry import discover
    from benchmark.harness import runner

    discover()
    spec = runner.RunSpec(method="random", dataset="d", seed=0, dataset_fingerprint="f" * 64)
    store = ResultsStore(tmp_path)
    executed = []
    monkeypatch.setattr(runner, "execute", lambda s, *a, **k: executed.append(s) or {})
    other = store.lock(spec.method, spec.dataset, spec.seed, spec.key)
    assert other.acquire()
    lines, out = [], []
    harness = threading.Thread(target=lambda: out.extend(runner.run_plan(
        runner.Plan([spec], []), tmp_path, progress=False, log=lines.append, sandbox="none")))
    harness.start()
    deadline = time.monotonic() + 30
    while not any(line.startswith("waiting") for line in lines) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert any(line.startswith("waiting: another process is running random") for line in lines)
    _write_run(store, spec.method, spec.dataset, spec.seed, spec.key, wall_time_s=1.0,
               peak_rss_mb=1.0)  # what the other process stores before releasing its lock
    other.release()
    harness.join(30)
    assert not harness.is_alive() and not executed
    assert [r["status"] for r in out] == ["ok"]
    assert not list(store.runs.glob("*/*/.*"))
