"""``thp``: Transformer Hawkes Process (Zuo et al., ICML 2020) + k-means on sequence embeddings.

The model (paper §3):

* event ``j`` of type ``k_j`` at time ``t_j`` is embedded as ``U e_{k_j} + z(t_j)`` where ``z`` is
  the sinusoidal temporal encoding of eq. (2) (times measured from the sequence's first event, divided
  by a time scale fitted on the training data);
* ``n_layers`` Transformer encoder layers (multi-head self-attention with a causal mask, residual
  connections, layer normalisation, ReLU feed-forward; eqs. 3-4) give hidden states ``h_j`` that
  depend on events ``1..j`` only; optionally an LSTM runs over them (the recurrent layer of the
  authors' code, which the LAL paper uses to build THP's sequence representations);
* the intensity of type ``k`` on ``(t_j, t_{j+1}]`` is eq. (6)
  ``lambda_k(t) = softplus_beta_k(alpha_k (t - t_j) + w_k^T h_j + b_k)`` with
  ``softplus_beta(x) = beta log(1 + exp(x / beta))``. (The paper writes ``(t - t_j) / t_j``; that
  is undefined at ``t_j = 0``, so the elapsed time itself is used, as in EasyTPP's THP.)

Training maximises the log-likelihood: event ``j + 1`` is scored with ``h_j`` — a state that has
not seen it — and the intensity integral over every inter-event interval (and from the last event
to the end of the observation window, when the window is given) is computed with Gauss-Legendre
quadrature, which is exact to float32 precision for this smooth integrand with a few nodes.
Padded positions are masked out of both terms. The sequence embedding is the hidden state at the
last event; k-means then clusters the embeddings of **all** sequences at once.
"""

from __future__ import annotations

import time
from numbers import Integral, Real
from typing import Callable

import numpy as np
from sklearn.utils._param_validation import Interval

from benchmark.core.method import Clusterer, check_input, fit_context
from benchmark.core.registry import register_method
from benchmark.core.sequences import EventSequences


