import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("EVSEQ_CACHE_DIR", str(d))
    return d


def shared_data_dir() -> Path | None:
    """The real-data directory: EVSEQ_DATA_DIR, else ../shared/data next to the repository."""
    env = os.environ.get("EVSEQ_DATA_DIR")
    cand = Path(env) if env else REPO.parent / "shared" / "data"
    return cand if cand.exists() else None


@pytest.fixture
def torch_one_thread():
    """One torch thread for the test (CI runs several test processes on 2 cores); restored after.
    Use with ``pytestmark = pytest.mark.usefixtures("torch_one_thread")``."""
    from baselines._torch import torch_threads

    with torch_threads(1):
        yield
