"""The committed leaderboard stays resumable: every run its tables use is one the harness finds
again (``benchmark run --results-dir leaderboard`` skips it instead of re-running it).

A method that gains a parameter changes the key of every run it plans; runs committed before then
are still shown, but the harness no longer finds them and would spend hours re-running them. This
test names such runs, so whoever adds the parameter decides: list it with the value that
reproduces the old runs in the method's ``unkeyed_defaults`` (left out of the key at that value;
a record without the parameter is read as having it), re-key the old records (docs/lal.md,
"Resuming"), or bump the method's ``version`` and re-run."""

from pathlib import Path

import pytest

from benchmark.core.registry import discover, get_method
from benchmark.harness.evaluate import chosen_runs
from benchmark.harness.runner import RunSpec

LEADERBOARD = Path(__file__).resolve().parent.parent / "leaderboard"


VARIANTS = sorted(p.name for p in (LEADERBOARD / "variants").glob("*") if p.is_dir())


@pytest.mark.parametrize("results", ["."] + [f"variants/{v}" for v in VARIANTS])
def test_every_run_the_leaderboard_uses_is_found_by_the_harness(results):
    """``results``: the leaderboard itself, or one of its variant folders (runs of a method
    with a non-default parameter, kept apart so the tables show the defaults only)."""
    discover()
    results_dir = LEADERBOARD / results
    chosen = chosen_runs(results_dir)
    assert len(chosen) > (100 if results == "." else 0)
    problems = []
    for (_, dataset, seed), (run_dir, rec) in chosen.items():
        method = rec["method"]  # the key names the board row ("thp [gpu]" for GPU runs)
        cls = get_method(method)
        names = set(cls.param_names())
        params = {**cls.unkeyed_defaults, **rec["params"]}
        missing, unknown = names - set(params), set(params) - names
        where = str(run_dir.relative_to(results_dir))
        if missing or unknown:
            problems.append(f"{where}: parameters missing from the record {sorted(missing)}, "
                            f"unknown to {method} {sorted(unknown)}")
            continue
        spec = RunSpec(method=method, dataset=dataset, seed=seed, profile=rec["profile"],
                       params=params, dataset_fingerprint=rec["dataset_fingerprint"],
                       probe=rec["probe"])
        if spec.key != rec["key"] or spec.run_dir(results_dir) != run_dir:
            problems.append(f"{where}: the harness's key for this run is {spec.key[:12]} "
                            f"(method or suite version changed?)")
    assert not problems, ("runs the harness would re-run:\n" + "\n".join(problems[:20])
                          + f"\n({len(problems)} in all)")
