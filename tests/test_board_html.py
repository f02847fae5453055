"""The leaderboard page (``index.html``, benchmark/harness/board_html.py): the summary's ranks,
the page's content, and, in headless Chromium, that it renders at 1400 px without horizontal
cut-off, names every method and sorts on a header click.

The browser tests skip when no Chromium is installed (``make browser-tool`` installs it as root
on Debian), except where ``EVSEQ_REQUIRE_CHROMIUM=1`` (CI, ``.ci/run``): there they fail.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import tests.harness_methods  # noqa: F401  (registers test_tiny)
from benchmark.core.registry import discover
from benchmark.harness import board_html
from benchmark.harness.board_html import BoardPage, BoardTable, rank_summary, render_page
from benchmark.harness.cli import main
from benchmark.harness.plan import fill_pending
from benchmark.harness.report import (
    ORACLE_ROW,
    PROTOCOL,
    TABLES,
    _is_reference,
    build_table,
    load_oracle_reference,
    load_paper_reference,
)

WIDTH = 1400
METHODS = ["autoencoder", "autoencoder [gpu]", "cohortney", "dmhp", "histogram-kmeans", "lal",
           "lal-ensemble", "plsa-em", "random", "sasrec", "sasrec [gpu]", "thp", "thp [gpu]",
           "tsfresh-kmeans", "tslearn-kmeans", "tslearn-kshape"]
DATASETS = ([f"K{k}_C5" for k in range(2, 6)] + [f"sin_K{k}_C5" for k in range(2, 6)]
            + [f"trunc_K{k}_C5" for k in range(2, 6)]
            + ["Amazon", "IPTV", "IPTV-holdout", "LinkedIn", "LinkedIn-holdout", "Age",
               "poisson_mixture", "Huge", "my_own_set"])
MACHINE = "Intel(R) Xeon(R) Processor @ 2.10GHz, 1 thread(s) of 16 CPUs, GPU NVIDIA H100 80GB HBM3"


# ------------------------------------------------------------------------------- the ranks
def test_ranks_average_ties_and_skip_missing_cells():
    values = {("a", "K2_C5"): 0.9, ("b", "K2_C5"): 0.9, ("c", "K2_C5"): 0.5,
              ("a", "IPTV"): 0.3, ("c", "IPTV"): 0.4, ("b", "sin_K2_C5"): float("nan")}
    ranks = {r.method: r for r in rank_summary(values, rows=["d"])}
    # K2_C5: a and b tie for 1-2 (1.5 each), c 3rd; IPTV: c 1st, a 2nd; b's NaN is no cell
    assert ranks["a"].mean_rank == pytest.approx(1.75) and ranks["a"].n_datasets == 2
    assert ranks["b"].mean_rank == pytest.approx(1.5) and ranks["b"].n_datasets == 1
    assert ranks["c"].mean_rank == pytest.approx(2.0)
    assert ranks["a"].family_rank == pytest.approx({"exp": 1.5, "real": 2.0})
    assert ranks["b"].family_rank == {"exp": 1.5} and ranks["b"].family_n == {"exp": 1}
    assert math.isnan(ranks["d"].mean_rank) and ranks["d"].n_datasets == 0
    assert [r.method for r in rank_summary(values, rows=["d"])] == ["b", "a", "c", "d"]


def test_ranks_tie_on_float_noise_and_take_a_family_function():
    values = {("x", "s1"): 0.1 + 0.2, ("y", "s1"): 0.3, ("z", "s1"): 0.2,
              ("x", "s2"): 0.1, ("z", "s2"): 0.2}
    ranks = {r.method: r for r in rank_summary(values, family=lambda d: "f" + d[-1])}
    assert ranks["x"].family_rank["f1"] == ranks["y"].family_rank["f1"] == pytest.approx(1.5)
    assert ranks["x"].family_rank["f2"] == 2.0 and ranks["z"].family_rank == {"f1": 3.0,
                                                                               "f2": 1.0}
    assert rank_summary({}) == []


def test_summary_table_bolds_the_lowest_rank_per_column():
    values = {("a", "K2_C5"): 0.9, ("b", "K2_C5"): 0.8, ("a", "IPTV"): 0.1, ("b", "IPTV"): 0.7}
    t = board_html.summary_table(rank_summary(values))
    assert t.header == ["method", "mean rank", "exp rank", "real rank", "datasets"]
    rows = {r[0]: (r, b) for r, b in zip(t.rows, t.bold)}
    assert rows["a"][0] == ["a", "1.50", "1.00", "2.00", "2"]
    assert rows["a"][1] == [False, True, True, False, False]
    assert rows["b"][1] == [False, True, False, True, False]
    assert t.higher_is_better is False and "average" in t.intro


def test_family_of_groups_the_sets():
    discover()
    assert [board_html.family_of(d) for d in ("K2_C5", "sin_K3_C5", "trunc_K5_C5", "IPTV",
                                              "LinkedIn-holdout", "poisson_mixture", "Huge",
                                              "not_registered")] == [
        "exp", "sin", "trunc", "real", "real", "others", "others", "others"]


# ------------------------------------------------------------------------------- the page
@pytest.fixture(scope="module")
def synthetic_html() -> str:
    """:func:`render_page` of :func:`_synthetic_page` (built once: ``build_table`` takes seconds)."""
    return render_page(_synthetic_page())


def _synthetic_page(n_extra_rows: int = 0) -> BoardPage:
    """A board the size of the real one: 16 rows (GPU rows too) x 23 datasets of every family,
    the paper's and the oracle's rows, every mark, pending cells, long machine names."""
    rng = np.random.default_rng(0)
    methods = METHODS + [f"method-{i}" for i in range(n_extra_rows)]
    res, pending, machines = [], {}, {}
    for i, m in enumerate(methods):
        for j, d in enumerate(DATASETS):
            if (i + j) % 7 == 3:
                pending[(m, d)] = [0, 1, 2, 3, 4]
                continue
            n = 5 if (i * j) % 3 else 2
            for metric, _, _ in TABLES:
                mean = rng.uniform(100, 5000) if metric in ("wall_time_s", "peak_rss_mb") else \
                    rng.uniform(0, 1)
                res.append({"method": m, "dataset": d, "metric": metric, "mean": mean,
                            "std": mean / 10, "n_seeds": n})
            machines[(m, d)] = {MACHINE: n} if "[gpu]" in m else {"AMD EPYC": n - 1, MACHINE: 1}
            if (i + j) % 5 == 0:
                pending[(m, d)] = [4]
    res = pd.DataFrame(res)
    paper, oracle = load_paper_reference(), load_oracle_reference()
    marks = {(m, d): " q m u" for m in methods[:3] for d in DATASETS}
    marks.update({cell: marks.get(cell, "") + " p" for cell in pending})
    tables = []
    for metric, title, dec in TABLES:
        header, cells, bold = build_table(res, paper, metric, dec, marks, oracle)
        fill_pending(header, cells, pending)
        tables.append(BoardTable(title, header, cells, bold, ref=[_is_reference(r) for r in cells],
                                 by_family=True, higher_is_better=metric != "wall_time_s",
                                 anchor=metric))
    pur = res[res.metric == "purity"]
    sets = DATASETS[:12]
    draws = ("Spread over generator draws", "Each cell: mean ± std over **draws**, `(n)` draws.",
             ["method", *sets, "mean std over draws", "mean std over seeds"],
             [[m, *[f"0.{k}{k} ± 0.0{k} (4)" for k in range(1, 10)], "", "pending", "", "0.051",
               "0.012"] for m in methods[:4]],
             [[False] * 15 for _ in methods[:4]])
    return BoardPage(
        protocol=PROTOCOL, legend=board_html.LEGEND.format(oracle=ORACLE_ROW), tables=tables,
        purity=dict(zip(zip(pur.method, pur.dataset), pur["mean"])), rows=methods,
        cell_machines=machines, pending=pending, extra_sections=[draws],
        machines={m: {MACHINE: 40, "AMD EPYC, 1 thread(s) of 2 CPUs": 3} for m in methods},
        plots=[], fidelity_html="<h2>Fidelity</h2><table><thead><tr><th>a</th></tr></thead>"
                                "<tbody><tr class=\"below\"><td>x</td></tr></tbody></table>",
        failures=[{"method": "lal", "dataset": "IPTV", "seed": 1, "status": "timeout",
                   "error": "Traceback: /a/very/long/" + "path" * 60}],
        isolation=[(982, "before the harness had a sandbox (no `sandbox` field)")],
        plan=(1612, 306, 0))


class _Page(HTMLParser):
    """Every table of a page: its rows' texts and the title attributes of its cells."""

    def __init__(self):
        super().__init__()
        self.tables, self.titles, self.ids, self.external = [], [], set(), []
        self._cell = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag in ("script", "link", "img") and re.match(r"https?:|//", a.get("src")
                                                          or a.get("href") or ""):
            self.external.append(a)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append(([], "ref" in (a.get("class") or "").split()))
        elif tag in ("td", "th"):
            self._cell = []
            if a.get("title"):
                self.titles.append(a["title"])

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1][0].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def test_page_shows_summary_families_marks_references_and_machines(synthetic_html):
    text = synthetic_html
    page = _Page()
    page.feed(text)
    assert not page.external and "<script src" not in text and "<link" not in text
    summary = page.tables[0]
    assert [c for c in summary[0][0]] == ["method", "mean rank", "exp rank", "sin rank",
                                          "trunc rank", "real rank", "others rank", "datasets"]
    assert sorted(row[0][0] for row in summary[1:]) == sorted(METHODS)
    ranks = [float(row[0][1]) for row in summary[1:]]
    assert ranks == sorted(ranks)
    # per metric, one table per family (ids purity-exp, ...); the families in order
    for fam in ("exp", "sin", "trunc", "real", "others"):
        assert f"purity-{fam}" in page.ids
    assert text.index('id="purity-exp"') < text.index('id="purity-real"') < text.index(
        'id="ari"')
    exp = page.tables[1]
    assert exp[0][0] == ["method", "K2_C5", "K3_C5", "K4_C5", "K5_C5"]
    refs = [cells[0] for cells, ref in exp if ref]
    assert ORACLE_ROW in refs and any(r.endswith("(paper)") for r in refs)
    body = [cells for cells, ref in exp[1:] if not ref]
    assert all(cells[0] in METHODS for cells in body)
    flat = " ".join(c for cells in body for c in cells)
    assert "pending" in flat and re.search(r"\(2/5\) q m u p", flat) and "±" in flat
    # tooltips: the machines of the cell's runs, the pending seeds, the marks explained
    assert any(MACHINE in t and "pending seeds: 4" in t for t in page.titles)
    assert any("q: quick profile" in t for t in page.titles)
    # the extra section is split by family, its non-dataset columns last
    assert "spread-over-generator-draws-all-sets" in page.ids
    assert "<b>draws</b>" in text and "<code>(n)</code>" in text
    for anchor in ("summary", "machines", "fidelity", "plan", "failures", "isolation"):
        assert f'href="#{anchor}"' in text and anchor in page.ids


