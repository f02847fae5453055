"""What a dataset loader returns: a :class:`Dataset` (sequences, labels, metadata in memory) or, for
a set too large to hold at once, a :class:`ShardedDataset` (shards produced one at a time).

Labels stay with the harness. Loaders never write the cache: :func:`benchmark.core.catalog.materialize`
stores either kind in the common on-disk format (:mod:`benchmark.core.storage`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .sequences import EventSequences


class DatasetUnavailable(RuntimeError):
    """A dataset cannot be loaded here (missing files, no network); the message says what to do."""


@dataclass
class Dataset:
    """One benchmark dataset, held in memory.

    Parameters
    ----------
    sequences : EventSequences
        What methods receive.
    labels : int ndarray (N,) or None
        Ground-truth (or pseudo-) labels; never passed to methods.
    meta : dict
        Dataset-level metadata (true generator parameters, provenance, label names ...).
    """

    sequences: EventSequences
    labels: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.labels is not None:
            self.labels = np.asarray(self.labels)
            if self.labels.shape != (len(self.sequences),):
                raise ValueError(
                    f"labels have shape {self.labels.shape}, expected ({len(self.sequences)},)"
                )

    @property
    def n_clusters(self) -> int | None:
        """Number of distinct labels (the K passed to methods that need it), or None."""
        if self.labels is None:
            return None
        return int(len(np.unique(self.labels)))


@dataclass(frozen=True)
class ShardedDataset:
    """A dataset produced shard by shard, never held in memory at once (``Huge``).

    Stored by :func:`benchmark.core.catalog.write_dataset` through
    :class:`~benchmark.core.storage.DatasetWriter`: each shard is written as soon as it comes,
    the labels of all shards are stored together at the end.

    Parameters
    ----------
    shards : iterable of (EventSequences, int ndarray or None)
        The shards in order, each its sequences (ids unique across shards) and their labels
        (None for an unlabelled set: then for every shard). Consumed once; a generator is
        closed after use (so a pool behind it shuts down).
    n_types : int
        Number of event types of every shard.
    type_names : tuple of str, optional
        Names of the ``n_types`` types.
    sequences_meta : dict
        The sequences' metadata (``name``, ``source``, ``time_unit``), as
        :attr:`EventSequences.meta` of a :class:`Dataset`; part of the fingerprint.
    meta : dict
        Dataset-level metadata, as :attr:`Dataset.meta` (not part of the fingerprint).
    """

    shards: Iterable[tuple[EventSequences, np.ndarray | None]]
    n_types: int
    type_names: tuple[str, ...] | None = None
    sequences_meta: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
