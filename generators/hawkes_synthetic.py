"""The 12 synthetic Hawkes datasets of the LAL paper (``K*_C5``, ``sin_K*_C5``, ``trunc_K*_C5``).

Protocol (LAL §5.1 after the DMHP paper, and the authors' public generator; see
``docs/generators.md``): C = 5 event types, 400 sequences per cluster, each cluster its own
Hawkes parameters drawn as

* ``exp``   baseline ``mu_c ~ U[0,1) / C``; decays ``5 U[0,1)`` per (c, c') pair; adjacency a sparse
  random C x C matrix (density 0.25, entries U[0,1)) rescaled to spectral radius 0.8;
* ``sin``   baseline ``mu_c ~ U[0,1]``; kernel ``b (1 - cos(omega (t - s)))`` with b, omega, s
  ~ U[pi/5, 2pi/5] per pair, tabulated on 10 points of t in [0, 1] (piecewise linear);
* ``trunc`` the same draws, kernel ``2b round(phi / (2b))`` = a box of height 2b on
  [0, max(0, s - pi / (2 omega))) (``phi >= b`` exactly when ``cos(omega (t - s)) <= 0``).

The observation window [0, T] is common to all sequences of a dataset and chosen so that the
*expected* mean sequence length equals Table 1's (solved from the renewal equation of the mean
intensity, :func:`generators.hawkes_kernels.window_for_mean_count`). A sequence that comes out
empty is drawn again (the datasets hold no empty sequences), i.e. sequences are conditioned on
having at least one event. Sequences are shuffled so clusters do not appear in order.
Same seed -> identical arrays; the true parameters, window and labels go into the metadata.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmark.core.dataset import Dataset
from benchmark.core.registry import LoadContext, UnknownNameError, register_dataset
from benchmark.core.sequences import EventSequences
from benchmark.core.storage import concatenate, load_sequences, read_meta, save_dataset

from .hawkes_kernels import (
    BoxKernels,
    ExpKernels,
    HawkesParams,
    SinKernels,
    log_likelihood,
    simulate_hawkes,
    window_for_mean_count,
)

GENERATOR_VERSION = "1"  # bump when the generated data change
FAMILIES = ("exp", "sin", "trunc")
CLUSTER_COUNTS = (2, 3, 4, 5)
# LAL paper, Table 1: mean sequence length per (family, number of clusters)
PAPER_MEAN_LENGTH = {
    ("exp", 2): 50.0, ("exp", 3): 50.0, ("exp", 4): 50.0, ("exp", 5): 50.0,
    ("sin", 2): 143.5, ("sin", 3): 186.1, ("sin", 4): 185.1, ("sin", 5): 119.3,
    ("trunc", 2): 52.9, ("trunc", 3): 57.9, ("trunc", 4): 53.3, ("trunc", 5): 53.7,
}
EXP_SPECTRAL_RADIUS = 0.8
EXP_ADJACENCY_DENSITY = 0.25
SIN_PARAM_RANGE = (np.pi / 5, 2 * np.pi / 5)


def dataset_name(family: str, n_clusters: int, n_types: int = 5) -> str:
    """``K3_C5``, ``sin_K3_C5``, ``trunc_K3_C5`` ..."""
    prefix = "" if family == "exp" else f"{family}_"
    return f"{prefix}K{n_clusters}_C{n_types}"


def default_mean_length(family: str, n_clusters: int) -> float:
    """Table 1's mean length; for cluster counts outside 2..5 the family's average over Table 1."""
    _check_family(family)
    if (family, n_clusters) in PAPER_MEAN_LENGTH:
        return PAPER_MEAN_LENGTH[family, n_clusters]
    return float(np.mean([v for (f, _), v in PAPER_MEAN_LENGTH.items() if f == family]))


def _check_family(family: str) -> None:
    if family not in FAMILIES:
        raise ValueError(f"unknown kernel family {family!r}; expected one of {', '.join(FAMILIES)}")


def draw_cluster_params(family: str, n_types: int, rng: np.random.Generator,
                        spectral_radius: float = EXP_SPECTRAL_RADIUS) -> HawkesParams:
    """Draw one cluster's Hawkes parameters following the protocol of ``family``."""
    _check_family(family)
    c = n_types
    if family == "exp":
        if not 0 < spectral_radius < 1:
            raise ValueError(f"spectral_radius must be in (0, 1) for a stationary process, got "
                             f"{spectral_radius}")
        baseline = rng.random(c) / c
        decays = 5.0 * rng.random((c, c))
        n_nonzero = max(1, int(round(EXP_ADJACENCY_DENSITY * c * c)))
        while True:  # a nilpotent pattern (radius 0) cannot be rescaled: draw again
            adjacency = np.zeros(c * c)
            adjacency[rng.choice(c * c, size=n_nonzero, replace=False)] = rng.random(n_nonzero)
            adjacency = adjacency.reshape(c, c)
            radius = np.max(np.abs(np.linalg.eigvals(adjacency)))
            if radius > 1e-6:
                break
        return HawkesParams(baseline, ExpKernels(adjacency * (spectral_radius / radius), decays))
    baseline = rng.random(c)
    amplitude, omega, shift = rng.uniform(*SIN_PARAM_RANGE, size=(3, c, c))
    if family == "sin":
        return HawkesParams(baseline, SinKernels(amplitude, omega, shift))
    return HawkesParams(baseline, truncated_sin_kernels(amplitude, omega, shift))


