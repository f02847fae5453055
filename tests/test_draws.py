"""Generator draws as datasets (``NAME@draw=S``), the plan's ``draws`` key, and the board's
"Spread over generator draws" table and ``draws.csv``."""

import numpy as np
import pandas as pd
import pytest

import tests.harness_methods  # noqa: F401  (registers test_tiny)
from benchmark.core.registry import (
    LoadContext,
    UnknownNameError,
    draw_name,
    get_dataset,
    split_draw,
)
from benchmark.harness import draws
from benchmark.harness.cli import main
from benchmark.harness.plan import PlanError, load_plan
from generators.poisson_mixture import simulate_poisson_mixture
from tests.test_plan import SKIP, write


def test_a_draw_is_the_generator_with_another_seed(tmp_path):
    assert draw_name("K3_C5", 2) == "K3_C5@draw=2"
    assert split_draw("K3_C5@draw=2") == ("K3_C5", 2) and split_draw("K3_C5") == ("K3_C5", None)
    base, spec = get_dataset("K3_C5"), get_dataset("K3_C5@draw=2")
    assert (spec.name, spec.n_clusters, spec.family, spec.version, spec.oracle) == (
        "K3_C5@draw=2", 3, "exp", base.version, base.oracle)
    assert "generator draw 2" in spec.description and spec.generate is None
    assert get_dataset("K3_C5@draw=2") is spec  # derived once

    ctx = LoadContext(data_dir=None, cache_dir=tmp_path)
    drawn = get_dataset("poisson_mixture@draw=4").load(ctx)
    again = simulate_poisson_mixture(seed=4)
    registered = get_dataset("poisson_mixture").load(ctx)
    np.testing.assert_array_equal(drawn.sequences.times, again.sequences.times)
    np.testing.assert_array_equal(drawn.labels, again.labels)
    assert not np.array_equal(drawn.labels, registered.labels)


@pytest.mark.parametrize("name, message", [
    ("K3_C5@draw=0", "draw 0 is 'K3_C5' itself"),
    ("K3_C5@draw=x", "integer >= 1"),
    ("test_tiny@draw=1", "has no generator draws"),
    ("nope@draw=1", "unknown dataset 'nope'"),
])
def test_bad_draw_names_say_what_is_wrong(name, message):
    with pytest.raises(UnknownNameError, match=message):
        get_dataset(name)


def test_the_plan_expands_draws_and_rejects_bad_ones(tmp_path):
    plan = load_plan(write(tmp_path, """\
        [[cell]]
        methods = ["random"]
        datasets = ["@exp", "poisson_mixture"]
        draws = [1, 3]
        seeds = [0]
    """))
    assert plan.cells[0].datasets == (
        "K2_C5@draw=1", "K2_C5@draw=3", "K3_C5@draw=1", "K3_C5@draw=3", "K4_C5@draw=1",
        "K4_C5@draw=3", "K5_C5@draw=1", "K5_C5@draw=3", "poisson_mixture@draw=1",
        "poisson_mixture@draw=3")
    named = load_plan(write(tmp_path, """\
        [[cell]]
        methods = ["random"]
        datasets = ["K2_C5@draw=7"]
    """))
    assert named.cells[0].datasets == ("K2_C5@draw=7",)
    for bad, message in [("datasets = [\"test_tiny\"]\ndraws = [1]", "test_tiny have no generator"),
                         ("datasets = [\"K2_C5\"]\ndraws = [0]", "integers >= 1"),
                         ("datasets = [\"K2_C5\"]\ndraws = [1, 1]", "distinct"),
                         ("datasets = [\"K2_C5@draw=0\"]", "draw 0 is 'K2_C5' itself")]:
        with pytest.raises(PlanError, match=message):
            load_plan(write(tmp_path, f"[[cell]]\nmethods = [\"random\"]\n{bad}\n"))


def test_draws_table_summarises_draws_beside_the_seed_spread():
    frame = pd.DataFrame({
        "method": ["a"] * 4 + ["b"],
        "dataset": ["K2_C5"] * 3 + ["K3_C5", "K2_C5"],
        "draw": [0, 1, 2, 1, 1], "seed": [0] * 5, "profile": ["paper"] * 5,
        "purity": [0.5, 0.7, 0.9, 0.4, 0.6], "run": ["r"] * 5})
    header, rows, bold = draws.draws_table(
        frame, {("a", "K2_C5"): 0.01, ("a", "K3_C5"): 0.5},
        {("b", "K3_C5@draw=1"): [0], ("b", "K2_C5@draw=2"): [0], ("a", "K2_C5"): [3]})
    assert header == ["method", "K2_C5", "K3_C5", "mean std over draws", "mean std over seeds"]
    assert rows[0] == ["a", "0.70 ± 0.20 (3)", "0.40 (1)", "0.200", "0.010"]
    assert rows[1] == ["b", "0.60 (1) p", "pending", "", ""]
    assert not any(any(b) for b in bold)


def test_the_board_shows_the_spread_over_draws(tmp_path, cache_dir, capsys):
    res, board = tmp_path / "res", tmp_path / "board"
    path = write(tmp_path, """\
        [defaults]
        profile = "quick"
        probe = false
        seeds = [0]

        [[cell]]
        name = "board"
        methods = ["random", "histogram-kmeans"]
        datasets = ["poisson_mixture"]
        seeds = [0, 1]

        [[cell]]
        name = "draws"
        methods = ["random", "histogram-kmeans"]
        datasets = ["poisson_mixture"]
        draws = [1, 2]

        [[cell]]
        name = "draws-later"
        methods = ["random"]
        datasets = ["poisson_mixture"]
        draws = [3]
        status = "pending"
    """)
    assert main(["run", "--plan", str(path), "--results-dir", str(res), "--no-progress",
                 "--no-evaluate"]) == 0
    assert main(["evaluate", "--results-dir", str(res), *SKIP]) == 0
    capsys.readouterr()
    assert main(["run", "--plan", str(path), "--results-dir", str(res), "--dry-run"]) == 0
    assert "8 run(s) done, 0 to run" in capsys.readouterr().out
    assert main(["report", "--results-dir", str(res), "--out", str(board), "--plan", str(path)]) == 0

    per_draw = pd.read_csv(board / "draws.csv")
    hk = per_draw[per_draw.method == "histogram-kmeans"]
    assert list(hk.draw) == [0, 1, 2] and set(hk.dataset) == {"poisson_mixture"}
    assert hk.run.iloc[1].startswith("runs/histogram-kmeans/poisson_mixture@draw=1/")
    per_seed = pd.read_csv(board / "per_seed.csv")
    assert set(per_seed.dataset) == {"poisson_mixture"}  # draws stay out of the main tables
    readme = (board / "README.md").read_text()
    spread = readme.split("## Spread over generator draws")[1].split("\n## ")[0]
    row = next(ln for ln in spread.splitlines() if ln.startswith("| histogram-kmeans |"))
    values = hk.purity.to_numpy()
    assert f"{values.mean():.2f} ± {np.std(values, ddof=1):.2f} (3)" in row
    assert next(ln for ln in spread.splitlines() if ln.startswith("| random |")).count(" p") == 1
    purity = readme.split("## Adjusted Rand")[0]
    assert "@draw" not in purity.split("## Spread")[0]
