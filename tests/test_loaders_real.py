"""The registered real datasets load from the shared data directory (LinkedIn, IPTV, Amazon).

The data directory is ``EVSEQ_DATA_DIR``, else ``../shared/data`` next to the repository. When its
files are missing these tests are skipped, except in CI (``CI=true``), where they fail.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from benchmark.core.registry import LoadContext, get_dataset
from benchmark.core.storage import load_dataset, save_dataset

REPO = Path(__file__).resolve().parent.parent


def _data_dir() -> Path:
    env = os.environ.get("EVSEQ_DATA_DIR")
    return Path(env) if env else REPO.parent / "shared" / "data"


def _need(*relpaths: str) -> Path:
    data = _data_dir()
    missing = [str(data / r) for r in relpaths if not (data / r).is_file()]
    if missing:
        msg = f"real data files missing: {missing} (set EVSEQ_DATA_DIR)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return data


@pytest.fixture
def ctx(tmp_path, monkeypatch) -> LoadContext:
    monkeypatch.setenv("EVSEQ_OFFLINE", "1")  # never download in tests
    return LoadContext(_data_dir(), tmp_path / "cache")


def _load(name: str, ctx: LoadContext):
    return get_dataset(name).load(ctx)


def test_linkedin(ctx):
    data = _need("linkedin/Linkedin.csv", "linkedin/company_sectors.csv")
    ds = _load("LinkedIn", ctx)
    s = ds.sequences
    assert (len(s), s.n_events, s.n_types) == (2439, 7495, 82)  # the data README's counts
    assert ds.n_clusters == 9 and len(ds.meta["label_names"]) == 9
    labelled = data / "linkedin" / "LinkedIn_labelled.csv"
    if labelled.is_file():  # the COHORTNEY authors' labels, an independent check
        import pandas as pd

        ref = pd.read_csv(labelled).groupby("id", sort=False)["label"].last()
        assert list(ref.index) == list(s.seq_ids)
        names = np.asarray(ds.meta["label_names"])
        assert (names[ds.labels] == ref.to_numpy()).all()
    held = _load("LinkedIn-holdout", ctx)
    np.testing.assert_array_equal(held.sequences.lengths, s.lengths - 1)
    np.testing.assert_array_equal(held.labels, ds.labels)


def test_linkedin_sectors_fall_back_to_labelled_file(ctx, tmp_path):
    data = _need("linkedin/Linkedin.csv", "linkedin/company_sectors.csv",
                 "linkedin/LinkedIn_labelled.csv")
    alt = tmp_path / "data" / "linkedin"  # no company_sectors.csv here
    alt.mkdir(parents=True)
    for name in ("Linkedin.csv", "LinkedIn_labelled.csv"):
        (alt / name).symlink_to(data / "linkedin" / name)
    via_labelled = _load("LinkedIn", LoadContext(tmp_path / "data", ctx.cache_dir))
    np.testing.assert_array_equal(via_labelled.labels, _load("LinkedIn", ctx).labels)


def test_iptv(ctx):
    _need("iptv/IPTVdata.zip")
    ds = _load("IPTV", ctx)
    s = ds.sequences
    assert (len(s), s.n_types) == (1473, 16)
    assert s.type_names[:3] == ("others", "drama", "movie")
    np.testing.assert_array_equal(ds.labels, s.types[s.offsets[1:] - 1])
    held = _load("IPTV-holdout", ctx)
    np.testing.assert_array_equal(held.sequences.lengths, s.lengths - 1)
    np.testing.assert_array_equal(held.labels, ds.labels)


def test_amazon(ctx):
    _need("amazon/dev.pkl", "amazon/test.pkl")
    ds = _load("Amazon", ctx)
    s = ds.sequences
    assert (len(s), s.n_types) == (800, 16)
    assert ds.labels is None and ds.meta["splits"] == {"dev": 300, "test": 500}
    assert s.seq_ids[0] == "dev-0" and s.seq_ids[-1] == "test-499"


def test_iptv_round_trips_through_the_common_format(ctx, tmp_path):
    _need("iptv/IPTVdata.zip")
    ds = _load("IPTV-holdout", ctx)
    save_dataset(ds, tmp_path / "stored")
    back = load_dataset(tmp_path / "stored")
    np.testing.assert_array_equal(back.sequences.times, ds.sequences.times)
    np.testing.assert_array_equal(back.sequences.types, ds.sequences.types)
    np.testing.assert_array_equal(back.labels, ds.labels)
    assert back.sequences.type_names == ds.sequences.type_names


@pytest.mark.parametrize("name, files", [
    ("LinkedIn", ("linkedin/Linkedin.csv", "linkedin/company_sectors.csv")),
    ("IPTV-holdout", ("iptv/IPTVdata.zip",)),
    ("Amazon", ("amazon/dev.pkl", "amazon/test.pkl")),
])
def test_datacard_statistics_are_current(ctx, name, files):
    _need(*files)
    card = (REPO / "docs" / "datacards" / f"{name}.md").read_text()
    s = _load(name, ctx).sequences
    for key in ("n_sequences", "n_events", "n_types", "max_length"):
        assert f"| {key} | {s.summary()[key]} |" in card, f"{name}.md: {key} is stale"
