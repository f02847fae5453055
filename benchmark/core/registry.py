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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .dataset import Dataset, ShardedDataset

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


DATASET_KINDS = ("synthetic", "real", "toy")
HOLDOUT_SUFFIX = "-holdout"


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset: how to load it and what the harness needs to know about it.

    Built by :func:`register_dataset`, whose keyword arguments are these fields.

    Parameters
    ----------
    name : str
        The registered name, what ``--datasets`` takes; the cache entry is
        ``CACHE/datasets/NAME-vVERSION``.
    load : callable
        ``load(ctx: LoadContext) -> Dataset | ShardedDataset``: reads the raw files (from
        ``ctx.data_dir``) or generates the data. Only :func:`benchmark.core.catalog.materialize`
        calls it, and only the catalog writes the cache.
    kind : {"synthetic", "real", "toy"}
        Generated from known parameters, recorded data, or a small set for tests and demos.
    n_clusters : int or None
        K passed to the methods that need it; None: the number of distinct labels of the stored
        set (unlabelled sets: ``run --unlabelled-k``).
    description : str
        One line for ``python -m benchmark list``.
    version : str, default "1"
        Version of the data. A new version is a new cache entry and, where the data change,
        new fingerprints and run keys.
    family : str or None, default None
        The leaderboard's table group: ``"exp"``, ``"sin"``, ``"trunc"`` (the LAL paper's
        synthetic kernel families, in that order, first), ``"real"``; None: none (the other sets
        follow the families, by name).
    heavy : bool, default False
        Too large for ``run --all`` and ``list --stats`` unless asked (``--include-heavy``).
    paper_stats : dict or None, default None
        The source paper's statistics of the set (``n_sequences``, ``mean_length``, ``n_types``,
        for real sets also ``n_clusters``), shown beside ours in its data card.
    generate : callable or None, default None
        ``generate(out_dir: Path, seed: int = 0) -> Path``: a fresh draw with generator seed
        ``seed`` written to ``out_dir`` (``python -m benchmark generate --seed``). None: the
        stored set is copied, seed 0 only.
    draw : callable or None, default None
        ``draw(ctx: LoadContext, seed: int) -> Dataset``: the set generated with generator seed
        ``seed`` (the registered set is seed 0). Makes the names ``NAME@draw=S`` (S >= 1) valid
        datasets: :func:`get_dataset` derives their specs (:func:`draw_name`). None: no draws.
    oracle : callable or None, default None
        ``oracle(dataset_dir: Path) -> ndarray``: float64 (N, K), each stored sequence's
        log-likelihood (nats) under each cluster's true generator parameters, read from the
        stored dataset in ``dataset_dir``. Its row-wise argmax is the Bayes classifier, whose
        purity ``python -m benchmark oracle`` reports as the set's purity ceiling. None: the
        true parameters are unknown.
    """

    name: str
    load: Callable[[LoadContext], Dataset | ShardedDataset]
    kind: str
    n_clusters: int | None = None
    description: str = ""
    version: str = "1"
    family: str | None = None
    heavy: bool = False
    paper_stats: dict[str, Any] | None = None
    generate: Callable[..., Path] | None = None
    oracle: Callable[[Path], Any] | None = None
    draw: Callable[..., Dataset | ShardedDataset] | None = None

    def __post_init__(self) -> None:
        if self.kind not in DATASET_KINDS:
            raise ValueError(f"dataset {self.name!r}: kind {self.kind!r} is not one of "
                             f"{', '.join(DATASET_KINDS)}")
        if self.n_clusters is not None and (not isinstance(self.n_clusters, int)
                                            or self.n_clusters < 1):
            raise ValueError(f"dataset {self.name!r}: n_clusters must be a positive int or None, "
                             f"got {self.n_clusters!r}")
        if not isinstance(self.version, str) or not self.version:
            raise ValueError(f"dataset {self.name!r}: version must be a non-empty str, got "
                             f"{self.version!r}")
        for hook in ("load", "generate", "oracle", "draw"):
            value = getattr(self, hook)
            if value is not None and not callable(value):
                raise TypeError(f"dataset {self.name!r}: {hook} must be callable, got {value!r}")


@dataclass(frozen=True)
class MetricSpec:
    name: str
    fn: Callable[..., float | None]
    higher_is_better: bool | None  # None: informational, not ranked or regressed
    description: str


DATASETS: dict[str, DatasetSpec] = {}
METHODS: dict[str, MethodInfo] = {}
METRICS: dict[str, MetricSpec] = {}


def register_dataset(
    name: str,
    *,
    kind: str,
    n_clusters: int | None = None,
    description: str = "",
    version: str = "1",
    family: str | None = None,
    heavy: bool = False,
    paper_stats: dict[str, Any] | None = None,
    generate: Callable[..., Path] | None = None,
    oracle: Callable[[Path], Any] | None = None,
    draw: Callable[..., Dataset | ShardedDataset] | None = None,
    **unknown: Any,
) -> Callable:
    """Register the decorated loader as dataset ``name``.

    Used as ``@register_dataset("K3_C5", kind="synthetic", n_clusters=3, ...)`` on a function
    ``load(ctx: LoadContext) -> Dataset | ShardedDataset``; returns the function unchanged. The
    keyword arguments are the fields of :class:`DatasetSpec` (see there); ``description``
    defaults to the first line of the loader's docstring.

    Raises
    ------
    TypeError
        A keyword that is not a field of :class:`DatasetSpec` (naming it and the fields).
    ValueError
        Another loader already registered as ``name``, or an invalid field value.
    """
    if unknown:
        renamed = {"paper_group": "family"}
        hints = "".join(f"; {k!r} is now {renamed[k]!r}" for k in unknown if k in renamed)
        fields = [f for f in DatasetSpec.__dataclass_fields__ if f not in ("name", "load")]
        raise TypeError(f"register_dataset({name!r}): unknown keyword(s) "
                        f"{', '.join(map(repr, unknown))}{hints}; the fields are "
                        f"{', '.join(fields)}")

    def deco(fn: Callable[[LoadContext], Any]) -> Callable[[LoadContext], Any]:
        if name in DATASETS and DATASETS[name].load is not fn:
            raise ValueError(f"dataset {name!r} registered twice")
        DATASETS[name] = DatasetSpec(
            name=name, load=fn, kind=kind, n_clusters=n_clusters,
            description=description or (fn.__doc__ or "").strip().split("\n")[0],
            version=version, family=family, heavy=heavy, paper_stats=paper_stats,
            generate=generate, oracle=oracle, draw=draw,
        )
        return fn

    return deco


def register_dataset_with_holdout(
    name: str,
    load: Callable[..., Dataset],
    *,
    description: str,
    holdout_description: str,
    **fields: Any,
) -> tuple[Callable[[LoadContext], Dataset], Callable[[LoadContext], Dataset]]:
    """Register a real set with a last-event pseudo-label as ``name`` and ``name-holdout``.

    The two registrations share every field but the description; they differ in the loader's
    flag ``holdout_last``: ``name`` keeps the full sequences (the source paper's protocol, where
    the event that defines the label is visible to methods), ``name-holdout`` removes each
    sequence's last event (:func:`loaders._common.drop_last_event`).

    Parameters
    ----------
    name : str
        The full set's name; the other is ``name + "-holdout"``.
    load : callable
        ``load(ctx: LoadContext, holdout_last: bool) -> Dataset``.
    description, holdout_description : str
        One line each for ``python -m benchmark list``.
    **fields
        The other fields of :class:`DatasetSpec` (``kind``, ``n_clusters``, ``version``, ...).

    Returns
    -------
    (load_full, load_holdout) : tuple of callables
        The two registered loaders, ``ctx -> Dataset``.
    """
    holdout_name = name + HOLDOUT_SUFFIX

    def load_full(ctx: LoadContext) -> Dataset:
        return load(ctx, holdout_last=False)

    def load_holdout(ctx: LoadContext) -> Dataset:
        return load(ctx, holdout_last=True)

    load_full.__name__, load_holdout.__name__ = name, holdout_name
    register_dataset(name, description=description, **fields)(load_full)
    register_dataset(holdout_name, description=holdout_description, **fields)(load_holdout)
    return load_full, load_holdout


@dataclass(frozen=True)
class MethodInfo:
    """A registered method as the harness sees it; built by :func:`register_method`.

    Parameters
    ----------
    name : str
        The registered name: what ``--methods`` takes, part of every run key.
    cls : type
        The :class:`~benchmark.core.method.Clusterer` subclass that implements the method.
        Several names may share one class with other defaults (``lal``, ``lal-ensemble``).
    version : str
        Part of every run key; a new version orphans the method's earlier runs.
    defaults : dict
        Every ``__init__`` parameter with its default under this name, in signature order: the
        class's signature defaults, overridden by the registration's ``defaults``.
    presets : dict
        ``{"quick": {...}, "paper": {...}}``: parameter overrides per profile, applied on top
        of ``defaults``.
    unkeyed_defaults : dict
        Parameters left out of the run key while they have this value (added after runs were
        committed; the value reproduces those runs).
    outputs : tuple of str
        What a fit gives: ``"labels"``, ``"embeddings"`` or both.
    needs_n_clusters : bool
        Whether the harness passes the dataset's K as ``n_clusters``.
    requires : tuple of str
        Importable names of the optional modules the method needs.
    paper : str
        Where the method comes from.
    module : str
        The module whose import registers this name (the method's process imports it).
    """

    name: str
    cls: type
    version: str
    defaults: dict[str, Any]
    presets: dict[str, dict[str, Any]]
    unkeyed_defaults: dict[str, Any]
    outputs: tuple[str, ...]
    needs_n_clusters: bool
    requires: tuple[str, ...]
    paper: str
    module: str

    @property
    def param_names(self) -> tuple[str, ...]:
        """The ``__init__`` parameters, in signature order."""
        return tuple(self.defaults)

    def create(self, **params: Any) -> Any:
        """An unfitted instance: this registration's ``defaults`` overridden by ``params``."""
        return self.cls(**{**self.defaults, **params})

    def missing_dependencies(self) -> list[str]:
        """The modules of ``requires`` that cannot be imported here."""
        import importlib.util

        return [m for m in self.requires if importlib.util.find_spec(m) is None]

    def check_dependencies(self) -> None:
        """Raise :class:`~benchmark.core.method.MissingDependency` naming the missing modules."""
        missing = self.missing_dependencies()
        if missing:
            from .method import MissingDependency

            raise MissingDependency(f"method {self.name!r} needs {', '.join(missing)}; install "
                                    f"with `pip install -e .[all]`")


def register_method(
    name: str,
    *,
    version: str | None = None,
    defaults: dict[str, Any] | None = None,
    presets: dict[str, dict[str, Any]] | None = None,
    unkeyed_defaults: dict[str, Any] | None = None,
    paper: str | None = None,
    module: str | None = None,
) -> Callable[[type], type]:
    """Register a :class:`~benchmark.core.method.Clusterer` subclass under ``name``.

    Used as a class decorator, ``@register_method("my-method")``, it reads the class attributes
    ``version``, ``presets``, ``unkeyed_defaults``, ``outputs``, ``needs_n_clusters``,
    ``requires`` and ``paper``. Called on an existing class,
    ``register_method("other-name", defaults={...}, presets={...})(cls)`` registers the same
    class again under another name with other defaults, presets, version, unkeyed defaults or
    paper (each keyword given replaces the class attribute; ``defaults`` overrides single
    parameters). ``module`` is the module whose import makes the registration (default: the
    module that calls this function). Returns the class unchanged.
    """
    import sys

    registering_module = module or sys._getframe(1).f_globals.get("__name__", "")

    def deco(cls: type) -> type:
        if name in METHODS and METHODS[name].cls is not cls:
            raise ValueError(f"method {name!r} registered twice")
        params = cls.default_params()
        profiles = cls.presets if presets is None else presets
        unkeyed = cls.unkeyed_defaults if unkeyed_defaults is None else unkeyed_defaults
        for what, names in [("defaults", defaults or {}), ("unkeyed_defaults", unkeyed),
                            *((f"preset {p!r}", v) for p, v in profiles.items())]:
            unknown = sorted(set(names) - set(params))
            if unknown:
                raise ValueError(f"method {name!r}: {what} name(s) {unknown} that are not "
                                 f"parameters of {cls.__name__}")
        if "name" not in vars(cls):  # a class keeps the name it was first registered under
            cls.name = name
        METHODS[name] = MethodInfo(
            name=name, cls=cls, version=cls.version if version is None else version,
            defaults={**params, **(defaults or {})},
            presets={p: dict(v) for p, v in profiles.items()}, unkeyed_defaults=dict(unkeyed),
            outputs=tuple(cls.outputs), needs_n_clusters=bool(cls.needs_n_clusters),
            requires=tuple(cls.requires), paper=cls.paper if paper is None else paper,
            module=registering_module or cls.__module__,
        )
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


DRAW_TAG = "@draw="
"""Separates a registered set's name from a generator seed: ``K3_C5@draw=2``."""
_DRAW_SPECS: dict[str, DatasetSpec] = {}


def draw_name(name: str, seed: int) -> str:
    """The dataset name of generator draw ``seed`` of the registered set ``name``."""
    return f"{name}{DRAW_TAG}{int(seed)}"


def split_draw(name: str) -> tuple[str, int | None]:
    """``("K3_C5", 2)`` for ``"K3_C5@draw=2"``; ``(name, None)`` for a name without a draw.

    Raises :class:`UnknownNameError` when the part after ``@draw=`` is not an integer >= 1."""
    if DRAW_TAG not in name:
        return name, None
    base, _, seed = name.partition(DRAW_TAG)
    if not seed.isdigit() or int(seed) < 1:
        raise UnknownNameError(f"dataset {name!r}: the draw must be an integer >= 1 after "
                               f"{DRAW_TAG!r} (draw 0 is {base!r} itself)")
    return base, int(seed)


def get_dataset(name: str) -> DatasetSpec:
    """The :class:`DatasetSpec` registered as ``name`` (:class:`UnknownNameError` if none).

    ``NAME@draw=S`` gives a spec derived from ``NAME``'s: the same K, family, version and
    oracle, its data generated with generator seed ``S`` (``DatasetSpec.draw``); such names are
    valid wherever a dataset name is, but are not listed among the registered sets."""
    base_name, seed = split_draw(name)
    base = _get(DATASETS, "dataset", base_name)
    if seed is None:
        return base
    if base.draw is None:
        with_draws = sorted(n for n, s in DATASETS.items() if s.draw is not None)
        raise UnknownNameError(f"dataset {name!r}: {base_name!r} has no generator draws; the "
                               f"sets with draws are {', '.join(with_draws) or 'none'}")
    if name not in _DRAW_SPECS:
        from dataclasses import replace
        from functools import partial

        _DRAW_SPECS[name] = replace(
            base, name=name, load=partial(base.draw, seed=seed),
            description=f"{base.description} (generator draw {seed})", generate=None,
            draw=None, paper_stats=None)
    return _DRAW_SPECS[name]


def get_method(name: str) -> type:
    """The class registered as ``name``; its defaults under that name, presets and version are
    in :func:`get_method_info` (``lal-ensemble`` is :class:`LAL` with other defaults)."""
    return _get(METHODS, "method", name).cls


def get_method_info(name: str) -> MethodInfo:
    """The :class:`MethodInfo` of the method registered as ``name``."""
    return _get(METHODS, "method", name)


def get_metric(name: str) -> MetricSpec:
    return _get(METRICS, "metric", name)
