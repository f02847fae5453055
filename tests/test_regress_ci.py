"""`make regress` (``python -m benchmark regress --committed DIR --sample FILE``) on a tiny
committed results directory: an identical rerun passes, a tampered committed value fails naming
the cell, the self-comparison pitfall of ``--reference X/results.csv --results-dir X`` is closed,
and the cost tolerance flags 5x growth at every scale. Also checks the committed sample file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

import tests.harness_methods  # noqa: F401  (registers the tiny test datasets)
from benchmark.harness.cli import main
from benchmark.harness.regress import (
    COST_FAIL_FACTOR,
    SampleCell,
    compare,
    compare_values,
    cost_floor,
    cost_grew,
    diff_table,
    estimate_wall_s,
    find_cells,
    load_sample,
)

REPO = Path(__file__).resolve().parent.parent
CELLS = [("histogram-kmeans", "test_tiny", 0), ("random", "test_tiny", 0)]
SAMPLE = "".join(f'[[cell]]\nmethod = "{m}"\ndataset = "{d}"\nseed = {s}\nprofile = "quick"\n\n'
                 for m, d, s in CELLS)


@pytest.fixture(scope="module")
def tiny_committed(tmp_path_factory):
    """A committed-like results directory: two quick runs on test_tiny and their report
    (results.csv, per_seed.csv) written beside the runs, as in leaderboard/."""
    root = tmp_path_factory.mktemp("committed")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EVSEQ_CACHE_DIR", str(root / "cache"))
        res = root / "lb"
        assert main(["run", "--methods", "histogram-kmeans,random", "--datasets", "test_tiny",
                     "--seeds", "0", "--results-dir", str(res), "--no-progress"]) == 0
        assert main(["report", "--results-dir", str(res), "--out", str(res)]) == 0
    (root / "sample.toml").write_text(SAMPLE)
    return res, root / "sample.toml"


@pytest.fixture
def committed(tiny_committed, tmp_path, cache_dir):
    """A private copy of the tiny committed directory (tests tamper with it) and the sample."""
    res, sample = tiny_committed
    copy = tmp_path / "lb"
    shutil.copytree(res, copy)
    return copy, sample


def regress(committed: Path, sample: Path, tmp_path: Path, *extra: str) -> int:
    return main(["regress", "--committed", str(committed), "--sample", str(sample),
                 "--results-dir", str(tmp_path / "rerun"), "--jobs", "1", *extra])


def _raise_purity(lb: Path, method: str, by: float = 0.3) -> tuple[float, float]:
    """Raise ``method``'s committed purity by ``by`` in per_seed.csv and results.csv."""
    per_seed = pd.read_csv(lb / "per_seed.csv")
    hit = per_seed.method == method
    old = float(per_seed.loc[hit, "purity"].iloc[0])
    per_seed.loc[hit, "purity"] += by
    per_seed.to_csv(lb / "per_seed.csv", index=False)
    table = pd.read_csv(lb / "results.csv")
    table.loc[(table.method == method) & (table.metric == "purity"), "mean"] += by
    table.to_csv(lb / "results.csv", index=False)
    return old, old + by


def test_identical_rerun_passes(committed, tmp_path, capsys):
    lb, sample = committed
    before = {p: p.read_bytes() for p in lb.rglob("*") if p.is_file()}
    assert regress(lb, sample, tmp_path) == 0
    out = capsys.readouterr().out
    assert "tables: " in out and "match the report rebuilt from the committed runs" in out
    assert out.count("value(s) within tolerance, labels identical") == 2
    assert "labels identical in 2/2" in out and "0 failure(s), 0 warning(s)" in out
    assert {p: p.read_bytes() for p in lb.rglob("*") if p.is_file()} == before  # nothing written
    assert len(list((tmp_path / "rerun").glob("*/runs/*/test_tiny/seed0-*/metrics.json"))) == 2


def test_raised_committed_purity_fails_naming_the_cell(committed, tmp_path, capsys):
    lb, sample = committed
    old, raised = _raise_purity(lb, "histogram-kmeans")
    assert regress(lb, sample, tmp_path) == 1
    out = capsys.readouterr().out
    # the rerun against the published per-seed value: method, dataset, seed, metric, old, new
    assert (f"REGRESSION  histogram-kmeans on test_tiny seed 0: purity committed {raised:.10g} "
            f"now {old:.10g}") in out
    # the tables no longer match what `report` rebuilds from the runs, row named
    assert ("REGRESSION  table results.csv: method=histogram-kmeans, dataset=test_tiny, "
            "metric=purity: mean committed") in out
    assert ("REGRESSION  table per_seed.csv: method=histogram-kmeans, dataset=test_tiny, seed=0, "
            "profile=quick: purity committed") in out
    assert "random on test_tiny seed 0: purity" not in out  # the untouched cell passes


def test_tampered_metrics_json_fails(committed, tmp_path, capsys):
    lb, sample = committed
    (mfile,) = lb.glob("runs/random/test_tiny/seed0-*/metrics.json")
    values = json.loads(mfile.read_text())
    mfile.write_text(json.dumps(dict(values, ari=values["ari"] + 0.3)))
    assert regress(lb, sample, tmp_path) == 1
    out = capsys.readouterr().out
    assert "REGRESSION  random on test_tiny seed 0: ari committed" in out
    assert "table per_seed.csv: method=random, dataset=test_tiny, seed=0, profile=quick: ari" in out