def truncated_sin_kernels(amplitude: np.ndarray, omega: np.ndarray, shift: np.ndarray) -> BoxKernels:
    """``2b round(phi / (2b))`` of ``phi(t) = b (1 - cos(omega (t - s)))`` on t in [0, 1], as boxes.

    The value is 2b where ``cos(omega (t - s)) <= 0`` and 0 elsewhere. For omega, s > 0 with
    ``omega * s < 3 pi / 2`` and ``omega * (1 - s) < pi / 2`` (true for the protocol's
    [pi/5, 2pi/5] ranges) that set is ``[0, s - pi / (2 omega))``, empty when ``omega s <= pi/2``.
    """
    amplitude, omega, shift = (np.asarray(a, dtype=np.float64) for a in (amplitude, omega, shift))
    if np.any(omega <= 0) or np.any(shift <= 0) or np.any(omega * shift >= 1.5 * np.pi) or np.any(
            omega * (1 - shift) >= 0.5 * np.pi):
        raise ValueError("truncated_sin_kernels needs omega, shift > 0, omega*shift < 3pi/2 and "
                         "omega*(1 - shift) < pi/2 (one box per kernel)")
    return BoxKernels(2 * amplitude, np.minimum(1.0, np.maximum(0.0, shift - np.pi / (2 * omega))))


def simulate_nonempty(params: HawkesParams, n_sequences: int, horizon: float,
                      rng: np.random.Generator) -> tuple[EventSequences, int]:
    """``n_sequences`` realisations on [0, horizon], each re-drawn until it has an event.

    Returns the sequences and the number of empty draws that were replaced."""
    parts = []
    n_drawn = 0
    missing = n_sequences
    while missing:
        if n_drawn > 1000 * n_sequences:
            raise ValueError(f"could not draw non-empty sequences on [0, {horizon:g}]: the baseline "
                             f"rates {params.baseline} are too small for this window")
        times, types, offsets, t_end = simulate_hawkes(params, missing, horizon, rng)
        n_drawn += missing
        lengths = np.diff(offsets)
        kept = lengths > 0  # dropping empty sequences leaves the event arrays as they are
        part = EventSequences(times, types, np.concatenate([[0], np.cumsum(lengths[kept])]),
                              params.n_types, t_end=t_end[kept])
        parts.append(part)
        missing -= len(part)
    out = concatenate(parts)
    return replace(out, seq_ids=np.arange(len(out))), n_drawn - n_sequences


def make_lal_dataset(family: str, n_clusters: int, n_per_cluster: int = 400, seed: int = 0,
                     n_types: int = 5, mean_length: float | None = None) -> Dataset:
    """One LAL synthetic dataset: ``n_clusters`` Hawkes processes x ``n_per_cluster`` sequences.

    family : ``"exp"`` | ``"sin"`` | ``"trunc"`` (kernel family, see the module docstring).
    mean_length : target expected events per sequence; default Table 1's value for the family
        and cluster count (:func:`default_mean_length`).
    Returns a Dataset with labels 0..K-1 (sequence order shuffled) and metadata holding the true
    parameters per cluster (``params``), the window ``horizon`` (a.u.), the target mean length,
    the seed and the generator version.
    """
    _check_family(family)
    if n_clusters < 1:
        raise ValueError(f"n_clusters must be >= 1, got {n_clusters}")
    if n_per_cluster < 1:
        raise ValueError(f"n_per_cluster must be >= 1, got {n_per_cluster}")
    if n_types < 1:
        raise ValueError(f"n_types must be >= 1, got {n_types}")
    target = default_mean_length(family, n_clusters) if mean_length is None else float(mean_length)
    # every (family, K, C) gets its own stream, so K3_C5's clusters are not K2_C5's plus one
    entropy = np.random.SeedSequence([seed, FAMILIES.index(family), n_clusters, n_types])
    param_rng, sim_rng, order_rng = (np.random.default_rng(s) for s in entropy.spawn(3))
    params = [draw_cluster_params(family, n_types, param_rng) for _ in range(n_clusters)]
    horizon = window_for_mean_count(params, target)
    parts, redrawn = zip(*(simulate_nonempty(p, n_per_cluster, horizon, sim_rng) for p in params))
    labels = np.repeat(np.arange(n_clusters), n_per_cluster)
    perm = order_rng.permutation(len(labels))
    name = dataset_name(family, n_clusters, n_types)
    seqs = replace(
        concatenate(list(parts)).subset(perm),
        seq_ids=np.arange(len(labels)),
        meta={"name": name, "source": f"generators.hawkes_synthetic ({GENERATOR_VERSION})",
              "time_unit": "a.u."},
    )
    meta = {
        "name": name, "family": family, "n_clusters": n_clusters, "n_per_cluster": n_per_cluster,
        "n_types": n_types, "seed": seed, "generator_version": GENERATOR_VERSION,
        "horizon": horizon, "target_mean_length": target,
        "n_empty_redrawn": [int(r) for r in redrawn],  # per cluster (sequences conditioned on N >= 1)
        "params": [p.to_dict() for p in params],
    }
    return Dataset(seqs, labels[perm], meta)


