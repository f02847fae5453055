"""Render the leaderboard from aggregated results.

Writes into the output directory (``leaderboard/`` by default):

* ``results.csv``  one row per (method, dataset, metric): ``method,dataset,metric,mean,std,n_seeds``;
* ``per_seed.csv`` one row per run the tables use: ``method,dataset,seed,profile,run`` (the run's
  directory, relative to the results directory) and one column per metric;
* ``README.md``    Markdown tables (purity, ARI, ROC-AUC, runtime, memory) with the best value of
  each dataset column in bold and the paper's numbers (``paper_reference.csv``) beside ours;
* ``index.html``   the page a user opens first (:mod:`benchmark.harness.board_html`): a summary of
  mean purity ranks, sortable tables grouped by dataset family, machines per cell, the plots;
* ``draws.csv``    one row per (method, synthetic set, generator draw) of the draws table
  (:mod:`benchmark.harness.draws`), when the results have draw runs;
* ``purity.png``   purity per dataset per method; ``runtime_vs_purity.png``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.registry import METRICS, discover
from ..core.storage import write_atomic_bytes
from . import board_html, draws, fidelity
from .evaluate import (
    RESULT_COLUMNS,
    aggregate,
    board_method,
    chosen_runs,
    collect,
    dataset_order,
    failures,
)

PAPER_REFERENCE = Path(__file__).resolve().parents[2] / "leaderboard" / "paper_reference.csv"
ORACLE_REFERENCE = PAPER_REFERENCE.with_name("oracle_reference.csv")
"""Purity of the Bayes classifier with the true generator parameters per synthetic set, written
by ``python -m benchmark oracle --write`` (columns ``dataset,n_sequences,purity,accuracy``)."""
ORACLE_ROW = "oracle (true parameters)"
HARDWARE_METRICS = {"wall_time_s", "peak_rss_mb"}  # cells get an `m` mark when machines differ
PROTOCOL = (
    "**Protocol.** A cell is the mean ± sample std over the method's seeds (0–4, `(n/5)` where "
    "fewer). Synthetic cells vary the method seed on ONE generator draw (generator seed 0), so "
    "± std does not cover the data; \"Spread over generator draws\" shows how much a cell moves "
    "between draws of the same generator (method seed 0 on draws 0-3). Rows named "
    "`METHOD [gpu]` hold the runs whose method ran on a GPU (`params.device` `cuda` in the "
    "record); a GPU run and a CPU run are never averaged into one cell, and \"Where the runs "
    "ran\" lists the machines of every row. \"Fidelity\" sets each number of the LAL paper "
    "against ours.")
"""The board's statement of what a cell's ± covers and how devices are kept apart."""
TABLES = [  # (metric, title, decimals)
    ("purity", "Purity (LAL paper eq. 23), mean ± std over seeds", 2),
    ("ari", "Adjusted Rand index", 2),
    ("nmi", "Normalised mutual information", 2),
    ("roc_auc", "Downstream ROC-AUC (logistic-regression probe on first-90% representations)", 3),
    ("catboost_roc_auc", "CatBoost probe ROC-AUC on embeddings (SASRec + CatBoost slides)", 3),
    ("n_clusters", "Number of clusters found", 1),
    ("wall_time_s", "Wall time per run (s)", 1),
    ("peak_rss_mb", "Peak memory per run (MiB)", 0),
]


def load_paper_reference():
    import pandas as pd

    if not PAPER_REFERENCE.exists():
        return pd.DataFrame(columns=["method", "dataset", "metric", "mean", "std", "source"])
    return pd.read_csv(PAPER_REFERENCE, dtype={"mean": str, "std": str}, keep_default_na=False)


def load_oracle_reference() -> dict[str, float]:
    """dataset -> oracle purity from :data:`ORACLE_REFERENCE` (empty if the file is absent)."""
    import pandas as pd

    if not ORACLE_REFERENCE.exists():
        return {}
    ref = pd.read_csv(ORACLE_REFERENCE)
    return dict(zip(ref.dataset, ref.purity.astype(float)))


FULL_SEEDS = 5
"""Seeds per cell of a finished table (the LAL paper's 5 runs); fewer are shown as ``(n/5)``."""


def _fmt(mean: float, std: float, n: int, dec: int) -> str:
    if np.isnan(mean):
        return ""
    s = f"{mean:.{dec}f}"
    if n > 1:
        s += f" ± {std:.{dec}f}"
    if n < FULL_SEEDS:
        s += f" ({n}/{FULL_SEEDS})"
    return s


def build_table(res, paper, metric: str, dec: int,
                marks: dict[tuple[str, str], str] | None = None,
                oracle: dict[str, float] | None = None
                ) -> tuple[list[str], list[list[str]], list[list[bool]]]:
    """Rows = methods (ours, then the paper's), columns = datasets; best ours per column flagged.
    ``marks`` maps (method, dataset) to a suffix for that cell (e.g. ``" q"``); ``oracle``
    (dataset -> purity ceiling) adds a last row to the purity table."""
    marks = marks or {}
    sub = res[res.metric == metric]
    datasets = dataset_order(sub.dataset)
    methods = sorted(set(sub.method))
    direction = METRICS[metric].higher_is_better if metric in METRICS else None
    header = ["method"] + datasets
    rows, bold = [], []
    best = {}
    if direction is not None:
        for d in datasets:
            col = sub[sub.dataset == d]
            if len(col):
                best[d] = col["mean"].max() if direction else col["mean"].min()
    for m in methods:
        row, b = [m], [False]
        for d in datasets:
            hit = sub[(sub.method == m) & (sub.dataset == d)]
            if len(hit):
                r = hit.iloc[0]
                row.append(_fmt(r["mean"], r["std"], int(r["n_seeds"]), dec)
                           + marks.get((m, d), ""))
                b.append(d in best and np.isclose(r["mean"], best[d]))
            else:
                row.append("")
                b.append(False)
        rows.append(row)
        bold.append(b)
    psub = paper[(paper.metric == metric) & paper.dataset.isin(datasets)]
    for m in sorted(set(psub.method)):
        row = [f"{m} (paper)"]
        for d in datasets:
            hit = psub[(psub.method == m) & (psub.dataset == d)]
            if len(hit):
                r = hit.iloc[0]
                row.append(r["mean"] + (f" ± {r['std']}" if r["std"] else ""))
            else:
                row.append("")
        rows.append(row)
        bold.append([False] * len(row))
    if metric == "purity" and oracle and any(d in oracle for d in datasets):
        rows.append([ORACLE_ROW] + [f"{oracle[d]:.{dec}f}" if d in oracle else ""
                                    for d in datasets])
        bold.append([False] * len(rows[-1]))
    return header, rows, bold


def _is_reference(row: list[str]) -> bool:
    """A row of numbers not measured by this suite's methods: the paper's, or the oracle."""
    return row[0].endswith("(paper)") or row[0] == ORACLE_ROW


def _markdown(header, rows, bold) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row, b in zip(rows, bold):
        cells = [f"**{c}**" if f and c else (f"*{c}*" if _is_reference(row) and c else c)
                 for c, f in zip(row, b)]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def _plots(res, out_dir: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    pur = res[res.metric == "purity"]
    # one colour and marker per board row, the same in both plots (tab10 repeats after 10 rows)
    style = {m: {"color": plt.cm.tab20(j % 20), "marker": "osD^v<>p*h"[j % 10]}
             for j, m in enumerate(sorted(set(pur.method)))}
    if len(pur):
        datasets = dataset_order(pur.dataset)
        methods = sorted(set(pur.method))
        fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(datasets) + 2), 4))
        w = 0.8 / max(1, len(methods))
        for j, m in enumerate(methods):
            vals = [pur[(pur.method == m) & (pur.dataset == d)] for d in datasets]
            mean = [v["mean"].iloc[0] if len(v) else np.nan for v in vals]
            std = [v["std"].iloc[0] if len(v) else 0 for v in vals]
            ax.bar(np.arange(len(datasets)) + j * w, mean, w, yerr=std, label=m, capsize=2,
                   color=style[m]["color"])
        ax.set_xticks(np.arange(len(datasets)) + 0.4 - w / 2)
        ax.set_xticklabels(datasets, rotation=45, ha="right")
        ax.set_ylabel("purity")
        ax.set_ylim(0, 1.05)
        ax.legend(fontsize=7, ncol=1, loc="upper left", bbox_to_anchor=(1.005, 1))
        fig.savefig(out_dir / "purity.png", dpi=100, bbox_inches="tight")
        plt.close(fig)
        made.append("purity.png")
    wt = res[res.metric == "wall_time_s"].set_index(["method", "dataset"])["mean"]
    pm = pur.set_index(["method", "dataset"])["mean"]
    both = pm.to_frame("purity").join(wt.to_frame("time"), how="inner")
    if len(both):
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for m, g in both.groupby(level=0):
            ax.scatter(g["time"], g["purity"], label=m, s=22, alpha=0.85, **style[m])
        ax.set_xscale("log")
        ax.set_xlabel("wall time per run (s, log); one point per (method, dataset)")
        ax.set_ylabel("purity")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
        fig.savefig(out_dir / "runtime_vs_purity.png", dpi=100, bbox_inches="tight")
        plt.close(fig)
        made.append("runtime_vs_purity.png")
    return made


