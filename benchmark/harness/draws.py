"""The board's spread over generator draws: how much a synthetic cell moves with the data.

A board cell varies the method seed on one generator draw (the registered set, draw 0). The
plan's ``draws = [1, 2, 3]`` cells run method seed 0 on fresh draws ``NAME@draw=S`` (generator
seed ``S``: new cluster parameters and new sequences, :func:`benchmark.core.registry.get_dataset`).
This module puts those runs beside the board's own seed-0 run (draw 0, when it used the same
profile) and summarises them:

* :func:`split_chosen` separates draw runs from the board's runs;
* :func:`draw_frame` gives one row per (board row, set, draw) with the metric (``draws.csv``);
* :func:`draws_table` gives the board's table: per board row and set, mean ± sample std over the
  draws, and per row the mean std over draws beside the mean std over method seeds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..core.registry import DRAW_TAG, split_draw
from .evaluate import dataset_order

DRAWS_COLUMNS = ["method", "dataset", "draw", "seed", "profile", "purity", "run"]
INTRO = (
    "**Protocol of this table.** Each cell is the mean ± sample std of purity over generator "
    "draws of the set: draw 0 is the set the board uses (generator seed 0), draws 1–3 are fresh "
    "draws (`NAME@draw=S`, generator seed S: new cluster parameters and new sequences); the "
    "method runs with seed 0, the profile of its board cells, no probe. `(n)` counts the draws. "
    "The last two columns average, over the sets the row covers, the std over draws and the std "
    "over method seeds of the purity table: where the first is larger, the board's ± understates "
    "how much a number depends on the data. `pending`: draws declared in the plan, not run yet.")


def is_draw(dataset: str) -> bool:
    """Whether ``dataset`` names a generator draw (``K3_C5@draw=2``)."""
    return DRAW_TAG in dataset


def split_chosen(chosen: dict[tuple[str, str, int], Any]) -> tuple[dict, dict]:
    """(board runs, draw runs) of a chosen-runs mapping keyed (board row, dataset, seed)."""
    main = {k: v for k, v in chosen.items() if not is_draw(k[1])}
    return main, {k: v for k, v in chosen.items() if is_draw(k[1])}


def draw_frame(main_rows: list[dict], draw_rows: list[dict], chosen: dict,
               results_dir: Path, metric: str = "purity"):
    """pandas DataFrame, one row per (board row, set, draw) that has ``metric``.

    Parameters
    ----------
    main_rows, draw_rows : list of dict
        :func:`benchmark.harness.evaluate.collect` rows of the board's runs and of the draw runs.
    chosen : dict
        (board row, dataset, seed) -> (run dir, record) of both.
    results_dir : Path
        The runs' results directory (``run`` is relative to it).

    Returns
    -------
    DataFrame
        Columns :data:`DRAWS_COLUMNS` (the metric's column is named ``metric``); draw 0 is the
        board's seed-0 run on the registered set, included only for (row, set) pairs that have
        draw runs of the same profile.
    """
    import pandas as pd

    out = []
    profiles: dict[tuple[str, str], str] = {}
    for r in draw_rows:
        if r["metric"] != metric:
            continue
        base, draw = split_draw(r["dataset"])
        profiles[(r["method"], base)] = r["profile"]
        out.append((r["method"], base, draw, r["seed"], r["profile"], r["value"],
                    chosen[(r["method"], r["dataset"], r["seed"])][0]))
    for r in main_rows:
        if (r["metric"] == metric and r["seed"] == 0
                and profiles.get((r["method"], r["dataset"])) == r["profile"]):
            out.append((r["method"], r["dataset"], 0, 0, r["profile"], r["value"],
                        chosen[(r["method"], r["dataset"], 0)][0]))
    cols = DRAWS_COLUMNS[:5] + [metric, "run"]
    frame = pd.DataFrame(out, columns=cols)
    if len(frame):
        frame["run"] = [str(Path(p).relative_to(results_dir)) for p in frame["run"]]
        order = {d: i for i, d in enumerate(dataset_order(frame.dataset))}
        frame = frame.sort_values(["method", "dataset", "draw"],
                                  key=lambda c: c.map(order) if c.name == "dataset" else c)
    return frame.reset_index(drop=True)


def draws_table(frame, seed_std: dict[tuple[str, str], float],
                pending: dict[tuple[str, str], list[int]], metric: str = "purity", dec: int = 2
                ) -> tuple[list[str], list[list[str]], list[list[bool]]]:
    """The board's table of the spread over draws.

    Parameters
    ----------
    frame : DataFrame
        :func:`draw_frame`.
    seed_std : dict
        (board row, set) -> the purity table's std over method seeds (its cells with >= 2 seeds).
    pending : dict
        The plan's pending (board row, dataset) -> seeds (:attr:`benchmark.harness.plan.Board.pending`);
        its draw datasets mark cells ``pending`` (nothing run) or `` p`` (some draws missing).

    Returns
    -------
    (header, rows, bold)
        As :func:`benchmark.harness.report.build_table`: rows = board rows, columns = the sets,
        then ``mean std over draws`` and ``mean std over seeds``; nothing is bold.
    """
    pend_sets = {(m, split_draw(d)[0]) for (m, d) in pending if is_draw(d)}
    sets = dataset_order(list(frame.dataset) + [d for _, d in pend_sets])
    methods = sorted(set(frame.method) | {m for m, _ in pend_sets})
    header = ["method", *sets, "mean std over draws", "mean std over seeds"]
    rows, bold = [], []
    for m in methods:
        row, draw_stds, seed_stds = [m], [], []
        for d in sets:
            vals = frame[(frame.method == m) & (frame.dataset == d)][metric].to_numpy(float)
            mark = " p" if (m, d) in pend_sets else ""
            if len(vals) == 0:
                row.append("pending" if mark else "")
                continue
            std = float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0
            cell = f"{vals.mean():.{dec}f}" + (f" ± {std:.{dec}f}" if len(vals) > 1 else "")
            row.append(f"{cell} ({len(vals)}){mark}")
            if len(vals) > 1:
                draw_stds.append(std)
                if (m, d) in seed_std:
                    seed_stds.append(seed_std[(m, d)])
        row.append(f"{np.mean(draw_stds):.{dec + 1}f}" if draw_stds else "")
        row.append(f"{np.mean(seed_stds):.{dec + 1}f}" if seed_stds else "")
        rows.append(row)
        bold.append([False] * len(row))
    return header, rows, bold
