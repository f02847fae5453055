"""Fidelity: each number the LAL paper prints against this suite's measurement of it.

The board's FIDELITY section and ``leaderboard/fidelity.csv`` come from here. For every row of
``leaderboard/paper_reference.csv`` (the paper's Tables 3, 4/5, 7, 8 and 9; Table 2's purity vs
size is a one-seed ``perf`` measurement, docs/lal.md, not a board cell) and every board row of
that method (a method's CPU runs and its GPU runs, ``thp [gpu]``, are separate rows and are
compared separately), :func:`fidelity_table` gives the paper's value, ours (mean ± sample std
over the seeds the board uses, their number and profile), the difference, a one-sample t-test of
our per-seed values against the paper's value and a verdict:

* ``reproduced``: ``|ours - paper| <= TOLERANCE`` (the paper prints two decimals), or the
  t-test does not reject equality (``p >= ALPHA``);
* ``above`` / ``below``: otherwise, by the sign of the difference (with one seed there is no
  test, ``p`` is ``None`` and the difference alone decides);
* ``not run``: no run of ours for that number (the data are not shipped, the method is not in
  the suite).

Where a verdict is worse than the paper (``below`` for quality, ``above`` for time) or nothing
was run, ``reason`` gives one line from :data:`REASONS` with the document that explains it;
``note`` says where our data or protocol differ from the paper's (:data:`DATA_NOTES`, quick
profile, hardware). Everything here is a pure function of two tables, so it is tested on small
hand-made ones (tests/test_fidelity.py); ``report.build_report`` calls it on the board's
``per_seed`` table.
"""

from __future__ import annotations

import html
import math
import re
import warnings
from collections.abc import Iterable, Sequence

import numpy as np

TOLERANCE = 0.02
"""Differences up to this count as reproduced whatever the test says."""
ALPHA = 0.05
"""Significance level of the one-sample t-test."""
GPU_SUFFIX = " [gpu]"  # benchmark.harness.evaluate.GPU_SUFFIX (not imported: this module is pure)
LOWER_IS_BETTER = frozenset({"wall_time_s", "cpu_time_s", "peak_rss_mb"})
DECIMALS = {"purity": 3, "roc_auc": 3, "wall_time_s": 0}
"""Decimals of ours and of the difference per metric (3 for any other)."""
PAPER_DECIMALS = {"purity": 2, "roc_auc": 3, "wall_time_s": 0}
"""Decimals of the paper's values as it prints them."""

REASONS: dict[str | tuple[str, str], str] = {
    # (method, paper table) first, then method: one line each, with the document explaining it
    ("lal", "Table 9"): "the linear probe does not separate LAL's representation; the CatBoost "
                        "probe on the same embeddings does much better (docs/lal.md#real-sets-tables-89)",
    "lal": "the unsupervised fit, not the data or the model class: no labels, no true K, no "
           "checkpoint by purity here "
           "(docs/lal.md#purity-investigation-why-table-4s-lal-column-is-not-reproduced)",
    "lal-ensemble": "K chosen without labels (average NMI; the authors' code forced the true K): "
                    "seeds whose runs merge true clusters stay at 0.50-0.67 "
                    "(docs/lal.md#ensemble-table-7)",
    "dmhp": "BIC keeps fewer clusters than the truth (K = 1 on the real sets) "
            "(docs/dmhp.md#measured)",
    "autoencoder": "the paper does not give its architecture; count images alone separate Hawkes "
                   "clusters poorly (docs/autoencoder.md#leaderboard-paper-profile-5-seeds)",
    "thp": "not investigated yet (docs/thp.md#leaderboard-paper-profile-5-seeds)",
    "tslearn-kmeans": "on the authors' unscaled timestamps, Euclidean k-means splits long from "
                      "short sequences on the exp sets (docs/tslearn_tsfresh.md#the-authors-input"
                      "-issue-32-leaderboard-5-seeds)",
    "tslearn-kshape": "quick preset only (docs/tslearn_tsfresh.md#the-authors-input-issue-32-"
                      "leaderboard-5-seeds)",
    "tsfresh-kmeans": "quick preset only (10 minimal features per series on 32 bins; a few "
                      "heavy-tailed standardised features dominate) "
                      "(docs/tslearn_tsfresh.md#measured-numbers)",
    "multimodal": "the paper's multimodal baseline is not part of this suite",
}
DATA_NOTES: dict[str, str] = {
    "Amazon": "our Amazon is 800 EasyTPP sequences (dev 300 + test 500, 16 types); the paper's "
              "Amazon 7.5k (7523 sequences, 8 types) is not public (docs/datacards/Amazon.md)",
    "Amazon-100k": "the paper's Amazon 100k cut is not public; not run "
                   "(docs/datacards/Amazon.md)",
    "IPTV": "our IPTV is 1473 sequences (mean length 656); the paper's is a 302-user cut (mean "
            "length 3225), not public (docs/datacards/IPTV.md)",
    "Age": "Age is not shipped (competition data; put its files in the data directory "
           "yourself); not run here (docs/datacards/Age.md)",
}
METRIC_NOTES: dict[str, str] = {
    "wall_time_s": "other hardware than the paper's (see \"Where the runs ran\")",
}
QUICK_NOTE = "quick profile (not the paper's settings)"
VERDICTS = ("reproduced", "above", "below", "not run")
COLUMNS = ["source", "method", "row", "dataset", "metric", "paper_mean", "paper_std", "mean",
           "std", "n_seeds", "profile", "diff", "p_value", "verdict", "reason", "note"]
