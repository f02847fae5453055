"""``plsa-em``: pLSA-style EM user clustering of Geyik, Dasdan & Lee (2015), "User Clustering
in Online Advertising via Topic Models".

The model: a user is independent of its cluster given the events ("beacons") of its history, so

    p(c|u) = Σ_b p(c|b) p(b|u),        p(b|u) = n(u, b) / n(u)

and the only learned artefact is the table p(c|b) (n_types × n_clusters). A new user gets a
cluster at run time from its event-type counts without retraining (:meth:`PlsaEM.predict`).

EM (Algorithm 1 of the paper), with n(u, b) the count of type b in user u's history, n(u) its
length and T = Σ_u n(u):

* init: every user goes to an arbitrary cluster, p(c|u) = 1 (here: a hash of seed and user index,
  so the chunked and in-memory paths start identically);
* M step: p(c) = Σ_u p(u) p(c|u) with p(u) = n(u)/T;
  p(b|c) = Σ_u p(b|u) p(c|u) p(u) / p(c) = Σ_u n(u, b) p(c|u) / Σ_u n(u) p(c|u);
* E step: p(c|b) = p(c) p(b|c) / p(b), p(b) = Σ_u n(u, b) / T, then p(c|u) = Σ_b p(c|b) p(b|u),
  kept soft (``assignment="soft"``) or set to 1 for the most probable cluster (``"hard"``);
* stop when no p(c) and no p(b|c) moves by more than ``tol`` (or after ``max_iter`` rounds).

Both steps are sums over users of sparse products (``N^T R`` with N the (users × types) count
matrix and R the (users × clusters) assignment), so they run chunk by chunk: :meth:`fit` walks an
in-memory count matrix in row blocks and :meth:`fit_stored` streams a stored dataset's Parquet
shards (``benchmark.core.storage.iter_shards``), first compressing every shard into its sparse count
matrix (the "pre-computed user data" of the paper's Pig job) and then running EM over those.

One documented departure, ``cluster_prior``: with the paper's p(c|b) = p(c) p(b|c) / p(b)
(``cluster_prior="learned"``), p(c|b) is the share of b's occurrences that fall in cluster c, so the
E step ranks clusters by their total (not average) similarity to the user; bigger clusters win the
ambiguous users and EM collapses to one or two clusters (measured in docs/plsa_em.md and tested).
The default ``"uniform"`` uses a flat prior over the non-empty clusters in that Bayes step,
p(c|b) ∝ p(b|c), which keeps every step, the stored table and the run-time rule of the paper.
"""

from __future__ import annotations

import shutil
import tempfile
from numbers import Integral, Real
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import scipy.sparse as sp
from sklearn.utils._param_validation import Interval, StrOptions

from benchmark.core.method import Clusterer, check_input, fit_context
from benchmark.core.registry import register_method
from benchmark.core.sequences import EventSequences

ASSIGNMENTS = ("hard", "soft")
CLUSTER_PRIORS = ("uniform", "learned")


def beacon_counts(seqs: EventSequences, n_beacons: int | None = None) -> sp.csr_matrix:
    """Sparse float64 (N, n_beacons) matrix n(u, b): events of type b in sequence u.

    Types >= ``n_beacons`` (unseen at training time) are dropped.
    """
    n_beacons = seqs.n_types if n_beacons is None else n_beacons
    seq, typ = seqs.seq_index(), seqs.types.astype(np.int64)
    known = typ < n_beacons
    if not known.all():
        seq, typ = seq[known], typ[known]
    n = len(seqs)
    if n * n_beacons <= max(4 * len(typ), 1 << 20):  # few types: one dense bincount is fastest
        dense = np.bincount(seq * n_beacons + typ, minlength=n * n_beacons)
        return sp.csr_matrix(dense.reshape(n, n_beacons).astype(np.float64))
    counts = sp.coo_matrix((np.ones(len(typ)), (seq, typ)), shape=(n, n_beacons)).tocsr()
    counts.sum_duplicates()
    return counts