def test_report_writes_the_page_from_a_results_directory(tmp_path, cache_dir):
    res, out = tmp_path / "res", tmp_path / "board"
    assert main(["run", "--methods", "random,histogram-kmeans", "--datasets", "test_tiny",
                 "--seeds", "0", "--results-dir", str(res), "--no-progress"]) == 0
    assert main(["report", "--results-dir", str(res), "--out", str(out)]) == 0
    text = (out / "index.html").read_text()
    page = _Page()
    page.feed(text)
    assert sorted(row[0][0] for row in page.tables[0][1:]) == ["histogram-kmeans", "random"]
    assert "purity-others" in page.ids and "Where the runs ran" in text
    assert 'src="runtime_vs_purity.png"' in text and "Isolation" in text
    if _chromium() is not None or _required():
        _check_in_browser(out / "index.html", ["histogram-kmeans", "random"], tmp_path)


# ------------------------------------------------------------------------------- the browser
def _required() -> bool:
    return os.environ.get("EVSEQ_REQUIRE_CHROMIUM") == "1"


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def _need_chromium() -> str:
    exe = _chromium()
    if exe is None and _required():
        pytest.fail("Chromium must run here (EVSEQ_REQUIRE_CHROMIUM=1): no chromium on PATH; "
                    "`make browser-tool` installs it")
    if exe is None:
        pytest.skip("no chromium on PATH (Debian: `make browser-tool` as root, or "
                    "apt-get install chromium); the page's browser checks are skipped")
    return exe


