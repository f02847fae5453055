"""End-to-end tests of the harness: runs, isolation, resume, label firewall, report, regress."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import tests.harness_methods  # noqa: F401  (registers test methods and datasets)
from benchmark.core.catalog import materialize
from benchmark.harness.cli import main
from benchmark.harness.evaluate import RESULT_COLUMNS
from benchmark.harness.results_store import ResultsStore
from benchmark.harness.runner import plan_runs, run_plan

REPO = Path(__file__).resolve().parent.parent


def run_cli(*args):
    return main(list(args))


def records(results):
    return {(r["method"], r["dataset"], r["seed"]): r for _, r in ResultsStore(results).iter_runs()}


def test_run_report_end_to_end(tmp_path, cache_dir):
    res, lb = tmp_path / "res", tmp_path / "lb"
    assert run_cli("run", "--methods", "random,histogram-kmeans", "--datasets", "poisson_mixture",
                   "--seeds", "0", "1", "--results-dir", str(res), "--no-progress") == 0
    recs = records(res)
    assert len(recs) == 4 and all(r["status"] == "ok" for r in recs.values())
    r = recs[("histogram-kmeans", "poisson_mixture", 0)]
    for field in ("wall_time_s", "cpu_time_s", "peak_rss_mb", "params", "versions", "hardware",
                  "git_commit", "dataset_sha256", "dataset_fingerprint", "key"):
        assert field in r
    assert r["n_clusters_given"] == 3 and r["params"]["n_clusters"] == 3
    assert run_cli("report", "--results-dir", str(res), "--out", str(lb)) == 0
    for f in ("README.md", "index.html", "results.csv", "per_seed.csv", "purity.png",
              "runtime_vs_purity.png"):
        assert (lb / f).exists(), f
    table = pd.read_csv(lb / "results.csv")
    per_seed = pd.read_csv(lb / "per_seed.csv").set_index(["method", "seed"])
    assert len(per_seed) == 4 and list(per_seed.columns[:4]) == ["dataset", "profile", "run",
                                                                "purity"]
    run_dir = res / per_seed.loc[("histogram-kmeans", 0), "run"]
    assert json.loads((run_dir / "record.json").read_text())["key"] == r["key"]
    assert per_seed.loc[("histogram-kmeans", 0), "purity"] == pytest.approx(
        json.loads((run_dir / "metrics.json").read_text())["purity"])
    assert list(table.columns) == RESULT_COLUMNS
    pur = table[(table.metric == "purity")].set_index("method")
    assert pur.loc["histogram-kmeans", "mean"] > pur.loc["random", "mean"] + 0.1
    assert (pur["n_seeds"] == 2).all()
    readme = (lb / "README.md").read_text()
    assert "**" in readme
    # where the runs ran: this machine's CPU, 2 runs per method, listed per method
    assert "## Where the runs ran" in readme
    hw = r["hardware"]
    assert f"| random | {hw['cpu']}, {r['threads']} thread(s) of {hw['n_cpus']} CPUs (2) |" in readme
    assert all(oct(p.stat().st_mode & 0o777) == oct(0o666 & ~_umask()) for p in lb.iterdir())

    # regress: identical results pass, a worse copy fails and names the metric
    assert run_cli("regress", "--reference", str(lb / "results.csv"), "--results-dir", str(res)) == 0
    worse = table.copy()
    worse.loc[(worse.method == "histogram-kmeans") & (worse.metric == "purity"), "mean"] -= 0.2
    worse.to_csv(tmp_path / "worse.csv", index=False)
    assert run_cli("regress", "--reference", str(lb / "results.csv"),
                   "--current", str(tmp_path / "worse.csv")) == 1


def test_rerun_skips_finished_and_is_deterministic(tmp_path, cache_dir):
    res = tmp_path / "res"
    args = ["run", "--methods", "histogram-kmeans", "--datasets", "test_tiny", "--seeds", "3",
            "--results-dir", str(res), "--no-progress"]
    assert run_cli(*args) == 0
    (d1, r1), = list(ResultsStore(res).iter_runs())
    metrics = json.loads((d1 / "metrics.json").read_text())
    (d1 / "metrics.json").write_text(json.dumps(dict(metrics, purity=0.123)))
    assert run_cli("evaluate", "--results-dir", str(res)) == 0  # incremental: kept
    assert json.loads((d1 / "metrics.json").read_text())["purity"] == 0.123
    assert run_cli("evaluate", "--results-dir", str(res), "--force") == 0
    assert json.loads((d1 / "metrics.json").read_text())["purity"] == metrics["purity"]
    mtime = (d1 / "record.json").stat().st_mtime_ns
    assert run_cli(*args) == 0
    assert (d1 / "record.json").stat().st_mtime_ns == mtime  # skipped, not rerun
    res2 = tmp_path / "res2"
    assert run_cli(*args[:-3], "--results-dir", str(res2), "--no-progress") == 0
    (d2, _), = list(ResultsStore(res2).iter_runs())
    assert np.array_equal(np.load(d1 / "labels.npy"), np.load(d2 / "labels.npy"))
    assert np.array_equal(np.load(d1 / "embeddings.npy"), np.load(d2 / "embeddings.npy"))


def test_dry_run_lists_what_is_left_with_estimates_and_runs_nothing(tmp_path, cache_dir, capsys):
    res = tmp_path / "res"
    base = ["run", "--methods", "histogram-kmeans", "--datasets", "test_tiny", "--results-dir",
            str(res), "--no-progress"]
    assert run_cli(*base, "--seeds", "0", "--dry-run") == 0
    out = capsys.readouterr().out
    assert "0 run(s) done, 1 to run" in out and "histogram-kmeans on test_tiny seed 0  (no estimate)" in out
    assert not list(ResultsStore(res).iter_runs())
    assert run_cli(*base, "--seeds", "0") == 0
    (_, rec), = list(ResultsStore(res).iter_runs())
    capsys.readouterr()
    assert run_cli(*base, "--seeds", "0", "1", "--dry-run") == 0
    out = capsys.readouterr().out
    assert "1 run(s) done, 1 to run" in out
    assert f"histogram-kmeans on test_tiny seed 1  ~{rec['cpu_time_s']:.0f} CPU s" in out
    assert len(list(ResultsStore(res).iter_runs())) == 1


def test_runs_survive_a_dataset_regenerated_with_other_last_bits(tmp_path, cache_dir):
    """Another CPU regenerates a synthetic set with other float last bits (another sha256):
    the finished run is still found (not rerun) and evaluated; a real change is not."""
    from benchmark.core.catalog import write_index_entry
    from benchmark.core.dataset import Dataset
    from benchmark.core.storage import load_dataset, read_meta, save_dataset

    res = tmp_path / "res"
    args = ["run", "--methods", "histogram-kmeans", "--datasets", "test_tiny", "--seeds", "0",
            "--results-dir", str(res), "--no-progress"]
    assert run_cli(*args) == 0
    (d1, r1), = list(ResultsStore(res).iter_runs())
    mtime = (d1 / "record.json").stat().st_mtime_ns
    ddir = materialize("test_tiny", None, cache_dir)

    def restore(shift):
        d = load_dataset(ddir)
        save_dataset(Dataset(d.sequences._replace(times=shift(d.sequences.times)), d.labels,
                             d.meta), ddir)
        write_index_entry(ddir)  # as materialize does after a loader rewrote the entry

    restore(lambda t: t + np.spacing(t))  # one ulp: what another CPU's SIMD exp/log gives
    assert read_meta(ddir)["sha256"] != r1["dataset_sha256"]
    (d1 / "metrics.json").unlink()
    assert run_cli(*args) == 0
    assert (d1 / "record.json").stat().st_mtime_ns == mtime  # found, not rerun
    assert "purity" in json.loads((d1 / "metrics.json").read_text())  # and evaluated
    restore(lambda t: t * 0.99)  # a different dataset: not evaluated against the old run
    (d1 / "metrics.json").unlink()
    assert run_cli("evaluate", "--results-dir", str(res)) == 0
    assert not (d1 / "metrics.json").exists()


def test_crash_timeout_and_oom_are_isolated(tmp_path, cache_dir):
    res = tmp_path / "res"
    plan = plan_runs(["test-crash", "test-sleep", "test-hog", "random"], ["test_tiny"], [0], "quick",
                     None, cache_dir, overrides={"test-sleep": {"seconds": 60},
                                                 "test-hog": {"megabytes": 1500}}, log=lambda s: None)
    recs = run_plan(plan, res, timeout_s=8, memory_mb=700, progress=False, log=lambda s: None)
    status = {r["method"]: r for r in recs}
    assert status["test-crash"]["status"] == "failed"
    assert "deliberate crash" in status["test-crash"]["error"]
    assert status["test-sleep"]["status"] == "timeout"
    assert status["test-hog"]["status"] == "oom"
    assert status["random"]["status"] == "ok"
    # failures are stored but never count as done: a rerun tries them again
    again = run_plan(plan_runs(["test-crash"], ["test_tiny"], [0], "quick", None, cache_dir,
                               log=lambda s: None), res, progress=False, log=lambda s: None)
    assert again[0]["status"] == "failed" and again[0]["finished_at"] >= status["test-crash"]["finished_at"]


def test_kill_9_mid_run_leaves_no_corrupt_run_and_resumes(tmp_path, cache_dir):
    res = tmp_path / "res"
    cmd = [sys.executable, "-m", "benchmark", "run", "--methods", "test-sleep,random", "--datasets",
           "test_tiny", "--seeds", "0", "--results-dir", str(res), "--no-progress",
           "--param", "test-sleep.seconds=4"]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    boot = ("import sys, runpy, tests.harness_methods; sys.argv = ['benchmark'] + sys.argv[1:]; "
            "runpy.run_module('benchmark', run_name='__main__')")
    proc = subprocess.Popen([sys.executable, "-c", boot] + cmd[3:], cwd=REPO, env=env,
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and not list(res.glob("runs/test-sleep/test_tiny/.*.tmp")):
        time.sleep(0.2)
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    for run_dir in res.glob("runs/*/*/*"):
        if not run_dir.name.startswith("."):
            assert (run_dir / "record.json").exists()
    # the orphaned worker dies with the harness (no stray process keeps writing)
    time.sleep(0.5)
    out = subprocess.run([sys.executable, "-c", boot] + cmd[3:], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    recs = records(res)
    assert recs[("test-sleep", "test_tiny", 0)]["status"] == "ok"
    assert not list(res.glob("runs/*/*/.*.tmp"))


def test_label_firewall(tmp_path, cache_dir):
    """A method sees no labels: shuffling them changes nothing (tests/test_sandbox.py shows that
    its process cannot reach them)."""
    res = tmp_path / "res"
    plan = plan_runs(["test-snoop"], ["test_tiny"], [0], "quick", None, cache_dir, log=lambda s: None)
    (rec,) = run_plan(plan, res, progress=False, log=lambda s: None)
    assert rec["status"] == "ok", rec.get("log_tail")
    plan2 = plan_runs(["test-snoop"], ["test_tiny_shuffled"], [0], "quick", None, cache_dir,
                      log=lambda s: None)
    (rec2,) = run_plan(plan2, res, progress=False, log=lambda s: None)
    assert rec2["status"] == "ok", rec2.get("log_tail")
    a = np.load(next(res.glob("runs/test-snoop/test_tiny/seed0-*/labels.npy")))
    b = np.load(next(res.glob("runs/test-snoop/test_tiny_shuffled/seed0-*/labels.npy")))
    assert np.array_equal(a, b)


def test_k_passed_only_to_methods_that_declare_it(tmp_path, cache_dir):
    plan = plan_runs(["test-snoop", "random"], ["test_tiny"], [0], "quick", None, cache_dir,
                     log=lambda s: None)
    by = {r.method: r for r in plan.runs}
    assert "n_clusters" not in by["test-snoop"].params and by["test-snoop"].n_clusters_given is None
    assert by["random"].params["n_clusters"] == 2 and by["random"].n_clusters_given == 2


def test_cli_errors_and_list(capsys, cache_dir):
    assert run_cli("run", "--methods", "nope", "--datasets", "poisson_mixture") == 2
    assert "unknown method 'nope'" in capsys.readouterr().err
    assert run_cli("list") == 0
    out = capsys.readouterr().out
    assert "poisson_mixture" in out and "histogram-kmeans" in out and "purity" in out


def _umask() -> int:
    old = os.umask(0)
    os.umask(old)
    return old


def test_report_marks_time_cells_whose_seeds_ran_on_different_machines():
    """A runtime mean over seeds from a GPU machine and a 2-core VM must not pass silently."""
    import pandas as pd

    from benchmark.harness.report import _cell_machines, _mixed_machine_cells, build_table

    vm = {"cpu": "AMD EPYC", "n_cpus": 2}
    gpu_box = {"cpu": "Xeon", "n_cpus": 16, "gpu": "H100"}
    chosen = {
        ("thp", "K2_C5", 0): (None, {"method": "thp", "hardware": gpu_box, "threads": 1,
                                     "params": {"device": "cuda"}}),
        ("thp", "K2_C5", 1): (None, {"method": "thp", "hardware": vm, "threads": 1,
                                     "params": {"device": "cpu"}}),
        ("dmhp", "K2_C5", 0): (None, {"method": "dmhp", "hardware": vm, "threads": 1}),
        ("dmhp", "K2_C5", 1): (None, {"method": "dmhp", "hardware": vm, "threads": 1}),
    }
    assert _mixed_machine_cells(_cell_machines(chosen)) == {("thp", "K2_C5")}
    res = pd.DataFrame([
        {"method": m, "dataset": "K2_C5", "metric": "wall_time_s", "mean": t, "std": 1.0,
         "n_seeds": 2} for m, t in (("thp", 40.0), ("dmhp", 15.0))])
    paper = pd.DataFrame(columns=["method", "dataset", "metric", "mean", "std"])
    _, rows, _ = build_table(res, paper, "wall_time_s", 1, {("thp", "K2_C5"): " m"})
    cells = {row[0]: row[1] for row in rows}
    assert cells["thp"].endswith(" m") and not cells["dmhp"].endswith(" m")


def test_purity_table_ends_with_the_oracle_row():
    from benchmark.harness.report import ORACLE_ROW, build_table

    res = pd.DataFrame([{"method": "dmhp", "dataset": d, "metric": m, "mean": 0.9, "std": 0.0,
                         "n_seeds": 5} for d in ("K2_C5", "K3_C5") for m in ("purity", "ari")])
    paper = pd.DataFrame(columns=["method", "dataset", "metric", "mean", "std"])
    oracle = {"K2_C5": 0.9988}
    header, rows, _ = build_table(res, paper, "purity", 2, oracle=oracle)
    assert rows[-1] == [ORACLE_ROW, "1.00", ""] and header == ["method", "K2_C5", "K3_C5"]
    _, rows, _ = build_table(res, paper, "ari", 2, oracle=oracle)
    assert all(row[0] != ORACLE_ROW for row in rows)


def test_evaluate_skip_leaves_metrics_for_a_later_call(tmp_path, cache_dir):
    res = tmp_path / "res"
    assert run_cli("run", "--methods", "histogram-kmeans", "--datasets", "test_tiny", "--seeds",
                   "0", "--results-dir", str(res), "--no-progress", "--no-evaluate") == 0
    assert run_cli("evaluate", "--results-dir", str(res), "--skip", "purity,nmi") == 0
    (run_dir, _), = list(ResultsStore(res).iter_runs())
    first = json.loads((run_dir / "metrics.json").read_text())
    assert "ari" in first and "purity" not in first and "nmi" not in first
    assert run_cli("evaluate", "--results-dir", str(res)) == 0
    second = json.loads((run_dir / "metrics.json").read_text())
    assert {"purity", "nmi"} <= set(second) and second["ari"] == first["ari"]
    assert run_cli("evaluate", "--results-dir", str(res), "--skip", "no_such_metric") == 2
    assert run_cli("evaluate", "--results-dir", str(res), "--methods", "no_such_method") == 2
    (run_dir / "metrics.json").unlink()
    assert run_cli("evaluate", "--results-dir", str(res), "--methods", "random") == 0
    assert not (run_dir / "metrics.json").exists()  # only the named methods' runs


def test_unkeyed_default_leaves_the_run_key_unchanged(monkeypatch):
    """A parameter listed in ``unkeyed_defaults`` is left out of the key at that value (the
    runs committed before it existed stay valid) and keyed like any other at another value."""
    from dataclasses import replace

    from benchmark.core.registry import METHODS, get_method_info
    from benchmark.harness.runner import RunSpec

    info = get_method_info("lal")
    params = dict(info.defaults)
    unkeyed = dict(info.unkeyed_defaults)
    assert {"m_step_pairs", "cluster_scale"} <= set(unkeyed)
    before = {k: v for k, v in params.items() if k not in unkeyed}
    # as if the parameters did not exist
    monkeypatch.setitem(METHODS, "lal", replace(info, unkeyed_defaults={}))
    old_key = RunSpec("lal", "K2_C5", 0, "paper", before, dataset_fingerprint="f").key
    monkeypatch.undo()
    assert RunSpec("lal", "K2_C5", 0, "paper", params, dataset_fingerprint="f").key == old_key
    for name, value in {"m_step_pairs": "sampled", "cluster_scale": True}.items():
        other = {**params, name: value}
        assert RunSpec("lal", "K2_C5", 0, "paper", other, dataset_fingerprint="f").key != old_key
