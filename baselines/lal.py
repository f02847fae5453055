"""``lal``: Look-A-Liker, neural clustering of temporal point processes (§4 of the paper).

Zhuzhel et al., "No two users are alike: generating audiences with neural clustering for temporal
point processes". What this file does, step by step, with the paper's numbering:

* **Partition** (§4.1, eqs. 5–7): each sequence's window ``[0, T_s]`` is cut into ``n_steps``
  equal bins (:func:`benchmark.core.convert.binned_counts`); a bin holds the count of every event type
  plus the bin width ``Δt_s``. The network reads a normalised copy (eq. 7; see
  :class:`PartitionScaler`), the likelihood uses the raw counts.
* **Intensity model** (§4.2, eqs. 8–10): one recurrent network (LSTM by default) reads the
  partition and predicts per-type intensities through a scaled softplus; the partition
  log-likelihood is the Poisson likelihood of the bin counts (``baselines/_lal_net.py``).
* **Clusters** (§4.3): the network is shared; cluster ``k`` is only its learned initial hidden
  and cell states. All clusters run in one batch of (sequence, cluster) pairs.
* **EM** (eqs. 17–19): the E-step gives posteriors ``γ_nk`` from the per-cluster
  log-likelihoods with mixing probabilities fixed to ``1/K`` (§4.4); the M-step runs
  ``n_m_epochs`` network epochs on the posterior-weighted negative log-likelihood.
* **Double batching** (§4.4): every EM epoch works on a fresh random subset of at most
  ``max_computation_size`` sequences (E-step) and trains on it in mini-batches of
  ``batch_size`` (M-step), so an EM epoch's time and memory do not depend on N.
* **Cluster count** (§4.4): start with one cluster; after each M-step propose one move — split
  (``a ~ Beta``; the two children get ``2a·h`` and ``2(1-a)·h``), merge (mean of two states) or
  delete — and accept it with probability ``min(1, p(P|K_new) / p(P|K_old))``, the marginal
  likelihood of the subset. The last ``n_prune_epochs`` epochs only remove clusters: empty ones
  and the cluster whose deletion costs least, accepted by the likelihood ratio with mixing
  weights fitted and a per-cluster AIC penalty (not in the paper: the paper's "forcibly remove
  clusters that differ insignificantly" made operational; see ``prune_penalty``). Nothing
  here reads labels; a user-given ``n_clusters`` fixes K instead.
* **Outputs**: ``labels_`` = MAP cluster of every sequence; :meth:`LAL.transform` = final cell
  state of the sequence's MAP cluster (the paper's representation, §4.5).
* **Ensemble** (Table 7): ``n_ensemble > 1`` fits that many runs and clusters their
  co-association matrix with spectral clustering.
"""

from __future__ import annotations

import math
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from itertools import repeat
from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from baselines._torch import torch_threads
from benchmark.core.convert import binned_counts
from benchmark.core.method import Clusterer, check_input, fit_context
from benchmark.core.process_memory import heap_kept_for_reuse, release_freed_memory
from benchmark.core.registry import register_method
from benchmark.core.sequences import EventSequences

AUTO_STEPS_MIN, AUTO_STEPS_MAX = 8, 128
FORWARD_FLOATS = 1 << 25  # cap on pairs x n_steps x hidden per no-grad forward (128 MiB)
MAX_ENSEMBLE_SEQUENCES = 20000  # co-association matrix is N x N


@dataclass
class Partitions:
    """Torch tensors of ``n`` partitions (``T`` = n_steps bins, ``C`` = event types).

    x : float32 (n, T, C + 1) normalised network input; counts : float32 (n, T, C) raw counts;
    width : float32 (n,) bin width in scaled time units; log_factorial : float64 (n,)
    ``Σ log n_tc!`` (the parameter-free term of eq. 10); n_events : int (n,).
    """

    x: Any
    counts: Any
    width: Any
    log_factorial: Any
    n_events: np.ndarray

    def __len__(self) -> int:
        return int(self.counts.shape[0])


