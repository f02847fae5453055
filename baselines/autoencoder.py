"""``autoencoder``: 1-D convolutional autoencoder on binned counts + k-means on the bottleneck.

The LAL paper's "convolutional autoencoder" baseline (§5.2): a network trained to reconstruct each
sequence, with time as a feature, then k-means on its codes. Each sequence becomes the matrix of
:func:`benchmark.core.convert.binned_counts` over ``n_steps`` equal bins from its first event to the end
of its window — one channel per event type holding ``log(1 + count)`` — plus one time channel
holding ``log`` of the bin width (the Δt row of LAL's own partition). Channels are standardised
over the training set. The encoder is two stride-2 ``Conv1d`` + ReLU layers and a linear map to the
bottleneck; the decoder mirrors it with ``ConvTranspose1d``; training minimises the mean squared
reconstruction error with Adam. k-means clusters the bottleneck codes of **all** sequences at once.
"""

from __future__ import annotations

import time
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval

from benchmark.core.convert import binned_counts
from benchmark.core.method import Clusterer, check_input, fit_context
from benchmark.core.registry import register_method
from benchmark.core.sequences import EventSequences


def count_image(seqs: EventSequences, n_steps: int) -> np.ndarray:
    """float32 (N, n_types + 1, n_steps): log(1 + count) per type and bin, then log(bin width)."""
    counts, width = binned_counts(seqs, n_steps, start="first")
    time_channel = np.broadcast_to(np.log(width)[:, None, None], (len(seqs), 1, n_steps))
    return np.concatenate([np.log1p(counts).transpose(0, 2, 1), time_channel], axis=1,
                          dtype=np.float32)


