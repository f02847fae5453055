"""``python -m benchmark perf lal``: LAL's time per EM epoch, where it goes, and Huge scaling.

Subcommands:

* ``epoch [--family exp --clusters 3 --em-epochs 2 --threads 1,2 --m-step-pairs all,sampled
  --heap-reuse off,on --n-clusters K --profile-top 15]``: fit the ``paper`` profile on one
  synthetic set for a few EM epochs (the cluster-count walk on, so K grows as in a real run;
  ``--n-clusters`` fixes K instead, for a like-for-like comparison), print seconds per EM
  epoch, CPU seconds and minor page faults of the fit, the extrapolation to the full profile
  and its ratio to the paper's LAL time for that set (Table 3, authors' hardware); one fit per
  (thread count, ``m_step_pairs``, heap reuse) setting, with the speed-up over the first
  (``--heap-reuse off`` fits with ``EVSEQ_HEAP_REUSE=0``, i.e. glibc's default allocator
  behaviour; see :func:`benchmark.core.process_memory.heap_kept_for_reuse`); with
  ``--profile-top`` also the top functions by cumulative time (cProfile).
* ``huge [--sizes 1000,10000,100000] [--em-epochs 2 | --full]``: for each size, simulate a
  Huge-protocol set (5 exp-Hawkes clusters, mean length 50), fit the paper profile for a few EM
  epochs (or, with ``--full``, the whole profile including the removal epochs) in a fresh
  process and print seconds per EM epoch, CPU seconds, the resident memory once the data is
  loaded and the peak RSS during the fit alone (Linux: the high-water mark is reset after
  loading, so the simulation's own peak does not hide the fit's), the number of
  clusters found and the purity of the labels (Table 2). The simulated labels are read only
  after the fit, to score it.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import itertools
import json
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmark.core.process_memory import (
    HEAP_REUSE_ENV,
    peak_rss_since_reset_mb,
    reset_peak_rss,
    resident_mb,
)

# Table 3 of the paper: LAL running time in seconds per synthetic set (authors' hardware)
PAPER_SECONDS = {
    ("exp", 2): 2048, ("exp", 3): 2305, ("exp", 4): 2484, ("exp", 5): 2342,
    ("sin", 2): 2078, ("sin", 3): 2457, ("sin", 4): 2706, ("sin", 5): 2487,
    ("trunc", 2): 1847, ("trunc", 3): 1942, ("trunc", 4): 2201, ("trunc", 5): 2317,
}


def _paper_profile(seed: int) -> dict:
    """LAL's parameters under the ``paper`` preset."""
    from baselines.lal import LAL

    return {**LAL.default_params(), **LAL.presets["paper"], "seed": seed}


def _paper_params(em_epochs: int, seed: int) -> dict:
    """The paper profile cut to ``em_epochs`` EM epochs without the removal phase, plus
    ``_full_em_epochs`` (the profile's own count) for extrapolation."""
    params = _paper_profile(seed)
    full = params["n_em_epochs"]
    params.update(n_em_epochs=em_epochs, n_prune_epochs=0)
    return params | {"_full_em_epochs": full}