MEASURE = """<script>(function(){
document.querySelectorAll('details').forEach(function(d){d.open=true;});
var de=document.documentElement, o={sw:de.scrollWidth, cw:de.clientWidth, iw:window.innerWidth,
 overflow:[], text:document.body.innerText};
document.querySelectorAll('.tw, table').forEach(function(t){
 if(t.scrollWidth>t.clientWidth+1 || t.getBoundingClientRect().right>de.clientWidth+1)
  o.overflow.push((t.querySelector('th')||t).textContent.slice(0,40)+' '+t.scrollWidth);});
var th=document.querySelector('#purity-exp + .tw th:nth-child(2)');
function col(){return Array.prototype.map.call(th.closest('table').tBodies[0].rows,
 function(r){return [r.cells[0].textContent, r.cells[1].getAttribute('data-v'),
 r.classList.contains('ref')];});}
if(th){th.click(); o.first=col(); th.click(); o.second=col();}
document.body.setAttribute('data-measure', JSON.stringify(o));
})();</script>"""


def _browser(exe: str, page: Path, tmp: Path, args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         f"--user-data-dir={tmp / 'chromium-profile'}", f"--window-size={WIDTH},1000", *args,
         page.resolve().as_uri()], check=False, capture_output=True, text=True, timeout=120)


