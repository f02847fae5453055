"""The leaderboard's page, ``index.html``: rendered from the report's structured data.

:func:`render_page` turns a :class:`BoardPage` (the tables as header + rows + bold flags, the
machines of every cell, the plots, the fidelity section, ...) into one static HTML file with
inline CSS and a small inline script (sortable columns); no external resource, so the page works
offline from ``file://``. It is what a user opens first: top to bottom

* title, the protocol and how to read a cell (bold, reference rows, the marks);
* **Summary**: per board row its mean purity rank across datasets and within each dataset family
  (:func:`rank_summary`), sorted by the overall mean rank;
* per metric, one table per dataset family (columns = that family's datasets, so no table is
  wider than the page); each cell's tooltip names the machine(s) of its runs;
* the extra sections passed in (:attr:`BoardPage.extra_sections`);
* the plots, "Where the runs ran", Fidelity, Plan, "Runs that did not finish", Isolation.

Clicking a column header sorts the rows by it (best first for a metric column, again to reverse);
the paper's and the oracle's reference rows stay at the bottom. ``report.build_report`` fills the
:class:`BoardPage`; this module computes nothing but the ranks and reads no file.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..core.registry import DATASETS, discover

FAMILIES = ("exp", "sin", "trunc", "real", "others")
"""Dataset families of the page, in order: the LAL paper's three synthetic families
(``DatasetSpec.family``), the real sets, then every other set (toy, ``Huge``, unregistered)."""
FAMILY_TITLES = {
    "exp": "exp: LAL synthetic Hawkes sets, exponential kernels",
    "sin": "sin: LAL synthetic, sinusoidal kernels",
    "trunc": "trunc: LAL synthetic, truncated sinusoidal kernels",
    "real": "real: real data with the paper's pseudo-labels (-holdout: last event removed)",
    "others": "others: toy and other sets",
}
FAMILY_SHORT = {"exp": "exponential kernels", "sin": "sinusoidal kernels",
                "trunc": "truncated sinusoidal kernels", "real": "real data, pseudo-labels",
                "others": "toy and other sets", "all sets": "over every set of the row"}
RANK_NOTE = (
    "Rank: on each dataset the suite's rows (not the paper's rows, not the oracle) are ranked by "
    "their mean purity, 1 = best, tied means sharing the average of their ranks; a row's mean rank "
    "is the mean of its ranks over the datasets where it has a purity cell (pending cells are not "
    "ranked), and a family's column the same mean over that family's datasets only. A row that "
    "covers few datasets is ranked on those alone: read the mean rank with the datasets column.")
"""The summary's line saying how the rank is computed."""
LEGEND = (
    "How to read a cell: the mean over seeds, ± the sample std; **bold** = best of this suite's "
    "rows in the column; grey italic rows are references, not rerun here: `METHOD (paper)` the "
    "numbers printed in the LAL paper (tables 3, 4, 5, 8, 9), `{oracle}` the purity ceiling (the "
    "Bayes classifier with the generator's true parameters). Under a value: `(n/5)` fewer than 5 "
    "seeds so far; `q` quick profile only (CI-sized presets, not the paper's settings); `m` (time "
    "and memory) seeds ran on different machines; `u` a seed ran without the sandbox; `p` seeds "
    "still pending in the plan; `pending` no run yet. Hover a cell for the machines of its runs; "
    "click a column header to sort.")
"""The page's key to cells, marks and reference rows (``{oracle}``: the oracle row's name)."""
MARK_TIPS = {"q": "q: quick profile only (not the paper's settings)",
             "m": "m: seeds ran on different machines (the mean mixes hardware)",
             "u": "u: a seed ran without the sandbox",
             "p": "p: seeds still pending in the plan"}


def family_of(dataset: str) -> str:
    """The page's family of ``dataset``: its ``DatasetSpec.family`` when that is one of
    :data:`FAMILIES`, else ``"others"`` (also for a name not registered here)."""
    discover()
    spec = DATASETS.get(dataset)
    family = spec.family if spec is not None else None
    return family if family in FAMILIES else "others"


