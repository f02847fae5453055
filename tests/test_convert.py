import numpy as np
import pytest
from hypothesis import example, given, settings

from benchmark.core import convert
from benchmark.core.sequences import EventSequences, SequenceValidationError
from tests.test_sequences import event_sequences, make


def same(a: EventSequences, b: EventSequences, ids=True):
    assert np.array_equal(a.offsets, b.offsets)
    assert np.allclose(a.times, b.times)
    assert np.array_equal(a.types, b.types)
    assert a.n_types == b.n_types
    if ids:
        assert [str(x) for x in a.seq_ids] == [str(x) for x in b.seq_ids]


@given(event_sequences())
@settings(max_examples=40, deadline=None)
def test_pandas_roundtrip(s):
    same(s, convert.from_pandas(convert.to_pandas(s), n_types=s.n_types))


def test_pandas_sort_and_errors():
    import pandas as pd

    df = pd.DataFrame({"seq_id": ["a", "b", "a"], "time": [2.0, 1.0, 1.0], "type": [1, 0, 0]})
    with pytest.raises(SequenceValidationError, match="contiguous"):
        convert.from_pandas(df)
    s = convert.from_pandas(df, sort=True)
    assert s.sequence(0)[0].tolist() == [1.0, 2.0] and list(s.seq_ids) == ["a", "b"]
    with pytest.raises(SequenceValidationError, match="missing"):
        convert.from_pandas(df.drop(columns="time"))


@given(event_sequences())
@settings(max_examples=40, deadline=None)
def test_tick_roundtrip_ignoring_tie_order(s):
    r = convert.from_tick(convert.to_tick(s))
    assert np.array_equal(r.offsets, s.offsets) and np.allclose(r.times, s.times)
    for i in range(len(s)):  # same multiset of (time, type) per sequence
        a = sorted(zip(*s.sequence(i)))
        b = sorted(zip(*r.sequence(i)))
        assert [(float(t), int(k)) for t, k in a] == [(float(t), int(k)) for t, k in b]


@given(event_sequences())
@settings(max_examples=40, deadline=None)
def test_easytpp_records_roundtrip_shifted(s):
    r = convert.from_easytpp_records(convert.to_easytpp_records(s))
    first = s.first_times()
    assert np.allclose(r.times, s.times - np.repeat(first, s.lengths))
    assert np.array_equal(r.types, s.types) and r.n_types == s.n_types


def test_hf_dataset_roundtrip():
    s = make([[0.0, 1.5, 2.0], [0.0, 4.0]], [[0, 2, 1], [1, 1]])
    ds = convert.to_hf_dataset(s)
    assert set(["time_since_start", "time_since_last_event", "type_event", "dim_process"]) <= set(ds.column_names)
    assert ds[0]["time_since_last_event"] == [0.0, 1.5, 0.5]
    same(s, convert.from_hf_dataset(ds), ids=False)


@given(event_sequences())
@settings(max_examples=30, deadline=None)
def test_padded_roundtrip(s):
    t, k, lens, mask = convert.to_padded(s)
    assert t.shape == k.shape == mask.shape and mask.sum() == s.n_events
    assert (k[~mask] == s.n_types).all()
    same(s, convert.from_padded(t.numpy(), k.numpy(), lens.numpy(), s.n_types), ids=False)


def test_padded_truncates_to_last_events():
    s = make([[0.0, 1.0, 2.0, 3.0]], [[0, 1, 2, 0]])
    t, k, lens, _ = convert.to_padded(s, max_len=2)
    assert t.tolist() == [[2.0, 3.0]] and k.tolist() == [[2, 0]] and lens.tolist() == [2]


def test_binned_counts_by_hand():
    s = make([[0.0, 0.9, 1.0, 3.9], [2.0]], [[0, 0, 1, 2], [1]], t_end=[4.0, 4.0])
    counts, width = convert.binned_counts(s, 4)
    assert counts.shape == (2, 4, 3) and width.tolist() == [1.0, 1.0]
    assert counts[0, :, 0].tolist() == [2, 0, 0, 0]
    assert counts[0, :, 1].tolist() == [0, 1, 0, 0]
    assert counts[0, :, 2].tolist() == [0, 0, 0, 1]
    assert counts[1, :, 1].tolist() == [0, 0, 1, 0]


@given(event_sequences())
@example(EventSequences(np.array([0.0, 5e-324]), np.array([0, 0]), np.array([0, 2]), 3))
@settings(max_examples=40, deadline=None)
def test_binned_counts_conserve_events(s):  # the example: a span whose bin width underflows
    counts, width = convert.binned_counts(s, 7, start="first")
    assert np.array_equal(counts.sum(axis=(1, 2)), s.lengths)
    per_type = np.bincount(s.types, minlength=s.n_types)
    assert np.array_equal(counts.sum(axis=(0, 1)), per_type) and (width > 0).all()


