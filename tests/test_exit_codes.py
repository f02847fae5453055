"""Exit codes that tell the truth: skipped, failed and unloadable runs are non-zero; missing
results directories and OS errors are one line ``error: ...`` with exit code 2; out-of-range or
non-integer event types are errors."""

import numpy as np
import pandas as pd
import pytest

import tests.harness_methods  # noqa: F401  (registers test methods and datasets)
from benchmark.core import convert
from benchmark.core.dataset import Dataset, DatasetUnavailable
from benchmark.core.method import Clusterer
from benchmark.core.registry import (
    DATASETS,
    METHODS,
    discover,
    register_dataset,
    register_method,
)
from benchmark.core.sequences import SequenceValidationError
from benchmark.harness.cli import main
from generators.poisson_mixture import simulate_poisson_mixture
from loaders._fetch import DataFormatError

QUICK = ["--seeds", "0", "--no-progress", "--no-evaluate", "--no-probe"]


class NeedsDependency(Clusterer):
    requires = ("no_such_module_for_tests",)

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed


def _unavailable(ctx):
    raise DatasetUnavailable("dataset test_unavailable: raw file x.csv is absent")


def _malformed(ctx):
    raise DataFormatError("x.csv: line 3: column 'time' is 'abc', expected a finite number")


def _unlabelled(ctx):
    return Dataset(simulate_poisson_mixture(n_per_cluster=10, n_clusters=2, seed=1).sequences)


@pytest.fixture
def registered():
    """Datasets that are unavailable, malformed or unlabelled and a method missing a dependency;
    unregistered afterwards."""
    discover()
    names = {"test_unavailable": _unavailable, "test_malformed": _malformed,
             "test_unlabelled": _unlabelled}
    for name, fn in names.items():
        register_dataset(name, kind="real")(fn)
    register_method("test-needs-dep")(NeedsDependency)
    yield
    for name in names:
        DATASETS.pop(name)
    METHODS.pop("test-needs-dep")


def run(tmp_path, *args):
    return main(["run", "--results-dir", str(tmp_path / "res"), *QUICK, *args])


def test_missing_dataset_and_dependency_fail_unless_allowed(tmp_path, cache_dir, capsys, registered):
    args = ["--methods", "random,test-needs-dep", "--datasets", "test_tiny,test_unavailable"]
    assert run(tmp_path, *args) == 1
    out = capsys.readouterr().out
    assert "1/4 runs ok, 0 failed, 3 skipped (2 dataset unavailable, 1 missing dependency)" in out
    assert ("skipped dataset test_unavailable: dataset unavailable: dataset test_unavailable: "
            "raw file x.csv is absent\n") in out
    assert "skipped test-needs-dep on test_tiny: missing dependency: no_such_module_for_tests" in out
    assert "exit status 1 unless --allow-missing" in out
    assert run(tmp_path, *args, "--allow-missing") == 0
    out = capsys.readouterr().out
    assert "skipped dataset test_unavailable" in out and "unless --allow-missing" not in out


def test_malformed_dataset_fails_even_with_allow_missing(tmp_path, cache_dir, capsys, registered):
    assert run(tmp_path, "--methods", "random", "--datasets", "test_malformed",
               "--allow-missing") == 1
    out = capsys.readouterr().out
    assert "0/1 runs ok, 0 failed, 1 skipped (1 dataset could not be loaded)" in out
    assert "skipped dataset test_malformed: dataset could not be loaded: x.csv: line 3" in out


def test_skip_chosen_with_unlabelled_k_0_is_not_an_error(tmp_path, cache_dir, capsys, registered):
    assert run(tmp_path, "--methods", "random", "--datasets", "test_unlabelled",
               "--unlabelled-k", "0") == 0
    assert "skipped random on test_unlabelled: method needs the number of clusters" in \
        capsys.readouterr().out