@dataclass
class BoardTable:
    """One table of the page.

    ``header[0]`` names the row column (``"method"``), ``header[1:]`` the value columns;
    ``rows[i][0]`` is the row's name; ``bold[i][j]`` sets cell ``rows[i][j]`` in bold (same
    shape as ``rows``). ``ref[i]`` marks a reference row (the paper's numbers, the oracle),
    styled apart and kept at the bottom when sorting (default: none). With ``by_family`` the
    value columns are dataset names and the table is split into one table per dataset family
    (:func:`family_of`), each keeping only the rows with a value in that family; without it the
    table is shown as it is (keep it narrow). ``tips`` maps (row name, column name) to a cell's
    tooltip. ``higher_is_better`` (True, False or None) orders a first click on a value column:
    best first. ``intro`` is one paragraph of plain text (Markdown ``**bold**`` and ```code```
    allowed) shown under the title. ``summary_columns`` names value columns that are not
    datasets (e.g. a mean over all sets): with ``by_family`` they form a last table of their
    own, "all sets"."""

    title: str
    header: list[str]
    rows: list[list[str]]
    bold: list[list[bool]]
    intro: str = ""
    ref: list[bool] | None = None
    by_family: bool = False
    higher_is_better: bool | None = None
    tips: Mapping[tuple[str, str], str] = field(default_factory=dict)
    anchor: str = ""
    summary_columns: Sequence[str] = ()


@dataclass
class RankRow:
    """One row of the summary: mean purity rank overall and per family, datasets covered."""

    method: str
    mean_rank: float  # NaN when the row has no purity cell
    n_datasets: int
    family_rank: dict[str, float]  # family -> mean rank over its datasets (absent: no cell)
    family_n: dict[str, int]


def rank_summary(values: Mapping[tuple[str, str], float], rows: Iterable[str] = (),
                 family: Callable[[str], str] = family_of) -> list[RankRow]:
    """Mean purity rank per board row, overall and per dataset family.

    Parameters
    ----------
    values : mapping (row, dataset) -> mean purity
        The suite's cells only (no paper or oracle row); NaN counts as missing.
    rows : iterable of str
        Rows to list even without any value (shown with no rank, last).
    family : callable
        dataset -> family name (default :func:`family_of`).

    Returns
    -------
    list of RankRow
        Sorted by mean rank (rows without a rank last), then name. On each dataset the rows with
        a value are ranked, 1 = highest purity; equal means (to 1e-9) share the average of their
        ranks. A row's mean is over the datasets it has a value on.
    """
    from scipy.stats import rankdata

    by_dataset: dict[str, list[tuple[str, float]]] = {}
    for (m, d), v in values.items():
        if v is not None and not np.isnan(v):
            by_dataset.setdefault(d, []).append((m, float(v)))
    ranks: dict[str, dict[str, list[float]]] = {m: {} for m in rows}
    for d, cells in by_dataset.items():
        r = rankdata([-round(v, 9) for _, v in cells], method="average")
        for (m, _), rank in zip(cells, r):
            ranks.setdefault(m, {}).setdefault(family(d), []).append(float(rank))
    out = []
    for m, fam in ranks.items():
        every = [x for rs in fam.values() for x in rs]
        out.append(RankRow(m, float(np.mean(every)) if every else float("nan"), len(every),
                           {f: float(np.mean(rs)) for f, rs in fam.items()},
                           {f: len(rs) for f, rs in fam.items()}))
    return sorted(out, key=lambda r: (np.isnan(r.mean_rank), r.mean_rank, r.method))


def summary_table(ranks: Sequence[RankRow], families: Sequence[str] = FAMILIES) -> BoardTable:
    """The summary as a :class:`BoardTable`: row, mean rank, one column per family that has a
    ranked dataset, datasets covered; the best (lowest) rank of each column in bold."""
    fams = [f for f in families if any(f in r.family_rank for r in ranks)]
    header = ["method", "mean rank"] + [f"{f} rank" for f in fams] + ["datasets"]
    rows, tips = [], {}
    for r in ranks:
        rows.append([r.method, "" if np.isnan(r.mean_rank) else f"{r.mean_rank:.2f}"]
                    + [f"{r.family_rank[f]:.2f}" if f in r.family_rank else "" for f in fams]
                    + [str(r.n_datasets)])
        for f in fams:
            if f in r.family_rank:
                tips[(r.method, f"{f} rank")] = f"{r.family_n[f]} dataset(s) of family {f}"
    bold = []
    cols = [[r.mean_rank for r in ranks]] + [[r.family_rank.get(f, np.nan) for r in ranks]
                                             for f in fams]
    best = [np.nanmin(c) if not all(np.isnan(c)) else np.nan for c in cols]
    for r in ranks:
        vals = [r.mean_rank] + [r.family_rank.get(f, np.nan) for f in fams]
        bold.append([False] + [bool(np.isclose(v, b)) for v, b in zip(vals, best)] + [False])
    return BoardTable("Summary: mean purity rank", header, rows, bold, intro=RANK_NOTE,
                      higher_is_better=False, tips=tips, anchor="summary")


