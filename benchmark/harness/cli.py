"""Command line: ``python -m benchmark {list,run,evaluate,report,regress,compare,oracle,generate,perf}``."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..core.catalog import OFFLINE_ENV, materialize, resolve_cache_dir, resolve_data_dir
from ..core.dataset import DatasetUnavailable
from ..core.registry import (
    DATASETS,
    METHODS,
    METRICS,
    discover,
    get_dataset,
    get_method,
)
from ..core.storage import load_labels, load_sequences, replace_dir, write_atomic_bytes

DEFAULT_RESULTS = Path("results")
REPO_ROOT = Path(__file__).resolve().parents[2]
LEADERBOARD = REPO_ROOT / "leaderboard"
CARDS_DIR = REPO_ROOT / "docs" / "datacards"


def _dirs(args) -> tuple[Path | None, Path]:
    if getattr(args, "offline", False):
        os.environ[OFFLINE_ENV] = "1"
    return resolve_data_dir(args.data_dir), resolve_cache_dir(args.cache_dir)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="directory with real data files (env EVSEQ_DATA_DIR)")
    p.add_argument("--cache-dir", help="generated/converted datasets (env EVSEQ_CACHE_DIR)")
    p.add_argument("--offline", action="store_true", help=f"never download (sets {OFFLINE_ENV}=1)")


def _results_dir(path: str) -> Path:
    """``path`` as an existing results directory (one with a ``runs/`` folder); else
    :class:`~benchmark.harness.results_store.NoRunsFolder` (a ValueError)."""
    from .results_store import ResultsStore

    return ResultsStore(path).require().root


def _split(values: list[str] | None) -> list[str]:
    out: list[str] = []
    for v in values or []:
        out += [x for x in v.split(",") if x]
    return out


# ------------------------------------------------------------------------------------- list
def _dataset_stats(name: str, data_dir, cache_dir) -> dict[str, Any]:
    ddir = materialize(name, data_dir, cache_dir)
    seqs = load_sequences(ddir)
    stats = seqs.summary()
    labels = load_labels(ddir)
    if labels is not None:
        vals, cnt = np.unique(labels, return_counts=True)
        stats["label_distribution"] = {int(v): int(c) for v, c in zip(vals, cnt)}
    return stats


def _write_card(name: str, stats: dict[str, Any], paper: dict | None) -> Path:
    card = CARDS_DIR / f"{name}.md"
    lines = ["<!-- stats:begin (written by `python -m benchmark list --stats`) -->",
             "| statistic | this suite | paper (Table 1) |", "|---|---|---|"]
    for k, v in stats.items():
        if k == "label_distribution":
            continue
        ref = (paper or {}).get(k, "")
        lines.append(f"| {k} | {round(v, 3) if isinstance(v, float) else v} | {ref} |")
    if "label_distribution" in stats:
        lines.append(f"\nLabel distribution (label: sequences): {stats['label_distribution']}")
    lines.append("<!-- stats:end -->")
    block = "\n".join(lines)
    text = card.read_text() if card.exists() else f"# Data card: {name}\n\n"
    if "<!-- stats:begin" in text:
        head, rest = text.split("<!-- stats:begin", 1)
        tail = rest.split("<!-- stats:end -->", 1)[1] if "<!-- stats:end -->" in rest else ""
        text = head + block + tail
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    write_atomic_bytes(card, text.encode())
    return card


def cmd_list(args) -> int:
    discover()
    data_dir, cache_dir = _dirs(args)
    print("Datasets:")
    for name in sorted(DATASETS):
        s = DATASETS[name]
        k = s.n_clusters if s.n_clusters is not None else "-"
        print(f"  {name:<20} {s.kind:<9} K={k!s:<3} {s.description}")
        if args.stats:
            if s.heavy and not args.include_heavy:
                print("      (heavy dataset: pass --include-heavy to compute statistics)")
                continue
            try:
                st = _dataset_stats(name, data_dir, cache_dir)
            except DatasetUnavailable as e:
                print(f"      unavailable: {e}")
                continue
            print("      " + ", ".join(f"{k}={round(v, 3) if isinstance(v, float) else v}"
                                       for k, v in st.items()))
            if args.write_cards:
                _write_card(name, st, s.paper_stats)
    print("Methods:")
    for name in sorted(METHODS):
        info = METHODS[name]  # a MethodInfo (lal-ensemble: LAL with other defaults)
        missing = info.missing_dependencies()
        note = f" (MISSING: {','.join(missing)})" if missing else ""
        print(f"  {name:<20} outputs={','.join(info.outputs):<18} "
              f"needs_K={info.needs_n_clusters!s:<5} requires={','.join(info.requires) or '-'}"
              f"{note}  {info.paper}")
    print("Metrics:")
    for name in sorted(METRICS):
        m = METRICS[name]
        d = {True: "higher is better", False: "lower is better", None: "informational"}[m.higher_is_better]
        print(f"  {name:<20} {d:<17} {m.description}")
    return 0


# -------------------------------------------------------------------------------------- run
def _parse_params(items: list[str] | None) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for item in items or []:
        if "=" not in item or "." not in item.split("=", 1)[0]:
            raise ValueError(f"--param expects METHOD.NAME=VALUE, got {item!r}")
        lhs, value = item.split("=", 1)
        method, name = lhs.split(".", 1)
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        out.setdefault(method, {})[name] = parsed
    return out


def default_datasets() -> list[str]:
    """All registered datasets except heavy ones (the Huge set): what ``--all`` runs."""
    discover()
    return [n for n in sorted(DATASETS) if not DATASETS[n].heavy]


def cmd_run(args) -> int:
    from .results_store import ResultsStore
    from .runner import plan_runs, run_plan

    discover()
    if args.plan:
        return _run_from_plan(args)
    args.profile = args.profile or "quick"
    methods = _split(args.methods) or (sorted(METHODS) if args.all else [])
    datasets = _split(args.datasets) or (default_datasets() if args.all else [])
    if not methods or not datasets:
        raise ValueError("choose --all, or --methods and --datasets (see `python -m benchmark list`)")
    for m in methods:
        get_method(m)
    for d in datasets:
        get_dataset(d)
    seeds = args.seeds if args.seeds is not None else ([0] if args.profile == "quick" else [0, 1, 2, 3, 4])
    data_dir, cache_dir = _dirs(args)
    results_dir = Path(args.results_dir)
    store = ResultsStore(results_dir)
    if not args.dry_run:  # an unwritable results directory fails here, before any work
        store.create()
    store.clean_stale_tmp()
    plan = plan_runs(methods, datasets, seeds, args.profile, data_dir, cache_dir,
                     probe=not args.no_probe, overrides=_parse_params(args.param),
                     unlabelled_k=args.unlabelled_k or None)
    if args.dry_run:
        return _print_pending(plan, results_dir)
    runs = run_plan(plan, results_dir, jobs=args.jobs, timeout_s=args.timeout,
                    memory_mb=args.memory_mb, progress=not args.no_progress, threads=args.threads,
                    sandbox=args.sandbox, hidden=(data_dir, cache_dir))
    return _finish_run(args, runs, plan.skipped, len(seeds), results_dir, data_dir, cache_dir)


def _finish_run(args, records, skipped, n_seeds: int, results_dir: Path, data_dir, cache_dir) -> int:
    """After ``run``'s runs: evaluate (unless ``--no-evaluate``), print the summary and return
    the exit status (:func:`_run_outcome`)."""
    from .evaluate import evaluate_runs

    if not args.no_evaluate:
        evaluate_runs(results_dir, data_dir, cache_dir)
        _print_summary(results_dir)
    return _run_outcome(records, skipped, n_seeds, results_dir, args.allow_missing)


def _run_from_plan(args) -> int:
    """``run --plan PLAN``: the plan's runs not yet in ``--results-dir`` (pending cells only with
    ``--include-pending``; ``--methods``/``--datasets`` keep only those names)."""
    from .plan import load_plan
    from .results_store import ResultsStore
    from .runner import estimate_cpu_s, run_plan, split_done

    clash = [flag for flag, given in (("--all", args.all), ("--seeds", args.seeds is not None),
                                      ("--profile", args.profile is not None),
                                      ("--param", bool(args.param)), ("--no-probe", args.no_probe))
             if given]
    if clash:
        raise ValueError(f"--plan declares seeds, profile, parameters and probe per cell; drop "
                         f"{', '.join(clash)} (or edit the plan)")
    methods, datasets = _split(args.methods), _split(args.datasets)
    for m in methods:
        get_method(m)
    for d in datasets:
        get_dataset(d)
    plan = load_plan(args.plan)
    data_dir, cache_dir = _dirs(args)
    results_dir = Path(args.results_dir)
    store = ResultsStore(results_dir)
    if not args.dry_run:
        store.create()
    store.clean_stale_tmp()
    runs, pending, skipped_runs = plan.expand(
        data_dir, cache_dir, include_pending=args.include_pending, methods=methods,
        datasets=datasets, unlabelled_k=args.unlabelled_k or None)
    if args.dry_run:
        _print_pending(runs, results_dir)
    if pending.runs:
        todo, _ = split_done(pending, results_dir)
        known = [e for e in estimate_cpu_s(todo, results_dir) if e is not None]
        print(f"not included: {len(todo)} run(s) of cells marked pending"
              + (f" (~{sum(known) / 3600:.1f} CPU h for {len(known)} of them)" if known else "")
              + "; --include-pending adds them")
    if args.dry_run:
        return 0
    records = run_plan(runs, results_dir, jobs=args.jobs, timeout_s=args.timeout,
                       memory_mb=args.memory_mb, progress=not args.no_progress, threads=args.threads,
                       sandbox=args.sandbox, hidden=(data_dir, cache_dir))
    return _finish_run(args, records, skipped_runs, 1, results_dir, data_dir, cache_dir)


# prefixes of benchmark.harness.runner.plan_runs's skip reasons: absent data or optional dependencies
# (exit 0 with --allow-missing) and skips the user chose (--unlabelled-k 0; never an error);
# any other skip ("dataset could not be loaded: ...": malformed files) is always an error
_MISSING_SKIPS = ("dataset unavailable", "missing dependency")
_CHOSEN_SKIPS = ("method needs the number of clusters",)


def _run_outcome(records: list[dict], skipped: list[tuple[str, str, str]], n_seeds: int,
                 results_dir: Path, allow_missing: bool) -> int:
    """Print the final summary of ``run`` (counts, every failed run, every skip with its reason)
    and return its exit code: 0 when every run is ok and nothing was skipped (skips the user
    chose and, with ``allow_missing``, unavailable datasets and missing dependencies aside),
    else 1."""
    bad = [r for r in records if r["status"] != "ok"]
    kinds = {s: sum(r["status"] == s for r in bad) for s in ("timeout", "oom")}
    fail_note = ", ".join(f"{n} {s}" for s, n in kinds.items() if n)
    by_reason: dict[str, list[tuple[str, str]]] = {}
    for m, ds, reason in skipped:
        by_reason.setdefault(reason, []).append((m, ds))
    counts: dict[str, int] = {}
    for reason, pairs in by_reason.items():
        kind = reason.split(":")[0].split(";")[0]
        counts[kind] = counts.get(kind, 0) + len(pairs) * n_seeds
    skip_note = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
    total = len(records) + len(skipped) * n_seeds
    print(f"\n{len(records) - len(bad)}/{total} runs ok, {len(bad)} failed"
          + (f" ({fail_note})" if fail_note else "") + f", {len(skipped) * n_seeds} skipped"
          + (f" ({skip_note})" if skip_note else "") + f"; results in {results_dir}")
    for r in bad:
        print(f"  {r['status']:>7}  {r['method']} on {r['dataset']} seed {r['seed']}: "
              f"{r.get('error', '')}")
    for reason, pairs in by_reason.items():
        ms, ds = sorted({m for m, _ in pairs}), sorted({d for _, d in pairs})
        on = ", ".join(ds) if len(ds) <= 4 else f"{len(ds)} datasets"
        where = (f"dataset {', '.join(ds)}" if reason.startswith("dataset ")  # for every method
                 else f"{', '.join(ms)} on {on}")
        first, *more = reason.splitlines()
        print(f"  skipped {where}: {first.rstrip(':')}" + (" (details above)" if more else ""))
    missing = any(r.startswith(_MISSING_SKIPS) for r in by_reason)
    errors = bad or any(not r.startswith(_MISSING_SKIPS + _CHOSEN_SKIPS) for r in by_reason)
    if missing and not allow_missing:
        print("  (datasets unavailable or dependencies missing: exit status 1 unless "
              "--allow-missing)")
    return 1 if errors or (missing and not allow_missing) else 0


def _print_pending(plan, results_dir: Path) -> int:
    """``run --dry-run``: the runs still to do, with CPU-time estimates from the finished ones."""
    from .runner import estimate_cpu_s, split_done

    for m, ds, reason in plan.skipped:
        print(f"skip {m} on {ds}: {reason}")
    todo, done = split_done(plan, results_dir)
    estimates = estimate_cpu_s(todo, results_dir)
    print(f"{len(done)} run(s) done, {len(todo)} to run")
    for spec, est in zip(todo, estimates):
        print(f"  to run  {spec.method} on {spec.dataset} seed {spec.seed}"
              + (f"  ~{est:.0f} CPU s" if est is not None else "  (no estimate)"))
    known = [e for e in estimates if e is not None]
    if known:
        print(f"estimated CPU time: {sum(known) / 3600:.1f} h for {len(known)} of {len(todo)} "
              "run(s) (mean of finished runs of the method on the dataset, else on any dataset)")
    return 0


def _print_summary(results_dir: Path) -> None:
    from .evaluate import aggregate, collect

    res = aggregate(collect(results_dir))
    for metric in ("purity", "roc_auc", "wall_time_s"):
        sub = res[res.metric == metric]
        if len(sub):
            table = sub.pivot(index="method", columns="dataset", values="mean")
            print(f"\n{metric} (mean over seeds):\n{table.round(3).to_string()}")


def cmd_evaluate(args) -> int:
    from .evaluate import evaluate_runs

    results_dir = _results_dir(args.results_dir)
    data_dir, cache_dir = _dirs(args)
    n = evaluate_runs(results_dir, data_dir, cache_dir, force=args.force,
                      skip=frozenset(_split(args.skip)),
                      methods=frozenset(_split(args.methods)) if args.methods else None)
    print(f"evaluated {n} run(s) in {results_dir}")
    _print_summary(results_dir)
    return 0


def cmd_report(args) -> int:
    from .plan import load_plan
    from .report import build_report

    plan = load_plan(args.plan) if args.plan else None
    out = build_report(_results_dir(args.results_dir), Path(args.out), plan=plan)
    print(f"leaderboard written to {out}/ (README.md, index.html, results.csv, per_seed.csv, plots)")
    return 0


def cmd_regress(args) -> int:
    from .regress import current_table, regress, run_committed_checks

    if args.committed or args.sample:  # committed tables vs a rebuild, and sampled cells rerun
        committed = _results_dir(args.committed or str(LEADERBOARD))
        data_dir, cache_dir = _dirs(args)
        return run_committed_checks(committed, Path(args.sample) if args.sample else None,
                                    Path(args.results_dir) if args.results_dir else None,
                                    data_dir, cache_dir, jobs=args.jobs, sandbox=args.sandbox,
                                    plan_path=Path(args.plan) if args.plan else None)
    if args.current:
        current = Path(args.current)
    else:  # aggregated in memory: never written over the reference (which may be in that dir)
        current = current_table(_results_dir(args.results_dir or str(DEFAULT_RESULTS)))
    regs, n = regress(Path(args.reference), current, abs_tol=args.tol, n_std=args.n_std,
                      cost_factor=args.cost_factor, include_cost=not args.no_cost)
    if not isinstance(current, Path):
        current = args.results_dir or str(DEFAULT_RESULTS)
    if n == 0:
        print(f"nothing to compare between {args.reference} and {current}")
        return 2
    for r in regs:
        print(f"REGRESSION  {r}")
    print(f"{n} value(s) compared, {len(regs)} regression(s)")
    return 1 if regs else 0


def cmd_compare(args) -> int:
    from .paired import compare, format_summary

    pairs = _split(args.paper_method)
    bad = [pair for pair in pairs if pair.count("=") != 1]
    if bad:
        raise ValueError(f"--paper-method takes METHOD=PAPER_ROW (e.g. lal-ensemble=lal), got {bad}")
    paper_method = dict(pair.split("=") for pair in pairs)
    summary = compare(Path(args.results_dir), Path(args.baseline_dir), args.metric,
                      frozenset(_split(args.methods)) if args.methods else None, paper_method)
    print(format_summary(summary))
    return 0


def default_oracle_datasets() -> list[str]:
    """The sets ``oracle`` computes by default: every non-heavy registered set with an
    ``oracle`` (the 12 LAL sets), in registration order."""
    discover()
    return [n for n, s in DATASETS.items() if s.oracle is not None and not s.heavy]


def cmd_oracle(args) -> int:
    from .metrics import purity_score

    discover()
    names = _split(args.datasets) or default_oracle_datasets()
    specs = [get_dataset(name) for name in names]
    without = [s.name for s in specs if s.oracle is None]
    if without:
        have = [n for n, s in DATASETS.items() if s.oracle is not None]
        raise ValueError(f"{', '.join(without)}: no oracle (only sets generated from known true "
                         f"parameters have one: {', '.join(have)})")
    data_dir, cache_dir = _dirs(args)
    print(f"{'dataset':12s} {'N':>6s} {'K':>3s}  oracle purity  accuracy")
    found = []
    for spec in specs:
        ddir = materialize(spec.name, data_dir, cache_dir)
        loglik = spec.oracle(ddir)  # (N, K) under the true parameters; argmax = Bayes classifier
        labels = load_labels(ddir)
        pred = loglik.argmax(axis=1)
        found.append({"dataset": spec.name, "n_sequences": len(loglik),
                      "purity": round(purity_score(labels, pred), 4),
                      "accuracy": round(float((pred == labels).mean()), 4)})
        print(f"{spec.name:12s} {len(loglik):6d} {loglik.shape[1]:3d}  "
              f"{found[-1]['purity']:13.4f}  {found[-1]['accuracy']:8.4f}")
    if args.write:
        import pandas as pd

        from .report import ORACLE_REFERENCE

        table = pd.DataFrame(found)
        if ORACLE_REFERENCE.exists():  # keep the sets not computed this time
            old = pd.read_csv(ORACLE_REFERENCE)
            table = pd.concat([old[~old.dataset.isin(table.dataset)], table])
        write_atomic_bytes(ORACLE_REFERENCE, table.to_csv(index=False).encode())
        print(f"wrote {ORACLE_REFERENCE} (shown in the leaderboard's purity table)")
    return 0


def cmd_generate(args) -> int:
    discover()
    spec = get_dataset(args.name)
    out = Path(args.out) / args.name if args.out_is_parent else Path(args.out)
    data_dir, cache_dir = _dirs(args)
    if spec.generate is not None:  # generator with an explicit seed
        path = spec.generate(out, seed=args.seed)
    else:
        if args.seed != 0:
            raise ValueError(f"dataset {args.name!r} has no seed option")
        src = materialize(args.name, data_dir, cache_dir)
        tmp = out.with_name(f".{out.name}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(src, tmp)
        replace_dir(tmp, out)
        path = out
    print(f"wrote {args.name} to {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmark",
                                description="Benchmark suite for clustering event sequences",
                                epilog="performance benchmarks against reference implementations: "
                                       "python -m benchmark perf TARGET [--help] (benchmark/perf/)")
    sub = p.add_subparsers(dest="cmd", required=True)

    q = sub.add_parser("list", help="registered datasets, methods, metrics")
    q.add_argument("--stats", action="store_true", help="load datasets and print statistics")
    q.add_argument("--write-cards", action="store_true",
                   help="with --stats: write the statistics into docs/datacards/NAME.md")
    q.add_argument("--include-heavy", action="store_true", help="with --stats: include the Huge set")
    _common(q)

    r = sub.add_parser("run", help="run methods on datasets (each run in its own process)")
    r.add_argument("--all", action="store_true", help="every method on every non-heavy dataset")
    r.add_argument("--methods", nargs="+", help="method names (comma or space separated)")
    r.add_argument("--datasets", nargs="+", help="dataset names (comma or space separated)")
    r.add_argument("--seeds", nargs="+", type=int, help="default: 0 (quick) or 0..4 (paper)")
    r.add_argument("--profile", choices=["quick", "paper"], help="default: quick")
    r.add_argument("--plan", help="run the runs a plan declares (e.g. leaderboard/plan.toml; "
                   "docs/harness.md, \"The plan\") that --results-dir lacks")
    r.add_argument("--include-pending", action="store_true",
                   help="with --plan: also the cells the plan marks pending")
    r.add_argument("--jobs", type=int, default=1, help="runs in parallel")
    r.add_argument("--threads", type=int, help="CPU threads per run (default: cores // jobs)")
    r.add_argument("--results-dir", default=str(DEFAULT_RESULTS))
    r.add_argument("--timeout", type=float, default=3600.0, help="seconds per run")
    r.add_argument("--memory-mb", type=float, default=16000.0, help="RSS cap per run (MiB)")
    r.add_argument("--param", action="append", help="override: METHOD.NAME=VALUE (JSON value)")
    r.add_argument("--no-probe", action="store_true", help="skip the downstream-probe refit")
    r.add_argument("--unlabelled-k", type=int, default=5,
                   help="K given to methods that need one on datasets without labels (default 5; "
                        "0 skips them)")
    r.add_argument("--no-evaluate", action="store_true", help="do not compute metrics afterwards")
    r.add_argument("--dry-run", action="store_true",
                   help="list the runs still to do (finished ones in --results-dir are skipped) "
                        "with CPU-time estimates, and run nothing")
    r.add_argument("--no-progress", action="store_true")
    r.add_argument("--sandbox", choices=["auto", "bwrap", "none"], default="auto",
                   help="the methods' processes: bwrap = bubblewrap sandbox (no data, cache, "
                        "results or repository in view, no network), none = no namespaces "
                        "(records and leaderboard say so), auto = bwrap where it works, else none "
                        "with a warning (default)")
    r.add_argument("--allow-missing", action="store_true",
                   help="exit 0 although datasets were skipped for absent raw files or methods "
                        "for missing optional dependencies (failed runs and malformed datasets "
                        "still exit 1)")
    _common(r)

    e = sub.add_parser("evaluate", help="compute metrics from stored raw outputs")
    e.add_argument("--results-dir", default=str(DEFAULT_RESULTS))
    e.add_argument("--force", action="store_true", help="recompute metrics already stored")
    e.add_argument("--skip", nargs="+", metavar="METRIC",
                   help="metrics to leave out this time, e.g. catboost_roc_auc catboost_precision "
                        "catboost_recall (the slow probe); a later evaluate adds them")
    e.add_argument("--methods", nargs="+", help="only these methods' runs (comma or space separated)")
    _common(e)

    rp = sub.add_parser("report", help="render the leaderboard from a results directory")
    rp.add_argument("--results-dir", default=str(DEFAULT_RESULTS))
    rp.add_argument("--out", default=str(LEADERBOARD))
    rp.add_argument("--plan", help="show the cells of this plan only, pending ones as `pending` "
                    "(e.g. leaderboard/plan.toml)")

    g = sub.add_parser("regress", help="compare results against the committed leaderboard; "
                                       "with --committed/--sample, rerun committed cells (make regress)")
    g.add_argument("--reference", default=str(LEADERBOARD / "results.csv"))
    g.add_argument("--results-dir", help="results to compare (default: results); with --sample, "
                   "where the reruns go (default: a temporary directory, removed)")
    g.add_argument("--current", help="a results.csv to compare instead of --results-dir")
    g.add_argument("--tol", type=float, default=0.05, help="absolute tolerance of quality metrics")
    g.add_argument("--n-std", type=float, default=2.0, help="plus this many reference stds")
    g.add_argument("--cost-factor", type=float, default=3.0, help="allowed growth of time/memory")
    g.add_argument("--no-cost", action="store_true", help="ignore time and memory")
    g.add_argument("--committed", help="a committed results directory (leaderboard): fail if its "
                   "results.csv/per_seed.csv differ from a rebuild from its runs")
    g.add_argument("--sample", help="TOML list of committed cells to rerun and compare "
                   "(leaderboard/regress_sample.toml; --committed defaults to leaderboard)")
    g.add_argument("--plan", help="the board's plan (default: COMMITTED/plan.toml if present): "
                   "tables rebuilt with it, and its declared runs must all be found")
    g.add_argument("--jobs", type=int, default=2, help="sampled cells rerun at a time")
    g.add_argument("--sandbox", choices=("auto", "bwrap", "none"), default="auto")
    _common(g)

    c = sub.add_parser("compare", help="pair a variant results directory with a baseline one "
                                       "(same method, dataset, seed) and compare one metric")
    c.add_argument("--results-dir", required=True, help="the variant runs, e.g. "
                   "leaderboard/variants/lal_cluster_scale")
    c.add_argument("--baseline-dir", default=str(LEADERBOARD),
                   help="the runs to pair with (default: the committed leaderboard)")
    c.add_argument("--metric", default="purity", help="a ranked metric (default purity)")
    c.add_argument("--methods", nargs="+", help="only these methods (comma or space separated)")
    c.add_argument("--paper-method", nargs="+", metavar="METHOD=PAPER_ROW",
                   help="compare METHOD with another method's paper number, e.g. "
                        "lal-ensemble=lal (Table 4's single-model LAL)")

    o = sub.add_parser("oracle", help="purity of the Bayes classifier with the true generator "
                                      "parameters (the ceiling of a synthetic set's purity)")
    o.add_argument("datasets", nargs="*", help="synthetic sets (default: the 12 LAL sets)")
    o.add_argument("--write", action="store_true", help="store the values in "
                   "leaderboard/oracle_reference.csv for the leaderboard's purity table")
    _common(o)

    gen = sub.add_parser("generate", help="write a dataset in the on-disk format")
    gen.add_argument("name")
    gen.add_argument("--out", required=True)
    gen.add_argument("--out-is-parent", action="store_true", help="write to OUT/NAME")
    gen.add_argument("--seed", type=int, default=0)
    _common(gen)

    rr = sub.add_parser("reproduce", help="rerun one stored run in a temporary folder and compare "
                                          "its labels and metrics with the stored ones")
    rr.add_argument("run_dir", help="a run directory, e.g. leaderboard/runs/dmhp/K2_C5/seed0-KEY")
    rr.add_argument("--timeout", type=float, default=3600.0, help="seconds for the rerun")
    rr.add_argument("--memory-mb", type=float, default=16000.0, help="RSS cap of the rerun (MiB)")
    rr.add_argument("--sandbox", choices=["auto", "bwrap", "none"], default="auto",
                    help="as for run (default auto)")
    rr.add_argument("--keep", action="store_true", help="keep the temporary results folder")
    _common(rr)

    rk = sub.add_parser("rekey", help="re-key stored runs whose dataset fingerprint changed "
                                      "while their data did not (checked; outputs kept)")
    rk.add_argument("--results-dir", default=str(DEFAULT_RESULTS))
    rk.add_argument("--dry-run", action="store_true", help="check and list; change nothing")
    rk.add_argument("--old-data-dir", action="append", metavar="DIR",
                    help="a data directory the runs were made with (repeatable), to reproduce "
                         "fingerprints that held its absolute paths")
    _common(rk)
    return p


def cmd_rekey(args) -> int:
    from .rekey import cmd_rekey as rekey

    return rekey(args, *_dirs(args))


def cmd_reproduce(args) -> int:
    from .plan import reproduce_run, reproduction_lines

    data_dir, cache_dir = _dirs(args)
    result = reproduce_run(Path(args.run_dir), data_dir, cache_dir, sandbox=args.sandbox,
                           timeout_s=args.timeout, memory_mb=args.memory_mb, keep=args.keep)
    print("\n".join(reproduction_lines(Path(args.run_dir), result)))
    return 0 if result.ok else 1


def main(argv: list[str] | None = None) -> int:
    """Run one command; return its exit code. A bad name or value, an unavailable dataset and a
    file that cannot be read or written are one line ``error: ...`` on stderr and exit code 2."""
    from ..core.registry import UnknownNameError
    from .sandbox import SandboxUnavailable

    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return {"list": cmd_list, "run": cmd_run, "evaluate": cmd_evaluate, "report": cmd_report,
                "regress": cmd_regress, "compare": cmd_compare, "oracle": cmd_oracle,
                "generate": cmd_generate, "rekey": cmd_rekey, "reproduce": cmd_reproduce,
                }[args.cmd](args)
    except (UnknownNameError, DatasetUnavailable, SandboxUnavailable, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # e.g. --out under a regular file, an unwritable cache directory
        where = f"{e.filename}" + (f" -> {e.filename2}" if e.filename2 else "")
        print(f"error: {e.strerror}: {where}" if e.strerror and e.filename else f"error: {e}",
              file=sys.stderr)
        return 2