def test_failed_run_is_non_zero(tmp_path, cache_dir, capsys):
    assert run(tmp_path, "--methods", "test-crash", "--datasets", "test_tiny",
               "--allow-missing") == 1
    out = capsys.readouterr().out
    assert "0/1 runs ok, 1 failed, 0 skipped" in out
    assert "failed  test-crash on test_tiny seed 0: RuntimeError: deliberate crash" in out


def _one_error_line(capsys, *parts):
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert all(p in err for p in parts), err


@pytest.mark.parametrize("cmd", [["evaluate"], ["report", "--out", "LB"], ["regress"]])
def test_missing_results_dir_is_an_error(tmp_path, cache_dir, capsys, cmd):
    cmd = [str(tmp_path / "lb") if a == "LB" else a for a in cmd]
    assert main([*cmd, "--results-dir", str(tmp_path / "nope")]) == 2
    _one_error_line(capsys, f"results directory {tmp_path / 'nope'} does not exist")
    (tmp_path / "empty").mkdir()
    assert main([*cmd, "--results-dir", str(tmp_path / "empty")]) == 2
    _one_error_line(capsys, "has no runs/ folder")
    assert not (tmp_path / "nope").exists() and not (tmp_path / "lb").exists()


def test_os_errors_are_one_line(tmp_path, cache_dir, capsys):
    (tmp_path / "res" / "runs").mkdir(parents=True)
    (tmp_path / "file").write_text("")
    assert main(["report", "--results-dir", str(tmp_path / "res"),
                 "--out", str(tmp_path / "file" / "lb")]) == 2
    _one_error_line(capsys, f"error: Not a directory: {tmp_path / 'file' / 'lb'}")
    assert main(["run", "--methods", "random", "--datasets", "test_tiny", *QUICK,
                 "--results-dir", str(tmp_path / "file" / "res")]) == 2
    _one_error_line(capsys, "error: Not a directory: ", str(tmp_path / "file"))
    assert main(["run", "--methods", "random", "--datasets", "test_tiny", *QUICK,
                 "--results-dir", str(tmp_path / "res"),
                 "--cache-dir", str(tmp_path / "file" / "cache")]) == 2
    _one_error_line(capsys, "error: Not a directory: ", str(tmp_path / "file" / "cache"))


@pytest.mark.parametrize("types, n_types, message", [
    ([0, 3], 3, r"row 1 \(sequence 'b'\): column 'type' is 3, expected an integer event type "
                r"in \[0, 3\)"),
    ([0.0, 1.5], None, r"row 1 \(sequence 'b'\): column 'type' is 1\.5, expected a non-negative"),
    ([0.0, -1.0], None, r"column 'type' is -1\.0"),
    ([0, -1], 2, r"column 'type' is -1, expected an integer event type in \[0, 2\)"),
    ([0.0, np.nan], 2, r"column 'type' is nan"),
    (["a", "b"], None, r"column 'type' must hold integer event types"),
])
def test_from_pandas_rejects_bad_types(types, n_types, message):
    df = pd.DataFrame({"seq_id": ["a", "b"], "time": [0.0, 1.0], "type": types})
    with pytest.raises(SequenceValidationError, match=message):
        convert.from_pandas(df, n_types=n_types)


def test_from_pandas_accepts_whole_float_types():
    df = pd.DataFrame({"seq_id": ["a", "b"], "time": [0.0, 1.0], "type": [0.0, 2.0]})
    s = convert.from_pandas(df)
    assert s.types.tolist() == [0, 2] and s.n_types == 3


def test_usage_errors_are_one_line(cache_dir, capsys):
    assert main(["run", "--methods", "random"]) == 2
    _one_error_line(capsys, "error: choose --all, or --methods and --datasets")
    assert main(["run", "--methods", "random", "--datasets", "test_tiny", "--param", "x=1"]) == 2
    _one_error_line(capsys, "error: --param expects METHOD.NAME=VALUE, got 'x=1'")
