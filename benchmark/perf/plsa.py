"""``python -m benchmark perf plsa``: time and peak RSS of ``plsa-em`` on 10^6 users.

Runs, each in a fresh child process (so peak RSS is its own):

* ``in-memory``: load the stored dataset with ``load_sequences`` and call ``PlsaEM.fit``;
* ``chunked``: ``PlsaEM.fit_stored`` — the out-of-core path over the Parquet shards
  (``benchmark.core.storage.iter_shards``), one shard's counts in memory at a time;
* ``reference``: scikit-learn ``KMeans`` (n_init=1, same K) on the users' event-type
  frequency vectors p(b|u), the usual way to cluster such histograms — the speed reference.

The data is ``--dataset PATH`` (a stored dataset directory, e.g. the Huge set) or, by default, a
multinomial mixture simulated here (``write_multinomial_mixture``) with the Huge set's shape:
10^6 users, 5 clusters, 5 event types, mean length 50. It prints wall time, peak RSS, EM rounds and
(on labelled data) ARI and purity, and the time ratios against the reference.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ..core.dataset import Dataset
from ..core.process_memory import peak_rss_mb
from ..core.sequences import EventSequences


def _mixture_shard(rng: np.random.Generator, labels: np.ndarray, beacon_given_cluster: np.ndarray,
                   mean_length: float, horizon: float) -> EventSequences:
    """Sequences for ``labels``: length 1 + Poisson(mean_length - 1), types multinomial from the
    label's row of ``beacon_given_cluster``, times uniform on [0, horizon], sorted."""
    n_types = beacon_given_cluster.shape[1]
    lengths = 1 + rng.poisson(max(mean_length - 1.0, 0.0), size=len(labels))
    counts = np.zeros((len(labels), n_types), dtype=np.int64)
    for c in np.unique(labels):
        rows = np.flatnonzero(labels == c)
        counts[rows] = rng.multinomial(lengths[rows], beacon_given_cluster[c])
    types = np.repeat(np.tile(np.arange(n_types), len(labels)), counts.ravel())
    seq = np.repeat(np.arange(len(labels)), lengths)
    times = rng.uniform(0.0, horizon, size=len(types))
    order = np.lexsort((times, seq))
    return EventSequences(times[order], types[order], np.concatenate([[0], np.cumsum(lengths)]),
                          n_types, t_end=np.full(len(labels), horizon),
                          meta={"name": "multinomial_mixture", "time_unit": "a.u."})


def _mixture_params(n_clusters: int, n_types: int, concentration: float, seed: int):
    rng = np.random.default_rng(seed)
    return rng, rng.dirichlet(np.full(n_types, concentration), size=n_clusters)


def simulate_multinomial_mixture(n_users: int = 1000, n_clusters: int = 5, n_types: int = 5,
                                 mean_length: float = 50.0, concentration: float = 1.0,
                                 horizon: float = 1.0, seed: int = 0) -> Dataset:
    """In-memory multinomial mixture: user u has cluster z_u ~ uniform{0..K-1}, length
    1 + Poisson(mean_length - 1) and event types i.i.d. from p(b|z_u) ~ Dirichlet(concentration).

    Returns a Dataset with labels z (int64 (n_users,)) and meta ``beacon_given_cluster`` (K, n_types).
    """
    rng, table = _mixture_params(n_clusters, n_types, concentration, seed)
    labels = rng.integers(0, n_clusters, size=n_users)
    seqs = _mixture_shard(rng, labels, table, mean_length, horizon)
    return Dataset(seqs, labels, {"beacon_given_cluster": table, "seed": seed})


def write_multinomial_mixture(path: Path, n_users: int = 1_000_000, n_clusters: int = 5,
                              n_types: int = 5, mean_length: float = 50.0,
                              concentration: float = 1.0, horizon: float = 1.0, seed: int = 0,
                              shard_size: int = 100_000) -> Path:
    """Stream the same kind of mixture to a stored dataset (``DatasetWriter``), shard by shard."""
    from ..core.storage import DatasetWriter

    rng, table = _mixture_params(n_clusters, n_types, concentration, seed)
    labels = rng.integers(0, n_clusters, size=n_users)
    with DatasetWriter(Path(path), n_types=n_types,
                       sequences_meta={"name": "multinomial_mixture", "time_unit": "a.u."},
                       dataset_meta={"beacon_given_cluster": table, "seed": seed}) as w:
        for a in range(0, n_users, shard_size):
            shard = _mixture_shard(rng, labels[a:a + shard_size], table, mean_length, horizon)
            w.write_shard(shard._replace(seq_ids=np.arange(a, a + len(shard))))
        w.set_labels(labels)
    return Path(path)


