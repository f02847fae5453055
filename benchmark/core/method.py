"""The method contract (scikit-learn style).

A method is a class deriving from :class:`Clusterer`, registered with
``@register_method("name")``:

* hyper-parameters (including ``seed``) are keyword arguments of ``__init__`` and stored as
  attributes of the same name (``get_params`` reads them from the signature);
* ``fit(seqs)`` learns from an :class:`~benchmark.core.sequences.EventSequences` only — never labels;
* afterwards ``labels_`` (int array (N,)) holds a cluster per sequence, and/or
  ``transform(seqs)`` returns embeddings, float array (N, d).

Class attributes describe the method to the harness:

* ``outputs``: subset of ``{"labels", "embeddings"}``;
* ``needs_n_clusters``: if True the harness passes the dataset's K as ``n_clusters`` (and records it);
* ``requires``: importable module names of optional dependencies (checked before running);
* ``presets``: ``{"quick": {...}, "paper": {...}}`` parameter overrides per profile;
* ``paper``: where the method comes from;
* ``unkeyed_defaults``: parameters added after runs were committed, each with the value that
  reproduces the earlier behaviour; while a run uses that value the parameter is left out of
  the run's key, so the committed records stay valid (any other value is keyed as usual).
"""

from __future__ import annotations

import importlib.util
import inspect
from typing import Any, ClassVar

import numpy as np

from .sequences import EventSequences


class MissingDependency(RuntimeError):
    """An optional dependency of a method or metric is not installed."""


class Clusterer:
    name: ClassVar[str] = ""
    outputs: ClassVar[tuple[str, ...]] = ("labels",)
    needs_n_clusters: ClassVar[bool] = False
    requires: ClassVar[tuple[str, ...]] = ()
    presets: ClassVar[dict[str, dict[str, Any]]] = {"quick": {}, "paper": {}}
    paper: ClassVar[str] = ""
    unkeyed_defaults: ClassVar[dict[str, Any]] = {}

    labels_: np.ndarray

    @classmethod
    def param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"
                and sig.parameters[p].kind not in (inspect.Parameter.VAR_POSITIONAL,
                                                   inspect.Parameter.VAR_KEYWORD)]

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        sig = inspect.signature(cls.__init__)
        return {p: sig.parameters[p].default for p in cls.param_names()}

    @classmethod
    def missing_dependencies(cls) -> list[str]:
        return [m for m in cls.requires if importlib.util.find_spec(m) is None]

    @classmethod
    def check_dependencies(cls) -> None:
        missing = cls.missing_dependencies()
        if missing:
            raise MissingDependency(
                f"method {cls.name!r} needs {', '.join(missing)}; install with "
                f"`pip install -e .[all]`"
            )

    def get_params(self) -> dict[str, Any]:
        return {p: getattr(self, p) for p in self.param_names()}

    def fit(self, seqs: EventSequences) -> "Clusterer":  # pragma: no cover - interface
        raise NotImplementedError

    def fit_predict(self, seqs: EventSequences) -> np.ndarray:
        return self.fit(seqs).labels_

    def transform(self, seqs: EventSequences) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError(f"{type(self).__name__} gives no embeddings")

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


def check_input(seqs: EventSequences, *, min_sequences: int = 2, min_events: int = 1) -> None:
    """Common degenerate-input checks for methods; raise ValueError with a clear message."""
    if not isinstance(seqs, EventSequences):
        raise TypeError(f"expected EventSequences, got {type(seqs).__name__}")
    if len(seqs) < min_sequences:
        raise ValueError(f"need at least {min_sequences} sequences, got {len(seqs)}")
    lens = seqs.lengths
    if (lens < min_events).any():
        i = int(np.flatnonzero(lens < min_events)[0])
        raise ValueError(
            f"sequence {i} (id {seqs.seq_ids[i]!r}) has {lens[i]} events; this method needs "
            f"at least {min_events}"
        )
