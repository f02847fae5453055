"""Every method in ``baselines/`` keeps the contract of :mod:`benchmark.core.method`.

Parameters are scikit-learn parameters (``get_params``, ``set_params``, ``clone``, ``repr`` from
``BaseEstimator``), each declared in ``_parameter_constraints`` and validated when ``fit`` starts
(scikit-learn's ``InvalidParameterError``, naming the parameter), never in ``__init__``; the
registry's :class:`~benchmark.core.registry.MethodInfo` agrees with the class; ``lal-ensemble``
is LAL registered with other defaults. Nothing here fits a model: validation comes first.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError, make_constraint

from benchmark.core.method import Clusterer
from benchmark.core.registry import METHODS, MethodInfo, discover, get_method, get_method_info
from benchmark.core.sequences import EventSequences

REPO = Path(__file__).resolve().parent.parent
LEADERBOARD = REPO / "leaderboard"


def _baseline_names() -> list[str]:
    discover()
    return sorted(n for n, info in METHODS.items() if info.cls.__module__.startswith("baselines."))


NAMES = _baseline_names()
#: candidate invalid values; for each parameter the first that no constraint accepts is used
INVALID_CANDIDATES = (-1, -0.5, "not-an-option", object())


@pytest.fixture(scope="module")
def seqs() -> EventSequences:
    times = [[0.1, 0.5, 1.2], [0.3, 0.9], [0.2, 0.4, 2.0, 2.5], [1.0, 1.5], [0.7, 1.1, 1.9]]
    types = [[0, 1, 0], [1, 1], [0, 0, 1, 1], [1, 0], [0, 1, 1]]
    return EventSequences.from_lists(times, types, n_types=2)


def _profile_params(info: MethodInfo, profile: str) -> dict:
    """What the harness would pass for ``profile`` (K = 3 where the method needs it)."""
    params = {**info.defaults, **info.presets[profile]}
    if info.needs_n_clusters:
        params["n_clusters"] = 3
    return params


def _invalid_value(constraints: list):
    for value in INVALID_CANDIDATES:
        if not any(make_constraint(c).is_satisfied_by(value) for c in constraints):
            return value
    raise AssertionError(f"no invalid candidate for constraints {constraints}")


@lru_cache(maxsize=1)
def _committed_params() -> dict[str, list[tuple[str, dict]]]:
    """Parameters of every committed leaderboard run (variants included), per method."""
    out: dict[str, list[tuple[str, dict]]] = {}
    for f in sorted(LEADERBOARD.glob("**/record.json")):
        rec = json.loads(f.read_text())
        out.setdefault(rec["method"], []).append((str(f.relative_to(LEADERBOARD)), rec["params"]))
    return out


def test_every_baseline_is_covered():
    assert len(NAMES) >= 13 and {"lal", "lal-ensemble", "random"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_constraints_declared_for_every_parameter(name):
    info = get_method_info(name)
    assert issubclass(info.cls, Clusterer)
    assert set(info.cls._parameter_constraints) == set(info.param_names), (
        "declare exactly the __init__ parameters in _parameter_constraints")


@pytest.mark.parametrize("name", NAMES)
def test_defaults_presets_and_committed_runs_are_valid(name):
    """The defaults, both profiles and the parameters of every committed run pass validation."""
    info = get_method_info(name)
    info.create()._validate_params()
    for profile in ("quick", "paper"):
        info.create(**_profile_params(info, profile))._validate_params()
    for where, params in _committed_params().get(name, []):
        try:
            info.create(**{**info.unkeyed_defaults, **params})._validate_params()
        except InvalidParameterError as e:
            pytest.fail(f"committed run {where} no longer validates: {e}")


@pytest.mark.parametrize("name", NAMES)
def test_clone_round_trips_the_parameters(name):
    info = get_method_info(name)
    for params in (info.defaults, _profile_params(info, "quick"), _profile_params(info, "paper")):
        model = info.create(**params)
        copy = clone(model)
        assert copy is not model and type(copy) is info.cls
        assert copy.get_params() == model.get_params() == params


@pytest.mark.parametrize("name", NAMES)
def test_set_params_and_repr(name):
    info = get_method_info(name)
    model = info.create()
    assert model.set_params(seed=7) is model and model.get_params()["seed"] == 7
    text = repr(model)
    assert text.startswith(f"{info.cls.__name__}(") and "seed=7" in text
    with pytest.raises(ValueError, match="no_such_parameter"):
        model.set_params(no_such_parameter=1)


@pytest.mark.parametrize("name", NAMES)
def test_invalid_values_raise_at_fit_naming_the_parameter(name, seqs):
    """Every parameter gets a value its constraints reject: ``__init__`` accepts it (no work
    there), ``fit`` raises scikit-learn's InvalidParameterError naming that parameter."""
    info = get_method_info(name)
    for param, constraints in info.cls._parameter_constraints.items():
        bad = _invalid_value(constraints)
        model = info.create(**{param: bad})
        with pytest.raises(InvalidParameterError, match=f"'{param}' parameter of"):
            model.fit(seqs)


