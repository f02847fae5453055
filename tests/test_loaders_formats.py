"""Loaders on small crafted files: conversion, pseudo-labels, one clear error per bad input."""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmark.core.dataset import DatasetUnavailable
from benchmark.core.registry import LoadContext
from loaders._fetch import ChecksumMismatch, DataFormatError
from loaders.age import age as age_registered
from loaders.age import load_age
from loaders.amazon import load_amazon
from loaders.easytpp import load_easytpp_hf, load_easytpp_pickle
from loaders.folder_format import load_folder_format
from loaders.iptv import load_iptv
from loaders.linkedin import linkedin as linkedin_registered
from loaders.linkedin import load_linkedin
from loaders.long_table import load_long_table


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# ----------------------------------------------------------------------------------- LinkedIn
LINKEDIN = """id,time,event,option1
7,29.0,Google,Intern
7,29.5,UC Berkeley,Student
7,31.0,Acme,Engineer
3,22.0,Acme,Analyst
3,25.25,Google,Engineer
"""
SECTORS = "company,sector,source\nGoogle,search,x\nUC Berkeley,research,x\nAcme,hardware,x\n"


def _linkedin(tmp_path, events=LINKEDIN, sectors=SECTORS):
    return (_write(tmp_path / "linkedin" / "Linkedin.csv", events),
            _write(tmp_path / "linkedin" / "company_sectors.csv", sectors))


def test_linkedin_labels_are_sector_of_last_job(tmp_path):
    ds = load_linkedin(*_linkedin(tmp_path))
    s = ds.sequences
    assert list(s.seq_ids) == [7, 3]
    assert s.type_names == ("Acme", "Google", "UC Berkeley")
    np.testing.assert_array_equal(s.sequence(0)[0], [29.0, 29.5, 31.0])
    np.testing.assert_array_equal(s.sequence(0)[1], [1, 2, 0])
    assert ds.meta["label_names"] == ["hardware", "research", "search"]
    np.testing.assert_array_equal(ds.labels, [0, 2])  # Acme -> hardware, Google -> search
    assert ds.meta["labelled_event_visible"] is True


def test_linkedin_holdout_hides_last_job(tmp_path):
    ds = load_linkedin(*_linkedin(tmp_path), holdout_last=True)
    s = ds.sequences
    np.testing.assert_array_equal(s.lengths, [2, 1])
    np.testing.assert_array_equal(s.sequence(1)[1], [0])  # Google (the labelled job) is gone
    assert s.t_end is None and s.window_end()[0] == 29.5
    np.testing.assert_array_equal(ds.labels, [0, 2])
    assert ds.meta["labelled_event_visible"] is False


@pytest.mark.parametrize("events, message", [
    (LINKEDIN.replace("id,time", "user,time"), r"Linkedin\.csv: missing column\(s\) \['id'\]"),
    (LINKEDIN.replace("29.5", "abc"), r"Linkedin\.csv: line 3: column 'time' is 'abc'"),
    (LINKEDIN.replace("31.0", "28.0"), r"line 4: sequence 7 has unsorted times"),
    (LINKEDIN + "7,40.0,Acme,Boss\n", r"line 7: sequence 7 continues after other sequences"),
    (LINKEDIN.replace("Acme,Analyst", "Initech,Analyst"),
     r"line 5: company 'Initech' has no sector"),
    (LINKEDIN + ",41.0,Acme,Boss\n", r"line 7: column 'id' is empty"),
    (LINKEDIN.replace("22.0", "-22.0"), r"Linkedin\.csv: line 5: negative time -22\.0$"),
    ("id,time,event,option1\n", r"Linkedin\.csv: the table has a header but no rows"),
    ("", r"Linkedin\.csv: the file is empty"),
    (LINKEDIN + '8,41.0,"Acme,Boss\n', r"Linkedin\.csv: cannot be parsed"),
])
def test_linkedin_bad_input(tmp_path, events, message):
    with pytest.raises(DataFormatError, match=message):
        load_linkedin(*_linkedin(tmp_path, events=events))


