"""The LAL synthetic Hawkes generators: protocol, Table 1 lengths, determinism, correctness by
statistics (time rescaling, agreement with tick), bad input, and the streamed Huge writer."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from benchmark.core.registry import DATASETS, LoadContext, UnknownNameError, discover
from benchmark.core.storage import (
    DatasetWriter,
    iter_shards,
    load_dataset,
    read_meta,
    save_dataset,
)
from generators.hawkes_kernels import (
    BoxKernels,
    ExpKernels,
    HawkesParams,
    SinKernels,
    log_likelihood,
    mean_count_curve,
    rescaled_intervals,
    simulate_hawkes,
    window_for_mean_count,
)
from generators.hawkes_synthetic import (
    FAMILIES,
    PAPER_MEAN_LENGTH,
    draw_cluster_params,
    generate_to_dir,
    make_lal_dataset,
    true_cluster_log_likelihoods,
    truncated_sin_kernels,
)
from generators.huge import write_huge

LAL_NAMES = [("" if f == "exp" else f + "_") + f"K{k}_C5" for f in FAMILIES for k in (2, 3, 4, 5)]
P_MIN = 1e-3  # two-sided tests below must not reject at this level for a correct simulator


def _params(family: str, seed: int = 1) -> HawkesParams:
    return draw_cluster_params(family, 5, np.random.default_rng(seed))


def _sequences(out):
    times, types, offsets = out[:3]
    return [(times[a:b], types[a:b]) for a, b in zip(offsets[:-1], offsets[1:])]


# ------------------------------------------------------------------------------------ protocol
def test_exp_protocol_parameters():
    p = _params("exp")
    k = p.kernels
    assert np.isclose(p.spectral_radius(), 0.8)
    assert np.count_nonzero(k.adjacency) == round(0.25 * 25)
    assert np.all((p.baseline >= 0) & (p.baseline < 1 / 5))
    assert np.all((k.decays >= 0) & (k.decays < 5))


@pytest.mark.parametrize("family", ["sin", "trunc"])
def test_sin_protocol_parameters(family):
    p = _params(family)
    assert np.all((p.baseline >= 0) & (p.baseline <= 1))
    if family == "sin":
        k = p.kernels
        for a in (k.amplitude, k.omega, k.shift):
            assert np.all((a >= np.pi / 5) & (a <= 2 * np.pi / 5))
        t = np.linspace(0, 1, 10)
        np.testing.assert_allclose(k.knot_values[2, 3],
                                   k.amplitude[2, 3] * (1 - np.cos(k.omega[2, 3] * (t - k.shift[2, 3]))))
    else:  # the protocol's ranges allow boxes of width < 0.007 at most
        assert np.all(p.kernels.width < 0.007)
        np.testing.assert_allclose(p.kernels.height, 2 * _params("sin").kernels.amplitude)


def test_truncated_sin_kernels_match_rounding_on_a_fine_grid():
    """Values outside the protocol's ranges, so that the boxes are not empty."""
    b = np.array([[0.5, 1.0], [2.0, 0.7]])
    omega = np.array([[3.0, 2.0], [1.0, 4.0]])
    shift = np.array([[1.0, 0.9], [0.5, 0.95]])
    box = truncated_sin_kernels(b, omega, shift)
    assert np.all(box.width[[0, 0, 1], [0, 1, 1]] > 0.1) and box.width[1, 0] == 0
    t = np.linspace(0, 1, 100001)
    phi = b[..., None] * (1 - np.cos(omega[..., None] * (t - shift[..., None])))
    trunc = 2 * b[..., None] * np.round(phi / (2 * b[..., None]))
    lam, _ = box.intensity_and_bound(np.tile(t, 2), np.repeat([0, 1], len(t)),
                                     np.arange(2 * len(t)), 2 * len(t))
    got = lam.reshape(2, len(t), 2).transpose(2, 0, 1)  # [target, source, t]
    assert np.mean(np.abs(got - trunc) > 1e-12) < 1e-4  # at most the breakpoint sample differs
    with pytest.raises(ValueError, match="one box"):
        truncated_sin_kernels(b, 10 * omega, shift)