@pytest.mark.parametrize("name", NAMES)
def test_registry_info_agrees_with_the_class(name):
    info = get_method_info(name)
    cls = info.cls
    assert info.name == name and get_method(name) is cls and METHODS[name] is info
    assert isinstance(info.version, str) and info.version
    assert list(info.defaults) == cls.param_names()
    assert {"quick", "paper"} <= set(info.presets)
    for preset in info.presets.values():
        assert set(preset) <= set(info.param_names)
    assert set(info.unkeyed_defaults) <= set(info.param_names)
    assert info.outputs and set(info.outputs) <= {"labels", "embeddings"}
    assert info.outputs == tuple(cls.outputs)  # the harness validates outputs by the class
    assert info.needs_n_clusters == cls.needs_n_clusters
    assert not info.needs_n_clusters or "n_clusters" in info.defaults
    assert info.requires == tuple(cls.requires) and info.paper
    assert "seed" in info.defaults
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.version = "x"


def test_importing_each_module_registers_its_name():
    """The method's process imports only ``info.module``; that import must register the name."""
    pairs = [(n, get_method_info(n).module) for n in NAMES]
    code = ("import importlib, sys\n"
            "from benchmark.core.registry import METHODS\n"
            f"for name, module in {pairs!r}:\n"
            "    importlib.import_module(module)\n"
            "    assert name in METHODS, (name, module)\n")
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=300)


def test_lal_ensemble_is_lal_with_other_defaults():
    import baselines.lal_ensemble as ensemble_module
    from baselines.lal import LAL
    from baselines.lal_ensemble import ENSEMBLE_DEFAULTS

    lal, ens = get_method_info("lal"), get_method_info("lal-ensemble")
    assert ens.cls is LAL and lal.cls is LAL and LAL.name == "lal"
    assert not [v for v in vars(ensemble_module).values()
                if inspect.isclass(v) and issubclass(v, Clusterer) and v is not LAL]
    assert "__signature__" not in vars(LAL.__init__)
    assert ens.module == "baselines.lal_ensemble" and lal.module == "baselines.lal"
    assert ens.defaults == {**LAL.default_params(), **ENSEMBLE_DEFAULTS}
    assert ENSEMBLE_DEFAULTS == {"n_ensemble": 20, "n_em_epochs": 20, "n_m_epochs": 5,
                                 "n_prune_epochs": 4, "hidden_size": 32,
                                 "max_computation_size": 600}
    # the run keys of the committed lal-ensemble runs depend on these: change none of them
    assert (ens.version, ens.unkeyed_defaults) == (lal.version, lal.unkeyed_defaults) == (
        "2", {"m_step_pairs": "all", "cluster_scale": False})
    assert ens.presets == {
        "quick": {"n_ensemble": 3, "n_em_epochs": 6, "n_m_epochs": 2, "n_prune_epochs": 2,
                  "max_computation_size": 300, "batch_size": 100},
        "paper": ENSEMBLE_DEFAULTS,
    }
    assert ens.paper.startswith(lal.paper) and "Table 7" in ens.paper
    assert (ens.outputs, ens.needs_n_clusters, ens.requires) == (
        lal.outputs, lal.needs_n_clusters, lal.requires)


def test_the_worker_instantiates_lal_with_the_resolved_parameters():
    from benchmark.harness.runner import resolve_params

    for profile in ("quick", "paper"):
        params = resolve_params("lal-ensemble", profile, 3, None)
        model = METHODS["lal-ensemble"].create(**params)  # what the worker does
        assert type(model).__name__ == "LAL" and model.get_params() == params
        assert params["n_ensemble"] == (3 if profile == "quick" else 20)


def test_register_method_rejects_unknown_names():
    from benchmark.core.registry import register_method

    class Tiny(Clusterer):
        def __init__(self, seed: int = 0) -> None:
            self.seed = seed

    for kwargs in ({"defaults": {"nope": 1}}, {"presets": {"quick": {"nope": 1}}},
                   {"unkeyed_defaults": {"nope": 1}}):
        with pytest.raises(ValueError, match="nope"):
            register_method("test-contract-tiny", **kwargs)(Tiny)
    assert "test-contract-tiny" not in METHODS


def test_validation_needs_no_fit_work(seqs):
    """An invalid value is reported before the method touches the data (here: not even
    EventSequences), so a bad ``--param`` fails in milliseconds."""
    for name in NAMES:
        info = get_method_info(name)
        param = next(iter(info.cls._parameter_constraints))
        bad = _invalid_value(info.cls._parameter_constraints[param])
        with pytest.raises(InvalidParameterError):
            info.create(**{param: bad}).fit(np.zeros(3))
