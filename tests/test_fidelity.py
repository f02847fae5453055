"""The board's FIDELITY section (benchmark/harness/fidelity.py) and one device per board row
(a GPU run and a CPU run of the same cell are two rows, never one averaged cell)."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ttest_1samp

from benchmark.harness import fidelity
from benchmark.harness.evaluate import base_method, board_method, chosen_runs, run_device
from benchmark.harness.fidelity import (
    fidelity_table,
    markdown_section,
    p_value,
    reason_for,
    summary,
    verdict,
)


# ----------------------------------------------------------------------------- pure functions
def test_verdict_tolerance_test_and_sign():
    assert verdict(0.02, 0.0) == "reproduced"  # within the tolerance whatever the test says
    assert verdict(-0.019, 1e-9) == "reproduced"
    assert verdict(0.3, 0.2) == "reproduced"  # the test does not reject equality
    assert verdict(0.3, 0.05) == "reproduced"
    assert verdict(0.3, 0.049) == "above"
    assert verdict(-0.3, 0.001) == "below"
    assert verdict(-0.05, None) == "below"  # one seed: no test, the difference decides
    assert verdict(0.01, None) == "reproduced"


def test_p_value_is_the_one_sample_t_test():
    v = [0.61, 0.55, 0.70, 0.58]
    assert p_value(v, 0.80) == pytest.approx(ttest_1samp(v, 0.80).pvalue)
    assert p_value(v, float(np.mean(v))) == pytest.approx(1.0)
    assert p_value([0.5], 0.8) is None and p_value([], 0.8) is None
    # no spread: the test's limit, without warnings
    assert p_value([0.998, 0.998, 0.998], 1.0) == 0.0
    assert p_value([1.0, 1.0], 1.0) == 1.0


def test_reasons_table_first_then_method():
    assert "splits long from short sequences" in reason_for("tslearn-kmeans", "Table 4/5")
    assert "docs/tslearn_tsfresh.md" in reason_for("tslearn-kshape", "Table 8")
    assert "docs/lal.md#purity-investigation" in reason_for("lal", "Table 4/5")
    assert "CatBoost probe" in reason_for("lal", "Table 9")  # (lal, Table 9) overrides lal
    assert reason_for("histogram-kmeans", "Table 4/5") == ""
    assert reason_for("x", "Table 9", {("x", "Table 9"): "a", "x": "b"}) == "a"
    assert reason_for("x", "Table 4/5", {("x", "Table 9"): "a", "x": "b"}) == "b"


def test_data_notes_say_how_our_data_differ():
    notes = fidelity.DATA_NOTES
    assert "800" in notes["Amazon"] and "7523" in notes["Amazon"]
    assert "1473" in notes["IPTV"] and "302" in notes["IPTV"]
    assert "not shipped" in notes["Age"]
    assert "LinkedIn" not in notes  # same size as the paper's (Table 1)


# ---------------------------------------------------------------------- the table on small data
def _per_seed(rows):
    return pd.DataFrame(rows, columns=["method", "dataset", "seed", "profile", "run", "purity",
                                       "roc_auc"])


@pytest.fixture
def small():
    rows = []
    for s, (cpu, gpu) in enumerate([(0.55, 0.886), (0.56, 0.918), (0.57, np.nan)]):
        rows.append(["thp", "K2_C5", s, "paper", f"r{s}", cpu, np.nan])
        if not np.isnan(gpu):
            rows.append(["thp [gpu]", "K2_C5", s, "paper", f"g{s}", gpu, np.nan])
    rows += [["tslearn-kmeans", "K3_C5", s, "paper", "t", 0.51 + 0.001 * s, np.nan]
             for s in range(5)]
    rows += [["tsfresh-kmeans", "IPTV", s, "quick", "q", 0.36, 0.69 + 0.01 * s]
             for s in range(3)]
    rows.append(["lal", "IPTV", 0, "paper", "l", 0.346, 0.632])
    rows += [["dmhp", "K2_C5", s, "paper", "d", 0.998, np.nan] for s in range(5)]
    paper = pd.DataFrame(
        [["thp", "K2_C5", "purity", "1.00", "0.00", "Table 4/5"],
         ["tslearn-kmeans", "K3_C5", "purity", "0.80", "0.01", "Table 4/5"],
         ["dmhp", "K2_C5", "purity", "1.00", "0.00", "Table 4/5"],
         ["tsfresh-kmeans", "IPTV", "roc_auc", "0.924", "", "Table 9"],
         ["lal", "IPTV", "purity", "0.37", "", "Table 8"],
         ["lal", "Age", "purity", "0.34", "", "Table 8"],
         ["multimodal", "Amazon", "roc_auc", "0.538", "", "Table 9"],
         ["lal", "K2_C5", "wall_time_s", "2048", "", "Table 3"],
         ["lal", "K9", "purity", "—", "", "Table 4/5"]],  # not a number: skipped
        columns=["method", "dataset", "metric", "mean", "std", "source"])
    return _per_seed(rows), paper


def test_table_compares_each_device_row_separately(small):
    t = fidelity_table(*small).set_index(["row", "dataset", "metric"])
    cpu, gpu = t.loc[("thp", "K2_C5", "purity")], t.loc[("thp [gpu]", "K2_C5", "purity")]
    assert cpu["method"] == gpu["method"] == "thp"
    assert cpu["n_seeds"] == 3 and cpu["mean"] == pytest.approx(0.56)
    assert gpu["n_seeds"] == 2 and gpu["mean"] == pytest.approx(0.902)
    assert cpu["verdict"] == "below"  # -0.44, p < 0.05
    assert gpu["verdict"] == "reproduced"  # -0.10 on two seeds: p = 0.10, not rejected
    assert gpu["p_value"] == pytest.approx(ttest_1samp([0.886, 0.918], 1.0).pvalue)
    assert gpu["p_value"] > 0.05 and gpu["reason"] == ""
    assert cpu["p_value"] == pytest.approx(ttest_1samp([0.55, 0.56, 0.57], 1.0).pvalue)
    assert "not investigated" in cpu["reason"]


def test_table_verdicts_reasons_and_notes(small):
    t = fidelity_table(*small)
    assert list(t.columns) == fidelity.COLUMNS
    by = t.set_index(["row", "method", "dataset", "metric"])
    ts = by.loc[("tslearn-kmeans", "tslearn-kmeans", "K3_C5", "purity")]
    assert ts["verdict"] == "below" and "splits long from short" in ts["reason"]
    dm = by.loc[("dmhp", "dmhp", "K2_C5", "purity")]  # 0.998 vs 1.00: within the tolerance
    assert dm["verdict"] == "reproduced" and dm["reason"] == "" and dm["p_value"] == 0.0
    tf = by.loc[("tsfresh-kmeans", "tsfresh-kmeans", "IPTV", "roc_auc")]
    assert tf["verdict"] == "below" and "302" in tf["note"] and "quick profile" in tf["note"]
    assert tf["profile"] == "quick"
    lal = by.loc[("lal", "lal", "IPTV", "purity")]  # one seed: no test, -0.024 decides
    assert lal["n_seeds"] == 1 and math.isnan(lal["p_value"]) and lal["verdict"] == "below"
    age = by.loc[("", "lal", "Age", "purity")]
    assert age["verdict"] == "not run" and "not shipped" in age["note"]
    mm = by.loc[("", "multimodal", "Amazon", "roc_auc")]
    assert mm["verdict"] == "not run" and "not part of this suite" in mm["reason"]
    assert "800" in mm["note"]
    time = by.loc[("", "lal", "K2_C5", "wall_time_s")]  # no such column in per_seed
    assert time["verdict"] == "not run"
    assert "K9" not in set(t["dataset"])
    # quality before time; within quality by paper table
    assert list(dict.fromkeys(t["source"])) == ["Table 4/5", "Table 8", "Table 9", "Table 3"]


def test_summary_and_markdown(small):
    t = fidelity_table(*small)
    counts = summary(t)
    assert counts["purity"] == {"reproduced": 2, "above": 0, "below": 3, "not run": 1}
    assert counts["roc_auc"] == {"reproduced": 0, "above": 0, "below": 1, "not run": 1}
    md = "\n".join(markdown_section(t))
    assert md.startswith("## Fidelity")
    assert "`purity`: 6 comparison(s): reproduced 2, above 0, below 3, not run 1" in md
    assert "| lal | IPTV | 0.37 | 0.346 (1) | -0.024 | n/a | below |" in md
    assert "| thp [gpu] | K2_C5 | 1.00 ± 0.00 | 0.902 ± 0.023 (2) |" in md
    assert "[why](../docs/tslearn_tsfresh.md#measured-numbers)" in md
    assert "* **IPTV**: our IPTV is 1473 sequences" in md and "* **Age**:" in md
    assert "*data differ*" in md
    assert markdown_section(t.iloc[:0]) == []


def test_table_of_an_empty_board(small):
    _, paper = small
    t = fidelity_table(_per_seed([]), paper)
    assert set(t["verdict"]) == {"not run"}


def test_board_reads_the_committed_reference():
    from benchmark.harness.report import load_paper_reference

    paper = load_paper_reference()
    t = fidelity_table(_per_seed([]), paper)
    assert {"Table 3", "Table 4/5", "Table 7", "Table 8", "Table 9"} <= set(t["source"])
    assert len(t) == sum(1 for v in paper["mean"] if not math.isnan(fidelity._float(v)))


# ------------------------------------------------------------------ one device per board row
def test_run_device_from_the_record():
    assert run_device({"params": {"device": "cuda"}, "hardware": {"gpu": "H100"}}) == "gpu"
    assert run_device({"params": {"device": "cuda:1"}}) == "gpu"
    assert run_device({"params": {"device": "cpu"}, "hardware": {"gpu": "H100"}}) == "cpu"
    assert run_device({"params": {}, "hardware": {"gpu": "H100"}}) == "cpu"
    assert run_device({"params": {"device": "auto"}, "hardware": {"gpu": "H100"}}) == "gpu"
    assert run_device({"params": {"device": "auto"}, "hardware": {}}) == "cpu"
    assert run_device({}) == "cpu"
    assert board_method({"method": "thp", "params": {"device": "cuda"}}) == "thp [gpu]"
    assert board_method({"method": "thp", "params": {"device": "cpu"}}) == "thp"
    assert base_method("thp [gpu]") == "thp" and base_method("thp") == "thp"


def _write_run(results, method, dataset, seed, key, metrics, device=None, gpu=None,
               profile="paper", finished="2026-12-01T00:00:00"):
    run = results / "runs" / method / dataset / f"seed{seed}-{key}"
    run.mkdir(parents=True)
    params = {"n_clusters": 2, **({"device": device} if device else {})}
    hardware = {"cpu": "Test CPU", "n_cpus": 16 if gpu else 2, **({"gpu": gpu} if gpu else {})}
    (run / "record.json").write_text(json.dumps({
        "status": "ok", "method": method, "dataset": dataset, "seed": seed, "profile": profile,
        "finished_at": finished, "params": params, "hardware": hardware, "threads": 1,
        "key": key, "wall_time_s": metrics["wall_time_s"]}))
    (run / "metrics.json").write_text(json.dumps(metrics))


def test_gpu_and_cpu_seeds_of_one_cell_render_two_rows(tmp_path):
    """One GPU-record and one CPU-record seed of the same (method, dataset): two board rows,
    each with its own value and machine, never one averaged cell."""
    from benchmark.harness.report import build_report

    res, out = tmp_path / "res", tmp_path / "lb"
    _write_run(res, "thp", "K2_C5", 0, "aaaa", {"purity": 0.886, "wall_time_s": 40.0},
               device="cuda", gpu="NVIDIA H100")
    _write_run(res, "thp", "K2_C5", 1, "bbbb", {"purity": 0.56, "wall_time_s": 90.0},
               device="cpu")
    # the same seed on both devices: each row keeps its own run
    _write_run(res, "thp", "K2_C5", 1, "cccc", {"purity": 0.845, "wall_time_s": 41.0},
               device="cuda", gpu="NVIDIA H100", finished="2026-12-02T00:00:00")
    chosen = chosen_runs(res)
    assert sorted(chosen) == [("thp", "K2_C5", 1), ("thp [gpu]", "K2_C5", 0),
                              ("thp [gpu]", "K2_C5", 1)]
    build_report(res, out)
    table = pd.read_csv(out / "results.csv")
    pur = table[table.metric == "purity"].set_index("method")
    assert list(table.columns) == ["method", "dataset", "metric", "mean", "std", "n_seeds"]
    assert pur.loc["thp", "mean"] == pytest.approx(0.56) and pur.loc["thp", "n_seeds"] == 1
    assert pur.loc["thp [gpu]", "mean"] == pytest.approx((0.886 + 0.845) / 2)
    assert pur.loc["thp [gpu]", "n_seeds"] == 2
    per_seed = pd.read_csv(out / "per_seed.csv")
    assert sorted(zip(per_seed.method, per_seed.seed)) == [("thp", 1), ("thp [gpu]", 0),
                                                           ("thp [gpu]", 1)]
    readme = (out / "README.md").read_text()
    assert "| thp | 0.56 (1/5) |" in readme
    assert "| thp [gpu] | **0.87 ± 0.03 (2/5)** |" in readme  # bold: the best of the column
    averaged = f"{np.mean([0.886, 0.56, 0.845]):.2f}"
    assert f"| thp | {averaged}" not in readme and f"| thp [gpu] | {averaged}" not in readme
    # machines per row; time cells are not marked `m` (one machine per row)
    assert "| thp | Test CPU, 1 thread(s) of 2 CPUs (1) |" in readme
    assert "| thp [gpu] | Test CPU, 1 thread(s) of 16 CPUs, GPU NVIDIA H100 (2) |" in readme
    assert " m |" not in readme
    assert "ONE generator draw" in readme
    # the fidelity section compares each row with the paper's THP K2_C5 (Table 4: 1.00)
    fid = pd.read_csv(out / "fidelity.csv", keep_default_na=False)
    thp = fid[(fid.method == "thp") & (fid.dataset == "K2_C5") & (fid.metric == "purity")]
    assert sorted(thp.row) == ["thp", "thp [gpu]"]
    assert "## Fidelity" in readme
    page = (out / "index.html").read_text()
    assert "thp [gpu]" in page and "Fidelity" in page and "Where the runs ran" in page