def _machine(rec: dict) -> str:
    """One run's machine as a table reads it: CPU model, threads used, CPUs, GPU if it used one."""
    hw = rec.get("hardware", {})
    threads = rec.get("threads")
    desc = (f"{hw.get('cpu', '?')}, "
            + (f"{threads} thread(s)" if threads else "threads not recorded")
            + f" of {hw.get('n_cpus', '?')} CPUs")
    if str(rec.get("params", {}).get("device", "cpu")).startswith("cuda"):
        desc += f", GPU {hw.get('gpu', '?')}"
    return desc


def _machines(records) -> dict[str, dict[str, int]]:
    """board row (``thp``, ``thp [gpu]``) -> {machine description: number of runs} over the
    given run records."""
    out: dict[str, dict[str, int]] = {}
    for rec in records:
        counts = out.setdefault(board_method(rec), {})
        desc = _machine(rec)
        counts[desc] = counts.get(desc, 0) + 1
    return out


def per_seed_table(rows: list[dict], chosen: dict, results_dir: Path):
    """pandas DataFrame, one row per chosen run: method, dataset, seed, profile, run (its
    directory relative to ``results_dir``) and one column per metric (NaN where not computed):
    the registered metrics first, then the methods' own ``metrics_`` in name order."""
    import pandas as pd

    ids = ["method", "dataset", "seed", "profile"]
    if not rows:
        return pd.DataFrame(columns=ids + ["run"])
    wide = pd.DataFrame(rows).set_index(ids + ["metric"])["value"].unstack("metric").reset_index()
    wide.columns.name = None
    runs = {key: str(run_dir.relative_to(results_dir)) for key, (run_dir, _) in chosen.items()}
    wide.insert(len(ids), "run", [runs[key] for key in zip(wide.method, wide.dataset, wide.seed)])
    own = sorted(set(wide.columns) - set(ids) - {"run"} - set(METRICS))
    wide = wide[ids + ["run"] + [m for m in METRICS if m in wide.columns] + own]
    order = {d: i for i, d in enumerate(dataset_order(wide.dataset))}
    return wide.sort_values(["method", "dataset", "seed"], key=lambda c: c.map(order)
                            if c.name == "dataset" else c).reset_index(drop=True)


