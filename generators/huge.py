"""``Huge``: 10^6 exponential-kernel Hawkes sequences (5 clusters, 5 types, mean length 50),
streamed to sharded Parquet.

The five clusters' parameters follow the ``exp`` protocol of :mod:`generators.hawkes_synthetic`
(LAL Table 1: Huge, mean length 50). The data are never held in memory at once: the loader
returns a :class:`~benchmark.core.dataset.ShardedDataset` (:func:`huge_dataset`) whose shard ``s``
(``shard_size`` sequences, an equal share of every cluster, shuffled within the shard) is
simulated from its own child seed, by a pool of worker processes, and written by the catalog
(:func:`benchmark.core.catalog.write_dataset`, through
:class:`benchmark.core.storage.DatasetWriter`) as soon as it is ready, in shard order. The result
is therefore identical whatever the number of workers. The writer works in a temporary directory
renamed into place at the end, so an error (a full disk included) leaves nothing at the target.
:func:`write_huge` writes the same data to any path. Read it back lazily with
:func:`benchmark.core.storage.iter_shards`.
"""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Iterator

import numpy as np

from benchmark.core.catalog import write_dataset
from benchmark.core.dataset import ShardedDataset
from benchmark.core.registry import LoadContext, register_dataset
from benchmark.core.sequences import EventSequences
from benchmark.core.storage import concatenate

from .hawkes_kernels import HawkesParams, window_for_mean_count
from .hawkes_synthetic import (
    GENERATOR_VERSION,
    draw_cluster_params,
    oracle_log_likelihoods,
    simulate_nonempty,
)

HUGE_N_SEQUENCES = 1_000_000
HUGE_N_CLUSTERS = 5
HUGE_N_TYPES = 5
HUGE_MEAN_LENGTH = 50.0
HUGE_SHARD_SIZE = 50_000
_HUGE_STREAM = 7  # seed-sequence key that separates Huge's random streams from the LAL sets'