def test_kernel_integrals_match_numerical_quadrature():
    lags = np.linspace(0, 1.5, 7)
    grid = np.linspace(0, 1.5, 30001)
    for fam in FAMILIES:
        kern = _params(fam, seed=4).kernels
        for src in range(5):
            if isinstance(kern, ExpKernels):
                dens = kern.adjacency[:, src, None] * kern.decays[:, src, None] * np.exp(
                    -kern.decays[:, src, None] * grid)
            else:
                lam, _ = kern.intensity_and_bound(grid, np.full(len(grid), src),
                                                  np.arange(len(grid)), len(grid))
                dens = lam.T
            cum = np.concatenate([np.zeros((5, 1)), np.cumsum((dens[:, 1:] + dens[:, :-1]) / 2
                                                             * np.diff(grid), axis=1)], axis=1)
            expect = np.array([np.interp(lags, grid, c) for c in cum]).T
            got = kern.integral(lags, np.full(len(lags), src))
            np.testing.assert_allclose(got, expect, atol=2e-3)


# ------------------------------------------------------------------- likelihood and the oracle
def test_log_likelihood_by_hand():
    zero = HawkesParams(np.array([0.5, 2.0]), ExpKernels(np.zeros((2, 2)), np.ones((2, 2))))
    t, c = np.array([0.3, 1.0, 2.5]), np.array([0, 1, 1])
    assert log_likelihood(zero, t, c, 4.0) == pytest.approx(np.log(0.5) + 2 * np.log(2.0) - 2.5 * 4)
    # type 0 excites type 1: phi_10(t) = a b exp(-b t) with a = 0.5, b = 2
    adj, dec = np.array([[0.0, 0.0], [0.5, 0.0]]), np.full((2, 2), 2.0)
    p = HawkesParams(np.array([0.5, 2.0]), ExpKernels(adj, dec))
    lam1 = 2.0 + 0.5 * 2 * np.exp(-2 * (t[1:] - 0.3))
    expect = np.log(0.5) + np.log(lam1).sum() - 2.5 * 4 - 0.5 * (1 - np.exp(-2 * 3.7))
    assert log_likelihood(p, t, c, 4.0) == pytest.approx(expect)
    box = HawkesParams(np.array([0.5, 2.0]), BoxKernels(np.array([[0, 0], [3.0, 0]]),
                                                         np.array([[0, 0], [1.0, 0]])))
    expect = np.log(0.5) + np.log(5.0) + np.log(2.0) - 2.5 * 4 - 3.0
    assert log_likelihood(box, t, c, 4.0) == pytest.approx(expect)


@pytest.mark.parametrize("family", FAMILIES)
def test_params_round_trip_through_metadata(family):
    p = _params(family, seed=3)
    q = HawkesParams.from_dict(p.to_dict())
    t, c = np.array([0.1, 0.4, 0.45, 1.7]), np.array([0, 3, 1, 3])
    assert log_likelihood(q, t, c, 2.0) == pytest.approx(log_likelihood(p, t, c, 2.0))
    with pytest.raises(ValueError, match="unknown kernel family"):
        HawkesParams.from_dict({**p.to_dict(), "family": "Gauss"})


@pytest.mark.parametrize("family", FAMILIES)
def test_true_parameters_classify_their_own_sequences(family):
    ds = make_lal_dataset(family, 2, n_per_cluster=40, seed=5)
    params = [HawkesParams.from_dict(d) for d in ds.meta["params"]]
    ll = true_cluster_log_likelihoods(ds.sequences, params)
    assert ll.shape == (80, 2) and np.isfinite(ll).all()
    assert (ll.argmax(axis=1) == ds.labels).mean() >= 0.9
    swapped = true_cluster_log_likelihoods(ds.sequences, params[::-1])  # wrong parameters lose
    assert (swapped.argmax(axis=1) == ds.labels).mean() <= 0.1


def test_oracle_cli_needs_true_parameters(cache_dir, capsys):
    from benchmark.harness.cli import main

    assert main(["oracle", "poisson_mixture"]) == 2
    err = capsys.readouterr().err
    assert "poisson_mixture: no oracle" in err and "K2_C5" in err


