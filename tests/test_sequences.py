import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmark.core.sequences import EventSequences, SequenceValidationError


def make(times, types, n_types=3, **kw):
    return EventSequences.from_lists(times, types, n_types=n_types, **kw)


@st.composite
def event_sequences(draw, max_seqs=6, max_len=8, n_types=3):
    n = draw(st.integers(1, max_seqs))
    times, types = [], []
    for _ in range(n):
        k = draw(st.integers(1, max_len))
        t = sorted(draw(st.lists(st.floats(0, 1e3, allow_nan=False), min_size=k, max_size=k)))
        times.append(t)
        types.append(draw(st.lists(st.integers(0, n_types - 1), min_size=k, max_size=k)))
    return make(times, types, n_types=n_types)


def test_basic_access_and_views():
    s = make([[0.0, 1.0, 2.0], [0.5], [1.0, 1.0]], [[0, 1, 2], [1], [2, 0]])
    assert len(s) == 3 and s.n_events == 6
    assert s.lengths.tolist() == [3, 1, 2]
    t, k = s.sequence(2)
    assert t.tolist() == [1.0, 1.0] and k.tolist() == [2, 0]
    assert np.shares_memory(t, s.times)
    sl = s.slice(1, 3)
    assert np.shares_memory(sl.times, s.times) and sl.lengths.tolist() == [1, 2]
    sub = s.subset(np.array([2, 0]))
    assert sub.sequence(0)[0].tolist() == [1.0, 1.0] and sub.seq_ids.tolist() == [2, 0]


@pytest.mark.parametrize("times,types,match", [
    ([[0.0, 2.0, 1.0]], [[0, 0, 0]], "not sorted"),
    ([[0.0, np.nan]], [[0, 0]], "non-finite"),
    ([[-1.0, 2.0]], [[0, 0]], "negative"),
    ([[0.0, 1.0]], [[0, 3]], "outside"),
    ([[0.0], []], [[0], []], "empty"),
])
def test_validation_names_sequence_and_problem(times, types, match):
    with pytest.raises(SequenceValidationError, match=match) as e:
        make(times, types, seq_ids=[f"user{i}" for i in range(len(times))], meta={"name": "toy"})
    assert "user" in str(e.value) and "toy" in str(e.value)


def test_unsorted_error_points_at_right_sequence():
    with pytest.raises(SequenceValidationError, match="sequence 1"):
        make([[0.0, 5.0], [3.0, 1.0]], [[0, 0], [0, 0]])


def test_boundary_decrease_is_fine_and_empty_allowed_when_asked():
    s = make([[5.0, 6.0], [0.0, 1.0]], [[0, 0], [1, 1]])
    assert s.n_events == 4
    e = make([[1.0], []], [[0], []], allow_empty=True)
    assert e.lengths.tolist() == [1, 0]
    trailing = EventSequences(np.array([0.0, 1.0]), np.array([0, 0]), np.array([0, 2, 2, 2]), 1,
                              allow_empty=True)
    assert trailing.lengths.tolist() == [2, 0, 0]


def test_offsets_and_window_checks():
    with pytest.raises(SequenceValidationError, match="offsets"):
        EventSequences(np.zeros(3), np.zeros(3, int), np.array([0, 2]), 1)
    with pytest.raises(SequenceValidationError, match="window end"):
        make([[0.0, 3.0]], [[0, 0]], t_end=[2.0])


def test_time_prefix():
    s = make([[0.0, 5.0, 9.0, 10.0]], [[0, 1, 2, 2]])
    p, keep = s.time_prefix(0.9)
    assert p.sequence(0)[0].tolist() == [0.0, 5.0, 9.0]
    assert keep.tolist() == [True, True, True, False]
    assert p.t_end.tolist() == [9.0]


def test_large_without_python_objects_per_event():
    n, per = 100_000, 50
    times = np.tile(np.arange(per, dtype=float), n)
    s = EventSequences(times, np.zeros(n * per, int), np.arange(0, n * per + 1, per), 1)
    assert len(s) == n and s.times.dtype == np.float64 and s.types.dtype == np.int32


@given(event_sequences())
@settings(max_examples=50, deadline=None)
def test_subset_identity_roundtrip(s):
    r = s.subset(np.arange(len(s)))
    assert np.array_equal(r.times, s.times) and np.array_equal(r.types, s.types)
    assert np.array_equal(r.offsets, s.offsets)