def huge_params(seed: int = 0) -> tuple[list[HawkesParams], float]:
    """The clusters' true parameters and the window T (a.u.) giving an expected mean length of 50."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, _HUGE_STREAM]))
    params = [draw_cluster_params("exp", HUGE_N_TYPES, rng) for _ in range(HUGE_N_CLUSTERS)]
    return params, window_for_mean_count(params, HUGE_MEAN_LENGTH)


def _simulate_shard(params: list[HawkesParams], horizon: float, per_cluster: int, first: int,
                    seed: np.random.SeedSequence) -> tuple[EventSequences, np.ndarray]:
    """One shard: ``per_cluster`` sequences of every cluster, shuffled; ids start at ``first``."""
    sim_rng, order_rng = (np.random.default_rng(s) for s in seed.spawn(2))
    parts = [simulate_nonempty(p, per_cluster, horizon, sim_rng)[0] for p in params]
    seqs = concatenate(parts)
    labels = np.repeat(np.arange(len(params)), per_cluster)
    perm = order_rng.permutation(len(labels))
    seqs = seqs.subset(perm)
    return (EventSequences(seqs.times, seqs.types, seqs.offsets, seqs.n_types,
                           seq_ids=np.arange(first, first + len(perm)), t_end=seqs.t_end),
            labels[perm])


def _shards(jobs: list[tuple], n_workers: int) -> Iterator[tuple[EventSequences, np.ndarray]]:
    """Yield the simulated shards in order; at most 2 per worker are in flight (bounded memory)."""
    if n_workers <= 1:
        yield from (_simulate_shard(*job) for job in jobs)
        return
    pool = ProcessPoolExecutor(max_workers=n_workers)
    try:
        pending: deque = deque()
        for job in jobs:
            pending.append(pool.submit(_simulate_shard, *job))
            if len(pending) >= 2 * n_workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def huge_dataset(seed: int = 0, n_sequences: int | None = None, shard_size: int | None = None,
                 n_workers: int | None = None) -> ShardedDataset:
    """Huge (or a smaller version) as a :class:`~benchmark.core.dataset.ShardedDataset`.

    Nothing is simulated here: shard ``s`` is simulated when the result's ``shards`` iterator
    reaches it (by ``n_workers`` processes, at most 2 shards per worker ahead), so the caller
    writes each shard as it comes (:func:`benchmark.core.catalog.write_dataset`).

    Parameters
    ----------
    seed : int, default 0
        Generator seed (0: the registered set).
    n_sequences : int, optional
        Number of sequences, a multiple of ``shard_size``; default :data:`HUGE_N_SEQUENCES`
        (10^6). The set is named ``Huge`` at that size, ``Huge_N`` otherwise.
    shard_size : int, optional
        Sequences per shard, a multiple of the 5 clusters; default :data:`HUGE_SHARD_SIZE`.
    n_workers : int, optional
        Simulation processes; default the CPUs available, at most 8. The data do not depend on it.

    Returns
    -------
    ShardedDataset
        Shards of ``shard_size`` sequences (an equal share of every cluster, shuffled within the
        shard; ids ``0..n_sequences-1``) with their labels 0..4; metadata with the true
        parameters (``params``), the window ``horizon`` (a.u.) and the sizes.

    Raises
    ------
    ValueError
        Sizes that are not such multiples.
    """
    n_sequences = HUGE_N_SEQUENCES if n_sequences is None else n_sequences
    shard_size = HUGE_SHARD_SIZE if shard_size is None else shard_size
    if shard_size < 1 or shard_size % HUGE_N_CLUSTERS or n_sequences % shard_size or n_sequences < 1:
        raise ValueError(f"n_sequences ({n_sequences}) must be a positive multiple of shard_size "
                         f"({shard_size}), itself a multiple of {HUGE_N_CLUSTERS}")
    if n_workers is None:
        n_workers = min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                        else (os.cpu_count() or 1))
    params, horizon = huge_params(seed)
    n_shards = n_sequences // shard_size
    shard_seeds = np.random.SeedSequence([seed, _HUGE_STREAM, 1]).spawn(n_shards)
    per_cluster = shard_size // HUGE_N_CLUSTERS
    name = "Huge" if n_sequences == HUGE_N_SEQUENCES else f"Huge_{n_sequences}"
    dataset_meta = {
        "name": name, "family": "exp", "n_clusters": HUGE_N_CLUSTERS, "n_types": HUGE_N_TYPES,
        "n_per_cluster": n_sequences // HUGE_N_CLUSTERS, "seed": seed,
        "generator_version": GENERATOR_VERSION, "horizon": horizon,
        "target_mean_length": HUGE_MEAN_LENGTH, "shard_size": shard_size,
        "params": [p.to_dict() for p in params],
    }
    sequences_meta = {"name": name, "source": f"generators.huge ({GENERATOR_VERSION})",
                      "time_unit": "a.u."}
    jobs = [(params, horizon, per_cluster, s * shard_size, shard_seeds[s]) for s in range(n_shards)]
    return ShardedDataset(_shards(jobs, n_workers), n_types=HUGE_N_TYPES,
                          sequences_meta=sequences_meta, meta=dataset_meta)


def write_huge(path: Path, seed: int = 0, n_sequences: int = HUGE_N_SEQUENCES,
               shard_size: int = HUGE_SHARD_SIZE, n_workers: int | None = None) -> Path:
    """Simulate Huge (or a smaller version with ``n_sequences``) and stream it to ``path``.

    The same data as the registered ``Huge`` (:func:`huge_dataset`, written by
    :func:`benchmark.core.catalog.write_dataset`), at any path: for ``generate`` and the
    performance benchmarks. Parameters as in :func:`huge_dataset`. Returns ``path``; raises
    ``ValueError`` for bad sizes and ``OSError`` (nothing left at ``path``) if writing fails.
    """
    path = Path(path)
    data = huge_dataset(seed, n_sequences, shard_size, n_workers)
    try:
        write_dataset(data, path)
    except OSError as e:
        raise OSError(e.errno, f"writing {data.sequences_meta['name']} to {path} failed "
                               f"({e.strerror or e}); the partial dataset was removed") from e
    return path


@register_dataset("Huge", kind="synthetic", n_clusters=HUGE_N_CLUSTERS, version=GENERATOR_VERSION,
                  paper_stats={"mean_length": HUGE_MEAN_LENGTH, "n_sequences": HUGE_N_SEQUENCES,
                               "n_types": HUGE_N_TYPES},
                  heavy=True,
                  generate=lambda out_dir, seed=0: write_huge(out_dir, seed=seed),
                  oracle=oracle_log_likelihoods,
                  description="LAL Huge: 10^6 exponential-kernel Hawkes sequences, 5 clusters, "
                              "5 types, mean length 50 (sharded Parquet)")
def huge(ctx: LoadContext) -> ShardedDataset:
    """Huge, generator seed 0, as shards that the catalog writes into its cache one by one."""
    return huge_dataset(seed=0)