def _build_net(n_channels: int, n_steps: int, hidden_channels: tuple[int, int], kernel_size: int,
               latent_dim: int):
    from torch import nn

    c1, c2 = hidden_channels
    pad = kernel_size // 2
    flat = c2 * (n_steps // 4)

    class ConvAutoencoder(nn.Module):
        """(B, n_channels, n_steps) -> code (B, latent_dim) -> reconstruction of the input."""

        def __init__(self) -> None:
            super().__init__()
            self.encoder = nn.Sequential(
                nn.Conv1d(n_channels, c1, kernel_size, stride=2, padding=pad), nn.ReLU(),
                nn.Conv1d(c1, c2, kernel_size, stride=2, padding=pad), nn.ReLU(),
                nn.Flatten(), nn.Linear(flat, latent_dim))
            self.decoder = nn.Sequential(
                nn.Linear(latent_dim, flat), nn.ReLU(), nn.Unflatten(1, (c2, n_steps // 4)),
                nn.ConvTranspose1d(c2, c1, 4, stride=2, padding=1), nn.ReLU(),
                nn.ConvTranspose1d(c1, n_channels, 4, stride=2, padding=1))

        def forward(self, x):
            return self.decoder(self.encoder(x))

    return ConvAutoencoder()


@register_method("autoencoder")
class ConvAutoencoderKMeans(Clusterer):
    """Convolutional autoencoder on binned per-type counts (+ a time channel), k-means on codes.

    Parameters
    ----------
    n_clusters : int, default=2
        Number of k-means clusters (the harness passes the dataset's K).
    n_steps : int, default=32
        Bins per sequence, a multiple of 4 (the two stride-2 layers halve it twice).
    hidden_channels : tuple of two int, default=(32, 64)
        Output channels of the two convolution layers (a list is accepted too).
    kernel_size : int, default=5
        Width of the encoder convolutions, odd.
    latent_dim : int, default=8
        Size of the bottleneck code, the embedding that k-means clusters.
    n_epochs : int, default=50
        Passes over the data.
    batch_size : int, default=32
        Sequences per mini-batch.
    lr : float, default=1e-3
        Adam step size.
    n_init : int, default=10
        k-means restarts.
    seed : int, default=0
        Seeds torch, batching and k-means.
    device : str, default="cpu"
        Torch device for training and encoding (``"cpu"``, ``"cuda"``).

    Attributes
    ----------
    labels_ : ndarray of shape (n_sequences,)
        k-means cluster of every sequence.
    embeddings_ : ndarray of shape (n_sequences, latent_dim)
        Bottleneck codes of the training sequences, float32.
    loss_history_ : list of float
        Mean reconstruction MSE per epoch, in standardised units.
    train_seconds_ : float
        Wall time of the training epochs.
    metrics_ : dict
        ``reconstruction_mse`` of the final model on the training data.
    net_ : torch.nn.Module
        The trained autoencoder.
    kmeans_ : sklearn.cluster.KMeans
        The fitted k-means.
    """

    outputs = ("labels", "embeddings")
    needs_n_clusters = True
    requires = ("torch",)
    presets = {"quick": {"n_epochs": 30, "n_steps": 16, "batch_size": 16, "n_init": 3},
               "paper": {"n_epochs": 100}}
    paper = "convolutional autoencoder + k-means, baseline of the LAL paper (Table 4, 5, 8)"
    _parameter_constraints = {
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "n_steps": [Interval(Integral, 4, None, closed="left")],
        "hidden_channels": [tuple, list],
        "kernel_size": [Interval(Integral, 1, None, closed="left")],
        "latent_dim": [Interval(Integral, 1, None, closed="left")],
        "n_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "seed": [Interval(Integral, 0, None, closed="left")],
        "device": [str],
    }

    def __init__(
        self,
        n_clusters: int = 2,
        n_steps: int = 32,
        hidden_channels: tuple[int, int] = (32, 64),
        kernel_size: int = 5,
        latent_dim: int = 8,
        n_epochs: int = 50,
        batch_size: int = 32,
        lr: float = 1e-3,
        n_init: int = 10,
        seed: int = 0,
        device: str = "cpu",
    ) -> None:
        self.n_clusters = n_clusters
        self.n_steps = n_steps
        self.hidden_channels = hidden_channels
        self.kernel_size = kernel_size
        self.latent_dim = latent_dim
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.n_init = n_init
        self.seed = seed
        self.device = device

    def _inputs(self, seqs: EventSequences):
        import torch

        x = (count_image(seqs, self.n_steps) - self.mean_) / self.std_
        return torch.from_numpy(x).to(self.device)

    @fit_context
    def fit(self, seqs: EventSequences) -> ConvAutoencoderKMeans:
        import torch
        from sklearn.cluster import KMeans

        if self.n_steps % 4:
            raise ValueError(f"n_steps must be a positive multiple of 4, got {self.n_steps}")
        if self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {self.kernel_size}")
        if len(self.hidden_channels) != 2:
            raise ValueError(f"hidden_channels must hold two channel counts, got "
                             f"{self.hidden_channels!r}")
        check_input(seqs, min_sequences=max(self.n_clusters, 2), min_events=1)
        self.n_types_ = seqs.n_types
        image = count_image(seqs, self.n_steps)
        self.mean_ = image.mean(axis=(0, 2), keepdims=True)[0]  # (C + 1, 1)
        self.std_ = np.maximum(image.std(axis=(0, 2), keepdims=True)[0], 1e-6)
        x = torch.from_numpy((image - self.mean_) / self.std_).to(self.device)

        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        self.net_ = _build_net(x.shape[1], self.n_steps, tuple(self.hidden_channels),
                               self.kernel_size, self.latent_dim).to(self.device)
        optimizer = torch.optim.Adam(self.net_.parameters(), lr=self.lr)
        self.net_.train()
        self.loss_history_ = []
        start = time.perf_counter()
        for _ in range(self.n_epochs):
            perm = torch.from_numpy(rng.permutation(len(x))).to(self.device)
            total = 0.0
            for i in range(0, len(x), self.batch_size):
                batch = x[perm[i:i + self.batch_size]]
                loss = torch.nn.functional.mse_loss(self.net_(batch), batch)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(batch)
            self.loss_history_.append(total / len(x))
        self.train_seconds_ = time.perf_counter() - start
        if not np.isfinite(self.loss_history_[-1]):
            raise FloatingPointError("autoencoder training diverged (non-finite loss); lower lr")

        self.net_.eval()
        with torch.no_grad():
            codes = self.net_.encoder(x)
            mse = float(torch.nn.functional.mse_loss(self.net_.decoder(codes), x))
        self.embeddings_ = codes.cpu().numpy().astype(np.float32)
        self.kmeans_ = KMeans(self.n_clusters, n_init=self.n_init, random_state=self.seed)
        self.labels_ = self.kmeans_.fit_predict(self.embeddings_)
        self.metrics_ = {"reconstruction_mse": mse}
        return self

    def transform(self, seqs: EventSequences) -> np.ndarray:
        """Bottleneck codes, float32 (N, latent_dim)."""
        import torch

        if not hasattr(self, "net_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("call fit() before transform()")
        if seqs.n_types != self.n_types_:
            raise ValueError(f"fitted on {self.n_types_} event types, got sequences with "
                             f"{seqs.n_types}")
        check_input(seqs, min_sequences=1, min_events=1)
        self.net_.eval()
        with torch.no_grad():
            return self.net_.encoder(self._inputs(seqs)).cpu().numpy().astype(np.float32)