@dataclass
class PartitionScaler:
    """Eq. 7 normalisation of partitions, fitted once on a sample of the training sequences.

    The network input of a bin is
    ``[(log Δt − m_0)/s_0, (n_1 − m_1)/s_1, …, (n_C − m_C)/s_C]``:
    every row of the partition matrix standardised over the sample (the bin width on a log
    scale, as windows span orders of magnitude in real data). ``time_scale`` is the mean bin
    width; intensities are in events per ``time_scale`` (the count likelihood does not depend
    on the time unit).
    """

    n_steps: int
    window_start: str
    mean: np.ndarray  # (C + 1,)
    std: np.ndarray  # (C + 1,)
    time_scale: float

    @classmethod
    def fit(cls, seqs: EventSequences, n_steps: int, window_start: str) -> "PartitionScaler":
        counts, width = binned_counts(seqs, n_steps, start=window_start)
        log_width = np.log(width)
        mean = np.concatenate([[log_width.mean()], counts.mean(axis=(0, 1))])
        std = np.concatenate([[log_width.std()], counts.std(axis=(0, 1))])
        std = np.where(std > 1e-8, std, 1.0)
        return cls(n_steps, window_start, mean.astype(np.float32), std.astype(np.float32),
                   float(width.mean()))

    def transform(self, seqs: EventSequences) -> Partitions:
        import torch

        counts, width = binned_counts(seqs, self.n_steps, start=self.window_start)
        n = len(seqs)
        x = np.empty((n, self.n_steps, counts.shape[2] + 1), dtype=np.float32)
        x[:, :, 0] = ((np.log(width) - self.mean[0]) / self.std[0])[:, None]
        x[:, :, 1:] = (counts - self.mean[1:]) / self.std[1:]
        log_factorial = torch.lgamma(torch.from_numpy(counts).double() + 1).sum(dim=(1, 2))
        return Partitions(torch.from_numpy(x), torch.from_numpy(counts),
                          torch.from_numpy((width / self.time_scale).astype(np.float32)),
                          log_factorial, seqs.lengths.copy())


@dataclass
class FittedRun:
    """One trained LAL model: network, active initial-state slots, scaler, diagnostics."""

    net: Any
    slots: list[int]
    scaler: PartitionScaler
    labels: np.ndarray
    log_likelihood: float  # mixture log-likelihood of all N sequences, nats
    history: list[dict[str, Any]]