def _isolation_rows(records: list[dict]) -> list[tuple[int, str]]:
    """(runs, how their method's process ran): how many of the board's runs ran in the sandbox,
    without it, or before it existed (records without a ``sandbox`` field)."""
    counts: dict[str, int] = {}
    for rec in records:
        counts[rec.get("sandbox", "before")] = counts.get(rec.get("sandbox", "before"), 0) + 1
    what = {"bwrap": "in the bubblewrap sandbox (no data, cache, results or repository in view)",
            "none": "without a sandbox (cells marked `u`)",
            "before": "before the harness had a sandbox (records without a `sandbox` field; "
                      "the suite's own methods, whose code is reviewed)"}
    return [(n, what.get(k, k)) for k, n in sorted(counts.items())]


def _isolation_section(records: list[dict]) -> list[str]:
    """Markdown lines of :func:`_isolation_rows` (none without records)."""
    rows = _isolation_rows(records)
    if not rows:
        return []
    return ["## Isolation", "", "| runs | how the method's process ran |", "|---|---|",
            *[f"| {n} | {what} |" for n, what in rows], ""]


def _cell_machines(chosen: dict) -> dict[tuple[str, str], dict[str, int]]:
    """(board row, dataset) -> {machine description: number of its chosen runs}."""
    out: dict[tuple[str, str], dict[str, int]] = {}
    for (m, d, _), (_, rec) in chosen.items():
        counts = out.setdefault((m, d), {})
        desc = _machine(rec)
        counts[desc] = counts.get(desc, 0) + 1
    return out


