"""`python -m benchmark compare`: variant runs paired with baseline runs by method, dataset, seed."""

import json
import math

import numpy as np
import pytest

from benchmark.harness.cli import main
from benchmark.harness.paired import compare, format_summary


def write_run(results, method, dataset, seed, purity, n_clusters, key="k0", **extra):
    run = results / "runs" / method / dataset / f"seed{seed}-{key}"
    run.mkdir(parents=True)
    (run / "record.json").write_text(json.dumps({
        "status": "ok", "method": method, "dataset": dataset, "seed": seed, "profile": "paper",
        "finished_at": "2026-12-01T00:00:00"}))
    (run / "metrics.json").write_text(json.dumps(
        {"purity": purity, "n_clusters_found": n_clusters, "cpu_time_s": 10.0 + seed, **extra}))


@pytest.fixture
def dirs(tmp_path):
    variant, baseline = tmp_path / "variant", tmp_path / "baseline"
    # K2_C5: seeds 0, 1 paired; baseline has seed 2 too (in its all-seeds mean only)
    write_run(variant, "lal", "K2_C5", 0, 0.99, 2)
    write_run(variant, "lal", "K2_C5", 1, 0.80, 3)
    write_run(baseline, "lal", "K2_C5", 0, 0.90, 2)
    write_run(baseline, "lal", "K2_C5", 1, 0.80, 2)
    write_run(baseline, "lal", "K2_C5", 2, 0.40, 2)
    # K3_C5: one pair, the variant worse; a variant seed without a baseline run is left out
    write_run(variant, "lal", "K3_C5", 0, 0.50, 2)
    write_run(variant, "lal", "K3_C5", 4, 0.99, 3)
    write_run(baseline, "lal", "K3_C5", 0, 0.86, 3)
    # another method in the baseline only: not paired
    write_run(baseline, "dmhp", "K2_C5", 0, 1.0, 2)
    return variant, baseline


def test_pairs_only_same_method_dataset_seed(dirs):
    s = compare(*dirs)
    assert [(r["method"], r["dataset"], r["seeds"]) for r in s.rows] == [
        ("lal", "K2_C5", [0, 1]), ("lal", "K3_C5", [0])]
    np.testing.assert_allclose(sorted(s.diffs), sorted([0.09, 0.0, -0.36]))
    assert (s.better, s.worse, s.equal) == (1, 1, 1)
    k2 = s.rows[0]
    assert k2["baseline_all_n"] == 3 and k2["baseline_all_mean"] == pytest.approx(0.7)
    assert [f.n_clusters for f in k2["variant"]] == [2, 3]


def test_counts_runs_at_the_paper_per_seed(dirs):
    s = compare(*dirs)  # Table 4's LAL: K2_C5 0.97, K3_C5 0.85
    assert s.rows[0]["paper"] == 0.97 and s.rows[1]["paper"] == 0.85
    assert s.per_seed == {0: (2, 1, 1), 1: (1, 0, 0)}
    text = format_summary(s)
    assert "0.990(2) 0.800(3)" in text and "0.700 (3)" in text
    assert "at or past it: variant 1, baseline 1" in text
    assert "better 1, worse 1" in text


def test_paper_row_of_another_method_and_lower_is_better(dirs):
    variant, baseline = dirs
    write_run(variant, "plsa-em", "K2_C5", 0, 0.98, 2)
    write_run(baseline, "plsa-em", "K2_C5", 0, 0.95, 2)
    s = compare(variant, baseline, methods=frozenset({"plsa-em"}))
    assert math.isnan(s.rows[0]["paper"])  # no paper row of its own
    s = compare(variant, baseline, methods=frozenset({"plsa-em"}),
                paper_method={"plsa-em": "lal"})
    assert s.rows[0]["paper"] == 0.97 and s.per_seed == {0: (1, 1, 0)}
    t = compare(variant, baseline, metric="cpu_time_s", methods=frozenset({"lal"}))
    assert np.all(t.diffs == 0)  # same seeds, same fake CPU time
    assert not t.higher_is_better


def test_cli_prints_the_table_and_fails_clearly(dirs, capsys, tmp_path):
    variant, baseline = dirs
    assert main(["compare", "--results-dir", str(variant), "--baseline-dir", str(baseline)]) == 0
    out = capsys.readouterr().out
    assert "K2_C5" in out and "paired over 3 run(s)" in out
    assert main(["compare", "--results-dir", str(tmp_path / "none"),
                 "--baseline-dir", str(baseline)]) == 2
    assert "no evaluated run" in capsys.readouterr().err
    assert main(["compare", "--results-dir", str(variant), "--baseline-dir", str(baseline),
                 "--metric", "n_clusters"]) == 2
    assert "not a ranked metric" in capsys.readouterr().err
    assert main(["compare", "--results-dir", str(variant), "--baseline-dir", str(baseline),
                 "--paper-method", "lal"]) == 2
    assert "METHOD=PAPER_ROW" in capsys.readouterr().err
    other = tmp_path / "other"
    write_run(other, "thp", "K2_C5", 0, 0.9, 2)
    assert main(["compare", "--results-dir", str(other), "--baseline-dir", str(variant)]) == 2
    assert "same method, dataset and seed" in capsys.readouterr().err
