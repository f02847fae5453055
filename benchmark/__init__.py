"""Benchmark and dataset suite for clustering event sequences.

Data flows one way: dataset -> EventSequences -> method -> raw outputs -> metrics -> results ->
leaderboard. See README.md.
"""

__version__ = "0.1.0"

from .dataset import Dataset, DatasetUnavailable  # noqa: E402
from .method import Clusterer  # noqa: E402
from .registry import register_dataset, register_method, register_metric  # noqa: E402
from .sequences import EventSequences, SequenceValidationError  # noqa: E402

__all__ = [
    "Clusterer", "Dataset", "DatasetUnavailable", "EventSequences", "SequenceValidationError",
    "register_dataset", "register_method", "register_metric",
]