SECTION_TITLE = "Fidelity: the LAL paper's numbers against ours"


def base_method(row: str) -> str:
    """The method of a board row (``"thp [gpu]"`` -> ``"thp"``)."""
    return row.removesuffix(GPU_SUFFIX)


def p_value(values: Sequence[float], paper: float) -> float | None:
    """Two-sided p of the one-sample t-test of ``values`` against ``paper``
    (``scipy.stats.ttest_1samp``); ``None`` with fewer than two values. Values without spread
    give 1.0 when they equal ``paper`` and 0.0 otherwise (the test's limit)."""
    from scipy.stats import ttest_1samp

    v = np.asarray(values, dtype=float)
    if len(v) < 2:
        return None
    if np.ptp(v) == 0:
        return 1.0 if np.isclose(v[0], paper, rtol=0, atol=1e-12) else 0.0
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        p = float(ttest_1samp(v, paper).pvalue)
    return p if math.isfinite(p) else (0.0 if not np.isclose(v.mean(), paper) else 1.0)


def verdict(diff: float, p: float | None) -> str:
    """``reproduced`` if ``|diff| <= TOLERANCE`` or ``p >= ALPHA``, else ``above``/``below`` by
    the sign of ``diff`` (ours minus the paper's); ``p`` ``None`` (one seed): the difference
    alone decides."""
    if abs(diff) <= TOLERANCE + 1e-12 or (p is not None and p >= ALPHA):
        return "reproduced"
    return "above" if diff > 0 else "below"


def is_worse(v: str, metric: str) -> bool:
    """Is verdict ``v`` a miss: below the paper for a quality metric, above it for a cost."""
    return v == ("above" if metric in LOWER_IS_BETTER else "below")


def reason_for(method: str, source: str, reasons: dict | None = None) -> str:
    """The one-line reason for a miss of ``method`` in the paper's ``source`` table: the
    (method, table) entry of ``reasons`` (default :data:`REASONS`), else the method's, else
    ``""``. ``source`` may name several tables (``"Table 4/5"``); its first is used."""
    reasons = REASONS if reasons is None else reasons
    table = re.sub(r"^(Table \d+).*$", r"\1", str(source))
    return reasons.get((method, table), reasons.get(method, ""))


