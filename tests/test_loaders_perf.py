"""Loader throughput (pytest-benchmark; run with ``pytest -m perf tests/test_loaders_perf.py
--benchmark-enable``). The Age loader is the one that meets big files (26 M transactions in the
public data); it is compared with a bare ``pandas.read_csv`` of the same file, the reference for
"parsing the CSV is the cost": the ratio shows what checking, grouping and sorting add.
"""

from __future__ import annotations

import numpy as np
import pytest

from loaders.age import load_age

N_TRANSACTIONS = 1_000_000
N_CLIENTS = 2_000


@pytest.fixture(scope="module")
def age_files(tmp_path_factory):
    import pandas as pd

    d = tmp_path_factory.mktemp("age")
    rng = np.random.default_rng(0)
    pd.DataFrame({
        "client_id": rng.integers(0, N_CLIENTS, N_TRANSACTIONS),
        "trans_date": rng.integers(0, 730, N_TRANSACTIONS),
        "small_group": rng.integers(0, 200, N_TRANSACTIONS),
        "amount_rur": rng.gamma(1.0, 100.0, N_TRANSACTIONS).round(2),
    }).to_csv(d / "transactions_train.csv", index=False)
    pd.DataFrame({"client_id": np.arange(N_CLIENTS), "bins": rng.integers(0, 4, N_CLIENTS)}
                 ).to_csv(d / "train_target.csv", index=False)
    return d / "transactions_train.csv", d / "train_target.csv"


@pytest.mark.perf
def test_perf_age_loader(benchmark, age_files):
    benchmark.group = "age-1M-transactions"
    ds = benchmark.pedantic(load_age, args=age_files, rounds=3, iterations=1)
    assert ds.sequences.n_events == N_TRANSACTIONS and len(ds.sequences) == N_CLIENTS


@pytest.mark.perf
def test_perf_read_csv_reference(benchmark, age_files):
    import pandas as pd

    benchmark.group = "age-1M-transactions"
    df = benchmark.pedantic(pd.read_csv, args=(age_files[0],), rounds=3, iterations=1)
    assert len(df) == N_TRANSACTIONS