@dataclass
class BoardPage:
    """Everything :func:`render_page` shows; ``report.build_report`` fills it.

    ``tables``: the metric tables (``by_family=True``), in the page's order. ``purity``: (row,
    dataset) -> mean purity of the suite's rows, for the summary ranks; ``rows``: every board
    row of the suite (listed in the summary even without purity). ``cell_machines``: (row,
    dataset) -> {machine description: runs}, each metric cell's tooltip; ``pending``: (row,
    dataset) -> the plan's pending seeds. ``extra_sections``: more tables, shown after the
    metric tables and listed in the contents; each a :class:`BoardTable` or a tuple ``(title,
    intro, header, rows, bold)`` (shown as it is; for dataset columns split by family pass a
    ``BoardTable(..., by_family=True)``); e.g. a "Spread over generator draws" table.
    ``machines``: board row -> {machine: runs} ("Where the runs ran"); ``plots``: image file
    names next to the page; ``fidelity_html``: ``fidelity.html_section``'s output; ``failures``:
    records of runs that did not finish; ``isolation``: [(runs, how they ran)]; ``plan``: None,
    or (declared runs, number of pending runs, declared runs not found)."""

    protocol: str
    legend: str
    tables: list[BoardTable]
    purity: Mapping[tuple[str, str], float] = field(default_factory=dict)
    rows: Sequence[str] = ()
    cell_machines: Mapping[tuple[str, str], Mapping[str, int]] = field(default_factory=dict)
    pending: Mapping[tuple[str, str], Sequence[int]] = field(default_factory=dict)
    extra_sections: Sequence[BoardTable | tuple] = ()
    machines: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    plots: Sequence[str] = ()
    fidelity_html: str = ""
    failures: Sequence[Mapping] = ()
    isolation: Sequence[tuple[int, str]] = ()
    plan: tuple[int, int, int] | None = None
    title: str = "Event-sequence clustering leaderboard"


# ------------------------------------------------------------------------------- rendering
CSS = """
body{font-family:"Liberation Sans",Arial,Helvetica,sans-serif;font-size:14px;margin:0;
 padding:1.2em 2em;max-width:1400px;box-sizing:border-box;color:#222;line-height:1.35}
h1{margin:.2em 0 .4em}h2{margin:1.6em 0 .4em;border-bottom:2px solid #ddd;padding-bottom:.15em}
h3{margin:.2em 0 .3em;font-size:14px;color:#444}
p,li{max-width:95ch}nav{background:#f6f6f6;border:1px solid #e3e3e3;padding:.4em .8em}
nav a{margin-right:.9em;white-space:nowrap}
.fams{display:flex;flex-wrap:wrap;gap:.6em 2.2em;align-items:flex-start}
.tw{max-width:100%;overflow-x:auto}
table{border-collapse:collapse;margin:.2em 0 1em}
td,th{border:1px solid #d4d4d4;padding:2px 6px;text-align:right;vertical-align:top}
th{background:#f0f0f0;position:sticky;top:0;cursor:pointer;user-select:none;white-space:nowrap}
th:after{content:" \\2195";color:#aaa;font-size:10px}
th[aria-sort=ascending]:after{content:" \\25B2";color:#333}
th[aria-sort=descending]:after{content:" \\25BC";color:#333}
td:first-child,th:first-child{text-align:left;white-space:nowrap}
tr.ref td{color:#777;font-style:italic;background:#fafafa}
tbody tr:hover td{background:#fff8dc}
.sd{color:#666;font-size:11px;margin-left:2px;white-space:nowrap}
.mk{display:block;color:#8a5a00;font-size:10px;line-height:1.1}
td.pend{color:#999;font-size:11px}
.note{color:#555;font-size:13px}
table.wrap td,table.wrap th{text-align:left;white-space:nowrap}
table.wrap td:last-child{white-space:normal;min-width:18em;overflow-wrap:anywhere}
h3 .fd{font-weight:normal;color:#777;margin-left:.4em}
tr.below td:nth-child(8),tr.above td:nth-child(8){font-weight:bold}
tr.reproduced td:nth-child(8){color:#00557f}tr.not-run td{color:#888}
details>summary{cursor:pointer;color:#0645ad;margin:.3em 0}
img{max-width:100%;height:auto;border:1px solid #eee}
.plots{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}
"""