def test_linkedin_sectors_from_labelled_file(tmp_path):
    events, _ = _linkedin(tmp_path)
    sector = {"Google": "search", "UC Berkeley": "research", "Acme": "hardware"}
    rows = [line + "," + sector[line.split(",")[2]] for line in LINKEDIN.splitlines()[1:]]
    labelled = _write(tmp_path / "labelled.csv",
                      "id,time,event,option1,sector\n" + "\n".join(rows) + "\n")
    ds = load_linkedin(events, labelled)
    np.testing.assert_array_equal(ds.labels, [0, 2])
    assert ds.meta["label_names"] == ["hardware", "research", "search"]
    labelled.write_text(labelled.read_text().replace("Acme,Analyst,hardware", "Acme,Analyst,saas"))
    with pytest.raises(DataFormatError, match=r"company 'Acme' has several sectors "
                                              r"\['hardware', 'saas'\] \(first at line 4\)"):
        load_linkedin(events, labelled)


def test_linkedin_absent_lists_files_and_alternative(tmp_path, monkeypatch):
    monkeypatch.setenv("EVSEQ_OFFLINE", "1")
    with pytest.raises(DatasetUnavailable) as err:
        linkedin_registered(LoadContext(tmp_path, tmp_path / "cache"))
    msg = str(err.value)
    assert str(tmp_path / "linkedin" / "Linkedin.csv") in msg
    assert str(tmp_path / "linkedin" / "company_sectors.csv") in msg
    assert "linkedin/LinkedIn_labelled.csv also works" in msg


def test_linkedin_registered_checks_checksum(tmp_path):
    _linkedin(tmp_path)
    with pytest.raises(ChecksumMismatch, match=r"Linkedin\.csv: sha256"):
        linkedin_registered(LoadContext(tmp_path, tmp_path / "cache"))


# --------------------------------------------------------------------------------------- IPTV
GENRES = ["others", "drama", "movie"]


def _iptv_zip(path: Path, seqs: list, genres=GENRES, member="IPTVdata/Data_IPTV_subset.mat"):
    import scipy.io

    pid = np.empty((len(genres), 1), dtype=object)
    for i, g in enumerate(genres):
        pid[i, 0] = g
    cells = np.empty((len(seqs), 1), dtype=object)
    for i, s in enumerate(seqs):
        cells[i, 0] = np.asarray(s, dtype=np.int32).reshape(2, -1)
    buf = io.BytesIO()
    scipy.io.savemat(buf, {"PID": pid, "seq": cells})
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(member, buf.getvalue())
        z.writestr("IPTVdata/README.TXT", "readme")
    return path


GOOD_IPTV = [[[10, 20, 35], [1, 3, 2]], [[5, 6], [2, 2]]]


def test_iptv_reads_mat_inside_zip(tmp_path):
    ds = load_iptv(_iptv_zip(tmp_path / "IPTVdata.zip", GOOD_IPTV))
    s = ds.sequences
    assert s.type_names == tuple(GENRES) and s.n_types == 3
    np.testing.assert_array_equal(s.sequence(0)[0], [10, 20, 35])
    np.testing.assert_array_equal(s.sequence(0)[1], [0, 2, 1])  # genre code - 1
    np.testing.assert_array_equal(ds.labels, [1, 1])  # genre of the last event: drama, drama
    held = load_iptv(tmp_path / "IPTVdata.zip", holdout_last=True)
    np.testing.assert_array_equal(held.sequences.lengths, [2, 1])
    np.testing.assert_array_equal(held.sequences.sequence(0)[1], [0, 2])
    np.testing.assert_array_equal(held.labels, ds.labels)


@pytest.mark.parametrize("seqs, message", [
    ([[[10, 20], [1, 4]]], r"sequence 0: event 1 has genre code 4; known codes are 1\.\.3"),
    ([[[10, 20], [0, 1]]], r"sequence 0: event 0 has genre code 0"),
    ([[[10, 5], [1, 1]]], r"sequence 0: times are not sorted \(event 1 at 5.0 after 10.0\)"),
    ([[[1], [1]], np.zeros((2, 0))], r"sequence 1 is empty"),
    ([[[1], [1]], [[10, -5], [1, 1]]], r"\.zip: sequence 1: event 1 has a negative time \(-5\.0\)"),
])
def test_iptv_bad_sequences(tmp_path, seqs, message):
    with pytest.raises(DataFormatError, match=message):
        load_iptv(_iptv_zip(tmp_path / "IPTVdata.zip", seqs))