# ------------------------------------------------------------------------------ child processes
def _child(mode: str, path: str, n_clusters: int, seed: int, labels_path: str, queue) -> None:
    """Fit one way in this (spawned) process; save labels to ``labels_path``, report via queue."""
    from baselines.plsa_em import PlsaEM, beacon_counts

    from ..core.storage import load_sequences

    t0 = time.perf_counter()
    out: dict = {"mode": mode}
    if mode == "chunked":
        model = PlsaEM(n_clusters=n_clusters, seed=seed).fit_stored(path)
        labels = model.labels_
    else:
        seqs = load_sequences(Path(path))
        out["load_s"] = time.perf_counter() - t0
        if mode == "in-memory":
            model = PlsaEM(n_clusters=n_clusters, seed=seed).fit(seqs)
            labels = model.labels_
        else:
            from sklearn.cluster import KMeans

            counts = beacon_counts(seqs)
            del seqs
            freq = np.asarray((counts / counts.sum(axis=1)).todense())
            labels = KMeans(n_clusters, n_init=1, random_state=seed).fit_predict(freq)
    if mode != "reference":
        out["n_iter"] = int(model.n_iter_)
        out["converged"] = bool(model.converged_)
    out["wall_s"] = time.perf_counter() - t0
    out["peak_rss_mb"] = peak_rss_mb()
    np.save(labels_path, labels)
    queue.put(out)


def _run_child(mode: str, path: Path, n_clusters: int, seed: int, work: Path) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    labels_path = work / f"labels-{mode}.npy"
    proc = ctx.Process(target=_child,
                       args=(mode, str(path), n_clusters, seed, str(labels_path), queue))
    proc.start()
    proc.join()
    if proc.exitcode != 0:
        raise RuntimeError(f"perf child {mode!r} failed with exit code {proc.exitcode}")
    result = queue.get()
    result["labels"] = np.load(labels_path)
    return result


def main(argv: list[str]) -> int:
    from ..core.storage import load_labels, read_meta
    from ..harness.metrics import purity_score

    ap = argparse.ArgumentParser(prog="python -m benchmark perf plsa", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", type=Path, help="stored dataset directory (default: simulate)")
    ap.add_argument("--n-users", type=int, default=1_000_000)
    ap.add_argument("--n-clusters", type=int, default=5)
    ap.add_argument("--n-types", type=int, default=5)
    ap.add_argument("--mean-length", type=float, default=50.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--modes", default="chunked,in-memory,reference",
                    help="comma-separated subset of chunked,in-memory,reference")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args(argv)
    modes = [m for m in args.modes.split(",") if m]
    bad = set(modes) - {"chunked", "in-memory", "reference"}
    if bad:
        ap.error(f"unknown modes {sorted(bad)}")

    with tempfile.TemporaryDirectory(prefix="plsa-perf-") as tmp:
        path = args.dataset
        if path is None:
            path = Path(tmp) / "mixture"
            t0 = time.perf_counter()
            write_multinomial_mixture(path, args.n_users, args.n_clusters, args.n_types,
                                      args.mean_length, seed=args.seed)
            print(f"simulated {args.n_users} users ({args.n_clusters} clusters, {args.n_types} "
                  f"types, mean length {args.mean_length}) in {time.perf_counter() - t0:.1f} s")
        meta = read_meta(path)
        truth = load_labels(path)
        n_clusters = args.n_clusters if truth is None else len(np.unique(truth))
        print(f"dataset {path}: {meta['n_sequences']} sequences, {meta['n_events']} events, "
              f"{len(meta['shards'])} shards, K={n_clusters}")
        results = {}
        for mode in modes:
            res = _run_child(mode, path, n_clusters, args.seed, Path(tmp))
            labels = res.pop("labels")
            if truth is not None:
                from sklearn.metrics import adjusted_rand_score

                res["ari"] = float(adjusted_rand_score(truth, labels))
                res["purity"] = purity_score(truth, labels)
            results[mode] = res
            print(json.dumps(res))
        for res in results.values():
            if "load_s" in res:
                res["fit_s"] = res["wall_s"] - res["load_s"]
        if "reference" in results:
            ref = results["reference"]
            for mode in ("chunked", "in-memory"):
                if mode in results:
                    r = results[mode]
                    line = (f"{mode}: {r['wall_s']:.2f} s in all, peak RSS {r['peak_rss_mb']:.0f} MiB;"
                            f" time ratio to the KMeans reference {r['wall_s'] / ref['wall_s']:.2f}")
                    if "fit_s" in r:
                        line += (f"; after loading: {r['fit_s']:.2f} s vs {ref['fit_s']:.2f} s "
                                 f"(ratio {r['fit_s'] / ref['fit_s']:.2f})")
                    print(line)
            print(f"reference KMeans: {ref['wall_s']:.2f} s in all ({ref['fit_s']:.2f} s after "
                  f"loading), peak RSS {ref['peak_rss_mb']:.0f} MiB")
        if args.json:
            from ..core.storage import write_atomic_json

            write_atomic_json(args.json, {"args": vars(args), "results": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