# ---------------------------------------------------------------------------- datasets, Table 1
@pytest.mark.parametrize("name", LAL_NAMES)
def test_registered_dataset_matches_table1(name, tmp_path):
    discover()
    spec = DATASETS[name]
    family = "exp" if name.startswith("K") else name.split("_")[0]
    k = int(name.split("K")[1][0])
    assert (spec.kind, spec.n_clusters, spec.family) == ("synthetic", k, family)
    ds = spec.load(LoadContext(data_dir=None, cache_dir=tmp_path))
    seqs = ds.sequences
    assert len(seqs) == 400 * k and seqs.n_types == 5
    assert np.array_equal(np.bincount(ds.labels), np.full(k, 400))
    paper = spec.paper_stats["mean_length"]
    assert paper == PAPER_MEAN_LENGTH[family, k]
    mean_length = seqs.lengths.mean()
    assert abs(mean_length - paper) <= 0.10 * paper, (name, mean_length, paper)
    assert np.all(seqs.lengths > 0)
    np.testing.assert_array_equal(seqs.t_end, np.full(len(seqs), ds.meta["horizon"]))
    assert len(ds.meta["params"]) == k and ds.meta["seed"] == 0
    assert "labels" not in seqs.meta and "params" not in seqs.meta


def test_huge_and_all_names_registered():
    discover()
    names = {n for n, s in DATASETS.items() if s.kind == "synthetic"}
    assert set(LAL_NAMES) | {"Huge"} <= names
    huge = DATASETS["Huge"]
    assert huge.n_clusters == 5 and huge.heavy and huge.paper_stats["mean_length"] == 50


def test_same_seed_same_bytes_different_seed_different_draw(tmp_path):
    a = make_lal_dataset("exp", 2, n_per_cluster=40, seed=3)
    b = make_lal_dataset("exp", 2, n_per_cluster=40, seed=3)
    c = make_lal_dataset("exp", 2, n_per_cluster=40, seed=4)
    sha_a = save_dataset(a, tmp_path / "a")
    assert save_dataset(b, tmp_path / "b") == sha_a
    assert save_dataset(c, tmp_path / "c") != sha_a
    assert not np.array_equal(a.meta["params"][0]["baseline"], c.meta["params"][0]["baseline"])


def test_fingerprint_is_the_same_on_other_cpu_code_paths(tmp_path):
    """numpy and OpenBLAS pick SIMD code by the CPU; the generated floats' last bits (and so the
    sha256) can differ between machines, the fingerprint must not. Emulated here by switching
    numpy's AVX-512 dispatch and OpenBLAS's kernels off (a no-op on CPUs without them)."""
    script = ("import sys; from generators.hawkes_synthetic import make_lal_dataset; "
              "from benchmark.core.storage import read_meta, save_dataset; "
              "save_dataset(make_lal_dataset('exp', 2, n_per_cluster=100), sys.argv[1]); "
              "m = read_meta(sys.argv[1]); print(m['sha256'], m['fingerprint'])")
    root = Path(__file__).resolve().parent.parent
    out = set()
    for i, env in enumerate([{}, {"NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SKX"},
                             {"OPENBLAS_CORETYPE": "Sandybridge"}]):
        env = {**os.environ, "PYTHONPATH": str(root), **env}
        res = subprocess.run([sys.executable, "-c", script, str(tmp_path / str(i))], env=env,
                             capture_output=True, text=True, check=True, cwd=root)
        out.add(tuple(res.stdout.split()))
    assert len({fingerprint for _, fingerprint in out}) == 1


def test_datasets_of_different_cluster_counts_are_independent():
    k2 = make_lal_dataset("exp", 2, n_per_cluster=5)
    k3 = make_lal_dataset("exp", 3, n_per_cluster=5)
    assert not np.array_equal(k2.meta["params"][0]["adjacency"], k3.meta["params"][0]["adjacency"])


def test_generate_to_dir_round_trip(tmp_path):
    out = generate_to_dir("trunc_K2_C5", tmp_path / "trunc", seed=5)
    stored = load_dataset(out)
    fresh = make_lal_dataset("trunc", 2, seed=5)
    np.testing.assert_array_equal(stored.sequences.times, fresh.sequences.times)
    np.testing.assert_array_equal(stored.labels, fresh.labels)
    assert stored.meta["generator_version"] == fresh.meta["generator_version"]


