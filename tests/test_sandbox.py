"""The method's process cannot reach labels: a hostile method attacks the sandbox.

With the sandbox on (bubblewrap), tests/hostile_method.py must find nothing: no labels, no file
of the data, cache or results directories or of the repository, no network. With it forced off,
the same method does find labels (so the attack is real), and the record and the leaderboard
say the run was not isolated. CI sets ``EVSEQ_REQUIRE_SANDBOX=1``: there the sandboxed test
fails instead of skipping when bubblewrap cannot run.
"""

import json
import os
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

import tests.harness_methods  # noqa: F401  (test datasets)
import tests.hostile_method  # noqa: F401  (registers test-hostile)
from benchmark.core.catalog import materialize
from benchmark.core.sequences import EventSequences
from benchmark.core.storage import load_labels
from benchmark.harness import sandbox
from benchmark.harness.evaluate import evaluate_runs
from benchmark.harness.report import build_report
from benchmark.harness.runner import plan_runs, run_plan

REPO = Path(__file__).resolve().parent.parent


def _need_bwrap():
    problem = sandbox.bwrap_problem()
    if problem and os.environ.get("EVSEQ_REQUIRE_SANDBOX") == "1":
        pytest.fail(f"the sandbox must run here (EVSEQ_REQUIRE_SANDBOX=1): {problem}")
    if problem:
        pytest.skip(problem)


