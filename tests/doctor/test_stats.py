"""The monitor's per-tensor statistics against plain NumPy, and activation-kind inference."""

from __future__ import annotations

import math

import numpy as np
import pytest

from netmedic.doctor import stats


def test_norm_matches_numpy_and_counts_nonfinite_only_when_needed():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((30, 7)).astype(np.float32)
    entry = stats.norm_entry(a)
    assert entry == {"norm": pytest.approx(float(np.linalg.norm(a.astype(np.float64))), rel=1e-6)}
    a[3, 4], a[5, 1], a[0, 0] = np.nan, np.inf, -np.inf
    entry = stats.norm_entry(a)
    assert math.isnan(entry["norm"]) and entry["nan"] == 1 and entry["inf"] == 2


def test_norm_of_finite_values_whose_squares_overflow():
    a = np.full(4, 1e30, dtype=np.float32)  # squares overflow float32; the values do not
    with np.errstate(all="ignore"):  # the Doctor calls the statistics under errstate
        entry = stats.norm_entry(a)
    assert entry == {"norm": pytest.approx(2e30, rel=1e-6)}


def test_uint8_inputs_are_read_as_numbers_not_wrapped():
    x = np.full((2, 3), 255, dtype=np.uint8)
    entry = stats.input_entry(x, batch_axis=0)
    assert entry["norm"] == pytest.approx(255 * math.sqrt(6))
    assert entry["max"] == 255 and entry["width"] == 3


def test_non_contiguous_arrays_are_measured_without_error():
    a = np.arange(12.0).reshape(3, 4).T  # Fortran-ordered view, as seed 000's dW2 = (...).T
    assert stats.norm_entry(a)["norm"] == pytest.approx(float(np.linalg.norm(a)))


@pytest.mark.parametrize("kind,make", [
    ("relu", lambda z: np.maximum(z, 0)),
    ("sigmoid", lambda z: 1 / (1 + np.exp(-z))),
    ("tanh", np.tanh),
    ("softmax", lambda z: np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)),
    ("other", lambda z: z * 3),
])
def test_activation_kind_is_inferred_from_values(kind, make):
    z = np.random.default_rng(1).standard_normal((64, 10))
    assert stats.activation_entry(make(z), None, batch_axis=0)["kind"] == kind


def test_saturated_sigmoid_with_exact_zeros_and_ones_is_still_a_sigmoid():
    z = np.random.default_rng(2).standard_normal((64, 30)).astype(np.float32) * 1e4
    with np.errstate(over="ignore"):
        a = 1 / (1 + np.exp(-z))  # raw pixels × rand weights: outputs round to exactly 0 and 1
    entry = stats.activation_entry(a, None, batch_axis=0)
    assert entry["kind"] == "sigmoid" and entry["sat_frac"] > 0.99


def test_dead_fraction_counts_units_silent_on_the_whole_batch_on_either_batch_axis():
    a = np.maximum(np.random.default_rng(3).standard_normal((32, 8)), 0)
    a[:, :6] = 0  # 6 of 8 units dead
    assert stats.activation_entry(a, "relu", batch_axis=0)["dead_frac"] == 0.75
    assert stats.activation_entry(a.T, "relu", batch_axis=1)["dead_frac"] == 0.75  # seed 002


def test_tanh_saturation_fraction():
    a = np.array([[0.995, -0.999, 0.1, 0.5]])
    assert stats.activation_entry(a, "tanh", batch_axis=0)["sat_frac"] == 0.5


def test_label_entry_class_indices_and_one_hot():
    entry = stats.label_entry(np.array([0, 3, 9, 10]), batch_axis=0)
    assert (entry["min"], entry["max"], entry["width"], entry["nonint"]) == (0, 10, 1, 0)
    one_hot = np.eye(10)[[1, 2, 3]] * 2
    entry = stats.label_entry(one_hot, batch_axis=0)
    assert entry["width"] == 10 and entry["row_sum_min"] == 2 and entry["rows"] == 3


def test_update_entry_predicts_the_loss_change_to_first_order():
    g0, g1 = np.array([1.0, 2.0]), np.array([0.5, 1.0])
    step = -0.1 * g0
    entry = stats.update_entry(step, g1, g0)
    assert entry["dot_prev_grad"] == pytest.approx(-0.5)
    assert entry["dot_grad"] == pytest.approx(-0.25)