@register_method("lal")
class LAL(Clusterer):
    """Look-A-Liker: EM over a shared recurrent point-process model with per-cluster initial
    states, double batching and a likelihood-driven random walk over the number of clusters.

    Paper sections in brackets; docs/lal.md maps every parameter to the paper.

    Parameters
    ----------
    n_clusters : int or None, default=None
        Fixed number of clusters; None chooses it by the random walk (§4.4) starting from one
        cluster.
    max_clusters : int, default=10
        Upper bound of the walk (§4.5: 10).
    n_steps : int or None, default=None
        Bins per partition (§4.1); None = twice the mean sequence length, clipped to [8, 128]
        (§4.5: "close to twice the mean length"; 128 keeps long sets affordable).
    window_start : {"zero", "first"}, default="zero"
        The partition covers ``[0, T_s]`` (§4.1) or starts at the sequence's first event.
    hidden_size : int, default=64
        Hidden units per recurrent layer (not given in the paper).
    n_layers : int, default=1
        Recurrent layers (not given in the paper).
    cell : {"lstm", "gru", "rnn"}, default="lstm"
        Recurrent cell: the paper's LSTM, or Table 6's GRU and plain RNN.
    forget_bias : float, default=3.0
        Initial forget-gate bias of the LSTM (not in the paper): with 3 the initial cell state,
        the only thing that tells clusters apart, survives along the partition; chosen on the
        toy Poisson mixture (docs/lal.md), not on a benchmark set.
    init_scale : float or None, default=None
        Initial states start ~ U(-init_scale, init_scale); None = ``1 / hidden_size`` as in the
        authors' code. Large values (1.0) make the first E-step hard but random, and EM keeps
        that partition.
    cluster_scale : bool, default=False
        Learn the softplus scale ``s_c`` of eq. 9 per cluster and type instead of per type only.
        False follows the paper's text (clusters differ only by their initial states); True
        follows the authors' public code: the scale is split with its cluster (the child copies
        it), averaged in log space on a merge and counted in the removal penalty.
    batch_norm : bool, default=True
        1-D batch normalisation after the recurrent block (§4.2).
    n_em_epochs : int, default=50
        EM epochs (§4.5: 50).
    n_m_epochs : int, default=10
        Network epochs per M-step (§4.3: 10).
    n_prune_epochs : int, default=10
        Final EM epochs that only remove clusters (§4.4: 10 of 50); at most ``n_em_epochs``;
        unused when ``n_clusters`` is given.
    max_computation_size : int, default=2000
        E-step subset size per EM epoch (§4.4-4.5: 2000).
    batch_size : int, default=50
        M-step mini-batch size (§4.4 ``b``).
    lr : float, default=0.1
        Adam learning rate (§4.5: 0.1).
    init_lr : float or None, default=None
        Learning rate of the initial states (their own Adam parameter group); None = ``lr``.
        The plateau scheduler scales both groups.
    lr_patience : int, default=25
        Patience of ReduceLROnPlateau on the M-step loss, stepped per network epoch (§4.5: 25).
    lr_factor : float, default=0.5
        Factor of ReduceLROnPlateau, in (0, 1) (§4.5: 0.5).
    grad_clip : float or None, default=None
        Largest global gradient norm per optimiser step; None = no clipping.
    split_beta : float, default=1.0
        A split gives its children the proportions ``a ~ Beta(split_beta, split_beta)`` (§4.4).
    prune_penalty : {"aic", "bic"} or float >= 0, default="aic"
        Removal phase only (not in the paper's formula): a deletion is accepted with probability
        ``min(1, e^penalty · p(P|K-1) / p(P|K))``, so every cluster must buy its keep with
        ``penalty`` nats of likelihood. "aic" = the number of free parameters of one cluster
        (its initial states, ``n_state · n_layers · hidden_size``); "bic" = that times
        ``½ ln n`` (n = E-step subset size; removes more, and collapses 2-cluster runs to one
        cluster more often); 0 = the plain likelihood ratio, which never removes a
        near-duplicate. The paper asks the last epochs to "forcibly remove extra clusters that
        are almost empty or differ insignificantly" (§4.4).
    prune_mixing : {"fitted", "uniform"}, default="fitted"
        Mixing probabilities of the removal test (not in the paper): "fitted" = maximum-
        likelihood weights for both models, so an exact duplicate costs nothing to remove;
        "uniform" = 1/K as in the EM, where a duplicated cluster acts as extra mixing weight and
        can be worth O(N) nats.
    posterior_floor : float in [0, 1], default=1e-3
        M-step pairs with ``γ_nk`` below this are skipped (their weight in eq. 18 is
        negligible); 0 computes every pair.
    m_step_pairs : {"all", "sampled"}, default="all"
        Which (sequence, cluster) pairs a network epoch of the M-step trains. "all" = every pair
        with ``γ_nk >= posterior_floor``, eq. 18 term by term; its cost grows with K.
        "sampled" = two pairs per sequence: its MAP cluster with weight ``γ_n,map`` and one other
        cluster drawn (afresh every network epoch) from the rest in proportion to ``γ_nk``, with
        weight ``1 - γ_n,map``: an unbiased estimate of eq. 18's gradient at a cost that does not
        grow with K (the same pairs as "all" at K <= 2). Not in the paper; an implementation of
        its M-step, like the mini-batches.
    n_ensemble : int, default=1
        Runs of the co-association ensemble (Table 7); 1 = a single model.
    ensemble_k : {"anmi", "median"}, default="anmi"
        How the ensemble chooses its number of clusters when ``n_clusters`` is None (the paper
        does not say): "anmi" = the K in ``2..max_clusters`` whose spectral consensus shares the
        most information with the runs (average NMI with every run's labels; Strehl & Ghosh
        2002; one cluster if most runs found one); "median" = the median K of the runs.
    n_jobs : int, default=1
        Processes fitting the runs of an ensemble side by side (each with ``n_threads`` torch
        threads); the labels do not depend on it. 1 fits them one after another.
    n_threads : int, default=1
        Torch CPU threads (the per-step matrices are small; with two threads on a busy 2-core
        machine one LSTM call ran 10x slower than with one).
    seed : int, default=0
        Random seed; the same seed, input and threads give the same output.

    Attributes
    ----------
    labels_ : ndarray of shape (n_sequences,)
        MAP cluster of every sequence (of the consensus for an ensemble), int64, 0..K-1.
    n_clusters_ : int
        Number of clusters found.
    runs_ : list of FittedRun
        The fitted runs: one, or ``n_ensemble`` for an ensemble.
    history_ : list of dict
        One dict per EM epoch of the first run: clusters, E-step log-likelihood per event,
        M-step loss and pairs, learning rate, the cluster-count move, seconds.
    metrics_ : dict
        Label-free diagnostics: log-likelihood per event, clusters found, seconds per EM epoch.
    """

    # part of every run key
    version = "2"
    # added after the version-2 leaderboard runs; left out of the run key at these values
    unkeyed_defaults = {"m_step_pairs": "all", "cluster_scale": False}
    outputs = ("labels", "embeddings")
    needs_n_clusters = False
    requires = ("torch",)
    presets = {
        "quick": {"n_em_epochs": 8, "n_m_epochs": 3, "n_prune_epochs": 2,
                  "max_computation_size": 600, "hidden_size": 32, "batch_size": 100},
        "paper": {"n_em_epochs": 50, "n_m_epochs": 10, "n_prune_epochs": 10,
                  "max_computation_size": 2000, "lr": 0.1, "lr_patience": 25,
                  "lr_factor": 0.5, "max_clusters": 10},
    }
    paper = ("Zhuzhel et al., No two users are alike: generating audiences with neural "
             "clustering for temporal point processes (LAL), §4")
    _parameter_constraints = {
        "n_clusters": [Interval(Integral, 1, None, closed="left"), None],
        "max_clusters": [Interval(Integral, 1, None, closed="left")],
        "n_steps": [Interval(Integral, 1, None, closed="left"), None],
        "window_start": [StrOptions({"zero", "first"})],
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "n_layers": [Interval(Integral, 1, None, closed="left")],
        "cell": [StrOptions({"lstm", "gru", "rnn"})],
        "forget_bias": [Real],
        "init_scale": [Interval(Real, 0, None, closed="neither"), None],
        "cluster_scale": ["boolean"],
        "batch_norm": ["boolean"],
        "n_em_epochs": [Interval(Integral, 1, None, closed="left")],
        "n_m_epochs": [Interval(Integral, 1, None, closed="left")],
        "n_prune_epochs": [Interval(Integral, 0, None, closed="left")],
        "max_computation_size": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "init_lr": [Interval(Real, 0, None, closed="neither"), None],
        "lr_patience": [Interval(Integral, 0, None, closed="left")],
        "lr_factor": [Interval(Real, 0, 1, closed="neither")],
        "grad_clip": [Interval(Real, 0, None, closed="neither"), None],
        "split_beta": [Interval(Real, 0, None, closed="neither")],
        "prune_penalty": [StrOptions({"aic", "bic"}), Interval(Real, 0, None, closed="left")],
        "prune_mixing": [StrOptions({"fitted", "uniform"})],
        "posterior_floor": [Interval(Real, 0, 1, closed="both")],
        "m_step_pairs": [StrOptions({"all", "sampled"})],
        "n_ensemble": [Interval(Integral, 1, None, closed="left")],
        "ensemble_k": [StrOptions({"anmi", "median"})],
        "n_jobs": [Interval(Integral, 1, None, closed="left")],
        "n_threads": [Interval(Integral, 1, None, closed="left")],
        "seed": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(
        self,
        n_clusters: int | None = None,
        max_clusters: int = 10,
        n_steps: int | None = None,
        window_start: str = "zero",
        hidden_size: int = 64,
        n_layers: int = 1,
        cell: str = "lstm",
        forget_bias: float = 3.0,
        init_scale: float | None = None,
        cluster_scale: bool = False,
        batch_norm: bool = True,
        n_em_epochs: int = 50,
        n_m_epochs: int = 10,
        n_prune_epochs: int = 10,
        max_computation_size: int = 2000,
        batch_size: int = 50,
        lr: float = 0.1,
        init_lr: float | None = None,
        lr_patience: int = 25,
        lr_factor: float = 0.5,
        grad_clip: float | None = None,
        split_beta: float = 1.0,
        prune_penalty: float | str = "aic",
        prune_mixing: str = "fitted",
        posterior_floor: float = 1e-3,
        m_step_pairs: str = "all",
        n_ensemble: int = 1,
        ensemble_k: str = "anmi",
        n_jobs: int = 1,
        n_threads: int = 1,
        seed: int = 0,
    ) -> None:
        self.n_clusters = n_clusters
        self.max_clusters = max_clusters
        self.n_steps = n_steps
        self.window_start = window_start
        self.hidden_size = hidden_size
        self.n_layers = n_layers
        self.cell = cell
        self.forget_bias = forget_bias
        self.init_scale = init_scale
        self.cluster_scale = cluster_scale
        self.batch_norm = batch_norm
        self.n_em_epochs = n_em_epochs
        self.n_m_epochs = n_m_epochs
        self.n_prune_epochs = n_prune_epochs
        self.max_computation_size = max_computation_size
        self.batch_size = batch_size
        self.lr = lr
        self.init_lr = init_lr
        self.lr_patience = lr_patience
        self.lr_factor = lr_factor
        self.grad_clip = grad_clip
        self.split_beta = split_beta
        self.prune_penalty = prune_penalty
        self.prune_mixing = prune_mixing
        self.posterior_floor = posterior_floor
        self.m_step_pairs = m_step_pairs
        self.n_ensemble = n_ensemble
        self.ensemble_k = ensemble_k
        self.n_jobs = n_jobs
        self.n_threads = n_threads
        self.seed = seed

    # ------------------------------------------------------------------------------ public
    @fit_context
    def fit(self, seqs: EventSequences) -> LAL:
        """Cluster ``seqs`` (labels are never an input). Sets ``labels_`` (N,) int64."""
        if self.n_clusters is None and self.n_prune_epochs > self.n_em_epochs:
            raise ValueError(f"n_prune_epochs must be at most n_em_epochs={self.n_em_epochs}, "
                             f"got {self.n_prune_epochs}")
        check_input(seqs, min_sequences=max(2, self.n_clusters or 1), min_events=0)
        if self.n_ensemble > 1 and len(seqs) > MAX_ENSEMBLE_SEQUENCES:
            raise ValueError(
                f"n_ensemble={self.n_ensemble} builds an N x N co-association matrix; "
                f"{len(seqs)} sequences exceed the limit of {MAX_ENSEMBLE_SEQUENCES}")
        seeds = ([self.seed] if self.n_ensemble == 1 else
                 [int(s) for s in np.random.SeedSequence(self.seed)
                  .generate_state(self.n_ensemble)])
        if self.n_jobs == 1 or len(seeds) == 1:
            self.runs_ = [_fit_one_run(self, seqs, s) for s in seeds]
        else:
            # spawn, not fork: a forked child of a process that has run torch's thread pool can
            # hang; each run re-seeds torch and numpy, so the order of completion is irrelevant
            unfitted = type(self)(**self.get_params())  # what the workers need, no old runs
            with ProcessPoolExecutor(min(self.n_jobs, len(seeds)),
                                     mp_context=multiprocessing.get_context("spawn")) as pool:
                self.runs_ = list(pool.map(_fit_one_run, repeat(unfitted), repeat(seqs), seeds))
        if self.n_ensemble == 1:
            labels = self.runs_[0].labels
        else:
            labels = self._ensemble_labels([r.labels for r in self.runs_])
        self.labels_ = _relabel(labels)
        self.n_clusters_ = int(self.labels_.max()) + 1
        self.history_ = self.runs_[0].history
        epochs = [h["seconds"] for r in self.runs_ for h in r.history]
        self.metrics_ = {
            "log_likelihood_per_event": float(np.mean(
                [r.log_likelihood for r in self.runs_]) / max(seqs.n_events, 1)),
            "n_clusters_found": float(self.n_clusters_),
            "seconds_per_em_epoch": float(np.mean(epochs)) if epochs else 0.0,
        }
        return self

    def transform(self, seqs: EventSequences) -> np.ndarray:
        """Final cell state (hidden state for GRU/RNN) of each sequence started from its MAP
        cluster's initial states, float32 (N, n_layers * hidden_size); runs of an ensemble are
        concatenated."""
        if not hasattr(self, "runs_"):
            raise RuntimeError("call fit() before transform()")
        with torch_threads(self.n_threads), heap_kept_for_reuse():
            return np.concatenate([self._score_all(run, seqs)[2] for run in self.runs_], axis=1)

    # ------------------------------------------------------------------------ one EM run
    def _fit_run(self, seqs: EventSequences, seed: int) -> FittedRun:
        import torch

        from baselines._lal_net import IntensityNet

        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        n = len(seqs)
        subset_size = min(n, self.max_computation_size)
        n_steps = self.n_steps or int(np.clip(round(2 * seqs.lengths.mean()),
                                              AUTO_STEPS_MIN, AUTO_STEPS_MAX))
        first = np.sort(rng.choice(n, subset_size, replace=False))
        scaler = PartitionScaler.fit(seqs.subset(first), n_steps, self.window_start)
        net = IntensityNet(seqs.n_types, self.hidden_size, self.n_layers, self.cell,
                           self.max_clusters if self.n_clusters is None else self.n_clusters,
                           self.batch_norm, self.forget_bias, self.init_scale,
                           self.cluster_scale)
        slots = list(range(self.n_clusters or 1))
        network = [p for name, p in net.named_parameters() if name != "init_states"]
        init_lr = self.lr if self.init_lr is None else self.init_lr
        optimizer = torch.optim.Adam([{"params": network},
                                      {"params": [net.init_states], "lr": init_lr}], lr=self.lr)
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=self.lr_factor, patience=self.lr_patience)
        whole = subset_size == n  # then every EM epoch sees all sequences
        data = scaler.transform(seqs.subset(first)) if whole else None
        loglik = None  # per-cluster log-likelihoods of `data` under the current model
        history = []
        for epoch in range(self.n_em_epochs):
            start = time.perf_counter()
            if not whole:
                data = scaler.transform(seqs.subset(np.sort(rng.choice(n, subset_size,
                                                                       replace=False))))
                loglik = None
            if loglik is None:
                loglik = _cluster_log_likelihoods(net, data, slots)  # E-step
            e_step_ll = _mixture_log_likelihood(loglik)
            posterior = torch.softmax(loglik, dim=1).float()
            m_loss, pairs = self._m_step(net, optimizer, scheduler, data, posterior, slots, rng)
            move = {"move": "none", "accepted": False, "log_ratio": 0.0}
            if self.n_clusters is None or whole:  # the walk needs them; so does the next E-step
                loglik = _cluster_log_likelihoods(net, data, slots)
            if self.n_clusters is None:
                if epoch < self.n_em_epochs - self.n_prune_epochs:
                    move, loglik = self._walk_step(net, optimizer, data, slots, loglik, rng)
                else:
                    move, loglik = self._prune_step(loglik, slots, rng,
                                                    self._penalty(net, len(data)))
            history.append({
                "epoch": epoch, "n_clusters": len(slots), "n_sequences": len(data),
                "e_step_log_lik_per_event": e_step_ll / max(int(data.n_events.sum()), 1),
                "m_step_loss": m_loss, "m_step_pairs_per_sequence": pairs,
                "lr": optimizer.param_groups[0]["lr"],
                **move, "seconds": time.perf_counter() - start,
            })
        run = FittedRun(net, slots, scaler, np.zeros(0, np.int64), 0.0, history)
        run.labels, run.log_likelihood, _ = self._score_all(run, seqs, with_representation=False)
        return run

    def _m_step(self, net, optimizer, scheduler, data: Partitions, posterior, slots: list[int],
                rng: np.random.Generator) -> tuple[float, float]:
        """``n_m_epochs`` epochs of Adam on the posterior-weighted NLL (eq. 18), the plateau
        scheduler stepped after each; returns the last epoch's mean loss (nats per bin) and the
        mean number of (sequence, cluster) pairs trained per sequence and network epoch (what
        an M-step costs: between 1 and K)."""
        import torch

        from baselines._lal_net import poisson_log_likelihood

        net.train()
        slot_index = torch.tensor(slots, dtype=torch.long)
        n, n_steps = len(data), data.counts.shape[1]
        keep = posterior >= self.posterior_floor
        keep[torch.arange(n), posterior.argmax(dim=1)] = True
        weight = posterior
        sampled = self.m_step_pairs == "sampled" and len(slots) > 2
        epoch_loss, n_pairs = 0.0, 0
        for _ in range(self.n_m_epochs):
            if sampled:
                keep, weight = _sampled_pairs(posterior, self.posterior_floor, rng)
            order = torch.from_numpy(rng.permutation(n))
            epoch_loss = 0.0
            for start in range(0, n, self.batch_size):
                batch = order[start:start + self.batch_size]
                seq, cluster = keep[batch].nonzero(as_tuple=True)
                rows = batch[seq]
                n_pairs += len(rows)
                intensity, _ = net(data.x[rows], slot_index[cluster])
                ll = poisson_log_likelihood(intensity, data.counts[rows], data.width[rows])
                loss = -(weight[rows, cluster] * ll).sum() / (len(batch) * n_steps)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if self.grad_clip is not None:
                    torch.nn.utils.clip_grad_norm_(net.parameters(), self.grad_clip)
                optimizer.step()
                epoch_loss += float(loss.detach()) * len(batch)
            epoch_loss /= n
            scheduler.step(epoch_loss)
        return epoch_loss, n_pairs / (self.n_m_epochs * n)

    # ------------------------------------------------------------- cluster-count moves
    def _walk_step(self, net, optimizer, data: Partitions, slots: list[int], loglik,
                   rng: np.random.Generator):
        """One MCMC move on the number of clusters (§4.4); mutates ``slots`` and the states."""
        import torch

        k = len(slots)
        if k == 1 == self.max_clusters:
            return {"move": "none", "accepted": False, "log_ratio": 0.0}, loglik
        old = _mixture_log_likelihood(loglik)
        grow = k == 1 or (k < self.max_clusters and rng.random() < 0.5)
        if grow:
            pos = int(rng.integers(k))
            parent = slots[pos]
            child = min(set(range(net.init_states.shape[0])) - set(slots))
            a = float(rng.beta(self.split_beta, self.split_beta))
            saved = _cluster_rows(net, parent)
            with torch.no_grad():
                net.init_states[child] = 2.0 * (1.0 - a) * saved[0]
                net.init_states[parent] = 2.0 * a * saved[0]
                for param in net.cluster_parameters()[1:]:  # the child keeps its parent's scale
                    param[child] = param[parent]
            new_cols = _cluster_log_likelihoods(net, data, [parent, child])
            proposal = torch.cat([loglik[:, :pos], new_cols[:, :1], loglik[:, pos + 1:],
                                  new_cols[:, 1:]], dim=1)
            move = "split"
        elif rng.random() < 0.5:
            pos, other = (int(i) for i in rng.choice(k, 2, replace=False))
            parent, child = slots[pos], slots[other]
            saved = _cluster_rows(net, parent)
            with torch.no_grad():
                for param in net.cluster_parameters():
                    param[parent] = 0.5 * (param[parent] + param[child])
            merged = _cluster_log_likelihoods(net, data, [parent])
            proposal = loglik.clone()
            proposal[:, pos] = merged[:, 0]
            proposal = torch.cat([proposal[:, :other], proposal[:, other + 1:]], dim=1)
            move = "merge"
        else:
            other = int(rng.integers(k))
            parent, saved = None, None
            proposal = torch.cat([loglik[:, :other], loglik[:, other + 1:]], dim=1)
            move = "delete"
        log_ratio = _mixture_log_likelihood(proposal) - old
        accepted = math.log(max(rng.random(), 1e-300)) < log_ratio
        if accepted:
            if move == "split":
                slots.append(child)
                for param in net.cluster_parameters():
                    _copy_adam_rows(optimizer, param, parent, child)
            else:
                del slots[other]
            loglik = proposal
        elif saved is not None:
            with torch.no_grad():
                for param, row in zip(net.cluster_parameters(), saved):
                    param[parent] = row
        return {"move": move, "accepted": bool(accepted), "log_ratio": float(log_ratio)}, loglik

    def _penalty(self, net, n_sequences: int = 1) -> float:
        """Removal-phase penalty per cluster in nats (see ``prune_penalty``)."""
        if self.prune_penalty == "aic":
            return float(net.parameters_per_cluster)
        if self.prune_penalty == "bic":
            return 0.5 * float(net.parameters_per_cluster) * math.log(max(n_sequences, 2))
        return float(self.prune_penalty)

    def _prune_step(self, loglik, slots: list[int], rng: np.random.Generator,
                    penalty: float = 0.0):
        """Final-phase removal (§4.4): delete clusters no sequence prefers, else propose deleting
        the cluster whose removal costs the least likelihood, accepted with probability
        ``min(1, e^penalty · likelihood ratio)`` (``penalty`` = 0: the walk's rule)."""
        import torch

        k = len(slots)
        if k == 1:
            return {"move": "none", "accepted": False, "log_ratio": 0.0}, loglik
        used = torch.bincount(loglik.argmax(dim=1), minlength=k) > 0
        if not bool(used.all()):
            keep = used.nonzero().flatten().tolist()
            proposal = loglik[:, keep]
            log_ratio = _mixture_log_likelihood(proposal) - _mixture_log_likelihood(loglik)
            slots[:] = [slots[i] for i in keep]
            return {"move": "delete-empty", "accepted": True, "log_ratio": log_ratio}, proposal
        mixture = (_fitted_mixture_log_likelihood if self.prune_mixing == "fitted"
                   else _mixture_log_likelihood)
        old = mixture(loglik)
        ratios = []
        for pos in range(k):
            rest = torch.cat([loglik[:, :pos], loglik[:, pos + 1:]], dim=1)
            ratios.append(mixture(rest) - old)
        pos = int(np.argmax(ratios))
        accepted = math.log(max(rng.random(), 1e-300)) < ratios[pos] + penalty
        if accepted:
            del slots[pos]
            loglik = torch.cat([loglik[:, :pos], loglik[:, pos + 1:]], dim=1)
        move = {"move": "prune", "accepted": bool(accepted), "log_ratio": float(ratios[pos])}
        return move, loglik

    # --------------------------------------------------------------------- scoring / misc
    def _score_all(self, run: FittedRun, seqs: EventSequences, with_representation: bool = True):
        """MAP labels (N,), mixture log-likelihood (nats) and representations (N, d) of all
        sequences, in chunks of ``max_computation_size`` sequences; memory beyond the outputs
        does not grow with N."""
        import torch

        labels, reps, total = [], [], 0.0
        for start in range(0, len(seqs), self.max_computation_size):
            part = run.scaler.transform(seqs.slice(start, min(start + self.max_computation_size,
                                                              len(seqs))))
            out = _cluster_log_likelihoods(run.net, part, run.slots,
                                           with_representation=with_representation)
            loglik, rep = out if with_representation else (out, None)
            best = loglik.argmax(dim=1)
            labels.append(best.numpy())
            total += _mixture_log_likelihood(loglik) - float(part.log_factorial.sum())
            if with_representation:
                reps.append(rep[torch.arange(len(part)), best].numpy())
            del part, out, loglik, rep
            release_freed_memory()  # else fragmentation keeps ~7 MB per chunk resident
        labels = np.concatenate(labels).astype(np.int64)
        rep = np.concatenate(reps) if with_representation else None
        return labels, total, rep

    def _ensemble_labels(self, runs_labels: list[np.ndarray]) -> np.ndarray:
        """Spectral clustering of the co-association matrix of several runs (Table 7) into
        ``n_clusters`` or the K chosen by ``ensemble_k``; int (N,)."""
        from sklearn.cluster import SpectralClustering
        from sklearn.metrics import normalized_mutual_info_score

        n = len(runs_labels[0])
        coassoc = np.zeros((n, n))
        for labels in runs_labels:
            onehot = np.eye(labels.max() + 1)[labels]
            coassoc += onehot @ onehot.T
        coassoc /= len(runs_labels)

        def consensus(k: int) -> np.ndarray:
            if k == 1:
                return np.zeros(n, dtype=np.int64)
            return SpectralClustering(k, affinity="precomputed", random_state=self.seed,
                                      assign_labels="cluster_qr").fit_predict(coassoc)

        if self.n_clusters is not None:
            return consensus(self.n_clusters)
        median_k = int(np.median([len(np.unique(lab)) for lab in runs_labels]))
        if self.ensemble_k == "median" or median_k == 1:  # most runs found no structure
            return consensus(median_k)
        best, best_score = None, -np.inf
        for k in range(2, min(self.max_clusters, n - 1) + 1):
            labels = consensus(k)
            score = np.mean([normalized_mutual_info_score(run, labels) for run in runs_labels])
            if score > best_score + 1e-12:
                best, best_score = labels, score
        return best


