"""Data-directory lookup, checksum verification and atomic download (loaders/_fetch.py)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from benchmark.core.dataset import DatasetUnavailable
from benchmark.core.registry import LoadContext
from loaders._fetch import ChecksumMismatch, RemoteFile, download, download_dir, fetch

CONTENT = b"id,time,event\n1,0.5,a\n"
SHA = hashlib.sha256(CONTENT).hexdigest()


@pytest.fixture(autouse=True)
def _downloads_enabled(monkeypatch):
    monkeypatch.delenv("EVSEQ_OFFLINE", raising=False)


def _ctx(tmp_path: Path, data: bool = True) -> LoadContext:
    return LoadContext(tmp_path / "data" if data else None, tmp_path / "cache")


def test_finds_file_in_data_dir_and_verifies(tmp_path):
    f = tmp_path / "data" / "x" / "a.csv"
    f.parent.mkdir(parents=True)
    f.write_bytes(CONTENT)
    (path,) = fetch(_ctx(tmp_path), [RemoteFile("x/a.csv", SHA)], "X")
    assert path == f


def test_data_dir_checked_before_cache(tmp_path):
    ctx = _ctx(tmp_path)
    for base in (ctx.data_dir, download_dir(ctx)):
        (base / "x").mkdir(parents=True)
        (base / "x" / "a.csv").write_bytes(CONTENT)
    (path,) = fetch(ctx, [RemoteFile("x/a.csv", SHA)], "X")
    assert path == ctx.data_dir / "x" / "a.csv"


def test_wrong_checksum_names_file(tmp_path):
    f = tmp_path / "data" / "x" / "a.csv"
    f.parent.mkdir(parents=True)
    f.write_bytes(CONTENT[:-3])  # truncated
    with pytest.raises(ChecksumMismatch, match=r"a\.csv: sha256 is .* expected " + SHA):
        fetch(_ctx(tmp_path), [RemoteFile("x/a.csv", SHA)], "X")


def test_missing_lists_exact_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("EVSEQ_OFFLINE", "1")
    ctx = _ctx(tmp_path)
    files = [RemoteFile("x/a.csv", SHA, ("file:///nonexistent",)), RemoteFile("x/b.csv", None)]
    with pytest.raises(DatasetUnavailable) as err:
        fetch(ctx, files, "X")
    msg = str(err.value)
    assert "dataset X" in msg
    for rel in ("x/a.csv", "x/b.csv"):
        assert str(ctx.data_dir / rel) in msg and str(download_dir(ctx) / rel) in msg
    assert "downloads disabled" in msg and "no public download URL" in msg


def test_missing_without_data_dir_says_how_to_set_it(tmp_path):
    with pytest.raises(DatasetUnavailable, match="--data-dir"):
        fetch(_ctx(tmp_path, data=False), [RemoteFile("x/a.csv", None)], "X")


def test_downloads_into_cache_and_reuses(tmp_path):
    src = tmp_path / "remote.csv"
    src.write_bytes(CONTENT)
    ctx = _ctx(tmp_path)
    spec = RemoteFile("x/a.csv", SHA, ("file:///nonexistent/a.csv", src.as_uri()))
    (path,) = fetch(ctx, [spec], "X")
    assert path == download_dir(ctx) / "x" / "a.csv" and path.read_bytes() == CONTENT
    src.unlink()  # the second call must not need the source any more
    assert fetch(ctx, [spec], "X") == [path]


def test_failed_downloads_are_reported(tmp_path):
    spec = RemoteFile("x/a.csv", SHA, ("file:///nonexistent/a.csv",))
    with pytest.raises(DatasetUnavailable, match="download failed .*nonexistent"):
        fetch(_ctx(tmp_path), [spec], "X")


def test_download_with_wrong_checksum_leaves_nothing(tmp_path):
    src = tmp_path / "remote.csv"
    src.write_bytes(CONTENT + b"2,1.0,b\n")
    dest = tmp_path / "cache" / "a.csv"
    with pytest.raises(ChecksumMismatch, match="not saved"):
        download(src.as_uri(), dest, SHA)
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []  # no temporary file left behind