# ------------------------------------------------------------------------- from_columns (rows)
def test_from_columns_groups_and_returns_rows():
    ids = np.array(["b", "a", "b", "a"], dtype=object)
    s, rows = convert.from_columns(ids, [3.0, 1.0, 2.0, 1.0], [0, 1, 2, 1], sort=True,
                                   meta={"name": "t"})
    assert list(s.seq_ids) == ["b", "a"] and s.n_types == 3 and s.meta["name"] == "t"
    assert rows.tolist() == [2, 0, 1, 3]  # stable: the tie of "a" keeps the table's order
    np.testing.assert_array_equal(s.times, [2.0, 3.0, 1.0, 1.0])


@pytest.mark.parametrize("ids, times, types, kwargs, row, problem", [
    ([1, 1, 2, 1], [0, 1, 2, 3], [0, 0, 0, 0], {},
     3, ("sequence 1 continues after other sequences (its rows must be contiguous; pass "
         "sort=True to group them)")),
    ([1, 1, 2], [0.0, 2.0, 1.0], [0, 0, 0], {"time_col": "t"}, 2, None),
    (["u", "u", "v"], [0.0, 2.0, 1.0], [0, 0, 0], {}, 2, None),
    (["u", "u"], [2.0, 1.0], [0, 0], {}, 1,
     "sequence 'u' has unsorted times (1.0 after 2.0; pass sort=True to sort them)"),
    (["u", "v", "v"], [0.0, 0.0, -1.0], [0, 0, 0], {"sort": True, "time_col": "day"}, 2,
     "negative day -1.0"),
    (["u", "v"], [0.0, np.nan], [0, 0], {}, 1, "column 'time' is nan, expected a finite number"),
    (["u", "v"], [0.0, 1.0], [0, -2], {"type_col": "event"}, 1, "event -2 is negative"),
    (["u", "v"], [0.0, 1.0], [0, 5], {"n_types": 3}, 1, "type 5 is outside [0, 3)"),
    (["u", None], [0.0, 1.0], [0, 0], {"seq_col": "user"}, 1, "column 'user' is empty"),
])
def test_from_columns_names_the_bad_row(ids, times, types, kwargs, row, problem):
    ids = np.array(ids, dtype=object)
    if problem is None:  # sequences apart: valid
        convert.from_columns(ids, times, types, **kwargs)
        return
    with pytest.raises(convert.TableRowError) as err:
        convert.from_columns(ids, times, types, **kwargs)
    assert (err.value.row, err.value.problem) == (row, problem)
    assert str(err.value) == f"row {row}: {problem}"


def test_from_columns_maps_sorted_events_back_to_rows():
    ids = np.array([5, 7, 5, 7, 5])
    with pytest.raises(convert.TableRowError) as err:
        convert.from_columns(ids, [4.0, 1.0, -3.0, 2.0, 0.0], [0, 0, 0, 0, 0], sort=True)
    assert err.value.row == 2 and err.value.problem == "negative time -3.0"


def test_from_pandas_names_rows_by_index_label():
    import pandas as pd

    df = pd.DataFrame({"seq_id": ["a", "a"], "time": [2.0, 1.0], "type": [0, 0]},
                      index=[10, 20])
    with pytest.raises(SequenceValidationError,
                       match=r"^row 20: sequence 'a' has unsorted times \(1\.0 after 2\.0"):
        convert.from_pandas(df)
    df = pd.DataFrame({"seq_id": ["a", "b"], "time": [0.0, "x"], "type": [0, 0]})
    with pytest.raises(SequenceValidationError, match=r"^row 1: column 'time' is nan"):
        convert.from_pandas(df)


def test_validation_error_names_sequence_and_event():
    with pytest.raises(SequenceValidationError) as err:
        EventSequences.from_lists([[0.0], [1.0, 3.0, 2.0]], [[0], [0, 1, 0]], meta={"name": "d"})
    e = err.value
    assert (e.sequence, e.event) == (1, 2)
    assert e.problem == "times are not sorted (event 2 at 2.0 after 3.0)"
    assert str(e) == "d: sequence 1: times are not sorted (event 2 at 2.0 after 3.0)"
    with pytest.raises(SequenceValidationError) as err:
        EventSequences.from_lists([[0.0], []], [[0], []])
    assert (err.value.sequence, err.value.event, err.value.problem) == \
        (1, None, "is empty (no events)")
    with pytest.raises(SequenceValidationError) as err:
        EventSequences(np.zeros(1), np.zeros(1), [0, 2], 1)
    assert err.value.sequence is None and err.value.problem is None