# ---------------------------------------------------------------------------------- helpers
def _fit_one_run(model: LAL, seqs: EventSequences, seed: int) -> FittedRun:
    """One EM run of ``model`` with its torch threads and freed heap memory kept for reuse
    (1.4–1.9x less time per EM epoch, see :func:`heap_kept_for_reuse`), leaving the caller's
    torch RNG as it was (module level so that a process pool can call it)."""
    import torch

    with torch_threads(model.n_threads), heap_kept_for_reuse(), \
            torch.random.fork_rng(devices=[]):
        return model._fit_run(seqs, seed)


def _cluster_log_likelihoods(net, data: Partitions, slots: list[int],
                             with_representation: bool = False):
    """Per-cluster partition log-likelihoods float64 (n, K) without the ``Σ log n!`` term (and,
    if asked, representations float32 (n, K, d)); every cluster in one batch of pairs,
    chunked to bound memory. Runs the network in eval mode without gradients."""
    import torch

    from baselines._lal_net import poisson_log_likelihood

    net.eval()
    n, k = len(data), len(slots)
    n_steps = data.counts.shape[1]
    pairs_per_chunk = max(k, FORWARD_FLOATS // (n_steps * net.hidden_size))
    seqs_per_chunk = max(1, pairs_per_chunk // k)
    slot_index = torch.tensor(slots, dtype=torch.long)
    loglik = torch.empty(n, k, dtype=torch.float64)
    reps = torch.empty(n, k, net.representation_size) if with_representation else None
    with torch.no_grad():
        for start in range(0, n, seqs_per_chunk):
            rows = torch.arange(start, min(start + seqs_per_chunk, n)).repeat_interleave(k)
            clusters = slot_index.repeat(len(rows) // k)
            intensity, rep = net(data.x[rows], clusters)
            ll = poisson_log_likelihood(intensity, data.counts[rows], data.width[rows])
            loglik[start:start + len(rows) // k] = ll.double().reshape(-1, k)
            if with_representation:
                reps[start:start + len(rows) // k] = rep.reshape(-1, k, rep.shape[1])
    return (loglik, reps) if with_representation else loglik


def _sampled_pairs(posterior, floor: float, rng: np.random.Generator):
    """The M-step pairs of ``m_step_pairs="sampled"``: every sequence's MAP cluster with weight
    ``γ_n,map`` and one other cluster drawn from the rest in proportion to ``γ_nk`` with weight
    ``Σ_{k≠map} γ_nk`` (skipped when that is below ``floor``), so that the expected weighted
    loss is eq. 18's. posterior : float32 (n, K), rows summing to 1. Returns ``keep`` bool
    (n, K) and ``weight`` float32 (n, K), zero outside ``keep``."""
    import torch

    n = posterior.shape[0]
    rows = torch.arange(n)
    best = posterior.argmax(dim=1)
    rest = posterior.double().clone()
    rest[rows, best] = 0.0
    cumulative = rest.cumsum(dim=1)
    total = cumulative[:, -1]
    # first cluster whose cumulative weight exceeds u·total, u ~ U[0, 1): it has weight > 0
    u = torch.from_numpy(rng.random(n)) * total
    other = (cumulative > u[:, None]).int().argmax(dim=1)
    weight = torch.zeros_like(posterior)
    weight[rows, best] = posterior[rows, best]
    use = total >= floor
    weight[rows[use], other[use]] = total[use].float()
    return weight > 0, weight


def _mixture_log_likelihood(loglik) -> float:
    """``Σ_n log Σ_k (1/K) p(P_n | k)`` (eqs. 13–14 with mixing probabilities fixed at 1/K)."""
    import torch

    return float((torch.logsumexp(loglik, dim=1) - math.log(loglik.shape[1])).sum())


def _fitted_mixture_log_likelihood(loglik, n_iter: int = 100) -> float:
    """``max_π Σ_n log Σ_k π_k p(P_n | k)``: the mixture log-likelihood with the mixing
    probabilities fitted by EM to fixed per-cluster likelihoods (n, K); used only to judge
    removals (``prune_mixing="fitted"``). An exact duplicate cluster adds nothing here, whereas
    with weights fixed at 1/K it acts as extra weight on its twin."""
    import torch

    log_w = torch.full((loglik.shape[1],), -math.log(loglik.shape[1]), dtype=loglik.dtype)
    for _ in range(n_iter):
        joint = loglik + log_w
        log_w = torch.logsumexp(joint - torch.logsumexp(joint, dim=1, keepdim=True), dim=0) \
            - math.log(loglik.shape[0])
    return float(torch.logsumexp(loglik + log_w, dim=1).sum())


def _cluster_rows(net, slot: int) -> list:
    """Copies of one cluster's rows of every per-cluster parameter (to restore a rejected move)."""
    return [param[slot].detach().clone() for param in net.cluster_parameters()]


def _copy_adam_rows(optimizer, param, source: int, target: int) -> None:
    """Give a split child its parent's Adam moments (both continue from the same state)."""
    import torch

    state = optimizer.state.get(param, {})
    with torch.no_grad():
        for key in ("exp_avg", "exp_avg_sq"):
            if key in state:
                state[key][target] = state[key][source]


def _relabel(labels: np.ndarray) -> np.ndarray:
    """Map cluster ids to 0..K'-1 in order of first appearance, int64 (N,)."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.argsort(np.argsort(first))
    return rank[inverse].astype(np.int64)