# ------------------------------------------------------------------------------ correctness
@pytest.mark.parametrize("family", FAMILIES + ("box",))
def test_time_rescaling_ks(family):
    """Compensator increments of the true intensity are Exp(1) (sequences stopped at a fixed count,
    so no interval is censored)."""
    if family == "box":  # trunc kernels are almost always empty: also test boxes that do excite
        rng = np.random.default_rng(2)
        p = HawkesParams(rng.random(5), BoxKernels(0.4 * rng.random((5, 5)), rng.random((5, 5))))
    else:
        p = _params(family, seed=2)
    out = simulate_hawkes(p, 40, 1e9, np.random.default_rng(7), max_events=150)
    assert np.all(np.diff(out[2]) == 150)
    z = np.concatenate([rescaled_intervals(p, t, k) for t, k in _sequences(out)])
    assert stats.kstest(z, "expon").pvalue > P_MIN
    # the per-type version (finite-window bias is small at 150 events per sequence)
    zt = np.concatenate([rescaled_intervals(p, t, k, per_type=True) for t, k in _sequences(out)])
    assert stats.kstest(zt, "expon").statistic < 0.03


def test_time_rescaling_detects_wrong_parameters():
    """The KS check is able to fail: the same events rescaled with the excitation halved."""
    p = _params("exp", seed=2)
    out = simulate_hawkes(p, 40, 1e9, np.random.default_rng(7), max_events=150)
    wrong = HawkesParams(p.baseline, ExpKernels(0.5 * p.kernels.adjacency, p.kernels.decays))
    z = np.concatenate([rescaled_intervals(wrong, t, k) for t, k in _sequences(out)])
    assert stats.kstest(z, "expon").pvalue < P_MIN


@pytest.mark.parametrize("family", FAMILIES)
def test_expected_count_matches_simulation(family):
    p = _params(family, seed=5)
    horizon = window_for_mean_count([p], 60.0)
    _, curve = mean_count_curve(p, horizon, 200)
    assert curve[-1] == pytest.approx(60.0, rel=0.02)
    lengths = np.diff(simulate_hawkes(p, 3000, horizon, np.random.default_rng(0))[2])
    assert abs(lengths.mean() - 60.0) < 4 * lengths.std() / np.sqrt(len(lengths)) + 0.01 * 60


def _per_sequence_stats(out):
    seqs = _sequences(out)
    lengths = np.diff(out[2])
    first = np.array([t[0] for t, _ in seqs if len(t)])
    median_gap = np.array([np.median(np.diff(t)) for t, _ in seqs if len(t) > 2])
    type0_share = np.array([np.mean(k == 0) for _, k in seqs if len(k)])
    return lengths, first, median_gap, type0_share


@pytest.mark.parametrize("family", FAMILIES)
def test_agrees_with_tick_in_distribution(family):
    """Same parameters, our batched simulator vs tick's SimuHawkes: two-sample KS tests on
    per-sequence statistics (independent across sequences): event count, first event time,
    median inter-event time and share of type-0 events."""
    pytest.importorskip("tick")
    from generators.hawkes_kernels import simulate_hawkes_tick

    p = _params(family, seed=11)
    horizon = window_for_mean_count([p], 40.0)
    ours = _per_sequence_stats(simulate_hawkes(p, 600, horizon, np.random.default_rng(1)))
    ref = _per_sequence_stats(simulate_hawkes_tick(p, 600, horizon, seed=1))
    for a, b in zip(ours, ref):
        assert stats.ks_2samp(a, b).pvalue > P_MIN


def test_tick_comparison_can_fail():
    pytest.importorskip("tick")
    from generators.hawkes_kernels import simulate_hawkes_tick

    p = _params("exp", seed=11)
    horizon = window_for_mean_count([p], 40.0)
    ours = np.diff(simulate_hawkes(p, 600, 1.3 * horizon, np.random.default_rng(1))[2])
    ref = np.diff(simulate_hawkes_tick(p, 600, horizon, seed=1)[2])
    assert stats.ks_2samp(ours, ref).pvalue < P_MIN


