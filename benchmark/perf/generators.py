"""``python -m benchmark perf generators``: Hawkes generator throughput vs tick, and the Huge set.

1. Throughput, side by side in one process, on the same parameters (one cluster of each family
   drawn by the LAL protocol, seed 0, window giving Table 1's mean length): our batched thinning
   (:func:`generators.hawkes_kernels.simulate_hawkes`, one process) against tick's per-sequence
   loop (:func:`generators.hawkes_kernels.simulate_hawkes_tick`: ``SimuHawkes.simulate()`` once
   per sequence, the object reused). Printed: events/s of each and the ratio ours / tick loop.
2. ``Huge`` (10^6 sequences, ~5*10^7 events) written with :func:`generators.huge.write_huge` in a
   child process (``--huge-workers`` simulation processes) into a temporary directory: wall time,
   peak RSS of the whole process tree (sampled every 0.1 s with psutil) and the time to read it
   back lazily shard by shard. ``--huge-sequences`` runs a smaller version; ``--no-huge`` skips it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

_HUGE_CHILD = """
import json, sys, time
from generators.huge import write_huge
from benchmark.core.storage import iter_shards
out, n, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
t0 = time.perf_counter()
write_huge(out, n_sequences=n, n_workers=workers)
t1 = time.perf_counter()
n_seq = n_ev = 0
for shard in iter_shards(out):
    n_seq += len(shard); n_ev += shard.n_events
t2 = time.perf_counter()
print(json.dumps({"write_s": t1 - t0, "read_s": t2 - t1, "n_sequences": n_seq, "n_events": n_ev}))
"""


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def throughput(family: str, n_sequences: int, repeats: int) -> dict:
    """Events per second of ours and tick's on one cluster of ``family`` (best of ``repeats``)."""
    from generators.hawkes_kernels import (
        simulate_hawkes,
        simulate_hawkes_tick,
        window_for_mean_count,
    )
    from generators.hawkes_synthetic import PAPER_MEAN_LENGTH, draw_cluster_params

    params = draw_cluster_params(family, 5, np.random.default_rng(0))
    horizon = window_for_mean_count([params], PAPER_MEAN_LENGTH[family, 2])
    row: dict = {"family": family, "n_sequences": n_sequences, "horizon": horizon}

    def best(fn) -> tuple[float, int]:
        fn(repeats)  # warm-up run, not timed
        times, events = [], 0
        for r in range(repeats):
            t0 = time.perf_counter()
            events = fn(r)
            times.append(time.perf_counter() - t0)
        return min(times), events

    row["ours_s"], row["ours_events"] = best(
        lambda r: len(simulate_hawkes(params, n_sequences, horizon, np.random.default_rng(r))[0]))
    try:
        import tick  # noqa: F401
    except ImportError:
        return row
    row["tick_loop_s"], row["tick_loop_events"] = best(
        lambda r: len(simulate_hawkes_tick(params, n_sequences, horizon, seed=r * n_sequences)[0]))

    return row


def run_huge(n_sequences: int, workers: int) -> dict:
    """Write Huge in a child process; peak RSS of the process tree sampled with psutil."""
    import psutil

    out_root = tempfile.mkdtemp(prefix="perf-huge-")
    out = os.path.join(out_root, "Huge")
    try:
        proc = subprocess.Popen([sys.executable, "-c", _HUGE_CHILD, out, str(n_sequences), str(workers)],
                                stdout=subprocess.PIPE, text=True)
        ps = psutil.Process(proc.pid)
        peak = 0
        while proc.poll() is None:
            try:
                tree = [ps] + ps.children(recursive=True)
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.1)
        stdout = proc.stdout.read()
        if proc.returncode != 0:
            raise RuntimeError(f"Huge generation failed (exit {proc.returncode})")
        result = json.loads(stdout.strip().splitlines()[-1])
        result["peak_rss_gb"] = peak / 1e9
        result["disk_mb"] = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out)) / 1e6
        result["workers"] = workers
        return result
    finally:
        shutil.rmtree(out_root, ignore_errors=True)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmark perf generators", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--families", default="exp,sin,trunc")
    ap.add_argument("--sequences", type=int, default=2000, help="sequences per throughput run")
    ap.add_argument("--repeats", type=int, default=2, help="best of this many runs")
    ap.add_argument("--no-huge", action="store_true")
    ap.add_argument("--huge-sequences", type=int, default=1_000_000)
    ap.add_argument("--huge-workers", type=int, default=_cpus())
    args = ap.parse_args(argv)

    print(f"machine: {_cpus()} CPUs available; python {sys.version.split()[0]}")
    print(f"{'family':<7}{'seqs':>6}{'events':>10}{'ours ev/s':>12}{'tick loop ev/s':>16}"
          f"{'ratio':>8}")
    for family in [f for f in args.families.split(",") if f]:
        r = throughput(family, args.sequences, args.repeats)
        ours = r["ours_events"] / r["ours_s"]
        line = f"{family:<7}{args.sequences:>6}{r['ours_events']:>10}{ours:>12,.0f}"
        if "tick_loop_s" in r:
            loop = r["tick_loop_events"] / r["tick_loop_s"]
            line += f"{loop:>16,.0f}{ours / loop:>7.1f}x"
        else:
            line += "   (tick not installed: no reference)"
        print(line, flush=True)
    if not args.no_huge:
        h = run_huge(args.huge_sequences, args.huge_workers)
        print(f"Huge: {h['n_sequences']:,} sequences, {h['n_events']:,} events "
              f"(mean length {h['n_events'] / h['n_sequences']:.1f}); write {h['write_s']:.1f} s "
              f"with {h['workers']} worker(s); peak RSS (process tree) {h['peak_rss_gb']:.2f} GB; "
              f"{h['disk_mb']:.0f} MB on disk; lazy read-back {h['read_s']:.1f} s")
        print(f"targets: write <= 120 s -> {'met' if h['write_s'] <= 120 else 'NOT met'}; "
              f"peak RSS <= 2 GB -> {'met' if h['peak_rss_gb'] <= 2 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
