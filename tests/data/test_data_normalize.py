"""--normalize: unit, standard, none; statistics from the training split only; explicit dtype."""

from __future__ import annotations

import numpy as np
import pytest

from netmedic.data import Normalizer, fit_normalizer, load, normalize
from netmedic.errors import BadInputError


def test_unit_uint8_divides_by_255():
    x = np.array([[0, 51, 255]], dtype=np.uint8)
    norm = fit_normalizer(x, "unit")
    assert (norm.shift, norm.scale) == (0.0, 255.0)
    out = norm.apply(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.0, 0.2, 1.0]], rtol=1e-7)


def test_unit_uint8_ignores_the_training_range():
    x = np.array([[10, 20]], dtype=np.uint8)  # not 0 … 255, still divided by 255
    out = fit_normalizer(x, "unit").apply(x, np.float64)
    np.testing.assert_allclose(out, [[10 / 255, 20 / 255]])


def test_unit_other_dtypes_min_max_from_train_only():
    train = np.array([[-2.0, 0.0], [2.0, 6.0]])
    test = np.array([[10.0, -2.0]])
    norm = fit_normalizer(train, "unit")
    assert (norm.shift, norm.scale) == (-2.0, 8.0)
    np.testing.assert_allclose(norm.apply(test, np.float64), [[1.5, 0.0]])  # may leave [0, 1]


def test_standard_uses_one_mean_and_std_over_all_pixels():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(50, 1, 4, 4), dtype=np.uint8)
    x[:, :, 0, :] = 0  # a constant border row: per-pixel std would be 0 there
    norm = fit_normalizer(x, "standard")
    assert norm.shift == pytest.approx(x.mean())
    assert norm.scale == pytest.approx(x.std())
    out = norm.apply(x, np.float64)
    assert out.mean() == pytest.approx(0.0, abs=1e-12)
    assert out.std() == pytest.approx(1.0)
    assert np.all(np.isfinite(out))


def test_standard_chunked_matches_numpy_on_big_input():
    x = np.random.default_rng(1).integers(0, 256, size=(9000, 20), dtype=np.uint8)
    norm = fit_normalizer(x, "standard")
    assert norm.shift == pytest.approx(float(x.mean()), rel=1e-12)
    assert norm.scale == pytest.approx(float(x.std()), rel=1e-12)


def test_none_changes_only_dtype():
    x = np.array([[0, 255]], dtype=np.uint8)
    out = fit_normalizer(x, "none").apply(x, np.float64)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [[0.0, 255.0]])


def test_constant_training_set_does_not_divide_by_zero():
    x = np.full((3, 2), 7.0)
    for mode in ("unit", "standard"):
        out = fit_normalizer(x, mode).apply(x)
        assert np.all(np.isfinite(out)) and np.all(out == 0)


def test_apply_does_not_mutate_and_handles_nan_quietly():
    x = np.array([[1.0, np.nan, 3.0]])
    norm = Normalizer("standard", 1.0, 2.0)
    out = norm.apply(x)
    assert np.isnan(out[0, 1]) and out[0, 2] == 1.0
    assert x[0, 0] == 1.0


def test_dataset_normalize_fits_on_train_only():
    ds = load("mnist-mini")
    out = normalize(ds, "standard")
    assert out.x_train.dtype == np.float32 and out.x_test.dtype == np.float32
    assert float(out.x_train.mean(dtype=np.float64)) == pytest.approx(0.0, abs=1e-5)
    assert float(out.x_test.mean(dtype=np.float64)) != pytest.approx(0.0, abs=1e-5)
    assert ds.x_train.dtype == np.uint8  # the original is untouched
    assert any("inputs normalized (standard" in n and "fit on train" in n for n in out.notes)


def test_tuple_fits_on_first():
    train, val = np.array([[0.0, 4.0]]), np.array([[8.0]])
    a, b = normalize((train, val), "unit", dtype=np.float64)
    np.testing.assert_allclose(a, [[0.0, 1.0]])
    np.testing.assert_allclose(b, [[2.0]])


def test_round_trip_dict():
    norm = fit_normalizer(np.array([[1.0, 3.0]]), "standard")
    assert Normalizer.from_dict(norm.to_dict()) == norm
    assert norm.describe() == "standard: (x - 2) / 1"


def test_bad_mode_and_dtype():
    with pytest.raises(BadInputError, match="must be one of none, unit, standard; got 'z-score'"):
        fit_normalizer(np.zeros((2, 2)), "z-score")
    with pytest.raises(BadInputError, match="float32 or float64; got float16"):
        fit_normalizer(np.zeros((2, 2)), "unit").apply(np.zeros(2), np.float16)
