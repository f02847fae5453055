"""Amazon reviews (``Amazon``): the EasyTPP "Gatech" pickles of the dev and test splits.

Raw files: ``amazon/dev.pkl`` (300 sequences) and ``amazon/test.pkl`` (500 sequences), 16 product
category types, from networkslab/cdiff ``data/amazon/``. The train split is not included (not
obtainable offline), so ``Amazon`` = dev followed by test, 800 sequences (ids ``dev-i``,
``test-i``). The paper's Amazon cuts (7.5k and 100k sequences, 8 types) are not public.

There are no labels (the paper reports only the downstream ROC-AUC on Amazon): ``labels=None``.
The same data with more splits can be read from the EasyTPP hub dataset with
:func:`loaders.easytpp.load_easytpp_hf` (``"easytpp/amazon"``).
"""

from __future__ import annotations

from pathlib import Path

from benchmark.core.dataset import Dataset
from benchmark.core.registry import LoadContext, register_dataset
from benchmark.core.sequences import EventSequences
from benchmark.core.storage import concatenate
from loaders._common import portable_source
from loaders._fetch import DataFormatError, RemoteFile, fetch
from loaders.easytpp import read_easytpp_pickle

_BASE_URL = "https://raw.githubusercontent.com/networkslab/cdiff/main/data/amazon/"
DEV_FILE = RemoteFile(
    "amazon/dev.pkl", "cd4c5684648924ad936d645d610451528a7b75692e67934f9ecdf20e3fa9d356",
    (_BASE_URL + "dev.pkl",),
)
TEST_FILE = RemoteFile(
    "amazon/test.pkl", "6b15f1bf4d355d8d302eae37e3a4a85d929c5d0501b6e81bb65d59ce80d2e30c",
    (_BASE_URL + "test.pkl",),
)
PAPER_STATS = {"n_sequences": 7523, "mean_length": 56.5, "n_types": 8, "n_clusters": None}


def load_amazon(dev_pkl: str | Path, test_pkl: str | Path, *,
                source: str | None = None) -> Dataset:
    """Concatenate the dev and test EasyTPP pickles (no checksum check): one unlabelled Dataset.

    The sequences' ``meta["source"]`` is ``source`` (the registered loader:
    ``"amazon/dev.pkl, amazon/test.pkl"``), else the two file names
    (:func:`loaders._common.portable_source`)."""
    dev, _ = read_easytpp_pickle(dev_pkl, "dev")
    test, _ = read_easytpp_pickle(test_pkl, "test")
    if dev.n_types != test.n_types:
        raise DataFormatError(f"{test_pkl}: dim_process {test.n_types} differs from {dev_pkl} "
                              f"({dev.n_types})")
    both = concatenate([dev, test])
    seqs = EventSequences(
        both.times, both.types, both.offsets, both.n_types, seq_ids=both.seq_ids,
        meta={"name": "Amazon", "source": portable_source(dev_pkl, test_pkl, source=source),
              "time_unit": "as in the EasyTPP files"},
    )
    return Dataset(seqs, None, {"splits": {"dev": len(dev), "test": len(test)},
                                "paper_stats": PAPER_STATS})


@register_dataset(
    "Amazon", kind="real", n_clusters=None, family="real", paper_stats=PAPER_STATS,
    version="2",  # 2: meta["source"] relative to the data directory (was the absolute paths)
    description="800 Amazon review sequences (EasyTPP dev 300 + test 500), 16 types, no labels",
)
def amazon(ctx: LoadContext) -> Dataset:
    dev, test = fetch(ctx, [DEV_FILE, TEST_FILE], "Amazon")
    return load_amazon(dev, test, source=f"{DEV_FILE.relpath}, {TEST_FILE.relpath}")