def _float(x) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def fidelity_table(per_seed, paper, datasets: Iterable[str] | None = None,
                   reasons: dict | None = None, data_notes: dict[str, str] | None = None):
    """One row per (paper number, board row of its method): the columns :data:`COLUMNS`.

    Parameters
    ----------
    per_seed : pandas.DataFrame
        The board's per-seed table (``per_seed.csv``): ``method`` (the board row, ``thp [gpu]``
        for GPU runs), ``dataset``, ``seed``, ``profile`` and one column per metric.
    paper : pandas.DataFrame
        ``paper_reference.csv``: ``method, dataset, metric, mean, std, source`` (``std`` may be
        empty; a non-numeric ``mean`` is skipped).
    datasets : iterable of str, optional
        The order of datasets within a table (default: first appearance in ``paper``).
    reasons, data_notes : dict, optional
        Default :data:`REASONS`, :data:`DATA_NOTES`.

    Returns
    -------
    pandas.DataFrame
        Quality before cost (time), then sorted by paper table, metric, method, dataset, row;
        ``p_value`` NaN where there is no test (fewer than two seeds, or nothing run).
    """
    import pandas as pd

    data_notes = DATA_NOTES if data_notes is None else data_notes
    order = {d: i for i, d in enumerate(datasets or [])}
    for d in paper["dataset"]:
        order.setdefault(d, len(order))
    rows_of: dict[str, list[str]] = {}
    for r in sorted(set(per_seed["method"])) if len(per_seed) else []:
        rows_of.setdefault(base_method(r), []).append(r)
    out = []
    for ref in paper.itertuples(index=False):
        pmean = _float(ref.mean)
        if math.isnan(pmean):
            continue
        pstd = _float(ref.std)
        base = {"source": ref.source, "method": ref.method, "dataset": ref.dataset,
                "metric": ref.metric, "paper_mean": pmean, "paper_std": pstd}
        notes = [n for n in (data_notes.get(ref.dataset, ""), METRIC_NOTES.get(ref.metric, ""))
                 if n]
        found = False
        for row in rows_of.get(ref.method, []):
            if ref.metric not in per_seed.columns:
                break
            sub = per_seed[(per_seed["method"] == row) & (per_seed["dataset"] == ref.dataset)]
            vals = sub[ref.metric].astype(float).dropna()
            if not len(vals):
                continue
            found = True
            profiles = sorted(set(sub.loc[vals.index, "profile"].astype(str)))
            mean = float(vals.mean())
            std = float(vals.std(ddof=1)) if len(vals) > 1 else math.nan
            diff = mean - pmean
            p = p_value(vals.to_numpy(), pmean)
            v = verdict(diff, p)
            out.append({**base, "row": row, "mean": mean, "std": std, "n_seeds": len(vals),
                        "profile": "/".join(profiles), "diff": diff,
                        "p_value": math.nan if p is None else p, "verdict": v,
                        "reason": reason_for(ref.method, ref.source, reasons)
                        if is_worse(v, ref.metric) else "",
                        "note": "; ".join(notes + ([QUICK_NOTE] if "quick" in profiles else []))})
        if not found:
            if ref.method not in rows_of:
                why = reason_for(ref.method, ref.source, reasons) or "no run of this method"
            elif ref.dataset in data_notes:
                why = ""  # the data note says why
            else:
                why = "no run of ours on this dataset"
            out.append({**base, "row": "", "mean": math.nan, "std": math.nan, "n_seeds": 0,
                        "profile": "", "diff": math.nan, "p_value": math.nan,
                        "verdict": "not run", "reason": why, "note": "; ".join(notes)})
    table = pd.DataFrame(out, columns=COLUMNS)
    if not len(table):
        return table
    key = table.assign(_c=table["metric"].isin(LOWER_IS_BETTER),
                       _t=table["source"].map(_table_number), _d=table["dataset"].map(order))
    key = key.sort_values(["_c", "_t", "source", "metric", "method", "_d", "row"], kind="stable")
    return key[COLUMNS].reset_index(drop=True)


def _table_number(source: str) -> float:
    m = re.search(r"\d+", str(source))
    return float(m.group()) if m else math.inf


def summary(table) -> dict[str, dict[str, int]]:
    """metric -> {verdict: count} over the rows of :func:`fidelity_table` (every verdict of
    :data:`VERDICTS` present, zero if none)."""
    out: dict[str, dict[str, int]] = {}
    for metric, g in table.groupby("metric", sort=False):
        counts = g["verdict"].value_counts()
        out[metric] = {v: int(counts.get(v, 0)) for v in VERDICTS}
    return out


def _num(x: float, dec: int) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{dec}f}"


def _ours(r, dec: int) -> str:
    if not r.n_seeds:
        return "–"
    s = _num(r.mean, dec)
    if r.n_seeds > 1:
        s += f" ± {_num(r.std, dec)}"
    return s + f" ({r.n_seeds})"


def _p(p: float) -> str:
    if isinstance(p, float) and math.isnan(p):
        return "n/a"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


_DOC = re.compile(r"\b(docs/[\w./-]+\.md)(#[\w-]+)?")


def _md_links(text: str, prefix: str) -> str:
    return _DOC.sub(lambda m: f"[{m.group(1)}]({prefix}{m.group(1)}{m.group(2) or ''})", text)


def _cells(r, dec: int) -> list[str]:
    pdec = PAPER_DECIMALS.get(r.metric, dec)
    paper = _num(r.paper_mean, pdec) + ("" if math.isnan(r.paper_std)
                                        else f" ± {_num(r.paper_std, pdec)}")
    diff = "" if math.isnan(r.diff) else f"{r.diff:+.{dec}f}"
    p = "" if not r.n_seeds else _p(r.p_value)
    return [r.row or r.method, r.dataset, paper, _ours(r, dec), diff, p, r.verdict]


def summary_lines(table) -> list[str]:
    """One Markdown bullet per metric: how many comparisons reproduced, above, below, not run."""
    lines = []
    for metric, c in summary(table).items():
        lines.append(f"* `{metric}`: {sum(c.values())} comparison(s): reproduced "
                     f"{c['reproduced']}, above {c['above']}, below {c['below']}, "
                     f"not run {c['not run']}")
    return lines