def _mixed_machine_cells(cell_machines: dict[tuple[str, str], dict[str, int]]
                        ) -> set[tuple[str, str]]:
    """(method, dataset) pairs of :func:`_cell_machines` whose runs ran on more than one kind of
    machine."""
    return {cell for cell, machines in cell_machines.items() if len(machines) > 1}


def _draws_section(rows, draw_rows, chosen, results_dir: Path, res, board, out_dir: Path):
    """Write ``draws.csv`` (one row per method, set and draw) and return the board's section
    "Spread over generator draws" as (title, intro, header, rows, bold), or None when there are
    no draw runs and none pending (``draws.csv`` is then removed)."""
    frame = draws.draw_frame(rows, draw_rows, chosen, results_dir)
    pending = board.pending if board is not None else {}
    if not len(frame) and not any(draws.is_draw(d) for _, d in pending):
        (out_dir / "draws.csv").unlink(missing_ok=True)
        return None
    write_atomic_bytes(out_dir / "draws.csv", frame.to_csv(index=False).encode())
    pur = res[(res.metric == "purity") & (res.n_seeds > 1)]
    seed_std = {(m, d): float(v) for m, d, v in zip(pur.method, pur.dataset, pur["std"])}
    return ("Spread over generator draws", draws.INTRO,
            *draws.draws_table(frame, seed_std, pending))


