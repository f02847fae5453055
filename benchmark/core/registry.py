"""Decorator registries for datasets, methods and metrics.

Contributors register by decorating, in one file:

    @register_dataset("K3_C5", kind="synthetic", n_clusters=3, description="...")
    def k3_c5(ctx: LoadContext) -> Dataset: ...

    @register_method("my-method")
    class MyMethod(Clusterer): ...

    @register_metric("purity", higher_is_better=True, needs=("labels_true", "labels_pred"))
    def purity(ctx: MetricInput) -> float | None: ...

``discover()`` imports every module of ``generators``, ``loaders`` and ``baselines`` so that their
decorators run; nothing else needs to be edited to add a dataset or a method.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .dataset import Dataset

PLUGIN_PACKAGES = ("generators", "loaders", "baselines")


class UnknownNameError(KeyError):
    """An unknown dataset, method or metric name (the message lists the known ones)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


@dataclass(frozen=True)
class LoadContext:
    """What a dataset loader may use: the user's data directory and a cache directory."""

    data_dir: Path | None
    cache_dir: Path


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    load: Callable[[LoadContext], Dataset]
    kind: str  # "synthetic" | "real" | "toy"
    n_clusters: int | None
    description: str
    offline: bool  # True when it needs no file from the user (generated)
    paper_group: str | None = None  # e.g. "exp", "sin", "trunc" for table grouping
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MetricSpec:
    name: str
    fn: Callable[..., float | None]
    higher_is_better: bool | None  # None: informational, not ranked or regressed
    description: str


DATASETS: dict[str, DatasetSpec] = {}
METHODS: dict[str, type] = {}
METRICS: dict[str, MetricSpec] = {}


def register_dataset(
    name: str,
    *,
    kind: str,
    n_clusters: int | None = None,
    description: str = "",
    offline: bool = True,
    paper_group: str | None = None,
    **extra: Any,
) -> Callable:
    def deco(fn: Callable[[LoadContext], Dataset]) -> Callable[[LoadContext], Dataset]:
        if name in DATASETS and DATASETS[name].load is not fn:
            raise ValueError(f"dataset {name!r} registered twice")
        DATASETS[name] = DatasetSpec(
            name, fn, kind, n_clusters, description or (fn.__doc__ or "").strip().split("\n")[0],
            offline, paper_group, dict(extra),
        )
        return fn

    return deco


def register_method(name: str) -> Callable[[type], type]:
    def deco(cls: type) -> type:
        if name in METHODS and METHODS[name] is not cls:
            raise ValueError(f"method {name!r} registered twice")
        cls.name = name
        METHODS[name] = cls
        return cls

    return deco


def register_metric(name: str, *, higher_is_better: bool | None, description: str = "") -> Callable:
    def deco(fn: Callable[..., float | None]) -> Callable[..., float | None]:
        METRICS[name] = MetricSpec(name, fn, higher_is_better,
                                   description or (fn.__doc__ or "").strip().split("\n")[0])
        return fn

    return deco


_discovered = False


def discover() -> None:
    """Import all plugin modules once so that their decorators register them."""
    global _discovered
    if _discovered:
        return
    for pkg_name in PLUGIN_PACKAGES:
        pkg = importlib.import_module(pkg_name)
        for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
            if not info.name.startswith("_"):
                importlib.import_module(f"{pkg_name}.{info.name}")
    _discovered = True


def _get(table: dict, kind: str, name: str):
    discover()
    if name not in table:
        raise UnknownNameError(f"unknown {kind} {name!r}; known: {', '.join(sorted(table))}")
    return table[name]


def get_dataset(name: str) -> DatasetSpec:
    return _get(DATASETS, "dataset", name)


def get_method(name: str) -> type:
    return _get(METHODS, "method", name)


def get_metric(name: str) -> MetricSpec:
    return _get(METRICS, "metric", name)
