"""``sasrec``: SASRec user embeddings clustered by k-means.

SASRec (Kang & McAuley, "Self-Attentive Sequential Recommendation", ICDM 2018) as the lecture on
sequential recommenders summarises it: a stack of causal self-attention blocks over the sequence of event types, the same
type embedding matrix M at the input and the output (score of type j after position t:
r_{j,t} = F_t · M_j), learnable absolute position embeddings, trained on next-event prediction
with sampled negatives and binary cross-entropy

    L = - Σ_u Σ_t [ log σ(r_{o_t,t}) + Σ_{j ∈ negatives} log(1 - σ(r_{j,t})) ]

or, optionally, gSASRec's gBCE (Petrov & Macdonald 2023): the positive term is raised to the power
β = α (t (1 - 1/α) + 1/α), α = n_negatives / (n_types - 1), which corrects the overconfidence
that negative sampling causes. An optional input channel adds the time since the previous event
(log1p(Δt / median Δt), projected to the hidden size) to the type and position embeddings.

As in the SASRec + CatBoost slides, a user's embedding is the encoder output at the last position (``pooling="last"``)
or the mean over its positions (``"mean"``); ``labels_`` are k-means clusters of the embeddings.

Protocol: the last event of every sequence is held out of training. After training, the model
ranks all event types for that event from the rest of the sequence; hit-rate@k and NDCG@k, next
to the same numbers for the most-popular-type ranking (training counts), go to ``metrics_`` so a
user can see that the encoder learned something before trusting its clusters. Embeddings and
clusters use the full sequences (the held-out event is input only, never a training target).

Layer details follow the authors' reference code: embeddings scaled by sqrt(d), dropout, pre-norm
attention (layer-normalised queries, residual on the normalised queries), point-wise two-layer
feed-forward with ReLU and residual, padded positions zeroed after every block, final layer norm,
Adam (betas 0.9, 0.98). Negatives are drawn uniformly from the types other than the target (the
original draws items the user never saw, which does not exist for a handful of event types).
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from baselines._torch import torch_threads
from benchmark.core.method import Clusterer, check_input, fit_context
from benchmark.core.registry import register_method
from benchmark.core.sequences import EventSequences

LOSSES = ("bce", "gbce")
POOLINGS = ("last", "mean")


def last_events_padded(token: np.ndarray, feature: np.ndarray, offsets: np.ndarray,
                       ends: np.ndarray, rows: np.ndarray, length: int):
    """Left-padded windows of the last ``length`` events before ``ends[rows]``.

    token int64 (E,) (0 = padding, types shifted by +1), feature float32 (E,), offsets (N+1,),
    ends int64 (N,) exclusive end of each sequence's window. Returns (tokens int64 (B, length),
    features float32 (B, length)).
    """
    start = np.maximum(offsets[rows], ends[rows] - length)
    n = ends[rows] - start
    out_tok = np.zeros((len(rows), length), dtype=np.int64)
    out_feat = np.zeros((len(rows), length), dtype=np.float32)
    r = np.repeat(np.arange(len(rows)), n)
    within = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    src = np.repeat(start, n) + within
    col = np.repeat(length - n, n) + within
    out_tok[r, col] = token[src]
    out_feat[r, col] = feature[src]
    return out_tok, out_feat


def _build_encoder(n_types: int, hidden_size: int, n_blocks: int, n_heads: int, dropout: float,
                   max_len: int, time_feature: bool):
    import torch
    from torch import nn

    class PointWiseFeedForward(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(nn.Linear(hidden_size, hidden_size), nn.ReLU(),
                                     nn.Dropout(dropout), nn.Linear(hidden_size, hidden_size),
                                     nn.Dropout(dropout))

        def forward(self, x):
            return x + self.net(x)

    class SASRecEncoder(nn.Module):
        """Token ids (B, L) with 0 = padding, optional Δt features (B, L) -> states (B, L, d)."""

        def __init__(self) -> None:
            super().__init__()
            self.type_emb = nn.Embedding(n_types + 1, hidden_size, padding_idx=0)
            self.pos_emb = nn.Embedding(max_len, hidden_size)
            self.time_proj = nn.Linear(1, hidden_size) if time_feature else None
            self.emb_dropout = nn.Dropout(dropout)
            self.attn_norms = nn.ModuleList(nn.LayerNorm(hidden_size, eps=1e-8)
                                            for _ in range(n_blocks))
            self.attns = nn.ModuleList(nn.MultiheadAttention(hidden_size, n_heads, dropout=dropout,
                                                             batch_first=True)
                                       for _ in range(n_blocks))
            self.ffn_norms = nn.ModuleList(nn.LayerNorm(hidden_size, eps=1e-8)
                                           for _ in range(n_blocks))
            self.ffns = nn.ModuleList(PointWiseFeedForward() for _ in range(n_blocks))
            self.last_norm = nn.LayerNorm(hidden_size, eps=1e-8)

        def forward(self, tokens, features):
            L = tokens.shape[1]
            keep = (tokens != 0).unsqueeze(-1).to(self.pos_emb.weight.dtype)
            x = self.type_emb(tokens) * math.sqrt(hidden_size)
            x = x + self.pos_emb(torch.arange(L, device=tokens.device))[None]
            if self.time_proj is not None:
                x = x + self.time_proj(features.unsqueeze(-1))
            x = self.emb_dropout(x) * keep
            causal = torch.triu(torch.ones(L, L, dtype=torch.bool, device=tokens.device), 1)
            for attn_norm, attn, ffn_norm, ffn in zip(self.attn_norms, self.attns,
                                                      self.ffn_norms, self.ffns):
                q = attn_norm(x)
                out, _ = attn(q, x, x, attn_mask=causal, need_weights=False)
                x = ffn(ffn_norm(q + out)) * keep
            return self.last_norm(x)

        def scores(self, states):
            """(…, d) states -> (…, n_types) scores of every type (shared embeddings)."""
            return states @ self.type_emb.weight[1:].T

    return SASRecEncoder()


@register_method("sasrec")
class SASRec(Clusterer):
    """SASRec encoder trained on next-event prediction; k-means on its user embeddings.

    Parameters
    ----------
    n_clusters : int, default=2
        Clusters for k-means on the embeddings (the harness passes the dataset's K).
    hidden_size : int, default=50
        d, size of type/position embeddings and of every layer (paper: 50); a multiple of
        ``n_heads``.
    n_blocks : int, default=2
        Self-attention blocks (paper: 2).
    n_heads : int, default=1
        Attention heads (paper: 1).
    dropout : float in [0, 1), default=0.2
        Dropout rate (paper: 0.2 on sparse data, 0.5 on MovieLens-1M).
    max_len : int, default=50
        n, the last ``max_len`` events of a sequence are used (paper: 50; 200 on ML-1M).
    n_epochs : int, default=20
        Passes over the training sequences (no early stopping).
    batch_size : int, default=128
        Sequences per step (paper: 128).
    lr : float, default=1e-3
        Adam learning rate (paper: 0.001).
    loss : {"bce", "gbce"}, default="bce"
        SASRec's binary cross-entropy or gSASRec's gBCE.
    n_negatives : int, default=1
        Sampled negatives per position (SASRec: 1), at most ``n_types - 1``.
    gbce_t : float in [0, 1], default=0.75
        gSASRec calibration t (0 gives plain BCE; the gSASRec paper uses 0.75).
    time_feature : bool, default=False
        Add the time since the previous event as an input channel.
    pooling : {"last", "mean"}, default="last"
        User embedding = the state at the last position or the mean over positions.
    top_k : int, default=10
        k of hit-rate@k and NDCG@k on the held-out last event.
    n_init : int, default=10
        k-means restarts.
    device : str, default="cpu"
        Torch device (``"cpu"`` or ``"cuda"``).
    n_threads : int, default=1
        CPU threads torch may use during fit/transform (results are reproducible for a fixed
        value).
    seed : int, default=0
        Seeds torch, negative sampling, batching and k-means.

    Attributes
    ----------
    labels_ : ndarray of shape (n_sequences,)
        k-means cluster of every sequence, int64.
    encoder_ : torch.nn.Module
        The trained encoder.
    kmeans_ : sklearn.cluster.KMeans
        The fitted k-means.
    loss_history_ : list of float
        Mean training loss per epoch.
    metrics_ : dict
        Next-event quality on the held-out last events (with the most-popular baseline) and the
        final training loss.
    n_types_ : int
        Event types seen in ``fit``.
    time_scale_ : float
        Median positive gap, the unit of the time feature.
    """

    outputs = ("labels", "embeddings")
    needs_n_clusters = True
    requires = ("torch",)
    presets = {
        "quick": {"hidden_size": 32, "n_blocks": 1, "max_len": 50, "n_epochs": 20,
                  "batch_size": 64, "dropout": 0.2},
        "paper": {"hidden_size": 50, "n_blocks": 2, "n_heads": 1, "max_len": 50, "n_epochs": 200,
                  "dropout": 0.2, "batch_size": 128, "lr": 1e-3},
    }
    paper = ("Kang & McAuley, 'Self-Attentive Sequential Recommendation', ICDM 2018; gBCE: "
             "Petrov & Macdonald, RecSys 2023; embeddings + CatBoost probe as in the SASRec + "
             "CatBoost slides")
    _parameter_constraints = {
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "n_blocks": [Interval(Integral, 1, None, closed="left")],
        "n_heads": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "max_len": [Interval(Integral, 1, None, closed="left")],
        "n_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "loss": [StrOptions(set(LOSSES))],
        "n_negatives": [Interval(Integral, 1, None, closed="left")],
        "gbce_t": [Interval(Real, 0, 1, closed="both")],
        "time_feature": ["boolean"],
        "pooling": [StrOptions(set(POOLINGS))],
        "top_k": [Interval(Integral, 1, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "device": [str],
        "n_threads": [Interval(Integral, 1, None, closed="left")],
        "seed": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(self, n_clusters: int = 2, hidden_size: int = 50, n_blocks: int = 2,
                 n_heads: int = 1, dropout: float = 0.2, max_len: int = 50, n_epochs: int = 20,
                 batch_size: int = 128, lr: float = 1e-3, loss: str = "bce", n_negatives: int = 1,
                 gbce_t: float = 0.75, time_feature: bool = False, pooling: str = "last",
                 top_k: int = 10, n_init: int = 10, device: str = "cpu", n_threads: int = 1,
                 seed: int = 0) -> None:
        self.n_clusters = n_clusters
        self.hidden_size = hidden_size
        self.n_blocks = n_blocks
        self.n_heads = n_heads
        self.dropout = dropout
        self.max_len = max_len
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.loss = loss
        self.n_negatives = n_negatives
        self.gbce_t = gbce_t
        self.time_feature = time_feature
        self.pooling = pooling
        self.top_k = top_k
        self.n_init = n_init
        self.device = device
        self.n_threads = n_threads
        self.seed = seed

    # ------------------------------------------------------------------ public API
    @fit_context
    def fit(self, seqs: EventSequences) -> SASRec:
        """Train on all but the last event of every sequence, score that held-out event
        (``metrics_``), then cluster the full-sequence embeddings (``labels_`` int64 (N,))."""
        if self.hidden_size % self.n_heads:
            raise ValueError(f"hidden_size {self.hidden_size} is not divisible by "
                             f"n_heads {self.n_heads}")
        if isinstance(seqs, EventSequences) and self.n_negatives > max(seqs.n_types - 1, 1):
            raise ValueError(f"n_negatives must be in [1, n_types - 1 = {seqs.n_types - 1}], "
                             f"got {self.n_negatives}")
        with torch_threads(self.n_threads):
            return self._fit(seqs)

    def _fit(self, seqs: EventSequences) -> "SASRec":
        import torch
        from sklearn.cluster import KMeans

        check_input(seqs, min_sequences=max(self.n_clusters, 2))
        if seqs.n_types < 2:
            raise ValueError("SASRec needs at least 2 event types (negatives are other types)")
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        self.n_types_ = seqs.n_types
        dt = self._gaps(seqs)
        positive = dt[dt > 0]
        self.time_scale_ = float(np.median(positive)) if len(positive) else 1.0
        self.encoder_ = _build_encoder(seqs.n_types, self.hidden_size, self.n_blocks,
                                       self.n_heads, self.dropout, self.max_len,
                                       self.time_feature).to(self.device)
        train_ends = seqs.offsets[1:] - 1  # the last event of every sequence is held out
        self.loss_history_ = self._train(seqs, train_ends, rng)
        self.metrics_ = self._next_event_quality(seqs, train_ends)
        self.metrics_["final_train_loss"] = float(self.loss_history_[-1])
        emb = self.transform(seqs)
        self.kmeans_ = KMeans(self.n_clusters, n_init=self.n_init, random_state=self.seed)
        self.labels_ = self.kmeans_.fit_predict(emb).astype(np.int64)
        return self

    def transform(self, seqs: EventSequences) -> np.ndarray:
        """float32 (N, hidden_size): encoder state at the last position, or the mean over the
        (last ``max_len``) positions, of each full sequence."""
        import torch

        if not hasattr(self, "encoder_"):
            raise RuntimeError("SASRec is not fitted; call fit() first")
        if seqs.n_types != self.n_types_:
            raise ValueError(f"sequences have n_types={seqs.n_types}, the model was fitted on "
                             f"{self.n_types_}")
        token, feat = self._inputs(seqs)
        out = []
        self.encoder_.eval()
        with torch.no_grad(), torch_threads(self.n_threads):
            for rows in np.array_split(np.arange(len(seqs)), max(1, -(-len(seqs) // 1024))):
                tok, f = last_events_padded(token, feat, seqs.offsets, seqs.offsets[1:], rows,
                                            self.max_len)
                tok_t = torch.from_numpy(tok).to(self.device)
                states = self.encoder_(tok_t, torch.from_numpy(f).to(self.device))
                if self.pooling == "last":
                    emb = states[:, -1]
                else:
                    keep = (tok_t != 0).unsqueeze(-1).to(states.dtype)
                    emb = (states * keep).sum(1) / keep.sum(1).clamp(min=1)
                out.append(emb.cpu().numpy())
        return np.concatenate(out).astype(np.float32)

    # ------------------------------------------------------------------ training
    def _train(self, seqs: EventSequences, ends: np.ndarray, rng: np.random.Generator) -> list[float]:
        import torch
        import torch.nn.functional as F

        token, feat = self._inputs(seqs)
        trainable = np.flatnonzero(ends - seqs.offsets[:-1] >= 2)  # >= 1 (input, target) pair
        if len(trainable) == 0:
            raise ValueError("no sequence has 3 or more events: nothing to train SASRec on "
                             "(the last event of each sequence is held out)")
        opt = torch.optim.Adam(self.encoder_.parameters(), lr=self.lr, betas=(0.9, 0.98))
        k, n_types = self.n_negatives, self.n_types_
        beta = 1.0
        if self.loss == "gbce":
            alpha = k / (n_types - 1)
            beta = alpha * (self.gbce_t * (1 - 1 / alpha) + 1 / alpha)
        history = []
        self.encoder_.train()
        for _ in range(self.n_epochs):
            order = rng.permutation(trainable)
            total, n_pos = 0.0, 0
            for a in range(0, len(order), self.batch_size):
                rows = order[a:a + self.batch_size]
                tok, f = last_events_padded(token, feat, seqs.offsets, ends, rows, self.max_len + 1)
                inputs = torch.from_numpy(tok[:, :-1]).to(self.device)
                targets = torch.from_numpy(tok[:, 1:]).to(self.device)
                valid = (inputs != 0) & (targets != 0)
                neg = torch.from_numpy(rng.integers(1, n_types, size=(*tok[:, 1:].shape, k))
                                       ).to(self.device)
                neg = neg + (neg >= targets.unsqueeze(-1)).long()  # uniform over types != target
                states = self.encoder_(inputs, torch.from_numpy(f[:, :-1]).to(self.device))
                emb = self.encoder_.type_emb
                pos_logit = (states * emb(targets)).sum(-1)
                neg_logit = (states.unsqueeze(2) * emb(neg)).sum(-1)
                per_pos = -(beta * F.logsigmoid(pos_logit) + F.logsigmoid(-neg_logit).sum(-1))
                loss = per_pos[valid].sum() / valid.sum()
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += loss.item() * int(valid.sum())
                n_pos += int(valid.sum())
            history.append(total / n_pos)
        return history

    def _next_event_quality(self, seqs: EventSequences, ends: np.ndarray) -> dict[str, float]:
        """Hit-rate and NDCG at 1 and ``top_k`` of the held-out last events, for the model and for
        the most-popular-type ranking of the training events."""
        import torch

        rows = np.flatnonzero(ends - seqs.offsets[:-1] >= 1)
        if len(rows) == 0:
            return {}
        truth = seqs.types[ends[rows]]
        held = np.zeros(seqs.n_events, dtype=bool)
        held[ends] = True
        popularity = np.bincount(seqs.types[~held], minlength=self.n_types_).astype(np.float64)
        token, feat = self._inputs(seqs)
        ranks = []
        self.encoder_.eval()
        with torch.no_grad():
            for chunk in np.array_split(rows, max(1, -(-len(rows) // 1024))):
                tok, f = last_events_padded(token, feat, seqs.offsets, ends, chunk, self.max_len)
                states = self.encoder_(torch.from_numpy(tok).to(self.device),
                                       torch.from_numpy(f).to(self.device))[:, -1]
                ranks.append(self._rank(self.encoder_.scores(states).cpu().numpy(),
                                        seqs.types[ends[chunk]]))
        model_rank = np.concatenate(ranks)
        pop_rank = self._rank(np.broadcast_to(popularity, (len(rows), self.n_types_)), truth)
        k = self.top_k
        out = {}
        for prefix, rank in (("", model_rank), ("popularity_", pop_rank)):
            out[f"{prefix}hit_rate_at_1"] = float(np.mean(rank < 1))
            out[f"{prefix}hit_rate_at_{k}"] = float(np.mean(rank < k))
            out[f"{prefix}ndcg_at_{k}"] = float(np.mean(np.where(rank < k,
                                                                  1 / np.log2(rank + 2), 0)))
        return out

    @staticmethod
    def _rank(scores: np.ndarray, truth: np.ndarray) -> np.ndarray:
        """0-based rank of the true type among all types (ties count against the truth)."""
        true_score = scores[np.arange(len(truth)), truth]
        return (scores >= true_score[:, None]).sum(axis=1) - 1

    # ------------------------------------------------------------------ inputs
    @staticmethod
    def _gaps(seqs: EventSequences) -> np.ndarray:
        """float64 (E,): time since the previous event of the same sequence (0 for the first)."""
        dt = np.diff(seqs.times, prepend=0.0)
        dt[seqs.offsets[:-1][seqs.lengths > 0]] = 0.0
        return dt

    def _inputs(self, seqs: EventSequences) -> tuple[np.ndarray, np.ndarray]:
        """Token ids int64 (E,) (type + 1; 0 is padding) and Δt features float32 (E,)."""
        feat = np.log1p(self._gaps(seqs) / self.time_scale_).astype(np.float32)
        return seqs.types.astype(np.int64) + 1, feat