def build_report(results_dir: Path, out_dir: Path, plan=None) -> Path:
    """Aggregate ``results_dir`` and write the leaderboard files into ``out_dir``; with ``plan``
    (a :class:`benchmark.harness.plan.BoardPlan`), only the runs it declares, its pending cells
    shown as ``pending``."""
    from .plan import fill_pending, pending_note

    discover()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    board = plan.board(Path(results_dir)) if plan is not None else None
    chosen, draw_chosen = draws.split_chosen(
        chosen_runs(results_dir) if board is None else board.chosen)
    rows = collect(results_dir, chosen)
    res = aggregate(rows)
    quick = {(r["method"], r["dataset"]): " q" for r in rows if r["profile"] == "quick"}
    cell_machines = _cell_machines(chosen)
    mixed = _mixed_machine_cells(cell_machines)
    unboxed = {(m, d) for (m, d, _), (_, rec) in chosen.items() if rec.get("sandbox") == "none"}
    write_atomic_bytes(out_dir / "results.csv", res[RESULT_COLUMNS].to_csv(index=False).encode())
    per_seed = per_seed_table(rows, chosen, Path(results_dir))
    write_atomic_bytes(out_dir / "per_seed.csv", per_seed.to_csv(index=False).encode())
    paper, oracle = load_paper_reference(), load_oracle_reference()
    fails = failures(results_dir) if board is None else board.failed
    md = ["# Leaderboard", "",
          "Generated by `python -m benchmark report`; do not edit by hand. Bold = best of this "
          "suite's methods in the column; *italic* rows are the numbers printed in the LAL paper "
          "(tables 3, 4, 5, 8, 9) for comparison, not rerun here; the purity table's last row "
          f"*{ORACLE_ROW}* is the ceiling: the Bayes classifier with the generator's true "
          "parameters (`python -m benchmark oracle`, docs/generators.md). A `q` marks cells measured "
          "with the `quick` profile only (CI-sized presets, not the paper's settings); all other "
          "cells use the `paper` profile. `(n/5)` marks cells with fewer than 5 seeds so far (the "
          "leaderboard is built up across sessions). In the time and memory tables an `m` marks "
          "cells whose seeds ran on different machines (see \"Where the runs ran\"): their mean "
          "mixes hardware. A `u` marks cells with a seed whose method ran without the sandbox "
          "(`\"sandbox\": \"none\"` in its record; see \"Isolation\"). Machine-readable: `results.csv` (these tables), `per_seed.csv` (every "
          "seed's values and its run directory).", "", PROTOCOL, ""]
    tables = []  # the page's metric tables (board_html.BoardTable)
    page_sections: list = []  # the page's tables after them (board_html.BoardPage.extra_sections)
    for metric, title, dec in TABLES:
        if not (res.metric == metric).any():
            continue
        mixed_here = mixed if metric in HARDWARE_METRICS else set()
        marks = {cell: quick.get(cell, "") + (" m" if cell in mixed_here else "")
                 + (" u" if cell in unboxed else "") for cell in set(quick) | mixed_here | unboxed}
        if board is not None:  # `p`: seeds the plan has pending; empty pending cells: "pending"
            marks.update({cell: marks.get(cell, "") + " p" for cell in board.pending})
        header, cells, bold = build_table(res, paper, metric, dec, marks, oracle)
        if board is not None:
            fill_pending(header, cells, board.pending)
        md += [f"## {title}", "", _markdown(header, cells, bold), ""]
        tables.append(board_html.BoardTable(
            title, header, cells, bold, ref=[_is_reference(r) for r in cells], by_family=True,
            higher_is_better=METRICS[metric].higher_is_better if metric in METRICS else None,
            anchor=metric))
    spread = _draws_section(rows, collect(results_dir, draw_chosen), {**chosen, **draw_chosen},
                            Path(results_dir), res, board, out_dir)
    if spread is not None:
        md += [f"## {spread[0]}", "", spread[1], "", _markdown(*spread[2:]), ""]
        page_sections.append(spread)
    if board is not None:
        md += pending_note(board)
    if fails:
        md += ["## Runs that did not finish", "", "| method | dataset | seed | status | error |",
               "|---|---|---|---|---|"]
        for r in fails:
            err = str(r.get("error", "")).replace("|", "/")[:120]
            md.append(f"| {r['method']} | {r['dataset']} | {r['seed']} | {r['status']} | {err} |")
        md.append("")
    machines = _machines(rec for _, rec in chosen.values())
    if machines:
        md += ["## Where the runs ran", "",
               "Runtimes are only comparable between cells measured on the same machine.", "",
               "| method | machine (runs) |", "|---|---|"]
        md += [f"| {m} | {'; '.join(f'{h} ({n})' for h, n in sorted(c.items()))} |"
               for m, c in sorted(machines.items())]
        md.append("")
    md += _isolation_section([rec for _, rec in chosen.values()])
    plots = _plots(res, out_dir)
    md += [f"![{p}]({p})" for p in plots]
    fid = fidelity.fidelity_table(per_seed, paper, dataset_order(paper.dataset))
    write_atomic_bytes(out_dir / "fidelity.csv", fid.to_csv(index=False).encode())
    md += [""] + fidelity.markdown_section(fid)
    write_atomic_bytes(out_dir / "README.md", ("\n".join(md) + "\n").encode())
    pur = res[res.metric == "purity"]
    page = board_html.BoardPage(
        protocol=PROTOCOL, legend=board_html.LEGEND.format(oracle=ORACLE_ROW), tables=tables,
        purity=dict(zip(zip(pur.method, pur.dataset), pur["mean"])), rows=sorted(set(res.method)),
        cell_machines=cell_machines, pending=board.pending if board is not None else {},
        extra_sections=page_sections, machines=machines, plots=plots,
        fidelity_html=fidelity.html_section(fid), failures=fails,
        isolation=_isolation_rows([rec for _, rec in chosen.values()]),
        plan=None if board is None else (board.n_declared, sum(map(len, board.pending.values())),
                                         len(board.missing)))
    write_atomic_bytes(out_dir / "index.html", board_html.render_page(page).encode())
    return out_dir
