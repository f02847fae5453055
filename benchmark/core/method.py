"""The method contract, on scikit-learn's own machinery.

A method is a class deriving from :class:`Clusterer` (scikit-learn's ``ClusterMixin`` and
``BaseEstimator``), registered with ``@register_method("name")``
(:func:`benchmark.core.registry.register_method`):

* hyper-parameters (including ``seed``) are keyword arguments of ``__init__``, stored unchanged
  as attributes of the same name; ``__init__`` does no work. ``get_params``, ``set_params``,
  ``repr`` and :func:`sklearn.base.clone` come from ``BaseEstimator``;
* every parameter has an entry in ``_parameter_constraints`` (scikit-learn's constraint objects:
  ``Interval``, ``StrOptions``, ``None``, types, ``"boolean"``; see
  ``sklearn.utils._param_validation``); ``fit`` is decorated with :func:`fit_context`, which
  checks them once, before ``fit`` runs, and raises scikit-learn's ``InvalidParameterError``
  (a ``ValueError``) naming the parameter. Checks that tie two parameters together, or a
  parameter to the data, stay at the top of ``fit``;
* ``fit(seqs)`` learns from an :class:`~benchmark.core.sequences.EventSequences` only, never
  labels, and sets ``labels_`` (int array (N,)); ``fit_predict`` (from ``ClusterMixin``)
  returns them; a method that gives embeddings returns them from ``transform(seqs)``, float
  array (N, d).

Class attributes describe the method to the harness; :func:`~benchmark.core.registry.register_method`
copies them into the method's :class:`~benchmark.core.registry.MethodInfo`, where a registration
may override some (``version``, defaults, ``presets``, ``unkeyed_defaults``, ``paper``):

* ``outputs``: subset of ``{"labels", "embeddings"}``;
* ``needs_n_clusters``: if True the harness passes the dataset's K as ``n_clusters`` (and records it);
* ``requires``: importable module names of optional dependencies (checked before running);
* ``presets``: ``{"quick": {...}, "paper": {...}}`` parameter overrides per profile;
* ``paper``: where the method comes from;
* ``version``: part of every run key; bumped when the method's output changes for the same
  parameters;
* ``unkeyed_defaults``: parameters added after runs were committed, each with the value that
  reproduces the earlier behaviour; while a run uses that value the parameter is left out of
  the run's key, so the committed records stay valid (any other value is keyed as usual).
"""

from __future__ import annotations

import importlib.util
import inspect
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, _fit_context
from sklearn.utils.metadata_routing import UNUSED

from .sequences import EventSequences


class MissingDependency(RuntimeError):
    """An optional dependency of a method or metric is not installed."""


def fit_context(fit: Callable) -> Callable:
    """Decorate a method's ``fit`` (or another fitting entry point, e.g. ``fit_stored``).

    Before ``fit`` runs, the estimator's parameters are validated once against its
    ``_parameter_constraints`` (scikit-learn's ``_fit_context``; an invalid value raises
    ``sklearn.utils._param_validation.InvalidParameterError`` naming the parameter), and
    scikit-learn estimators used inside ``fit`` skip their own, redundant validation.
    """
    return _fit_context(prefer_skip_nested_validation=True)(fit)


class Clusterer(ClusterMixin, BaseEstimator):
    """Base class of the benchmark's methods (see the module docstring for the contract).

    Subclasses define ``__init__`` (keyword parameters stored unchanged),
    ``_parameter_constraints`` (an entry per parameter), ``fit(seqs)`` decorated with
    :func:`fit_context` and, for embeddings, ``transform(seqs)``.

    Attributes
    ----------
    labels_ : ndarray of shape (n_sequences,)
        Cluster of every sequence of the last ``fit``, integers.
    """

    name: ClassVar[str] = ""  # the name the class was first registered under
    outputs: ClassVar[tuple[str, ...]] = ("labels",)
    needs_n_clusters: ClassVar[bool] = False
    requires: ClassVar[tuple[str, ...]] = ()
    presets: ClassVar[dict[str, dict[str, Any]]] = {"quick": {}, "paper": {}}
    paper: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    unkeyed_defaults: ClassVar[dict[str, Any]] = {}
    _parameter_constraints: ClassVar[dict[str, list]] = {}

    # The sequences argument is data, not metadata: no ``set_fit_request(seqs=...)`` and the like
    __metadata_request__fit: ClassVar[dict] = {"seqs": UNUSED}
    __metadata_request__transform: ClassVar[dict] = {"seqs": UNUSED}
    __metadata_request__predict: ClassVar[dict] = {"seqs": UNUSED}
    __metadata_request__predict_proba: ClassVar[dict] = {"seqs": UNUSED}

    labels_: np.ndarray

    @classmethod
    def param_names(cls) -> list[str]:
        """Names of the ``__init__`` parameters, in signature order."""
        params = list(inspect.signature(cls.__init__).parameters.values())[1:]
        varargs = [p.name for p in params if p.kind in (inspect.Parameter.VAR_POSITIONAL,
                                                        inspect.Parameter.VAR_KEYWORD)]
        if varargs:
            raise TypeError(f"{cls.__name__}.__init__ takes *{varargs[0]}; a method's parameters "
                            "are explicit keyword arguments")
        return [p.name for p in params]

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        """``{name: default}`` of the ``__init__`` parameters, in signature order."""
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
                f"method {cls.name or cls.__name__!r} needs {', '.join(missing)}; install with "
                f"`pip install -e .[all]`"
            )

    def fit(self, seqs: EventSequences) -> Clusterer:  # pragma: no cover - interface
        raise NotImplementedError

    def transform(self, seqs: EventSequences) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError(f"{type(self).__name__} gives no embeddings")


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