def epoch_cmd(args: argparse.Namespace) -> int:
    from baselines.lal import LAL
    from generators.hawkes_synthetic import make_lal_dataset

    heap_settings = args.heap_reuse.split(",")
    if not set(heap_settings) <= {"on", "off"}:  # before simulating or fitting anything
        raise SystemExit(f"--heap-reuse takes on / off, got {args.heap_reuse!r}")
    data = make_lal_dataset(args.family, args.clusters, seed=args.seed)
    params = _paper_params(args.em_epochs, args.seed)
    full = params.pop("_full_em_epochs")
    if args.n_clusters:
        params["n_clusters"] = args.n_clusters
    paper = PAPER_SECONDS.get((args.family, args.clusters))
    print(f"LAL paper profile on {args.family} K={args.clusters} ({len(data.sequences)} sequences),"
          f" {args.em_epochs} EM epochs:")
    per_pair_seconds = []  # (setting, seconds per (sequence, cluster) pair and EM epoch)
    for threads, pairs, heap in itertools.product(_int_list(args.threads),
                                                  args.m_step_pairs.split(","), heap_settings):
        setting = f"n_threads={threads}, m_step_pairs={pairs}, heap reuse {heap}"
        model = LAL(**{**params, "n_threads": threads, "m_step_pairs": pairs})
        profiler = cProfile.Profile() if args.profile_top else None
        saved_env = os.environ.get(HEAP_REUSE_ENV)
        os.environ[HEAP_REUSE_ENV] = "1" if heap == "on" else "0"
        faults_start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        cpu_start = time.process_time()
        start = time.perf_counter()
        if profiler:
            profiler.enable()
        try:
            model.fit(data.sequences)
        finally:
            if profiler:
                profiler.disable()
            if saved_env is None:
                del os.environ[HEAP_REUSE_ENV]
            else:
                os.environ[HEAP_REUSE_ENV] = saved_env
        wall = time.perf_counter() - start
        cpu = time.process_time() - cpu_start
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults_start
        per_epoch = [h["seconds"] for h in model.history_]
        mean_epoch = sum(per_epoch) / len(per_epoch)
        rest = wall - sum(per_epoch)  # setup + final labelling of all sequences
        estimate = full * mean_epoch + rest
        # K follows the walk and may differ between fits, so compare per (sequence, cluster) pair
        per_pair = sum(h["seconds"] / (h["n_sequences"] * h["n_clusters"])
                       for h in model.history_) / len(per_epoch)
        per_pair_seconds.append((setting, per_pair))
        print(f"{setting}:")
        for h in model.history_:
            print(f"  epoch {h['epoch']}: {h['seconds']:.2f} s, K={h['n_clusters']}, "
                  f"{h['m_step_pairs_per_sequence']:.2f} M-step pairs per sequence, "
                  f"move {h['move']} accepted={h['accepted']}")
        print(f"  s/EM-epoch: {mean_epoch:.2f}  (setup + final labelling: {rest:.2f} s); "
              f"{per_pair * 1e3:.2f} ms per (sequence, cluster) pair and EM epoch")
        print(f"  fit: {wall:.1f} s wall, {cpu:.1f} s CPU (CPU > wall: several threads; "
              f"wall > CPU: the machine was busy), {faults / 1e6:.2f} M minor page faults")
        print(f"  extrapolated full profile ({full} EM epochs): {estimate:.0f} s  "
              f"(target 600 s)")
        if paper:
            print(f"  paper (Table 3, authors' hardware): {paper} s  -> ratio ours/paper "
                  f"{estimate / paper:.2f}")
        if profiler:
            buf = io.StringIO()
            pstats.Stats(profiler, stream=buf).sort_stats("cumulative").print_stats(
                args.profile_top)
            print(buf.getvalue())
    if len(per_pair_seconds) > 1:
        (first, base), *others = per_pair_seconds
        print(f"speed-up per (sequence, cluster) pair over {first}: " + ", ".join(
            f"{setting} {base / seconds:.2f}x" for setting, seconds in others))
    return 0


