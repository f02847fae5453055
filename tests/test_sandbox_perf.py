"""What the sandbox costs per run (pytest-benchmark; ``make perf`` or
``pytest -m perf tests/test_sandbox_perf.py --benchmark-enable -s``).

One whole run of ``random`` on ``poisson_mixture`` (300 sequences) through the harness, the
method's process in the bubblewrap sandbox vs. without it (``sandbox="none"``: the same private
directory, events file and validation, no namespaces): the difference of the two is the
sandbox's time per run. Memory: the resident memory of the bubblewrap processes themselves,
polled while the sandboxed run is alive, and the worker's own peak RSS in each mode (the method
sees the same process either way). Targets: under 1 s and under 50 MB per run.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import psutil
import pytest

from benchmark.harness import sandbox
from benchmark.harness.runner import execute, plan_runs
from benchmark.harness.sandbox import Workspace

pytestmark = pytest.mark.perf


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    (s,) = plan_runs(["random"], ["poisson_mixture"], [0], "quick", None, cache,
                     log=lambda m: None).runs
    return s


def _bwrap_rss_mb(stop: threading.Event, out: list[float]) -> None:
    me = psutil.Process(os.getpid())
    while not stop.is_set():
        total = 0.0
        for p in me.children(recursive=True):
            try:
                if p.name() == "bwrap":
                    total += p.memory_info().rss / 2**20
            except psutil.Error:
                pass
        out.append(total)
        time.sleep(0.005)


@pytest.mark.parametrize("mode", ["bwrap", "none"])
def test_perf_sandbox_per_run(benchmark, spec, tmp_path, mode):
    if mode == "bwrap" and sandbox.bwrap_problem():
        pytest.skip(sandbox.bwrap_problem())
    benchmark.group = "one run of random on poisson_mixture"
    ws = Workspace()
    try:
        ws.events(Path(spec.dataset_dir), spec.dataset,
                  spec.dataset_fingerprint)  # written once per dataset, not per run
        counter = iter(range(10**6))

        def one():
            return execute(spec, tmp_path / f"res{next(counter)}", sandbox=mode, workspace=ws)

        stop, samples = threading.Event(), [0.0]
        poller = threading.Thread(target=_bwrap_rss_mb, args=(stop, samples))
        poller.start()
        rec = benchmark.pedantic(one, rounds=8, iterations=1, warmup_rounds=1)
        stop.set()
        poller.join()
    finally:
        ws.close()
    assert rec["status"] == "ok" and rec["sandbox"] == mode
    benchmark.extra_info["worker_peak_rss_mb"] = round(rec["peak_rss_mb"], 1)
    benchmark.extra_info["bwrap_processes_rss_mb"] = round(max(samples), 1)
    print(f"\n{mode}: median {benchmark.stats.stats.median:.3f} s per run, worker peak RSS "
          f"{rec['peak_rss_mb']:.1f} MiB, bubblewrap processes {max(samples):.1f} MiB")