SCRIPT = r"""
(function(){
function key(td){
 if(!td)return null;
 var v=td.getAttribute('data-v');
 if(v!==null)return v===''?null:parseFloat(v);
 var t=td.textContent.trim();if(t==='')return null;
 return /^[-+]?\d/.test(t)?parseFloat(t):t.toLowerCase();
}
function sortBy(th){
 var table=th.closest('table'),tb=table.tBodies[0];
 var i=Array.prototype.indexOf.call(th.parentNode.children,th);
 var now=th.getAttribute('aria-sort');
 var dir=now?(now==='ascending'?-1:1):(th.getAttribute('data-first')==='desc'?-1:1);
 Array.prototype.forEach.call(table.querySelectorAll('th[aria-sort]'),
  function(h){h.removeAttribute('aria-sort');});
 th.setAttribute('aria-sort',dir===1?'ascending':'descending');
 var rows=Array.prototype.slice.call(tb.rows);
 var main=rows.filter(function(r){return !r.classList.contains('ref');});
 var ref=rows.filter(function(r){return r.classList.contains('ref');});
 main.sort(function(a,b){
  var x=key(a.cells[i]),y=key(b.cells[i]);
  if(x===null||y===null)return (x===null)-(y===null);
  if(typeof x!==typeof y)return typeof x==='number'?-1:1;
  return (x<y?-1:x>y?1:0)*dir;});
 main.concat(ref).forEach(function(r){tb.appendChild(r);});
}
Array.prototype.forEach.call(document.querySelectorAll('table.sortable thead th'),function(th){
 th.tabIndex=0;th.title=th.title||'click to sort';
 th.addEventListener('click',function(){sortBy(th);});
 th.addEventListener('keydown',function(e){if(e.key==='Enter')sortBy(th);});
});
})();
"""

_CELL = re.compile(r"^(?P<v>[-+]?[\d.]+(?:e[-+]?\d+)?)(?: ± (?P<sd>\S+))?"
                   r"(?: \((?P<n>\d+(?:/\d+)?)\))?(?P<marks>(?: [a-z]+)*)$")
_NUM = re.compile(r"^[-+]?\d[\d.]*(?:e[-+]?\d+)?")


def _e(text: object) -> str:
    return html.escape(str(text))


def _inline(text: str) -> str:
    """Escaped text with Markdown's ``**bold**`` and ```code``` spans as HTML."""
    out = _e(text)
    out = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", out)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", out)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


def _cell_html(text: str) -> str:
    """A value cell: the mean, then ``± std`` small, then ``(n/5)`` and the marks on a line of
    their own (narrow columns); any other text as it is."""
    m = _CELL.match(text)
    if not m:
        return _e(text)
    out = _e(m["v"])
    if m["sd"]:
        out += f'<span class="sd">±{_e(m["sd"])}</span>'
    tail = " ".join(x for x in ([f"({m['n']})"] if m["n"] else []) + m["marks"].split())
    if tail:
        out += f'<span class="mk">{_e(tail)}</span>'
    return out


def _sort_value(text: str) -> str:
    m = _NUM.match(text)
    return m.group(0) if m else ""


