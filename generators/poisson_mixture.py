"""``poisson_mixture``: a small toy set where clusters differ by per-type Poisson rates.

Lets the harness and the tests run without the Hawkes generators. Each of K clusters draws a rate
vector (per event type) from Gamma(1, 1) scaled so a sequence has ``mean_length`` events on
average over the window [0, T]; sequences are homogeneous Poisson processes per type.
"""

from __future__ import annotations

import numpy as np

from benchmark.core.dataset import Dataset
from benchmark.core.registry import LoadContext, register_dataset
from benchmark.core.sequences import EventSequences


def simulate_poisson_mixture(
    n_per_cluster: int = 100,
    n_clusters: int = 3,
    n_types: int = 4,
    mean_length: float = 30.0,
    horizon: float = 10.0,
    seed: int = 0,
) -> Dataset:
    """Return a Dataset of ``n_per_cluster * n_clusters`` sequences with labels 0..K-1.

    Times are in [0, ``horizon``] (arbitrary units); rates are in events per unit time.
    """
    if n_clusters < 1 or n_per_cluster < 1 or n_types < 1:
        raise ValueError("n_clusters, n_per_cluster and n_types must be >= 1")
    rng = np.random.default_rng(seed)
    rates = rng.gamma(1.0, 1.0, size=(n_clusters, n_types))
    rates *= mean_length / horizon / rates.sum(axis=1, keepdims=True)
    labels = np.repeat(np.arange(n_clusters), n_per_cluster)
    counts = rng.poisson(rates[labels] * horizon)  # (N, n_types)
    counts[counts.sum(axis=1) == 0, 0] = 1  # no empty sequences
    lengths = counts.sum(axis=1)
    types = np.repeat(np.tile(np.arange(n_types), len(labels)), counts.ravel())
    times = rng.uniform(0.0, horizon, size=len(types))
    seq = np.repeat(np.arange(len(labels)), lengths)
    order = np.lexsort((types, times, seq))
    seqs = EventSequences(
        times[order], types[order], np.concatenate([[0], np.cumsum(lengths)]), n_types,
        t_end=np.full(len(labels), horizon),
        meta={"name": "poisson_mixture", "source": "generators.poisson_mixture", "time_unit": "a.u."},
    )
    perm = rng.permutation(len(labels))  # do not present clusters in order
    return Dataset(seqs.subset(perm), labels[perm],
                   {"rates": rates, "seed": seed, "n_clusters": n_clusters})


def _draw(ctx: LoadContext, seed: int = 0) -> Dataset:
    return simulate_poisson_mixture(seed=seed)


@register_dataset("poisson_mixture", kind="toy", n_clusters=3, version="1",
                  description="3 clusters x 100 sequences, 4 types, Poisson rates per cluster",
                  draw=_draw)
def poisson_mixture(ctx: LoadContext) -> Dataset:
    return simulate_poisson_mixture()