# ---------------------------------------------------------------------------------- bad input
def test_bad_parameters_raise_clear_errors():
    with pytest.raises(ValueError, match="non-negative"):
        HawkesParams(np.array([-0.1, 0.2]), ExpKernels(np.zeros((2, 2)), np.ones((2, 2))))
    with pytest.raises(ValueError, match="adjacency"):
        ExpKernels(-np.eye(2), np.ones((2, 2)))
    with pytest.raises(ValueError, match="n_clusters"):
        make_lal_dataset("exp", 0)
    with pytest.raises(ValueError, match="family"):
        make_lal_dataset("gauss", 2)
    with pytest.raises(ValueError, match="spectral_radius"):
        draw_cluster_params("exp", 5, np.random.default_rng(0), spectral_radius=1.2)
    explosive = HawkesParams(np.ones(2), ExpKernels(np.full((2, 2), 0.9), np.ones((2, 2))))
    with pytest.raises(ValueError, match="spectral radius"):
        simulate_hawkes(explosive, 3, np.inf, np.random.default_rng(0), max_events=10)
    with pytest.raises(ValueError, match="max_events"):
        simulate_hawkes(_params("exp"), 3, np.inf, np.random.default_rng(0))
    silent = HawkesParams(np.zeros(2), SinKernels(np.ones((2, 2)), np.ones((2, 2)), np.ones((2, 2))))
    with pytest.raises(ValueError, match="mean length"):
        window_for_mean_count([silent], 10.0, max_time=10.0)
    with pytest.raises(UnknownNameError, match="K2_C5"):
        generate_to_dir("K9_C5", Path("/nonexistent"))


def test_supercritical_on_a_bounded_window_is_allowed():
    explosive = HawkesParams(np.ones(2), ExpKernels(np.full((2, 2), 0.9), np.ones((2, 2))))
    out = simulate_hawkes(explosive, 5, 3.0, np.random.default_rng(0))
    assert out[2][-1] > 0


def test_max_events_caps_and_sets_window_end():
    p = _params("sin")
    times, types, offsets, t_end = simulate_hawkes(p, 20, 1e6, np.random.default_rng(0), max_events=25)
    assert np.all(np.diff(offsets) == 25)
    np.testing.assert_array_equal(t_end, times[offsets[1:] - 1])


# ------------------------------------------------------------------------------------------ Huge
def test_huge_streaming_small_is_lazy_balanced_and_worker_independent(tmp_path):
    one = write_huge(tmp_path / "one", n_sequences=500, shard_size=100, n_workers=1)
    meta = read_meta(one)
    assert len(meta["shards"]) == 5 and meta["n_sequences"] == 500
    shards = list(iter_shards(one))
    assert [len(s) for s in shards] == [100] * 5
    assert shards[1].seq_ids[0] == 100
    ds = load_dataset(one)
    assert np.array_equal(np.bincount(ds.labels), np.full(5, 100))
    assert abs(ds.sequences.lengths.mean() - 50) < 10
    two = write_huge(tmp_path / "two", n_sequences=500, shard_size=100, n_workers=2)
    assert read_meta(two)["sha256"] == meta["sha256"]


def test_huge_full_disk_leaves_nothing(tmp_path, monkeypatch):
    real = DatasetWriter.write_shard

    def failing(self, seqs):
        if self.shards:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(self, seqs)

    monkeypatch.setattr(DatasetWriter, "write_shard", failing)
    with pytest.raises(OSError, match="No space left on device.*removed"):
        write_huge(tmp_path / "huge", n_sequences=300, shard_size=100, n_workers=1)
    assert list(tmp_path.iterdir()) == []


def test_generate_to_dir_full_disk_leaves_nothing(tmp_path, monkeypatch):
    def failing(self, seqs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(DatasetWriter, "write_shard", failing)
    with pytest.raises(OSError, match="trunc_K2_C5.*No space left on device.*removed"):
        generate_to_dir("trunc_K2_C5", tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_huge_in_the_cache_is_reused(tmp_path):
    from benchmark.core.catalog import dataset_dir, materialize

    discover()
    target = dataset_dir("Huge", tmp_path)
    write_huge(target, n_sequences=100, shard_size=100, n_workers=1)
    stamp = (target / "meta.json").stat().st_mtime_ns
    assert materialize("Huge", None, tmp_path) == target  # verified, not generated again
    assert (target / "meta.json").stat().st_mtime_ns == stamp


def test_bad_huge_sizes():
    with pytest.raises(ValueError, match="multiple"):
        write_huge(Path("/nonexistent/x"), n_sequences=1001, shard_size=100)


def test_impossible_nonempty_draw_raises():
    from generators.hawkes_synthetic import simulate_nonempty

    silent = HawkesParams(np.zeros(2), BoxKernels(np.zeros((2, 2)), np.zeros((2, 2))))
    with pytest.raises(ValueError, match="too small"):
        simulate_nonempty(silent, 3, 5.0, np.random.default_rng(0))