@pytest.fixture
def label_server():
    """A TCP server on the harness's loopback that hands out the labels to whoever connects."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    stop = threading.Event()

    def serve():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(b"labels: 0 1 0 1")

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield srv.getsockname()[1]
    stop.set()
    t.join()
    srv.close()


def _attack(tmp_path, cache_dir, port, mode):
    data_dir, res = tmp_path / "data", tmp_path / "res"
    ddir = materialize("test_tiny", None, cache_dir)
    (data_dir / "secret").mkdir(parents=True)
    (data_dir / "secret" / "clusters.csv").write_text("seq,label\n0,1\n")
    # a finished run already in the results directory (its record and labels)
    plan = plan_runs(["random"], ["test_tiny"], [0], "quick", data_dir, cache_dir, log=lambda s: None)
    run_plan(plan, res, progress=False, log=lambda s: None, sandbox=mode, hidden=(data_dir, cache_dir))
    targets = [str(data_dir), str(cache_dir), str(res), str(ddir / "labels.parquet"),
               str(REPO / "README.md"), str(REPO / "leaderboard"), str(REPO / "generators"),
               str(REPO / ".git")]
    plan = plan_runs(["test-hostile"], ["test_tiny"], [0], "quick", data_dir, cache_dir,
                     overrides={"test-hostile": {"targets": targets, "port": port}},
                     log=lambda s: None)
    (rec,) = run_plan(plan, res, progress=False, log=lambda s: None, sandbox=mode,
                      hidden=(data_dir, cache_dir))
    assert rec["status"] == "ok", rec.get("log_tail")
    run_dir = next(res.glob("runs/test-hostile/test_tiny/seed0-*"))
    return rec, run_dir, res, load_labels(ddir)


def test_hostile_method_finds_nothing_in_the_sandbox(tmp_path, cache_dir, label_server):
    _need_bwrap()
    rec, run_dir, _, truth = _attack(tmp_path, cache_dir, label_server, "bwrap")
    log = (run_dir / "log.txt").read_text()
    assert rec["sandbox"] == "bwrap"
    assert rec["method_metrics"]["leaks"] == 0, log
    assert "hostile: 0 route(s)" in log and "LEAK" not in log
    assert not np.array_equal(np.load(run_dir / "labels.npy"), truth)


def test_without_the_sandbox_the_attack_works_and_the_board_says_so(tmp_path, cache_dir,
                                                                     label_server):
    """Forced off, the hostile method reads labels; the record and the leaderboard say so."""
    rec, run_dir, res, truth = _attack(tmp_path, cache_dir, label_server, "none")
    assert rec["sandbox"] == "none"
    assert rec["method_metrics"]["leaks"] > 0
    assert np.array_equal(np.load(run_dir / "labels.npy"), truth)  # purity 1.0 by cheating
    evaluate_runs(res, None, cache_dir, log=lambda s: None)
    board = (build_report(res, tmp_path / "lb") / "README.md").read_text()
    row = next(line for line in board.splitlines() if line.startswith("| test-hostile"))
    assert " u" in row
    assert "without a sandbox (cells marked `u`)" in board


def test_auto_falls_back_with_one_warning_and_bwrap_refuses(monkeypatch):
    sandbox.bwrap_problem.cache_clear()
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    try:
        said = []
        assert sandbox.resolve_mode("auto", warn=said.append) == "none"
        assert len(said) == 1 and "WITHOUT a sandbox" in said[0] and "bubblewrap" in said[0]
        with pytest.raises(sandbox.SandboxUnavailable, match="not installed"):
            sandbox.resolve_mode("bwrap")
        assert sandbox.resolve_mode("none", warn=said.append) == "none" and len(said) == 1
    finally:
        sandbox.bwrap_problem.cache_clear()


def test_events_file_carries_only_the_events(tmp_path):
    seqs = EventSequences.from_lists([[0.1, 0.5], [0.2]], [[0, 1], [1]], n_types=3,
                                     seq_ids=["user-a", "user-b"], type_names=["x", "y", "z"],
                                     t_end=[1.0, 2.0],
                                     meta={"name": "d", "source": "/secret/path.csv",
                                           "time_unit": "days", "label_names": ["a", "b"]})
    back = sandbox.read_events(sandbox.write_events(seqs, tmp_path / "e.npz", "d"))
    np.testing.assert_array_equal(back.times, seqs.times)
    np.testing.assert_array_equal(back.types, seqs.types)
    np.testing.assert_array_equal(back.t_end, seqs.t_end)
    assert back.type_names == seqs.type_names and back.n_types == 3
    assert back.meta == {"name": "d", "time_unit": "days"}
    assert list(back.seq_ids) == [0, 1]


def _fake_outputs(out: Path, labels, emb=None, result=None):
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "labels.npy", labels)
    if emb is not None:
        np.save(out / "embeddings.npy", emb)
    (out / "result.json").write_text(json.dumps(result if result is not None else
                                                {"wall_time_s": 1.0, "method_metrics": {}}))


@pytest.mark.parametrize("labels,emb,result,message", [
    (np.zeros(3, np.int64), None, None, r"labels.npy: expected integers of shape \(4,\)"),
    (np.zeros(4, np.float64), None, None, "labels.npy: expected integers"),
    (np.zeros(4, np.int64), np.full((4, 2), np.nan, np.float32), None, "non-finite"),
    (np.zeros(4, np.int64), np.zeros((3, 2), np.float32), None, r"shape \(4, d\)"),
    (np.zeros(4, np.int64), np.zeros((4, 2), np.float32), {"wall_time_s": "fast"}, "not a number"),
    (np.zeros(4, np.int64), np.zeros((4, 2), np.float32), [1, 2], "not a JSON object"),
    (np.zeros(4, np.int64), np.zeros((4, 2), np.float32),
     {"method_metrics": {"x": "y"}}, "method_metrics"),
])
def test_outputs_are_validated_before_they_are_stored(tmp_path, labels, emb, result, message):
    _fake_outputs(tmp_path, labels, emb, result)
    outputs = ("labels",) if emb is None else ("labels", "embeddings")
    with pytest.raises(sandbox.InvalidOutput, match=message):
        sandbox.read_outputs(tmp_path, 4, outputs, probe=False)


def test_pickled_output_is_refused(tmp_path):
    _fake_outputs(tmp_path, np.array([object()] * 4, dtype=object))
    with pytest.raises(sandbox.InvalidOutput, match="not a readable numpy array"):
        sandbox.read_outputs(tmp_path, 4, ("labels",), probe=False)


def test_a_forged_output_fails_the_run(tmp_path, cache_dir):
    """A method that skips the worker's own checks (writes its outputs and exits) is caught by
    the harness's validation: the run fails and nothing is stored as its labels."""
    plan = plan_runs(["test-forger"], ["test_tiny"], [0], "quick", None, cache_dir,
                     log=lambda s: None)
    (rec,) = run_plan(plan, tmp_path / "res", progress=False, log=lambda s: None)
    assert rec["status"] == "failed" and rec["error"].startswith("invalid output: labels.npy")
    run_dir = next((tmp_path / "res").glob("runs/test-forger/test_tiny/seed0-*"))
    assert not (run_dir / "labels.npy").exists()