def markdown_section(table, link_prefix: str = "../") -> list[str]:
    """Markdown lines of the board's FIDELITY section: a title, the rule, counts per metric,
    where our data differ, then one table per paper table, each followed by the reasons of its
    misses (once per method; the rows link to the document). ``link_prefix`` turns ``docs/…``
    paths into links relative to the page (the board is ``leaderboard/README.md``)."""
    if not len(table):
        return []
    n_paper = len(table[["source", "method", "dataset", "metric"]].drop_duplicates())
    md = [f"## {SECTION_TITLE}", "",
          (f"Each number of the LAL paper in `paper_reference.csv` ({n_paper}) against each of "
           "our rows of that method (a method's CPU and `[gpu]` rows are compared separately; "
           "same runs as the tables above). *ours* = mean ± sample std (seeds); *diff* = ours − "
           "paper; *p* = two-sided one-sample t-test of our per-seed values against the paper's "
           "value (`scipy.stats.ttest_1samp`; n/a with one seed). Verdict: **reproduced** when "
           f"\\|diff\\| ≤ {TOLERANCE} or p ≥ {ALPHA}, else **above** or **below**; **not run** "
           "where we have no run. Where we fall short of the paper (below; for time: above) the "
           "row links to the explanation, listed under its table. Synthetic sets are our own "
           "draw (generator seed 0) of the paper's protocol, not the paper's sequences. "
           "Machine-readable: `fidelity.csv`."), ""]
    md += summary_lines(table) + [""]
    used = [f"* **{d}**: {_md_links(DATA_NOTES[d], link_prefix)}"
            for d in sorted(set(table["dataset"]) & set(DATA_NOTES))]
    if used:
        md += ["Where our data differ from the paper's (rows marked *data differ*):", "", *used,
               ""]
    for source, g in table.groupby("source", sort=False):
        metrics = list(dict.fromkeys(g["metric"]))
        md += [f"### {source} ({', '.join(f'`{m}`' for m in metrics)})", ""]
        md += [f"{METRIC_NOTES[m][0].upper()}{METRIC_NOTES[m][1:]}." for m in metrics
               if m in METRIC_NOTES] + ([""] if any(m in METRIC_NOTES for m in metrics) else [])
        md += ["| method | dataset | paper | ours (seeds) | diff | p | verdict | why / note |",
               "|---|---|---|---|---|---|---|---|"]
        reasons: dict[str, str] = {}
        for r in g.itertuples(index=False):
            dec = DECIMALS.get(r.metric, 3)
            extra = []
            if r.reason and r.verdict == "not run":
                extra.append(_md_links(r.reason, link_prefix))
            elif r.reason:
                reasons.setdefault(r.method, r.reason)
                doc = _DOC.search(r.reason)
                extra.append(f"[why]({link_prefix}{doc.group(1)}{doc.group(2) or ''})" if doc
                             else "why: see below")
            extra += _row_notes(r.note, r.dataset)
            md.append("| " + " | ".join(_cells(r, dec) + ["; ".join(extra).replace("|", "/")])
                      + " |")
        md.append("")
        if reasons:
            md += ["Why:", "", *[f"* **{m}**: {_md_links(t, link_prefix)}"
                                 for m, t in reasons.items()], ""]
    return md


def _row_notes(note: str, dataset: str) -> list[str]:
    """A row's notes for the Markdown table: *data differ* for a dataset of :data:`DATA_NOTES`
    (the section lists its note once), the others as they are, less the metric notes (printed
    once under the table's title)."""
    for known in (*DATA_NOTES.values(), *METRIC_NOTES.values()):
        note = note.replace(known, "")
    out = ["*data differ*"] if dataset in DATA_NOTES else []
    return out + [p for p in note.split("; ") if p.strip()]


def html_section(table, link_prefix: str = "../") -> str:
    """The FIDELITY section as HTML (the counts and one table with every comparison)."""
    if not len(table):
        return ""
    items = "".join(f"<li>{html.escape(line[2:]).replace('`', '')}</li>"
                    for line in summary_lines(table))
    head = "".join(f"<th>{h}</th>" for h in ("table", "method", "dataset", "paper",
                                            "ours (seeds)", "diff", "p", "verdict",
                                            "reason / note"))
    body = []
    for r in table.itertuples(index=False):
        dec = DECIMALS.get(r.metric, 3)
        extra = html.escape("; ".join(x for x in (r.reason, r.note) if x))
        extra = _DOC.sub(lambda m: f'<a href="{link_prefix}{m.group(1)}{m.group(2) or ""}">'
                                   f"{m.group(1)}</a>", extra)
        tds = "".join(f"<td>{html.escape(c)}</td>"
                      for c in [f"{r.source} ({r.metric})"] + _cells(r, dec))
        body.append(f'<tr class="{r.verdict.replace(" ", "-")}">{tds}<td>{extra}</td></tr>')
    return (f"<h2>{html.escape(SECTION_TITLE)}</h2><p>Verdict: reproduced when |ours − paper| ≤ "
            f"{TOLERANCE} or the one-sample t-test gives p ≥ {ALPHA}; else above or below.</p>"
            f"<ul>{items}</ul><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")
