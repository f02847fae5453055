"""A fresh quick run of the deterministic cheap methods must reproduce the committed reference
numbers (leaderboard/ci_reference.csv) within the regress tolerance. The gate on the committed
leaderboard's own numbers is `make regress` (tests/test_regress_ci.py, docs/harness.md)."""

from pathlib import Path

import pandas as pd

from benchmark.harness.cli import main

REPO = Path(__file__).resolve().parent.parent
REFERENCE = REPO / "leaderboard" / "ci_reference.csv"
CI_METHODS = "random,histogram-kmeans"
CI_DATASETS = "poisson_mixture"


def test_quick_run_matches_committed_reference(tmp_path, cache_dir):
    res = tmp_path / "res"
    assert main(["run", "--methods", CI_METHODS, "--datasets", CI_DATASETS, "--seeds", "0", "1",
                 "--results-dir", str(res), "--no-progress"]) == 0
    assert main(["regress", "--reference", str(REFERENCE), "--results-dir", str(res),
                 "--no-cost", "--tol", "0.02"]) == 0
    compared = pd.read_csv(REFERENCE)
    assert {"purity", "ari", "roc_auc"} <= set(compared.metric)
