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