def test_iptv_truncated_zip(tmp_path):
    good = _iptv_zip(tmp_path / "good.zip", GOOD_IPTV).read_bytes()
    bad = tmp_path / "IPTVdata.zip"
    bad.write_bytes(good[: len(good) // 2])
    with pytest.raises(DataFormatError, match=r"IPTVdata\.zip: cannot be read"):
        load_iptv(bad)


@pytest.mark.parametrize("keep_fraction", [0.2, 0.5, 0.95])
def test_iptv_truncated_mat_inside_zip(tmp_path, keep_fraction):
    good = _iptv_zip(tmp_path / "good.zip", GOOD_IPTV)
    mat = zipfile.ZipFile(good).read("IPTVdata/Data_IPTV_subset.mat")
    with zipfile.ZipFile(tmp_path / "IPTVdata.zip", "w") as z:
        z.writestr("IPTVdata/Data_IPTV_subset.mat", mat[: int(len(mat) * keep_fraction)])
    with pytest.raises(DataFormatError, match=r"IPTVdata\.zip: cannot be read"):
        load_iptv(tmp_path / "IPTVdata.zip")


def test_iptv_missing_variable(tmp_path):
    import scipy.io

    f = tmp_path / "x.mat"
    scipy.io.savemat(f, {"seq": np.zeros((1, 1))})
    with pytest.raises(DataFormatError, match=r"x\.mat: MATLAB variable 'PID' missing"):
        load_iptv(f)


# ------------------------------------------------------------------------------ EasyTPP/Amazon
def _events(times, types):
    last = np.diff(times, prepend=times[0]).tolist()
    return [{"type_event": k, "time_since_start": t, "time_since_last_event": d}
            for t, k, d in zip(times, types, last)]


def _pickle(path: Path, split: str, seqs, dim=3) -> Path:
    path.write_bytes(pickle.dumps({"dim_process": dim, split: seqs}))
    return path


def test_easytpp_pickle(tmp_path):
    second = [{"type_event": np.int64(1), "time_since_start": np.float64(3.0)}]  # numpy scalars
    f = _pickle(tmp_path / "dev.pkl", "dev", [_events([0.5, 1.0], [2, 0]), second])
    ds = load_easytpp_pickle(f)
    assert ds.labels is None and ds.meta["split"] == "dev"
    assert list(ds.sequences.seq_ids) == ["dev-0", "dev-1"] and ds.sequences.n_types == 3
    np.testing.assert_array_equal(ds.sequences.times, [0.5, 1.0, 3.0])
    np.testing.assert_array_equal(ds.sequences.types, [2, 0, 1])


def test_amazon_concatenates_dev_then_test(tmp_path):
    dev = _pickle(tmp_path / "dev.pkl", "dev", [_events([0.5, 1.0], [2, 0])])
    test = _pickle(tmp_path / "test.pkl", "test", [_events([1.0], [1]), _events([2.0], [0])])
    ds = load_amazon(dev, test)
    assert list(ds.sequences.seq_ids) == ["dev-0", "test-0", "test-1"]
    assert ds.labels is None and ds.meta["splits"] == {"dev": 1, "test": 2}


@pytest.mark.parametrize("content, message", [
    ({"dim_process": 3, "dev": [_events([0.5, 0.2], [0, 1])]},
     r"dev sequence 0: times are not sorted \(event 1"),
    ({"dim_process": 3, "dev": [_events([0.5], [3])]}, r"dev sequence 0: event 0 has type 3"),
    ({"dim_process": 3, "dev": [_events([0.5], [0]), _events([0.5, -0.2], [0, 1])]},
     r"dev\.pkl: dev sequence 1: event 1 has a negative time \(-0\.2\)"),
    ({"dim_process": 3, "dev": [[{"type_event": 1}]]}, r"dev sequence 0: an event lacks"),
    ({"dim_process": 3, "dev": [[]]}, r"dev sequence 0 is empty"),
    ({"dim_process": 3, "dev": [], "test": []}, r"holds splits \['dev', 'test'\]"),
    ({"dev": []}, r"expected a dict with 'dim_process'"),
])
def test_easytpp_bad_content(tmp_path, content, message):
    f = tmp_path / "dev.pkl"
    f.write_bytes(pickle.dumps(content))
    with pytest.raises(DataFormatError, match=message):
        load_easytpp_pickle(f)


def test_easytpp_truncated_and_foreign_pickles(tmp_path):
    good = pickle.dumps({"dim_process": 3, "dev": [_events([0.5, 1.0], [2, 0])]})
    f = tmp_path / "dev.pkl"
    f.write_bytes(good[:-10])
    with pytest.raises(DataFormatError, match=r"dev\.pkl: not a readable EasyTPP pickle"):
        load_easytpp_pickle(f)
    f.write_bytes(pickle.dumps({"dim_process": 3, "dev": [], "path": Path("x")}))  # a class
    with pytest.raises(DataFormatError, match="refusing to load pathlib"):
        load_easytpp_pickle(f)


def test_easytpp_hf_from_local_copy(tmp_path):
    pytest.importorskip("datasets")
    from benchmark.core.convert import to_hf_dataset
    from benchmark.core.sequences import EventSequences

    seqs = EventSequences.from_lists([[0.0, 1.5, 2.0], [0.0, 4.0]], [[1, 0, 1], [2, 2]], n_types=3)
    to_hf_dataset(seqs).save_to_disk(str(tmp_path / "hf"))
    ds = load_easytpp_hf(tmp_path / "hf")
    np.testing.assert_array_equal(ds.sequences.times, seqs.times)
    np.testing.assert_array_equal(ds.sequences.types, seqs.types)
    assert ds.sequences.n_types == 3 and ds.labels is None


# ---------------------------------------------------------------------------------------- Age
TRANSACTIONS = """client_id,trans_date,small_group,amount_rur
10,5,3,1.5
20,1,7,2.0
10,2,1,3.0
99,0,3,1.0
10,2,7,4.0
20,3,3,5.0
"""
TARGET = "client_id,bins\n20,3\n10,0\n"


def _age(tmp_path, transactions=TRANSACTIONS, target=TARGET):
    return (_write(tmp_path / "age" / "transactions_train.csv", transactions),
            _write(tmp_path / "age" / "train_target.csv", target))


def test_age_sequences_follow_target_file(tmp_path):
    ds = load_age(*_age(tmp_path))
    s = ds.sequences
    assert list(s.seq_ids) == [20, 10]  # client 99 has no target: dropped
    assert s.type_names == ("1", "3", "7")
    np.testing.assert_array_equal(s.sequence(0)[0], [1, 3])
    np.testing.assert_array_equal(s.sequence(1)[0], [2, 2, 5])  # sorted by day, ties in file order
    np.testing.assert_array_equal(s.sequence(1)[1], [0, 2, 1])
    np.testing.assert_array_equal(ds.labels, [1, 0])
    assert ds.meta["label_names"] == ["bins=0", "bins=3"]


def test_age_max_types_keeps_most_frequent_codes(tmp_path):
    ds = load_age(*_age(tmp_path), max_types=2)
    assert ds.sequences.type_names == ("3", "other")  # code 3 is the most frequent
    np.testing.assert_array_equal(ds.sequences.sequence(1)[1], [1, 1, 0])


def test_age_registered_reads_data_dir(tmp_path):
    _age(tmp_path)
    ds = age_registered(LoadContext(tmp_path, tmp_path / "cache"))
    assert len(ds.sequences) == 2 and ds.n_clusters == 2


def test_age_absent_says_where_to_put_files(tmp_path, monkeypatch):
    monkeypatch.setenv("EVSEQ_OFFLINE", "1")
    with pytest.raises(DatasetUnavailable) as err:
        age_registered(LoadContext(tmp_path, tmp_path / "cache"))
    msg = str(err.value)
    assert str(tmp_path / "age" / "transactions_train.csv") in msg
    assert str(tmp_path / "age" / "train_target.csv") in msg


@pytest.mark.parametrize("transactions, target, message", [
    (TRANSACTIONS, TARGET + "30,1\n",
     r"train_target\.csv: line 4: client_id 30 has no transactions"),
    (TRANSACTIONS, TARGET + "10,1\n", r"train_target\.csv: line 4: client_id 10 is listed twice"),
    (TRANSACTIONS.replace("20,3,3", "20,x,3"), TARGET,
     r"transactions_train\.csv: line 7: column 'trans_date' is 'x'"),
    (TRANSACTIONS.replace("small_group", "mcc"), TARGET, r"missing column\(s\) \['small_group'\]"),
    (TRANSACTIONS.replace("20,3,3", "20,-3,3"), TARGET,
     r"transactions_train\.csv: line 7: negative trans_date -3\.0$"),
    (TRANSACTIONS, TARGET.replace("bins", "age"), r"train_target\.csv: missing column"),
])
def test_age_bad_input(tmp_path, transactions, target, message):
    with pytest.raises(DataFormatError, match=message):
        load_age(*_age(tmp_path, transactions, target))


# ------------------------------------------------------------------------------ folder format
def _folder(tmp_path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        _write(tmp_path / "K2" / name, text)
    return tmp_path / "K2"


FOLDER = {
    "1.csv": ",time,event\n0,0.5,1\n1,1.5,0\n",
    "2.csv": ",time,event\n0,0.25,2\n",
    "3.csv": ",time,event\n0,1.0,0\n1,1.0,0\n2,3.0,1\n",
    "clusters.csv": ",cluster_id\n0,1\n1,0\n2,1\n",
}


def test_folder_format(tmp_path):
    ds = load_folder_format(_folder(tmp_path, FOLDER))
    s = ds.sequences
    assert list(s.seq_ids) == [1, 2, 3] and s.n_types == 3
    np.testing.assert_array_equal(s.lengths, [2, 1, 3])
    np.testing.assert_array_equal(s.sequence(2)[0], [1.0, 1.0, 3.0])
    np.testing.assert_array_equal(ds.labels, [1, 0, 1])


def test_folder_format_numeric_order_and_no_labels(tmp_path):
    files = {f"{i}.csv": f",time,event\n0,{i}.0,0\n" for i in range(1, 12)}
    ds = load_folder_format(_folder(tmp_path, files))
    np.testing.assert_array_equal(ds.sequences.times, np.arange(1, 12))  # 10.csv after 9.csv
    assert ds.labels is None


@pytest.mark.parametrize("change, message", [
    ({"2.csv": None}, r"2\.csv is missing"),
    ({"3.csv": ",time,event\n0,2.0,0\n1,1.0,0\n"}, r"3\.csv: line 3: times are not sorted"),
    ({"2.csv": ",time,event\n"}, r"2\.csv: the table has a header but no rows"),
    ({"2.csv": ",time,kind\n0,1.0,1\n"}, r"2\.csv: missing column\(s\) \['event'\]"),
    ({"1.csv": ",time,event\n0,0.5,1.5\n"},
     r"1\.csv: line 2: column 'event' is 1\.5, expected an integer"),
    ({"clusters.csv": ",cluster_id\n0,1\n1,0\n"},
     r"clusters\.csv: 2 label rows for 3 sequence files"),
    ({"2.csv": ",time,event\n0,-0.25,2\n"},
     r"2\.csv: line 2: event 0 has a negative time \(-0\.25\)"),
    ({"3.csv": ",time,event\n0,1.0,0\n1,2.0,-2\n"}, r"3\.csv: line 3: event -2 is negative"),
])
def test_folder_format_bad_input(tmp_path, change, message):
    files = {**FOLDER, **change}
    files = {k: v for k, v in files.items() if v is not None}
    with pytest.raises(DataFormatError, match=message):
        load_folder_format(_folder(tmp_path, files))


def test_folder_format_code_outside_given_n_types_names_file_and_line(tmp_path):
    files = {**FOLDER, "3.csv": ",time,event\n0,1.0,0\n1,2.0,7\n"}
    with pytest.raises(DataFormatError, match=r"3\.csv: line 3: event 7 is outside \[0, 3\)"):
        load_folder_format(_folder(tmp_path, files), n_types=3)


# --------------------------------------------------------------------------------- long table
LONG = "user,t,kind,group\nb,0.5,click,A\nb,2.0,buy,A\na,0.1,click,B\n"


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_long_table_csv_and_parquet(tmp_path, suffix):
    import pandas as pd

    f = tmp_path / f"events{suffix}"
    if suffix == ".csv":
        f.write_text(LONG)
    else:
        pd.read_csv(io.StringIO(LONG)).to_parquet(f)
    ds = load_long_table(f, seq_col="user", time_col="t", type_col="kind", label_col="group")
    s = ds.sequences
    assert list(s.seq_ids) == ["b", "a"] and s.type_names == ("buy", "click")
    np.testing.assert_array_equal(s.types, [1, 0, 1])
    np.testing.assert_array_equal(ds.labels, [0, 1])
    assert ds.meta["label_names"] == ["A", "B"]


def test_long_table_integer_types_and_sort(tmp_path):
    f = _write(tmp_path / "e.csv", "seq_id,time,type\n1,2.0,3\n2,0.0,0\n1,1.0,1\n")
    with pytest.raises(DataFormatError, match=r"line 4: sequence 1 continues after other"):
        load_long_table(f)
    ds = load_long_table(f, sort=True)
    assert ds.sequences.n_types == 4 and ds.sequences.type_names is None
    np.testing.assert_array_equal(ds.sequences.sequence(0)[0], [1.0, 2.0])
    np.testing.assert_array_equal(ds.sequences.sequence(0)[1], [1, 3])
    whole = load_long_table(_write(tmp_path / "f.csv", "seq_id,time,type\n1,0.0,2.0\n1,1.0,0.0\n"))
    assert whole.sequences.type_names is None and whole.sequences.types.tolist() == [2, 0]


@pytest.mark.parametrize("text, kwargs, message", [
    ("seq_id,time,type,y\n1,0.0,0,A\n1,1.0,0,B\n", {"label_col": "y"},
     r"line 3: sequence 1 has label 'B' but its first row has 'A'"),
    ("seq_id,time,type\n1,0.0,0\n1,,0\n", {}, r"line 3: column 'time' is nan, expected a finite"),
    ("seq_id,time,type\n1,0.0,0\n1,1.0,5\n", {"n_types": 3}, r"line 3: type 5 is outside \[0, 3\)"),
    ("seq_id,time,type\n1,0.0,0\n1,-1.0,0\n", {"sort": True}, r"line 3: negative time"),
    ("seq_id,time\n1,0.0\n", {}, r"missing column\(s\) \['type'\]"),
    ("seq_id,time,type\n1,0.0,-1\n", {}, r"line 2: type -1 is negative"),
    ("seq_id,time,type\n1,0.0,0\n1,1.0,1.5\n", {},
     r"line 3: column 'type' is 1\.5, expected an integer"),
    ("seq_id,time,type\n1,0.0,0.0\n1,1.0,-1.0\n", {}, r"line 3: type -1 is negative"),
    ("seq_id,time,type\n1,0.0,0.0\n1,1.0,5.0\n", {"n_types": 3},
     r"line 3: type 5 is outside \[0, 3\)"),
    ("seq_id,time,type\n1,0.0,0\n1,1.0,\n", {}, r"line 3: column 'type' is empty"),
])
def test_long_table_bad_input(tmp_path, text, kwargs, message):
    with pytest.raises(DataFormatError, match=message):
        load_long_table(_write(tmp_path / "e.csv", text), **kwargs)


def test_long_table_corrupt_parquet(tmp_path):
    import pandas as pd

    f = tmp_path / "e.parquet"
    pd.DataFrame({"seq_id": [1, 1], "time": [0.0, 1.0], "type": [0, 1]}).to_parquet(f)
    f.write_bytes(f.read_bytes()[:-20])
    with pytest.raises(DataFormatError, match=r"e\.parquet: cannot be"):
        load_long_table(f)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_long_table_round_trips_to_pandas_output(tmp_path, data):
    from benchmark.core.convert import to_pandas
    from benchmark.core.sequences import EventSequences

    n_types = data.draw(st.integers(1, 4))
    lengths = data.draw(st.lists(st.integers(1, 5), min_size=1, max_size=6))
    times = [sorted(data.draw(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=k, max_size=k)))
             for k in lengths]
    types = [data.draw(st.lists(st.integers(0, n_types - 1), min_size=k, max_size=k))
             for k in lengths]
    seqs = EventSequences.from_lists(times, types, n_types=n_types)
    f = tmp_path / "events.csv"
    to_pandas(seqs).to_csv(f, index=False)
    back = load_long_table(f, n_types=n_types).sequences
    np.testing.assert_array_equal(back.offsets, seqs.offsets)
    np.testing.assert_array_equal(back.times, seqs.times)
    np.testing.assert_array_equal(back.types, seqs.types)
    np.testing.assert_array_equal(back.seq_ids, seqs.seq_ids)


def test_long_table_parquet_rows_and_sorted_rows_name_the_file_row(tmp_path):
    import pandas as pd

    f = tmp_path / "e.parquet"
    pd.DataFrame({"seq_id": [1, 1, 1], "time": [0.0, 2.0, 1.0], "type": [0, 0, 0]}).to_parquet(f)
    with pytest.raises(DataFormatError, match=r"e\.parquet: row 2: sequence 1 has unsorted "
                                              r"times \(1\.0 after 2\.0; pass sort=True"):
        load_long_table(f)
    g = _write(tmp_path / "g.csv", "seq_id,time,type\nb,5,0\na,1,0\nb,-1,0\na,0,0\n")
    with pytest.raises(DataFormatError, match=r"g\.csv: line 4: negative time -1\.0$"):
        load_long_table(g, sort=True)
