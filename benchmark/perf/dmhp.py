"""``python -m benchmark perf dmhp``: DMHP runtime and purity per synthetic set vs the paper.

For each dataset the ``dmhp`` method is fitted once (profile preset, given seed) in this process
on the stored sequences (labels are read afterwards, only to score purity). Printed per set: wall
and CPU seconds of ``fit``, the number of clusters DMHP chose, purity (eq. 23), the DMHP runtime of
the LAL paper's Table 3 and purity of Table 4 (authors' hardware), and the ratios
paper seconds / our seconds and our wall seconds / the 300 s target of issue 6.
"""

from __future__ import annotations

import argparse
import resource
import time

from benchmark.core.catalog import materialize, resolve_cache_dir, resolve_data_dir
from benchmark.core.registry import get_method
from benchmark.core.storage import load_labels, load_sequences
from benchmark.harness.metrics import purity_score

#: DMHP runtime in seconds (LAL paper, Table 3) and purity (Table 4, mean over runs)
PAPER_DMHP = {
    "K2_C5": (3044, 1.00), "K3_C5": (49313, 0.92), "K4_C5": (122645, 0.89),
    "K5_C5": (219504, 0.66), "sin_K2_C5": (71492, 0.93), "sin_K3_C5": (160122, 0.95),
    "sin_K4_C5": (236643, 0.81), "sin_K5_C5": (234628, 0.70), "trunc_K2_C5": (1540, 1.00),
    "trunc_K3_C5": (40850, 0.96), "trunc_K4_C5": (77167, 0.97), "trunc_K5_C5": (141553, 0.91),
}
TARGET_SECONDS = 300.0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark perf dmhp", description=__doc__)
    parser.add_argument("--datasets", nargs="+", default=list(PAPER_DMHP))
    parser.add_argument("--profile", choices=("quick", "paper"), default="paper")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", default=None)
    args = parser.parse_args(argv)

    cls = get_method("dmhp")
    params = {**cls.default_params(), **cls.presets[args.profile], "seed": args.seed,
              "verbose": False}
    cache = resolve_cache_dir(args.cache_dir)
    print(f"dmhp, profile {args.profile}, seed {args.seed}")
    print(f"{'dataset':<12} {'wall_s':>8} {'cpu_s':>8} {'K':>3} {'purity':>7} "
          f"{'paper_s':>8} {'paper_purity':>12} {'paper_s/ours':>12} {'wall/300s':>9}")
    for name in args.datasets:
        path = materialize(name, resolve_data_dir(None), cache)
        seqs = load_sequences(path).without_meta()
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        wall0 = time.perf_counter()
        model = cls(**params).fit(seqs)
        wall = time.perf_counter() - wall0
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
        labels = load_labels(path)
        score = purity_score(labels, model.labels_) if labels is not None else float("nan")
        paper_s, paper_purity = PAPER_DMHP.get(name, (float("nan"), float("nan")))
        print(f"{name:<12} {wall:8.1f} {cpu:8.1f} {model.n_clusters_:3d} {score:7.3f} "
              f"{paper_s:8.0f} {paper_purity:12.2f} {paper_s / wall:12.0f} "
              f"{wall / TARGET_SECONDS:9.2f}", flush=True)
    return 0