def true_cluster_log_likelihoods(seqs: EventSequences, params: list[HawkesParams]) -> np.ndarray:
    """float64 (N, K): each sequence's exact log-likelihood (nats) on its window under each
    cluster's *true* parameters (the dataset metadata's ``params``).

    Its row-wise argmax is the Bayes classifier of an equal-size mixture: no clusterer can
    expect a higher accuracy, so its purity is the ceiling of a dataset's purity column (a
    diagnostic from the generator's privileged knowledge, never a method's input).
    """
    ends = seqs.window_end()
    return np.array([[log_likelihood(p, *seqs.sequence(i), ends[i]) for p in params]
                     for i in range(len(seqs))])


def oracle_log_likelihoods(dataset_dir: Path) -> np.ndarray:
    """The registered ``oracle`` of the generated sets: :func:`true_cluster_log_likelihoods` of
    the stored dataset in ``dataset_dir`` under the true parameters in its metadata.

    Parameters
    ----------
    dataset_dir : Path
        A stored dataset (:mod:`benchmark.core.storage`) written by this generator or
        :mod:`generators.huge`, whose ``dataset_meta`` holds ``params``.

    Returns
    -------
    ndarray
        float64 (N, K): log-likelihood (nats) of each sequence under each cluster.

    Raises
    ------
    ValueError
        The metadata holds no true Hawkes parameters.
    """
    params = read_meta(dataset_dir).get("dataset_meta", {}).get("params")
    if not params:
        raise ValueError(f"{dataset_dir}: the dataset metadata holds no true Hawkes parameters "
                         "(only the generated synthetic sets have them)")
    return true_cluster_log_likelihoods(load_sequences(dataset_dir),
                                        [HawkesParams.from_dict(p) for p in params])


def _make_loader(family: str, n_clusters: int):
    def draw(ctx: LoadContext, seed: int = 0) -> Dataset:
        return make_lal_dataset(family, n_clusters, seed=seed)

    draw.__name__ = dataset_name(family, n_clusters)
    return draw


def _make_generate(name: str):
    def generate(out_dir: Path, seed: int = 0) -> Path:
        return generate_to_dir(name, out_dir, seed)

    return generate


_DESCRIPTIONS = {
    "exp": "exponential kernels (sparse adjacency, spectral radius 0.8)",
    "sin": "sinusoidal kernels b(1-cos(w(t-s))) on [0, 1]",
    "trunc": "piecewise-constant truncation 2b*round(phi/2b) of the sin kernels",
}

for _family in FAMILIES:
    for _k in CLUSTER_COUNTS:
        _load = _make_loader(_family, _k)  # seed 0 as the registered set, seed S as NAME@draw=S
        register_dataset(
            dataset_name(_family, _k), kind="synthetic", n_clusters=_k,
            description=f"LAL synthetic: {_k} clusters x 400 Hawkes sequences, 5 types, "
                        f"{_DESCRIPTIONS[_family]}",
            family=_family, version=GENERATOR_VERSION,
            paper_stats={"mean_length": PAPER_MEAN_LENGTH[_family, _k],
                         "n_sequences": 400 * _k, "n_types": 5},
            generate=_make_generate(dataset_name(_family, _k)), oracle=oracle_log_likelihoods,
            draw=_load,
        )(_load)


def _parse_name(name: str) -> tuple[str, int] | None:
    for family in FAMILIES:
        for k in CLUSTER_COUNTS:
            if dataset_name(family, k) == name:
                return family, k
    return None


def generate_to_dir(name: str, out_dir: Path, seed: int = 0) -> Path:
    """Generate dataset ``name`` (one of the 12 LAL sets; ``Huge`` is
    :func:`generators.huge.write_huge`) with ``seed`` and store it at ``out_dir`` (the dataset
    directory itself: meta.json and Parquet shards, written atomically; an older dataset there is
    replaced). Returns ``out_dir``. Raises ``UnknownNameError`` for another name and ``OSError``
    (with nothing left at ``out_dir``) when writing fails."""
    out_dir = Path(out_dir)
    parsed = _parse_name(name)
    if parsed is None:
        known = [dataset_name(f, k) for f in FAMILIES for k in CLUSTER_COUNTS]
        raise UnknownNameError(f"unknown synthetic dataset {name!r}; known: {', '.join(known)}")
    dataset = make_lal_dataset(*parsed, seed=seed)
    try:
        save_dataset(dataset, out_dir)
    except OSError as e:
        raise OSError(e.errno, f"writing {name} to {out_dir} failed ({e.strerror or e}); "
                               f"the partial dataset was removed") from e
    return out_dir
