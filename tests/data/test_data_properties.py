"""Property tests: IDX round trips and stratified-split invariants over random inputs."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from netmedic.data.idx import parse_idx, read_idx, write_idx
from netmedic.data.split import stratified_split

_DTYPES = st.sampled_from([np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(_DTYPES, hnp.array_shapes(min_dims=1, max_dims=4, max_side=5)))
def test_idx_round_trip(tmp_path_factory, array):
    path = tmp_path_factory.mktemp("idx") / "a-ubyte"
    back = read_idx(write_idx(path, array))
    np.testing.assert_array_equal(back, array)
    assert back.shape == array.shape


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=64))
def test_parse_idx_never_crashes_unexpectedly(data):
    from netmedic.errors import BadInputError

    try:
        parse_idx(data)
    except BadInputError:
        pass


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 5), min_size=2, max_size=200),
    st.floats(0.05, 0.95),
    st.integers(0, 2**32 - 1),
)
def test_stratified_split_invariants(labels, fraction, seed):
    y = np.array(labels)
    test_size = min(max(int(round(len(y) * fraction)), 1), len(y) - 1)
    train, test = stratified_split(y, test_size, np.random.default_rng(seed))
    assert len(test) == test_size
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(len(y)))
    counts = np.bincount(y, minlength=6)
    expected = counts * test_size / len(y)
    got = np.bincount(y[test], minlength=6)
    assert np.all(np.abs(got - expected) < 1)