def _int_list(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def huge_one(args: argparse.Namespace) -> int:
    """Child process: simulate, fit, print one JSON line."""
    from baselines.lal import LAL
    from benchmark.core.storage import load_labels, load_sequences
    from benchmark.harness.metrics import purity_score
    from generators.huge import write_huge

    with tempfile.TemporaryDirectory() as tmp:
        path = write_huge(Path(tmp) / "huge", seed=args.seed, n_sequences=args.size,
                          shard_size=min(args.size, 50000), n_workers=1)
        seqs = load_sequences(path)
        labels_true = load_labels(path)
    rss_data = resident_mb()
    reset_peak_rss()  # the fit's own high-water mark, not the simulation's
    if args.full:
        params = _paper_profile(args.seed)
    else:
        params = _paper_params(args.em_epochs, args.seed)
        params.pop("_full_em_epochs")
    start, cpu_start = time.perf_counter(), time.process_time()
    model = LAL(**params).fit(seqs)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    per_epoch = [h["seconds"] for h in model.history_]
    print(json.dumps({
        "n_sequences": len(seqs), "em_epochs": len(per_epoch),
        "s_per_em_epoch": sum(per_epoch) / len(per_epoch), "fit_s": wall, "fit_cpu_s": cpu,
        "rss_mb_after_data": rss_data,
        "fit_peak_rss_mb": peak_rss_since_reset_mb(),
        "n_clusters": int(model.labels_.max()) + 1,
        "purity": purity_score(labels_true, model.labels_),
    }))
    return 0


def huge_cmd(args: argparse.Namespace) -> int:
    what = "full paper profile" if args.full else f"{args.em_epochs} EM epochs, no removal phase"
    scope = "comparable to" if args.full else "after these epochs only, not comparable to"
    print(f"LAL on Huge-protocol sets, seed {args.seed}, {what}; purity {scope} Table 2 "
          f"(1e3 0.60, 1e4 0.65, 1e5 0.72, full Huge 0.576)")
    print(f"{'sequences':>10} {'EM epochs':>9} {'s/EM-epoch':>11} {'fit s':>8} {'fit CPU s':>9} "
          f"{'RSS data MB':>12} {'fit peak MB':>12} {'K':>3} {'purity':>7}")
    for size in _int_list(args.sizes):
        cmd = [sys.executable, "-m", "benchmark.perf.lal", "huge-one", "--size", str(size),
               "--em-epochs", str(args.em_epochs), "--seed", str(args.seed)]
        out = subprocess.run(cmd + (["--full"] if args.full else []),
                             capture_output=True, text=True)
        if out.returncode != 0:
            print(f"size {size} failed:\n{out.stderr[-2000:]}", file=sys.stderr)
            return 1
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{r['n_sequences']:>10} {r['em_epochs']:>9} {r['s_per_em_epoch']:>11.2f} "
              f"{r['fit_s']:>8.1f} {r['fit_cpu_s']:>9.1f} {r['rss_mb_after_data']:>12.0f} "
              f"{r['fit_peak_rss_mb']:>12.0f} {r['n_clusters']:>3} {r['purity']:>7.3f}", flush=True)
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark perf lal", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("epoch", help="s/EM-epoch of the paper profile on one synthetic set")
    p.add_argument("--family", default="exp", choices=["exp", "sin", "trunc"])
    p.add_argument("--clusters", type=int, default=3)
    p.add_argument("--em-epochs", type=int, default=2)
    p.add_argument("--profile-top", type=int, default=0)
    p.add_argument("--threads", default="1",
                   help="torch threads, comma-separated to compare (e.g. 1,2): one fit each")
    p.add_argument("--m-step-pairs", default="all",
                   help="LAL m_step_pairs, comma-separated to compare (all,sampled)")
    p.add_argument("--heap-reuse", default="on",
                   help="keep freed heap memory for reuse during the fit: on / off, "
                        "comma-separated to compare (off,on)")
    p.add_argument("--n-clusters", type=int, default=0,
                   help="fix K (walk off) so that the fits compare like for like")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(fn=epoch_cmd)
    p = sub.add_parser("huge", help="s/EM-epoch and peak RSS vs number of sequences")
    p.add_argument("--sizes", default="1000,10000,100000")
    p.add_argument("--em-epochs", type=int, default=2)
    p.add_argument("--full", action="store_true", help="the whole paper profile (Table 2 purity)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(fn=huge_cmd)
    p = sub.add_parser("huge-one", help=argparse.SUPPRESS)
    p.add_argument("--size", type=int, required=True)
    p.add_argument("--em-epochs", type=int, default=2)
    p.add_argument("--full", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(fn=huge_one)
    args = parser.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
