"""The torch parts of LAL (``baselines/lal.py``): intensity network and partition likelihood.

Kept apart so that ``import baselines.lal`` (run by ``discover()``) does not need torch; the
method imports this module when it fits.

Shapes: ``P`` = number of (sequence, cluster) pairs in a batch, ``T`` = ``n_steps`` bins,
``C`` = number of event types, ``H`` = hidden size, ``L`` = number of recurrent layers.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

RECURRENT_CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


class IntensityNet(nn.Module):
    """One recurrent network shared by all clusters; clusters differ only by initial states.

    Paper §4.2–4.3: the network reads a partition bin by bin; the intensity of type ``c`` in bin
    ``t`` is ``λ_c(t) = s_c · log(1 + exp(w_c·h_t / s_c))`` (eqs. 8–9, a scaled softplus with a
    learnable scale ``s_c`` per type), where ``h_t`` is the (batch-normalised) top-layer hidden
    state after bins ``0..t-1``; bin 0 is predicted from the cluster's initial hidden state, so
    a bin's count never feeds its own intensity.

    ``cluster_scale``: when true, ``s_c`` is learned per cluster and type (shape
    (max_clusters, C), indexed by slot like the initial states), as in the authors' public code;
    the paper's text and the default share one ``s_c`` per type over all clusters.

    ``init_states`` holds ``max_clusters`` slots of initial states, shape
    (max_clusters, n_state, L, H) with ``n_state`` = 2 for an LSTM (hidden, cell) and 1 for a
    GRU/RNN; the caller keeps the list of active slots (the clusters of the current model).
    ``forget_bias`` (LSTM only) sets the input-side forget-gate bias, so that what the initial
    cell state encodes decays slowly along the partition. ``init_scale``: the initial states
    start ~ U(-init_scale, init_scale); ``None`` = ``1 / hidden_size`` (the authors' code).
    """

    def __init__(self, n_types: int, hidden_size: int, n_layers: int, cell: str,
                 max_clusters: int, batch_norm: bool, forget_bias: float = 0.0,
                 init_scale: float | None = None, cluster_scale: bool = False) -> None:
        super().__init__()
        if cell not in RECURRENT_CELLS:
            raise ValueError(f"cell must be one of {sorted(RECURRENT_CELLS)}, got {cell!r}")
        self.cell = cell
        self.hidden_size = hidden_size
        self.n_layers = n_layers
        self.n_state = 2 if cell == "lstm" else 1
        self.rnn = RECURRENT_CELLS[cell](n_types + 1, hidden_size, n_layers, batch_first=True)
        if cell == "lstm" and forget_bias:
            with torch.no_grad():  # gates are ordered (input, forget, cell, output)
                for name, bias in self.rnn.named_parameters():
                    if name.startswith("bias_ih"):
                        bias[hidden_size:2 * hidden_size] = forget_bias
        bound = 1.0 / hidden_size if init_scale is None else init_scale
        self.init_states = nn.Parameter(
            torch.empty(max_clusters, self.n_state, n_layers, hidden_size).uniform_(-bound, bound))
        self.norm = nn.BatchNorm1d(hidden_size) if batch_norm else nn.Identity()
        self.head = nn.Linear(hidden_size, n_types)
        self.cluster_scale = cluster_scale
        scale_shape = (max_clusters, n_types) if cluster_scale else (n_types,)
        self.log_softplus_scale = nn.Parameter(torch.zeros(scale_shape))  # log s_c, eq. 9

    @property
    def representation_size(self) -> int:
        """Length of the representation: final cell state (LSTM) or hidden state, all layers."""
        return self.n_layers * self.hidden_size

    def cluster_parameters(self) -> list[nn.Parameter]:
        """The parameters indexed by cluster slot along dim 0: the initial states and, with
        ``cluster_scale``, the softplus scales. A split copies, a merge averages these rows."""
        return [self.init_states] + ([self.log_softplus_scale] if self.cluster_scale else [])

    @property
    def parameters_per_cluster(self) -> int:
        """Free parameters of one cluster (what the removal phase's AIC penalty counts)."""
        return sum(p[0].numel() for p in self.cluster_parameters())

    def forward(self, x: torch.Tensor, slots: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Run ``P`` (partition, cluster) pairs as one batch.

        x : float32 (P, T, C + 1) normalised partitions (column 0: bin width, then counts).
        slots : int64 (P,) initial-state slot of each pair's cluster.

        Returns the intensities, float32 (P, T, C) in events per scaled time unit, and the
        representation, float32 (P, L * H): the final cell state (hidden state for GRU/RNN).
        """
        n_pairs, n_steps, _ = x.shape
        init = self.init_states[slots].permute(1, 2, 0, 3)  # (n_state, L, P, H)
        state0 = (init[0].contiguous(), init[1].contiguous()) if self.n_state == 2 \
            else init[0].contiguous()
        out, state = self.rnn(x, state0)
        before = torch.cat([init[0, -1].unsqueeze(1), out[:, :-1]], dim=1)  # (P, T, H)
        before = self.norm(before.reshape(-1, self.hidden_size)).reshape(n_pairs, n_steps, -1)
        scale = (self.log_softplus_scale[slots].exp()[:, None, :] if self.cluster_scale
                 else self.log_softplus_scale.exp())
        intensity = scale * F.softplus(self.head(before) / scale)
        final = state[1] if self.n_state == 2 else state  # (L, P, H)
        return intensity, final.permute(1, 0, 2).reshape(n_pairs, -1)


def poisson_log_likelihood(intensity: torch.Tensor, counts: torch.Tensor,
                           bin_width: torch.Tensor) -> torch.Tensor:
    """Partition log-likelihood of eq. 10 without the parameter-free ``-Σ log n!`` term.

    Counts in bin ``t`` are Poisson with mean ``μ = λ(t)·Δt``:
    ``Σ_t Σ_c [n_tc · log μ_tc − μ_tc]``.

    intensity : (P, T, C); counts : (P, T, C); bin_width : (P,) in the intensity's time unit.
    Returns float (P,) nats.
    """
    mean = intensity * bin_width[:, None, None]
    return (counts * torch.log(mean.clamp_min(1e-12)) - mean).sum(dim=(1, 2))
