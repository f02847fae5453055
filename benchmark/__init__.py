"""Benchmark and dataset suite for clustering event sequences.

Data flows one way: dataset -> EventSequences -> method -> raw outputs -> metrics -> results ->
leaderboard. See README.md.

Three floors: :mod:`benchmark.core` (the format, storage, registries, method contract; what a
plugin imports), :mod:`benchmark.harness` (runs, metrics, reports, command line; above the
plugins) and :mod:`benchmark.perf` (comparisons with reference implementations). Importing this
package loads nothing: the names below come from the core on first use.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "Clusterer": "method", "Dataset": "dataset", "DatasetUnavailable": "dataset",
    "EventSequences": "sequences", "SequenceValidationError": "sequences",
    "register_dataset": "registry", "register_method": "registry", "register_metric": "registry",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.core.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