def _check_in_browser(path: Path, methods: list[str], tmp: Path) -> dict:
    """Screenshot ``path`` at 1400 px and measure it (every ``<details>`` opened): returns the
    measurements after asserting that it rendered, fits the width and names every method."""
    exe = _need_chromium()
    shot = tmp / "page.png"
    r = _browser(exe, path, tmp, [f"--screenshot={shot}"])
    assert shot.exists(), r.stderr[-2000:]
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape == (1000, WIDTH) and pixels.std() > 5, "blank screenshot"
    probe = path.with_name("measure.html")
    probe.write_text(path.read_text().replace("</body>", MEASURE + "</body>"))
    r = _browser(exe, probe, tmp, ["--virtual-time-budget=5000", "--dump-dom"])
    found = re.search(r'data-measure="([^"]*)"', r.stdout)
    assert found, (r.stdout[-500:], r.stderr[-2000:])
    import html

    m = json.loads(html.unescape(found.group(1)))
    assert m["cw"] <= WIDTH and m["sw"] <= m["cw"], f"page {m['sw']} px wide in {m['cw']} px"
    assert not m["overflow"], f"tables wider than their box: {m['overflow']}"
    missing = [x for x in methods if x not in m["text"]]
    assert not missing, f"methods not on the rendered page: {missing}"
    return m


def test_page_fits_1400_px_names_every_method_and_sorts(tmp_path, synthetic_html):
    _need_chromium()
    path = tmp_path / "index.html"
    path.write_text(synthetic_html)
    m = _check_in_browser(path, METHODS, tmp_path)
    # a click on K2_C5 sorts by purity, best first; a second click reverses; references stay last
    for rows, sign in ((m["first"], -1), (m["second"], 1)):
        ours = [float(v) for _, v, ref in rows if not ref and v]
        assert ours == sorted(ours, key=lambda x: sign * x) and len(ours) > 5
        refs = [ref for _, _, ref in rows]
        assert refs == sorted(refs), "reference rows must stay at the bottom"
        empties = [i for i, (_, v, ref) in enumerate(rows) if not ref and not v]
        assert all(i >= len(ours) for i in empties), "empty and pending cells sort last"