def test_committed_run_no_longer_found_fails(committed, tmp_path, capsys):
    lb, sample = committed
    (rfile,) = lb.glob("runs/random/test_tiny/seed0-*/record.json")
    rec = json.loads(rfile.read_text())
    rfile.write_text(json.dumps(dict(rec, key="0" * 64)))
    assert regress(lb, sample, tmp_path) == 1
    assert "random on test_tiny seed 0: committed run seed0-" in capsys.readouterr().out


def test_sample_cell_without_committed_run_fails(committed, tmp_path, capsys):
    lb, _ = committed
    bad = tmp_path / "bad.toml"
    bad.write_text(SAMPLE + '[[cell]]\nmethod = "random"\ndataset = "test_tiny"\nseed = 7\n'
                   'profile = "quick"\n')
    assert regress(lb, bad, tmp_path) == 1
    assert "random on test_tiny seed 7: no committed run" in capsys.readouterr().out


def test_tables_only_and_reruns_never_inside_committed(committed, tmp_path, capsys):
    lb, sample = committed
    assert main(["regress", "--committed", str(lb)]) == 0
    assert main(["regress", "--committed", str(lb), "--sample", str(sample),
                 "--results-dir", str(lb / "rerun")]) == 2
    assert "inside the committed directory" in capsys.readouterr().err
    assert not (lb / "rerun").exists()


def test_self_comparison_of_a_tampered_results_dir_fails(committed, capsys):
    lb, _ = committed
    args = ["regress", "--reference", str(lb / "results.csv"), "--results-dir", str(lb),
            "--no-cost"]
    assert main(args) == 0
    _raise_purity(lb, "histogram-kmeans")
    tampered = (lb / "results.csv").read_bytes()
    assert main(args) == 1  # the runs say otherwise: the reference is not rewritten first
    assert "REGRESSION  histogram-kmeans on test_tiny: purity" in capsys.readouterr().out
    assert (lb / "results.csv").read_bytes() == tampered


@pytest.mark.parametrize("old", [0.01, 100.0])
def test_time_tolerance_flags_5x_growth_at_every_scale(old):
    floor = cost_floor("wall_time_s")
    assert cost_grew(old, 5 * old, COST_FAIL_FACTOR, floor)
    assert not cost_grew(old, 1.5 * old, COST_FAIL_FACTOR, floor)
    cell = SampleCell("m", "d", 0)
    levels = {f.metric: f.level for f in compare_values(
        cell, {"wall_time_s": old, "cpu_time_s": old, "seconds_per_em_epoch": old},
        {"wall_time_s": 5 * old, "cpu_time_s": 1.5 * old, "seconds_per_em_epoch": 3 * old})}
    assert levels == {"wall_time_s": "FAIL", "cpu_time_s": "ok", "seconds_per_em_epoch": "WARN"}
    # the results-table comparison uses the same rule (it used to allow 3 x ref + 1 s)
    ref = pd.DataFrame({"method": ["m"], "dataset": ["d"], "metric": ["wall_time_s"],
                        "mean": [old], "std": [0.0], "n_seeds": [1]})
    assert len(compare(ref, ref.assign(mean=5 * old), cost_factor=5.0)[0]) == 1
    assert len(compare(ref, ref.assign(mean=1.5 * old), cost_factor=5.0)[0]) == 0


def test_timer_noise_below_the_floor_is_not_growth():
    # a 0.4 ms run taking 3 ms: 7.5x, but 2.6 ms is timer noise
    assert not cost_grew(0.0004, 0.003, COST_FAIL_FACTOR, cost_floor("cpu_time_s"))
    assert cost_grew(200.0, 1000.0, COST_FAIL_FACTOR, cost_floor("peak_rss_mb"))


def test_quality_tolerance_is_absolute_1e6():
    cell = SampleCell("m", "d", 0)
    found = {f.metric: f.level for f in compare_values(
        cell, {"purity": 0.5, "ari": 0.5, "bic": 1e5, "nmi": 0.2},
        {"purity": 0.5 + 5e-7, "ari": 0.5 + 2e-6, "bic": 1e5 + 0.05})}
    assert found == {"purity": "ok", "ari": "FAIL", "bic": "ok", "nmi": "FAIL"}  # nmi: missing


def test_diff_table_names_rows():
    a = "method,dataset,metric,mean\nm,d,purity,0.5\nm,d,ari,0.1\n"
    b = "method,dataset,metric,mean\nm,d,purity,0.8\nm,e,ari,0.1\n"
    lines = diff_table("results.csv", a, b, 3)
    where = "results.csv: method=m, dataset="
    assert f"{where}d, metric=purity: mean committed 0.5 rebuilt 0.8" in lines
    assert f"{where}d, metric=ari: row only in the committed file" in lines
    assert f"{where}e, metric=ari: row missing from the committed file" in lines
    assert diff_table("results.csv", a, a, 3) == []


def test_committed_sample_covers_every_deterministic_method_within_budget():
    """leaderboard/regress_sample.toml: every cell is a committed CPU cell of the board, every
    deterministic method has one, and the committed runs' cost fits the budget on 2 jobs."""
    sample = load_sample(REPO / "leaderboard" / "regress_sample.toml")
    assert {c.method for c in sample.cells} >= set(sample.deterministic_methods)
    found = find_cells(sample, REPO / "leaderboard")
    problems = {str(c): hit for c, hit in found.items() if isinstance(hit, str)}
    assert not problems, problems
    costs = [rec["process_wall_time_s"] for _, rec in found.values()]
    assert sample.budget_s and estimate_wall_s(costs, 2) <= 0.9 * sample.budget_s