def gauss_legendre_unit(n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes in [0, 1] and weights summing to 1, float64 arrays (n_nodes,)."""
    if n_nodes < 1:
        raise ValueError(f"n_nodes must be >= 1, got {n_nodes}")
    x, w = np.polynomial.legendre.leggauss(n_nodes)
    return (x + 1.0) / 2.0, w / 2.0


def point_process_loglik(
    intensity_fn: Callable,
    times: np.ndarray,
    types: np.ndarray,
    lengths: np.ndarray,
    n_nodes: int = 64,
) -> tuple[float, int]:
    """Log-likelihood of right-padded sequences under an intensity model, in the units of ``times``.

    ``intensity_fn(elapsed)`` receives ``elapsed`` float64 (B, L - 1, S): times since event ``j``
    (j = 0..L-2) and must return the intensities float (B, L - 1, S, K) that the model gives at
    ``t_j + elapsed`` from the history up to and including event ``j``. Event ``j + 1`` is scored
    with ``log lambda_{k_{j+1}}(t_{j+1})``; the integral over ``(t_0, t_{L-1}]`` uses ``n_nodes``
    Gauss-Legendre nodes per interval. The first event of each sequence is not scored (it has no
    history), as in EasyTPP.

    Returns ``(total log-likelihood, number of scored events)``.
    """
    import torch

    nodes, weights = gauss_legendre_unit(n_nodes)
    t = np.asarray(times, dtype=np.float64)
    dt = np.diff(t, axis=1)  # (B, L-1)
    valid = np.arange(1, t.shape[1])[None, :] < np.asarray(lengths)[:, None]
    dt = np.where(valid, dt, 0.0)
    elapsed = np.concatenate([dt[..., None] * nodes, dt[..., None]], axis=-1)  # (B, L-1, S+1)
    with torch.no_grad():
        lam = intensity_fn(elapsed)
    lam = lam.double().numpy() if isinstance(lam, torch.Tensor) else np.asarray(lam, np.float64)
    nxt = np.where(valid, np.asarray(types)[:, 1:], 0)
    lam_event = np.take_along_axis(lam[:, :, -1, :], nxt[..., None], axis=-1)[..., 0]
    event_ll = np.log(lam_event[valid]).sum()
    integral = (lam[:, :, :-1, :].sum(-1) @ weights * dt)[valid].sum()
    return float(event_ll - integral), int(valid.sum())


def _build_net(n_types: int, d_model: int, n_layers: int, n_heads: int, d_inner: int,
               dropout: float, use_lstm: bool):
    import torch
    from torch import nn

    class THPNet(nn.Module):
        """Type embedding + temporal encoding -> causal Transformer encoder (-> LSTM)
        -> intensities."""

        def __init__(self) -> None:
            super().__init__()
            self.type_embedding = nn.Embedding(n_types + 1, d_model, padding_idx=n_types)
            # eq. (2), 1-based j: cos(t / 10000^((j-1)/M)) for odd j,
            # sin(t / 10000^(j/M)) for even j
            position = torch.arange(d_model)  # j - 1
            self.register_buffer(
                "inv_freq", torch.pow(10000.0, -(position + position % 2).float() / d_model))
            self.register_buffer("is_cos", position % 2 == 0)
            layer = nn.TransformerEncoderLayer(d_model, n_heads, d_inner, dropout,
                                               activation="relu", batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
            self.lstm = nn.LSTM(d_model, d_model, batch_first=True) if use_lstm else None
            self.intensity_hidden = nn.Linear(d_model, n_types)  # w_k^T h + b_k
            self.alpha = nn.Parameter(torch.zeros(n_types))  # "current" influence
            self.log_beta = nn.Parameter(torch.zeros(n_types))  # softplus softness

        def hidden(self, times: torch.Tensor, types: torch.Tensor) -> torch.Tensor:
            """times float (B, L) (scaled, from the first event), types long (B, L) padded with
            n_types -> hidden states float (B, L, d_model); state j has seen events 0..j only."""
            angle = times[..., None] * self.inv_freq
            z = torch.where(self.is_cos, torch.cos(angle), torch.sin(angle))
            x = self.type_embedding(types) + z
            causal = nn.Transformer.generate_square_subsequent_mask(x.shape[1], device=x.device,
                                                                 dtype=x.dtype)
            h = self.encoder(x, mask=causal, is_causal=True)
            if self.lstm is not None:
                h = self.lstm(h)[0]
            return h

        def intensity(self, base: torch.Tensor, elapsed: torch.Tensor) -> torch.Tensor:
            """base (..., K) = w^T h + b, elapsed (..., S) -> intensities (..., S, K)."""
            beta = self.log_beta.exp()
            x = base[..., None, :] + self.alpha * elapsed[..., None]
            return beta * nn.functional.softplus(x / beta)

        def total_intensity(self, base: torch.Tensor, elapsed: torch.Tensor) -> torch.Tensor:
            """sum over types of :meth:`intensity`, (..., S); 1/beta is folded into the small
            (..., K) factors so the large (..., S, K) tensor sees one multiply-add and a
            softplus."""
            beta = self.log_beta.exp()
            x = torch.addcmul((base / beta)[..., None, :], elapsed[..., None], self.alpha / beta)
            return nn.functional.softplus(x) @ beta

    return THPNet()


@register_method("thp")
class TransformerHawkesKMeans(Clusterer):
    """Transformer Hawkes Process trained by maximum likelihood, then k-means on its embeddings.

    Parameters
    ----------
    n_clusters : int, default=2
        Number of clusters for k-means (the harness passes the dataset's K).
    d_model : int, default=32
        Hidden size M of the event embedding, temporal encoding and encoder (paper's M); a
        multiple of ``n_heads``.
    n_layers : int, default=2
        Number of encoder layers (paper's N).
    n_heads : int, default=2
        Attention heads (paper's H).
    d_inner : int, default=64
        Hidden size of the feed-forward sub-layer (paper's M_H, eq. 4).
    dropout : float in [0, 1), default=0.0
        Dropout rate inside the encoder.
    use_lstm : bool, default=False
        Run an LSTM over the encoder outputs before the intensity layer (authors' code; the LAL
        paper's THP representations are built this way).
    n_quadrature : int, default=8
        Gauss-Legendre nodes per inter-event interval for the intensity integral.
    n_epochs : int, default=30
        Passes over the data.
    batch_size : int, default=32
        Sequences per mini-batch.
    lr : float, default=1e-3
        Adam step size.
    max_len : int, default=512
        Sequences longer than this keep their last ``max_len`` events (attention is O(L^2)).
    time_scale : float > 0 or None, default=None
        Divide times by this before the model sees them; None = the mean inter-event time of
        the training data. Log-likelihoods are always reported in the data's own time unit.
    n_init : int, default=10
        k-means restarts.
    seed : int, default=0
        Seeds torch, batching and k-means.
    device : str, default="cpu"
        Torch device for training and inference (``"cpu"``, ``"cuda"``); the padded data live on
        it for the whole fit. Results on a GPU differ from CPU ones in the last digits.

    Attributes
    ----------
    labels_ : ndarray of shape (n_sequences,)
        k-means cluster of every sequence.
    embeddings_ : ndarray of shape (n_sequences, d_model)
        Hidden state at each training sequence's last event, float32.
    loss_history_ : list of float
        Mean training negative log-likelihood per event for each epoch, in scaled time.
    train_seconds_ : float
        Wall time of the training epochs.
    metrics_ : dict
        ``train_loglik_per_event`` in the data's own time unit.
    net_ : torch.nn.Module
        The trained network.
    kmeans_ : sklearn.cluster.KMeans
        The fitted k-means.
    n_types_ : int
        Event types seen in ``fit``.
    time_scale_ : float
        Time scale used.
    """

    outputs = ("labels", "embeddings")
    needs_n_clusters = True
    requires = ("torch",)
    presets = {"quick": {"n_epochs": 20, "batch_size": 32, "d_model": 16, "d_inner": 32,
                         "use_lstm": True, "n_init": 3},
               "paper": {"n_epochs": 50, "use_lstm": True}}
    paper = "Zuo et al., Transformer Hawkes Process, ICML 2020 (+ k-means, as in the LAL paper)"
    _parameter_constraints = {
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "d_model": [Interval(Integral, 1, None, closed="left")],
        "n_layers": [Interval(Integral, 1, None, closed="left")],
        "n_heads": [Interval(Integral, 1, None, closed="left")],
        "d_inner": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "use_lstm": ["boolean"],
        "n_quadrature": [Interval(Integral, 1, None, closed="left")],
        "n_epochs": [Interval(Integral, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "max_len": [Interval(Integral, 1, None, closed="left")],
        "time_scale": [Interval(Real, 0, None, closed="neither"), None],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "seed": [Interval(Integral, 0, None, closed="left")],
        "device": [str],
    }

    def __init__(
        self,
        n_clusters: int = 2,
        d_model: int = 32,
        n_layers: int = 2,
        n_heads: int = 2,
        d_inner: int = 64,
        dropout: float = 0.0,
        use_lstm: bool = False,
        n_quadrature: int = 8,
        n_epochs: int = 30,
        batch_size: int = 32,
        lr: float = 1e-3,
        max_len: int = 512,
        time_scale: float | None = None,
        n_init: int = 10,
        seed: int = 0,
        device: str = "cpu",
    ) -> None:
        self.n_clusters = n_clusters
        self.d_model = d_model
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.d_inner = d_inner
        self.dropout = dropout
        self.use_lstm = use_lstm
        self.n_quadrature = n_quadrature
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.max_len = max_len
        self.time_scale = time_scale
        self.n_init = n_init
        self.seed = seed
        self.device = device

    # ------------------------------------------------------------------------------ data
    def _padded(self, seqs: EventSequences):
        """Scaled float32 tensors for the model: times (N, L) from each first event, types (N, L)
        padded with n_types, lengths (N,), tail (N,) = window end - last kept event (scaled)."""
        import torch

        from benchmark.core.convert import to_padded

        times, types, lengths, _ = to_padded(seqs, max_len=self.max_len)
        first = times[:, :1].clone()
        rel = ((times - first) / self.time_scale_).clamp_min(0.0)  # padding -> 0, masked later
        last = seqs.last_times()
        tail = (seqs.window_end() - last) / self.time_scale_
        dev = self.device
        return (rel.float().to(dev), types.to(dev), lengths.to(dev),
                torch.from_numpy(tail).float().to(dev))

    def _batches(self, lengths: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
        """Indices of mini-batches of similar lengths (less padding), in random order."""
        order = np.lexsort((rng.random(len(lengths)), lengths))
        batches = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        return [batches[i] for i in rng.permutation(len(batches))]

    # ------------------------------------------------------------------------------ model
    def _init_poisson(self, seqs: EventSequences) -> None:
        """Start from the homogeneous Poisson fit: softplus(b_k) = events of type k per unit of
        (scaled) observed time, so early epochs are not spent learning the overall rates."""
        import torch

        span = float((seqs.window_end() - seqs.first_times()).sum()) / self.time_scale_
        counts = np.bincount(seqs.types, minlength=seqs.n_types).astype(np.float64)
        rate = np.maximum(counts, 0.5) / max(span, 1e-12)
        with torch.no_grad():
            self.net_.intensity_hidden.bias.copy_(torch.from_numpy(np.log(np.expm1(rate))))

    def _neg_loglik(self, net, times, types, lengths, tail, nodes, weights):
        """Negative log-likelihood (sum, scaled time) and the number of scored events of a batch.

        times/types (B, L) trimmed to the batch's longest sequence; the interval after event j
        is (t_j, t_{j+1}] for j < len - 1 and (t_last, window end] for the last event."""
        import torch

        h = net.hidden(times, types)
        base = net.intensity_hidden(h)  # (B, L, K)
        L = times.shape[1]
        pos = torch.arange(L, device=times.device)
        is_last = pos[None, :] == (lengths[:, None] - 1)
        has_next = pos[None, :] < (lengths[:, None] - 1)
        gap = torch.zeros_like(times)
        gap[:, :-1] = times[:, 1:] - times[:, :-1]
        gap = torch.where(has_next, gap, torch.where(is_last, tail[:, None], 0.0))
        integral = (net.total_intensity(base, gap[..., None] * nodes) @ weights * gap).sum()
        # event j + 1 scored with h_j: intensity of its type at elapsed gap_j
        nxt = torch.where(has_next[:, :-1], types[:, 1:], 0)
        base_next = base[:, :-1].gather(-1, nxt[..., None])[..., 0]
        beta = net.log_beta.exp()[nxt]
        x = base_next + net.alpha[nxt] * gap[:, :-1]
        log_lam = torch.log(beta * torch.nn.functional.softplus(x / beta) + 1e-12)
        event_ll = torch.where(has_next[:, :-1], log_lam, 0.0).sum()
        return integral - event_ll, int(has_next.sum())

    @fit_context
    def fit(self, seqs: EventSequences) -> TransformerHawkesKMeans:
        from sklearn.cluster import KMeans

        run_epoch = self.epoch_runner(seqs)
        start = time.perf_counter()
        self.loss_history_ = [run_epoch() for _ in range(self.n_epochs)]
        self.train_seconds_ = time.perf_counter() - start
        if self.loss_history_ and not np.isfinite(self.loss_history_[-1]):
            raise FloatingPointError("THP training diverged (non-finite loss); lower lr")
        self.embeddings_ = self.transform(seqs)
        self.kmeans_ = KMeans(self.n_clusters, n_init=self.n_init, random_state=self.seed)
        self.labels_ = self.kmeans_.fit_predict(self.embeddings_)
        self.metrics_ = {"train_loglik_per_event": self.log_likelihood(seqs)}
        return self

    def epoch_runner(self, seqs: EventSequences) -> Callable[[], float]:
        """Check ``seqs``, build a fresh network (``net_``) and its optimiser, and return a function
        that trains one epoch and returns its mean negative log-likelihood per scored event (scaled
        time). ``fit`` calls it ``n_epochs`` times; the benchmark times epochs one by one."""
        import torch

        check_input(seqs, min_sequences=max(self.n_clusters, 2), min_events=1)
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} must be divisible by n_heads={self.n_heads}")
        if not (np.minimum(seqs.lengths, self.max_len) >= 2).any():
            raise ValueError("THP needs at least one sequence with 2 or more events to learn from; "
                             "every sequence has a single event")
        self.n_types_ = seqs.n_types
        if self.time_scale is not None:
            self.time_scale_ = float(self.time_scale)
        else:
            gaps = np.diff(seqs.times)[np.diff(seqs.seq_index()) == 0]
            mean_gap = float(gaps.mean()) if gaps.size else 0.0
            self.time_scale_ = mean_gap if mean_gap > 0 else 1.0

        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        self.net_ = _build_net(seqs.n_types, self.d_model, self.n_layers, self.n_heads,
                               self.d_inner, self.dropout, self.use_lstm).to(self.device)
        self._init_poisson(seqs)
        optimizer = torch.optim.Adam(self.net_.parameters(), lr=self.lr)
        nodes, weights = (torch.from_numpy(a).float().to(self.device)
                          for a in gauss_legendre_unit(self.n_quadrature))
        times, types, lengths, tail = self._padded(seqs)
        lengths_np = lengths.cpu().numpy()

        def run_epoch() -> float:
            self.net_.train()
            total, count = 0.0, 0
            for idx in self._batches(lengths_np, rng):
                L = int(lengths_np[idx].max())
                index = torch.from_numpy(idx).to(self.device)
                nll, n_scored = self._neg_loglik(
                    self.net_, times[index, :L], types[index, :L], lengths[index], tail[index],
                    nodes, weights)
                optimizer.zero_grad(set_to_none=True)
                (nll / max(n_scored, 1)).backward()
                optimizer.step()
                total += float(nll.detach())
                count += n_scored
            return total / max(count, 1)

        return run_epoch

    # ------------------------------------------------------------------------------ outputs
    def _check_fitted(self, seqs: EventSequences) -> None:
        if not hasattr(self, "net_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("call fit() before transform() or log_likelihood()")
        if seqs.n_types != self.n_types_:
            raise ValueError(f"fitted on {self.n_types_} event types, got sequences with "
                             f"{seqs.n_types}")

    def transform(self, seqs: EventSequences) -> np.ndarray:
        """Hidden state at each sequence's last event, float32 (N, d_model)."""
        import torch

        self._check_fitted(seqs)
        check_input(seqs, min_sequences=1, min_events=1)
        times, types, lengths, _ = self._padded(seqs)
        out = np.empty((len(seqs), self.d_model), dtype=np.float32)
        self.net_.eval()
        with torch.no_grad():
            lengths_np = lengths.cpu().numpy()
            for idx in self._batches(lengths_np, np.random.default_rng(0)):
                index = torch.from_numpy(idx).to(self.device)
                L = int(lengths_np[idx].max())
                h = self.net_.hidden(times[index, :L], types[index, :L])
                out[idx] = h[torch.arange(len(idx), device=h.device), lengths[index] - 1].cpu().numpy()
        return out

    def intensities_after_events(self, times: np.ndarray, types: np.ndarray,
                                 elapsed: np.ndarray) -> "torch.Tensor":
        """Intensities in the data's time unit for :func:`point_process_loglik`.

        times float (B, L) in the data's unit, types int (B, L) (padding: any value >= 0 after
        each length), elapsed (B, L - 1, S) -> float64 tensor (B, L - 1, S, K): the intensity at
        ``times[:, j] + elapsed[:, j, s]`` given events 0..j."""
        import torch

        t = torch.as_tensor(np.asarray(times, dtype=np.float64), device=self.device)
        rel = ((t - t[:, :1]) / self.time_scale_).clamp_min(0.0).float()
        k = torch.as_tensor(np.minimum(np.asarray(types), self.n_types_), dtype=torch.long,
                            device=self.device)
        self.net_.eval()
        with torch.no_grad():
            base = self.net_.intensity_hidden(self.net_.hidden(rel[:, :-1], k[:, :-1]))
            e = torch.as_tensor(np.asarray(elapsed) / self.time_scale_).float().to(self.device)
            return self.net_.intensity(base, e).double().cpu() / self.time_scale_

    def log_likelihood(self, seqs: EventSequences, n_nodes: int = 32) -> float:
        """Held-out log-likelihood per scored event (all but each first event), in the data's
        time unit, with :func:`point_process_loglik` (``n_nodes`` quadrature nodes per interval)."""
        from benchmark.core.convert import to_padded

        self._check_fitted(seqs)
        total, count = 0.0, 0
        for start in range(0, len(seqs), self.batch_size):
            part = seqs.slice(start, min(start + self.batch_size, len(seqs)))
            times, types, lengths, _ = to_padded(part, max_len=self.max_len)
            ll, n = point_process_loglik(
                lambda e: self.intensities_after_events(times.numpy(), types.numpy(), e),
                times.numpy(), types.numpy(), lengths.numpy(), n_nodes)
            total, count = total + ll, count + n
        if count == 0:
            raise ValueError("no sequence has 2 or more events: nothing to score")
        return total / count