def _tip(table: BoardTable, page: BoardPage | None, row: str, col: str, text: str) -> str:
    parts = []
    if (row, col) in table.tips:
        parts.append(table.tips[(row, col)])
    if page is not None and table.by_family and text:
        machines = page.cell_machines.get((row, col))
        if machines:
            parts.append("ran on: " + "; ".join(f"{h} ({n} run{'s' if n > 1 else ''})"
                                                for h, n in sorted(machines.items())))
        if (row, col) in page.pending:
            parts.append("pending seeds: " + ", ".join(map(str, page.pending[(row, col)])))
        m = _CELL.match(text)
        for mark in (m["marks"].split() if m else []):
            if mark in MARK_TIPS:
                parts.append(MARK_TIPS[mark])
    return "\n".join(parts)


def _table_html(table: BoardTable, cols: Sequence[int], page: BoardPage | None,
                keep: Callable[[list[str]], bool] = lambda row: True) -> str:
    """One ``<table class="sortable">`` of ``table``'s columns ``cols`` (0 = the row column)."""
    first = {True: "desc", False: "asc"}.get(table.higher_is_better, "")
    ths = []
    for j in cols:
        attr = f' data-first="{first}"' if j and first else ""
        ths.append(f"<th{attr}>{_e(table.header[j])}</th>")
    body = []
    refs = table.ref or [False] * len(table.rows)
    for row, bold, ref in zip(table.rows, table.bold, refs):
        if not keep(row):
            continue
        tds = []
        for j in cols:
            text = row[j] if j < len(row) else ""
            if j == 0:
                tds.append(f"<td>{_e(text)}</td>")
                continue
            inner = _cell_html(text)
            if j < len(bold) and bold[j] and text:
                inner = f"<b>{inner}</b>"
            tip = _tip(table, page, row[0], table.header[j], text)
            attrs = f' data-v="{_e(_sort_value(text))}"'
            attrs += f' title="{_e(tip)}"' if tip else ""
            attrs += ' class="pend"' if text == "pending" else ""
            tds.append(f"<td{attrs}>{inner}</td>")
        body.append(("<tr class=\"ref\">" if ref else "<tr>") + "".join(tds) + "</tr>")
    return (f'<div class="tw"><table class="sortable"><thead><tr>{"".join(ths)}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


def _section(table: BoardTable, page: BoardPage | None, anchor: str) -> str:
    """``<h2>``, intro and the table (split by family when ``by_family``)."""
    out = [f'<h2 id="{anchor}">{_e(table.title)}</h2>']
    if table.intro:
        out.append(f'<p class="note">{_inline(table.intro)}</p>')
    if not table.by_family:
        out.append(_table_html(table, range(len(table.header)), page))
        return "".join(out)
    groups: dict[str, list[int]] = {}
    for j, d in enumerate(table.header[1:], 1):
        groups.setdefault("all sets" if d in table.summary_columns else family_of(d),
                          []).append(j)
    out.append('<div class="fams">')
    for fam in sorted(groups, key=lambda f: FAMILIES.index(f) if f in FAMILIES else 99):
        cols = groups[fam]
        out.append(f'<div><h3 id="{anchor}-{_slug(fam)}" '
                   f'title="{_e(FAMILY_TITLES.get(fam, fam))}">{_e(fam)}'
                   f'<span class="fd">{_e(FAMILY_SHORT.get(fam, ""))}</span></h3>'
                   + _table_html(table, [0] + cols, page,
                                 keep=lambda row, cols=cols: any(row[j] for j in cols
                                                                  if j < len(row)))
                   + "</div>")
    out.append("</div>")
    return "".join(out)


def _as_table(section: BoardTable | tuple) -> BoardTable:
    """A section as a :class:`BoardTable`; a tuple ``(title, intro, header, rows, bold)`` whose
    header names registered datasets is split by family, its other columns shown last."""
    if isinstance(section, BoardTable):
        return section
    title, intro, header, rows, bold = section
    sets = [h for h in header[1:] if h in DATASETS]
    return BoardTable(title, list(header), [list(r) for r in rows], [list(b) for b in bold],
                      intro=intro, by_family=bool(sets),
                      summary_columns=[h for h in header[1:] if h not in sets])


def _simple_table(header: Sequence[str], rows: Iterable[Sequence[object]], wrap: bool = False
                  ) -> str:
    ths = "".join(f"<th>{_e(h)}</th>" for h in header)
    trs = "".join("<tr>" + "".join(f"<td>{_inline(str(c))}</td>" for c in r) + "</tr>"
                  for r in rows)
    cls = "sortable wrap" if wrap else "sortable"
    return (f'<div class="tw"><table class="{cls}"><thead><tr>{ths}</tr></thead>'
            f"<tbody>{trs}</tbody></table></div>")


def render_page(page: BoardPage) -> str:
    """The whole ``index.html`` of ``page`` (one string, UTF-8 when written)."""
    toc: list[tuple[str, str]] = []
    parts: list[str] = []

    def add(anchor: str, title: str, body: str) -> None:
        toc.append((anchor, title))
        parts.append(body)

    summary = summary_table(rank_summary(page.purity, page.rows))
    add("summary", "Summary", _section(summary, page, "summary")
        + "<p class=\"note\">Families: " + "; ".join(_e(FAMILY_TITLES[f]) for f in FAMILIES)
        + ".</p>")
    for t in page.tables:
        anchor = t.anchor or _slug(t.title.split(",")[0])
        add(anchor, t.title.split(",")[0].split(" (")[0], _section(t, page, anchor))
    for s in page.extra_sections:
        t = _as_table(s)
        anchor = t.anchor or _slug(t.title)
        add(anchor, t.title, _section(t, page, anchor))
    if page.plots:
        imgs = "".join(f'<img src="{_e(p)}" alt="{_e(p)}">'
                       for p in sorted(page.plots, key=lambda p: "runtime" not in p))
        add("plots", "Plots", '<h2 id="plots">Purity against time, purity per dataset</h2>'
            f'<div class="plots">{imgs}</div>')
    if page.machines:
        rows = [(m, "; ".join(f"{h} ({n})" for h, n in sorted(c.items())))
                for m, c in sorted(page.machines.items())]
        add("machines", "Where the runs ran",
            '<h2 id="machines">Where the runs ran</h2><p class="note">Runtimes are only '
            "comparable between cells measured on the same machine; each cell's tooltip names "
            "the machines of its runs.</p>"
            + _simple_table(["method", "machine (runs)"], rows, wrap=True))
    if page.fidelity_html:
        n = page.fidelity_html.count("<tr class=")
        add("fidelity", "Fidelity", '<div id="fidelity">' + page.fidelity_html.replace(
            "<table>", f"<details><summary>the {n} comparisons, one per paper number and board "
            'row (click to open)</summary><div class="tw"><table class="sortable wrap">')
            .replace("</table>", "</table></div></details>") + "</div>")
    if page.plan is not None:
        declared, n_pending, missing = page.plan
        rows = [(m, d, ", ".join(map(str, s))) for (m, d), s in sorted(page.pending.items())]
        body = (f'<h2 id="plan">Plan</h2><p>The cells of this board are declared in '
                f"<code>plan.toml</code> ({declared} runs); runs outside the plan are not shown. "
                f"<code>pending</code> marks a cell whose runs are not made yet, a <code>p</code> "
                f"after a value a cell with seeds still pending: {n_pending} pending run(s)"
                + (f", {missing} declared run(s) not found" if missing else "") + ".</p>")
        if rows:
            body += (f"<details><summary>{len(rows)} cell(s) with pending seeds</summary>"
                     + _simple_table(["row", "dataset", "pending seeds"], rows) + "</details>")
        add("plan", "Plan", body)
    if page.failures:
        rows = [(r.get("method"), r.get("dataset"), r.get("seed"), r.get("status"),
                 str(r.get("error", ""))[:160]) for r in page.failures]
        add("failures", "Runs that did not finish",
            '<h2 id="failures">Runs that did not finish</h2>'
            + _simple_table(["method", "dataset", "seed", "status", "error"], rows, wrap=True))
    if page.isolation:
        add("isolation", "Isolation", '<h2 id="isolation">Isolation</h2>'
            + _simple_table(["runs", "how the method's process ran"], page.isolation, wrap=True))
    nav = "<nav>" + " ".join(f'<a href="#{a}">{_e(t)}</a>' for a, t in toc) + "</nav>"
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width\">"
            f"<title>{_e(page.title)}</title><style>{CSS}</style></head><body>"
            f"<h1>{_e(page.title)}</h1>{nav}"
            f"<p>{_inline(page.protocol)}</p><p class=\"note\">{_inline(page.legend)}</p>"
            + "".join(parts) + f"<script>{SCRIPT}</script></body></html>\n")