class UserBlock:
    """The pre-computed data of a block of users (the paper's compressed per-user rows).

    counts : csr (n, B) n(u, b); length : float64 (n,) n(u); nnz_user : int64 (nnz,) the user
    (row) of every stored count.
    """

    def __init__(self, counts: sp.csr_matrix) -> None:
        self.counts = counts
        self.length = np.asarray(counts.sum(axis=1)).ravel()
        self.nnz_user = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))

    def __len__(self) -> int:
        return self.counts.shape[0]

    def cluster_given_user(self, cluster_given_beacon: np.ndarray) -> np.ndarray:
        """float64 (n, C): p(c|u) = Σ_b p(c|b) p(b|u) = Σ_b p(c|b) n(u, b) / n(u)
        (0 for users without events)."""
        joint = np.asarray(self.counts @ cluster_given_beacon)
        return np.divide(joint, self.length[:, None], out=np.zeros_like(joint),
                         where=self.length[:, None] > 0)

    def hard_statistics(self, labels: np.ndarray, n_clusters: int) -> tuple[np.ndarray, np.ndarray]:
        """For p(c|u) = 1[c = labels_u]: Σ_u n(u, b) p(c|u) (B, C) and Σ_u n(u) p(c|u) (C,)."""
        n_beacons = self.counts.shape[1]
        key = labels[self.nnz_user] * n_beacons + self.counts.indices
        joint = np.bincount(key, weights=self.counts.data, minlength=n_clusters * n_beacons)
        mass = np.bincount(labels, weights=self.length, minlength=n_clusters)
        return joint.reshape(n_clusters, n_beacons).T, mass

    def soft_statistics(self, resp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For soft p(c|u) = ``resp`` (n, C): the same two sums."""
        return np.asarray(self.counts.T @ resp), resp.T @ self.length


def initial_clusters(global_index: np.ndarray, n_clusters: int, seed: int) -> np.ndarray:
    """int64 (n,): the "arbitrary" initial cluster of each user, a splitmix64 hash of
    (seed, global user index) modulo ``n_clusters`` — independent of how users are chunked."""
    with np.errstate(over="ignore"):
        z = global_index.astype(np.uint64) + np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z % np.uint64(n_clusters)).astype(np.int64)


@register_method("plsa-em")
class PlsaEM(Clusterer):
    """pLSA-style EM clustering of users by their event-type histories (Geyik et al., 2015).

    Parameters
    ----------
    n_clusters : int, default=2
        Number of clusters C (the harness passes the dataset's K).
    assignment : {"hard", "soft"}, default="hard"
        Algorithm 1's two modes: p(c|u) = 1 for the best cluster, or kept soft.
    cluster_prior : {"uniform", "learned"}, default="uniform"
        "uniform": p(c|b) ∝ p(b|c); "learned": the paper's p(c|b) = p(c) p(b|c) / p(b), which
        collapses (see the module docstring).
    max_iter : int, default=100
        Maximum number of E+M rounds after the initial M step.
    tol : float, default=1e-6
        Convergence threshold on the largest change of any p(c) or p(b|c).
    chunk_size : int, default=100000
        Users per block in the E and M steps (bounds the working memory).
    seed : int, default=0
        Seed of the arbitrary initial assignment.

    Attributes
    ----------
    labels_ : ndarray of shape (n_sequences,)
        The run-time assignment argmax_c p(c|u) of the training users, int64.
    cluster_given_beacon_ : ndarray of shape (n_types, n_clusters)
        p(c|b), the stored model, float64 (rows of types never seen in training are 0).
    beacon_given_cluster_ : ndarray of shape (n_types, n_clusters)
        p(b|c), float64 (columns sum to 1 for non-empty clusters).
    cluster_weight_ : ndarray of shape (n_clusters,)
        p(c), float64.
    n_iter_ : int
        E+M rounds run.
    converged_ : bool
        Whether ``tol`` was reached.
    """

    outputs = ("labels", "embeddings")
    needs_n_clusters = True
    presets = {"quick": {"max_iter": 30}, "paper": {"max_iter": 200}}
    paper = ("Geyik, Dasdan & Lee, 'User Clustering in Online Advertising via Topic Models', "
             "arXiv:1501.06595, 2015")
    _parameter_constraints = {
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "assignment": [StrOptions(set(ASSIGNMENTS))],
        "cluster_prior": [StrOptions(set(CLUSTER_PRIORS))],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "chunk_size": [Interval(Integral, 1, None, closed="left")],
        "seed": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(self, n_clusters: int = 2, assignment: str = "hard",
                 cluster_prior: str = "uniform", max_iter: int = 100, tol: float = 1e-6,
                 chunk_size: int = 100_000, seed: int = 0) -> None:
        self.n_clusters = n_clusters
        self.assignment = assignment
        self.cluster_prior = cluster_prior
        self.max_iter = max_iter
        self.tol = tol
        self.chunk_size = chunk_size
        self.seed = seed

    # ------------------------------------------------------------------ public API
    @fit_context
    def fit(self, seqs: EventSequences) -> PlsaEM:
        """Fit on in-memory sequences; sets the tables above and ``labels_`` (N,)."""
        check_input(seqs, min_sequences=self.n_clusters)
        counts = beacon_counts(seqs)
        step = int(self.chunk_size)
        blocks = [UserBlock(counts[a:a + step]) for a in range(0, counts.shape[0], step)]
        self._em(lambda: iter(blocks), seqs.n_types)
        self.labels_ = np.concatenate([self._assign(b) for b in blocks])
        return self

    @fit_context
    def fit_stored(self, path: Path | str, spill_dir: Path | str | None = None) -> PlsaEM:
        """Fit out of core on a stored dataset directory (``benchmark.core.storage`` format).

        One pass over ``iter_shards(path)`` turns each shard into its sparse count matrix, written
        to ``spill_dir`` (a temporary directory by default, removed afterwards; on an error the
        files written to a given ``spill_dir`` are removed); every EM round
        then loads one shard's counts at a time, so memory holds one shard plus the
        (n_types × C) tables. Sets ``labels_`` for all stored sequences in order.
        """
        from benchmark.core.storage import iter_shards, read_meta

        n_types = int(read_meta(Path(path))["n_types"])
        own = spill_dir is None
        spill = Path(tempfile.mkdtemp(prefix="plsa-em-")) if own else Path(spill_dir)
        spill.mkdir(parents=True, exist_ok=True)
        files: list[Path] = []
        try:
            n_users = 0
            for i, shard in enumerate(iter_shards(Path(path))):
                counts = beacon_counts(shard, n_types)
                f = spill / f"counts-{i:05d}.npz"
                sp.save_npz(f, counts, compressed=False)
                files.append(f)
                n_users += counts.shape[0]
            if n_users < self.n_clusters:
                raise ValueError(f"{path}: {n_users} sequences for {self.n_clusters} clusters")

            def blocks() -> Iterator[UserBlock]:
                for f in files:
                    yield UserBlock(sp.load_npz(f).tocsr())

            self._em(blocks, n_types)
            self.labels_ = np.concatenate([self._assign(b) for b in blocks()])
        except BaseException:
            for f in files:  # leave nothing half-done in a caller's spill directory
                f.unlink(missing_ok=True)
            raise
        finally:
            if own:
                shutil.rmtree(spill, ignore_errors=True)
        return self

    def transform(self, seqs: EventSequences) -> np.ndarray:
        """float64 (N, C): p(c|u) = Σ_b p(c|b) p(b|u) from the stored table (run-time rule).

        Event types never seen in training are ignored; a user with none of the known types
        gets the uniform distribution 1/C.
        """
        self._check_fitted(seqs)
        return self._soft_counts(beacon_counts(seqs, self.cluster_given_beacon_.shape[0]))

    def predict(self, seqs: EventSequences) -> np.ndarray:
        """int64 (N,): argmax_c p(c|u) for new (or training) users, without retraining."""
        self._check_fitted(seqs)
        return self._predict_counts(beacon_counts(seqs, self.cluster_given_beacon_.shape[0]))

    # ------------------------------------------------------------------ EM over chunks
    def _em(self, blocks: Callable[[], Iterable[UserBlock]], n_beacons: int) -> None:
        """Run Algorithm 1 over the user blocks yielded (in the same order) by ``blocks()``."""
        C = self.n_clusters
        cluster_given_beacon = None  # None: initial arbitrary assignment
        prev = None
        self.converged_ = False
        self.n_iter_ = 0
        for it in range(self.max_iter + 1):
            beacon_cluster = np.zeros((n_beacons, C))  # Σ_u n(u, b) p(c|u)
            cluster_mass = np.zeros(C)                # Σ_u n(u) p(c|u)
            beacon_mass = np.zeros(n_beacons)         # Σ_u n(u, b)
            start = 0
            for block in blocks():
                if block.counts.shape[1] != n_beacons:
                    raise ValueError(f"count block has {block.counts.shape[1]} types, "
                                     f"expected {n_beacons}")
                if cluster_given_beacon is None:  # init: arbitrary cluster, p(c|u) = 1
                    labels = initial_clusters(np.arange(start, start + len(block)), C, self.seed)
                    joint, mass = block.hard_statistics(labels, C)
                    beacon_mass += np.asarray(block.counts.sum(axis=0)).ravel()
                elif self.assignment == "hard":  # E step, hard
                    labels = block.cluster_given_user(cluster_given_beacon).argmax(axis=1)
                    joint, mass = block.hard_statistics(labels, C)
                else:  # E step, soft
                    joint, mass = block.soft_statistics(
                        block.cluster_given_user(cluster_given_beacon))
                beacon_cluster += joint
                cluster_mass += mass
                start += len(block)
            if it == 0:
                total = beacon_mass.sum()
                if total <= 0:
                    raise ValueError("no events to cluster")
                beacon_prob = beacon_mass / total  # p(b)
            # M step
            weight = cluster_mass / total                                        # p(c)
            beacon_given_cluster = np.divide(beacon_cluster, cluster_mass,
                                             out=np.zeros_like(beacon_cluster),
                                             where=cluster_mass > 0)             # p(b|c)
            cluster_given_beacon = self._bayes(beacon_given_cluster, weight, beacon_prob)
            self.n_iter_ = it
            if prev is not None:
                change = max(np.abs(weight - prev[0]).max(),
                             np.abs(beacon_given_cluster - prev[1]).max())
                if change <= self.tol:
                    self.converged_ = True
                    break
            prev = (weight, beacon_given_cluster)
        self.cluster_weight_ = weight
        self.beacon_given_cluster_ = beacon_given_cluster
        self.cluster_given_beacon_ = cluster_given_beacon

    def _bayes(self, beacon_given_cluster: np.ndarray, weight: np.ndarray,
               beacon_prob: np.ndarray) -> np.ndarray:
        """p(c|b) (B, C) from p(b|c), p(c) and p(b); rows of unseen beacons are 0."""
        if self.cluster_prior == "learned":
            joint = beacon_given_cluster * weight  # p(b, c); row sums equal p(b)
        else:
            joint = beacon_given_cluster * (weight > 0)
        norm = joint.sum(axis=1, keepdims=True) if self.cluster_prior == "uniform" \
            else beacon_prob[:, None]
        return np.divide(joint, norm, out=np.zeros_like(joint), where=norm > 0)

    def _soft_counts(self, counts: sp.csr_matrix) -> np.ndarray:
        """Run-time p(c|u) (n, C) from counts; beacons unseen in training are dropped and users
        with no known beacon get 1/C."""
        known = self.cluster_given_beacon_.sum(axis=1) > 0
        if not known.all():
            counts = counts @ sp.diags(known.astype(np.float64))
        out = UserBlock(counts).cluster_given_user(self.cluster_given_beacon_)
        out[np.asarray(counts.sum(axis=1)).ravel() == 0] = 1.0 / self.n_clusters
        return out

    def _predict_counts(self, counts: sp.csr_matrix) -> np.ndarray:
        return self._soft_counts(counts).argmax(axis=1).astype(np.int64)

    def _assign(self, block: UserBlock) -> np.ndarray:
        """Run-time cluster of the (training) users of a block."""
        return self._predict_counts(block.counts)

    # ------------------------------------------------------------------ checks
    def _check_fitted(self, seqs: EventSequences) -> None:
        if not hasattr(self, "cluster_given_beacon_"):
            raise RuntimeError("PlsaEM is not fitted; call fit() first")
        if not isinstance(seqs, EventSequences):
            raise TypeError(f"expected EventSequences, got {type(seqs).__name__}")
