"""A dataset = (EventSequences, labels or None, metadata). Labels stay with the harness."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .sequences import EventSequences


class DatasetUnavailable(RuntimeError):
    """A dataset cannot be loaded here (missing files, no network); the message says what to do."""


@dataclass
class Dataset:
    """One benchmark dataset.

    sequences : what methods receive.
    labels : int array (N,) of ground-truth (or pseudo-) labels, or ``None``. Never passed to methods.
    meta : dataset-level metadata (true generator parameters, provenance, label names ...).
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
