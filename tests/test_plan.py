"""The board as a declared plan (``run --plan``, ``report --plan``) and ``reproduce``: parsing
errors, expansion with the keys ``run`` gives, dry-run counts, pending cells, the rendered board,
and reproducing a stored run (identical; a tampered one is caught)."""

import json
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import tests.harness_methods  # noqa: F401  (registers test_tiny)
from benchmark.harness.cli import main
from benchmark.harness.evaluate import chosen_runs
from benchmark.harness.plan import PlanError, load_plan
from benchmark.harness.results_store import ResultsStore
from benchmark.harness.runner import plan_runs


def write(tmp_path: Path, text: str, name: str = "plan.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


PLAN = """\
    [defaults]
    profile = "quick"
    probe = false

    [[cell]]
    name = "floor"
    methods = ["random"]
    datasets = ["test_tiny", "test_tiny_shuffled"]
    seeds = [0]

    [[cell]]
    name = "kmeans"
    methods = ["histogram-kmeans"]
    datasets = ["test_tiny"]
    seeds = [0, 1]
    params = { n_init = 2 }

    [[cell]]
    name = "later"
    methods = ["histogram-kmeans"]
    datasets = ["test_tiny_shuffled"]
    seeds = [0]
    status = "pending"
    note = "not yet"
"""


def records(results: Path) -> list[dict]:
    return [rec for _, rec in ResultsStore(results).iter_runs()]


# ------------------------------------------------------------------------------ parsing
def test_parsing_errors_name_the_group_its_line_and_every_unknown_name(tmp_path):
    with pytest.raises(PlanError, match="not valid TOML.*line 3"):
        load_plan(write(tmp_path, "[[cell]]\nmethods = [\"random\"\ndatasets = 3\n"))
    bad = write(tmp_path, """\
        [[cell]]
        name = "ok"
        methods = ["random"]
        datasets = ["test_tiny"]

        [[cell]]
        name = "typos"
        methods = ["randon", "histogram-kmeans", "lall"]
        datasets = ["test_tinny", "@nofamily"]
        seeds = [0, 0]
        colour = "red"

        [[cell]]
        methods = ["random"]
        datasets = ["test_tiny"]
        device = "cuda"
        params = { seed = 3 }
        status = "later"
    """)
    with pytest.raises(PlanError) as err:
        load_plan(bad)
    msg = str(err.value)
    assert "cell 2 'typos' (line 6): unknown key 'colour'" in msg
    assert "cell 2 'typos' (line 6): seeds repeat a seed" in msg
    assert "unknown method(s): randon (cell 2 'typos' (line 6)); lall (cell 2" in msg
    assert "Known: " in msg and "histogram-kmeans" in msg.split("Known: ")[1]
    assert "unknown dataset(s): test_tinny (cell 2" in msg and "@nofamily (families: @exp" in msg
    assert "cell 3 (line 13): device 'cuda': method 'random' has no device parameter" in msg
    assert "cell 3 (line 13): params.seed: set it with `seeds = ...`" in msg
    assert "cell 3 (line 13): status must be \"pending\" or \"done\"" in msg

    two = """\
        [[cell]]
        name = "a"
        methods = ["random"]
        datasets = ["test_tiny"]
        seeds = [0, 1]

        [[cell]]
        name = "NAME"
        methods = ["random"]
        datasets = ["test_tiny"]
        seeds = [1]
    """
    with pytest.raises(PlanError, match="cell 2 'a' .*name 'a' is already used by cell 1"):
        load_plan(write(tmp_path, two.replace("NAME", "a")))
    with pytest.raises(PlanError, match=r"cell 2 'b' \(line 7\): random on test_tiny seed 1 "
                                        r"\(paper profile\) is already declared by cell 1 'a'"):
        load_plan(write(tmp_path, two.replace("NAME", "b")))
    unknown_param = write(tmp_path, '[[cell]]\nmethods = ["random"]\ndatasets = ["test_tiny"]\n'
                                    'params = { n_init = 3 }\n')
    with pytest.raises(PlanError, match=r"cell 1 \(line 1\): method 'random' has no parameter"):
        load_plan(unknown_param)


def test_families_and_defaults_expand_without_reading_data(tmp_path):
    plan = load_plan(write(tmp_path, """\
        [[cell]]
        methods = "dmhp"
        datasets = ["@exp", "K2_C5", "poisson_mixture"]
    """))
    cell, = plan.cells
    assert cell.datasets == ("K2_C5", "K3_C5", "K4_C5", "K5_C5", "poisson_mixture")
    assert (cell.profile, cell.seeds, cell.probe, cell.threads) == ("paper", (0, 1, 2, 3, 4),
                                                                    True, 1)
    assert cell.id == "#1" and not cell.pending and len(plan.entries()) == 25


def test_cli_rejects_a_bad_plan_and_run_options_the_plan_sets(tmp_path, cache_dir, capsys):
    bad = write(tmp_path, '[[cell]]\nmethods = ["nope"]\ndatasets = ["test_tiny"]\n')
    assert main(["run", "--plan", str(bad), "--dry-run", "--results-dir", str(tmp_path)]) == 2
    assert "error: plan" in capsys.readouterr().err
    good = write(tmp_path, PLAN)
    assert main(["run", "--plan", str(good), "--seeds", "0", "--dry-run"]) == 2
    assert "drop --seeds" in capsys.readouterr().err


# --------------------------------------------------------------------- expansion, runs
SKIP = ["--skip", "catboost_roc_auc", "catboost_precision", "catboost_recall"]  # slow probe


def test_plan_runs_what_is_missing_and_the_report_shows_its_cells(tmp_path, cache_dir, capsys):
    res, path, board = tmp_path / "res", write(tmp_path, PLAN), tmp_path / "board"
    plan = load_plan(path)
    runs, pending, skipped = plan.expand(None, cache_dir, log=lambda _: None)
    assert not skipped and len(runs.runs) == 4 and len(pending.runs) == 1
    quiet = {"log": lambda _: None, "probe": False}
    same = (plan_runs(["random"], ["test_tiny", "test_tiny_shuffled"], [0], "quick", None,
                      cache_dir, **quiet).runs
            + plan_runs(["histogram-kmeans"], ["test_tiny"], [0, 1], "quick", None, cache_dir,
                        overrides={"histogram-kmeans": {"n_init": 2}}, **quiet).runs)
    assert sorted(s.key for s in runs.runs) == sorted(s.key for s in same)
    assert [s.plan_cell for s in runs.runs] == ["floor"] * 2 + ["kmeans"] * 2
    assert pending.runs[0].plan_cell == "later" and pending.runs[0].probe is False

    # what `run` makes with the same options is what the plan finds
    assert main(["run", "--methods", "histogram-kmeans", "--datasets", "test_tiny", "--seeds", "0",
                 "--no-probe", "--param", "histogram-kmeans.n_init=2", "--results-dir", str(res),
                 "--no-progress", "--no-evaluate"]) == 0
    capsys.readouterr()
    assert main(["run", "--plan", str(path), "--results-dir", str(res), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "1 run(s) done, 3 to run" in out
    assert "not included: 1 run(s) of cells marked pending" in out
    assert "to run  histogram-kmeans on test_tiny seed 1" in out
    assert "test_tiny_shuffled seed 0" in out and "histogram-kmeans on test_tiny_shuffled" not in out
    assert main(["run", "--plan", str(path), "--results-dir", str(res), "--dry-run",
                 "--include-pending"]) == 0
    out = capsys.readouterr().out
    assert "1 run(s) done, 4 to run" in out and "histogram-kmeans on test_tiny_shuffled" in out
    assert main(["run", "--plan", str(path), "--results-dir", str(res), "--dry-run",
                 "--methods", "random"]) == 0
    assert "0 run(s) done, 2 to run" in capsys.readouterr().out

    # a real run does the missing non-pending runs only, and records how they were made
    assert main(["run", "--plan", str(path), "--results-dir", str(res), "--no-progress",
                 "--no-evaluate"]) == 0
    recs = records(res)
    assert len(recs) == 4 and all(r["profile"] == "quick" and not r["probe"] for r in recs)
    made = [r for r in recs if r["plan_cell"] is not None]
    assert sorted(r["plan_cell"] for r in made) == ["floor", "floor", "kmeans"]
    assert all(r["threads"] == 1 and isinstance(r["argv"], list) for r in made)
    capsys.readouterr()
    assert main(["run", "--plan", str(path), "--results-dir", str(res), "--dry-run"]) == 0
    assert "4 run(s) done, 0 to run" in capsys.readouterr().out

    # the report: the plan's cells only (a run with default parameters is left out), the
    # pending cell without a run reads "pending"
    assert main(["run", "--methods", "histogram-kmeans", "--datasets", "test_tiny", "--seeds",
                 "2", "--results-dir", str(res), "--no-progress", "--no-evaluate"]) == 0
    assert main(["evaluate", "--results-dir", str(res), *SKIP]) == 0
    assert len(records(res)) == 5
    assert main(["report", "--results-dir", str(res), "--out", str(board), "--plan", str(path)]) == 0
    per_seed = pd.read_csv(board / "per_seed.csv")
    assert sorted(zip(per_seed.method, per_seed.dataset, per_seed.seed)) == [
        ("histogram-kmeans", "test_tiny", 0), ("histogram-kmeans", "test_tiny", 1),
        ("random", "test_tiny", 0), ("random", "test_tiny_shuffled", 0)]
    readme = (board / "README.md").read_text()
    purity = readme.split("## Adjusted Rand")[0]
    row = next(ln for ln in purity.splitlines() if ln.startswith("| histogram-kmeans |"))
    assert "(2/5) q" in row and row.endswith("| pending |")
    assert "## Plan" in readme and "| histogram-kmeans | test_tiny_shuffled | 0 |" in readme
    assert "pending" in (board / "index.html").read_text()

    # a declared run that is not there (and not pending) is named
    gone, = [d for d, r in ResultsStore(res).iter_runs() if r["dataset"] == "test_tiny_shuffled"]
    for f in gone.iterdir():
        f.unlink()
    gone.rmdir()
    assert main(["report", "--results-dir", str(res), "--out", str(board), "--plan", str(path)]) == 0
    readme = (board / "README.md").read_text()
    assert "1 declared run(s) not found" in readme
    assert "random on test_tiny_shuffled seed 0 (cell 1 'floor' (line 5))" in readme


def test_make_leaderboard_and_the_committed_plan_agree():
    """The committed plan loads, and the board it declares is the board the report shows."""
    repo = Path(__file__).resolve().parent.parent
    assert "--plan leaderboard/plan.toml" in (repo / "Makefile").read_text()
    plan = load_plan(repo / "leaderboard" / "plan.toml")
    assert any(c.pending for c in plan.cells)
    board = plan.board(repo / "leaderboard")
    assert not board.missing, [(e.method, e.dataset, e.seed) for e in board.missing[:10]]
    outside = sorted(set(chosen_runs(repo / "leaderboard")) - set(board.chosen))
    assert not outside, f"runs the board would show that leaderboard/plan.toml lacks: {outside[:10]}"


# ------------------------------------------------------------------------ reproduce
def test_reproduce_a_fresh_run_is_identical_and_a_tampered_one_is_not(tmp_path, cache_dir,
                                                                       capsys):
    res = tmp_path / "res"
    assert main(["run", "--methods", "histogram-kmeans", "--datasets", "test_tiny", "--seeds",
                 "3", "--results-dir", str(res), "--no-progress", "--no-evaluate"]) == 0
    assert main(["evaluate", "--results-dir", str(res), *SKIP]) == 0
    (run_dir, _), = list(ResultsStore(res).iter_runs())
    capsys.readouterr()
    assert main(["reproduce", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "labels: identical (40 sequences)" in out and "REPRODUCED" in out
    assert "run key: the same" in out and "plan cell -" in out
    purity = json.loads((run_dir / "metrics.json").read_text())["purity"]
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("purity "))
    assert f"{purity:.6g}" in line and line.split()[-1] == "+0"
    assert len(list(ResultsStore(res).iter_runs())) == 1  # the rerun went elsewhere

    labels = np.load(run_dir / "labels.npy")
    np.save(run_dir / "labels.npy", np.roll(labels, 1))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    (run_dir / "metrics.json").write_text(json.dumps(dict(metrics, purity=purity - 0.25)))
    record = json.loads((run_dir / "record.json").read_text())
    del record["argv"], record["plan_cell"]  # as the committed records, made before them
    (run_dir / "record.json").write_text(json.dumps(record))
    assert main(["reproduce", str(run_dir)]) == 1
    out = capsys.readouterr().out
    assert "labels: differ in" in out and "NOT REPRODUCED" in out
    assert "recorded command: not recorded" in out
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("purity "))
    assert line.split()[-1] == "+0.25"
    assert main(["reproduce", str(tmp_path / "nothing")]) == 2
