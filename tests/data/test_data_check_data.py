"""nm.check_data findings: scale, NaN/Inf, labels; judged by what they say."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import netmedic as nm
from netmedic.doctor.check_data import IMBALANCE_RATIO, UNSCALED_ABS, check_data


@pytest.fixture(scope="module")
def mini():
    return nm.data.load("mnist-mini")


def _kinds(findings):
    return [f.kind for f in findings]


def test_raw_pixels_flagged_unscaled(mini):
    findings = nm.check_data(mini.x_train, mini.y_train, num_classes=10)
    assert _kinds(findings) == ["unscaled_input"]
    f = findings[0]
    assert f.severity == "warning" and f.where == "inputs" and f.step is None
    assert f.evidence.startswith("inputs range 0 … 255, mean 33.")
    assert f.fix == "divide by 255 (--normalize unit)"
    assert f.remedy == {"action": "normalize_inputs", "mode": "unit"}


def test_unit_scaled_and_standardized_not_flagged(mini):
    assert nm.check_data(mini.x_train / 255.0, mini.y_train) == []
    x = nm.data.normalize(mini, "standard").x_train
    assert np.abs(x).max() < 10
    assert nm.check_data(x, mini.y_train) == []


def test_standardized_with_rare_outliers_up_to_ten_not_flagged():
    x = np.random.default_rng(0).normal(size=(1000, 50))
    x[::100, 0] = 10.0  # a few values at 10σ
    assert check_data(x, np.arange(1000) % 2) == []


def test_large_non_pixel_values_get_standardize_fix():
    x = np.random.default_rng(0).normal(1000.0, 300.0, size=(200, 3))
    (f,) = check_data(x, None)
    assert f.kind == "unscaled_input" and f.remedy == {"action": "normalize_inputs",
                                                       "mode": "standard"}
    assert f.fix.startswith("standardize: subtract the mean (993.2 here) and divide by the std")
    assert "--normalize standard" in f.fix


def test_threshold_is_tens():
    assert 10 < UNSCALED_ABS <= 50
    assert IMBALANCE_RATIO == 10.0


def test_nonfinite_inputs():
    x = np.zeros((10, 4))
    x[3, 1], x[7, 2] = np.nan, np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        findings = check_data(x, np.arange(10) % 2)
    (f,) = findings
    assert f.kind == "nonfinite" and f.where == "inputs" and f.severity == "error"
    assert f.evidence == "inputs hold 1 NaN and 1 Inf values in 2 examples (first: example 3)"


def test_labels_out_of_range_with_row():
    y = np.arange(100) % 10
    y[41] = 10
    (f,) = check_data(np.zeros((100, 2)), y, num_classes=10)
    assert f.kind == "label_error" and f.where == "labels" and f.severity == "error"
    assert f.evidence == "labels must be integers in [0, 9]; found 10 at row 41"


def test_one_based_labels():
    y = np.arange(100) % 10 + 1
    (f,) = check_data(np.zeros((100, 2)), y, num_classes=10)
    assert "found 10" in f.evidence and f.fix == "they look 1-based: subtract 1"
    (g,) = check_data(np.zeros((100, 2)), y)  # C inferred: class 0 is missing
    assert g.severity == "warning" and "class(es) [0] of 0 … 10 have no examples" in g.evidence
    assert "1-based, subtract 1" in g.fix


def test_negative_and_non_integer_labels():
    (f,) = check_data(np.zeros((3, 2)), np.array([0, -1, 1]))
    assert "found -1 at row 1" in f.evidence
    (g,) = check_data(np.zeros((3, 2)), np.array([0.0, 0.5, 1.0]))
    assert g.evidence == "labels must be integers; found 0.5 at row 1 (1 non-integer labels)"


def test_one_hot_labels_reported():
    y = np.eye(3)[np.arange(30) % 3]
    (f,) = check_data(np.zeros((30, 2)), y)
    assert f.kind == "label_error" and f.severity == "warning"
    assert f.evidence == "labels are one-hot, shape (30, 3)" and "argmax" in f.fix
    y[0] = [1, 1, 0]
    (g,) = check_data(np.zeros((30, 2)), y)
    assert g.severity == "error" and "rows without exactly one 1" in g.evidence


def test_column_labels_accepted():
    y = (np.arange(20) % 2)[:, None].astype(float)
    assert check_data(np.zeros((20, 2)), y) == []


def test_missing_class_and_imbalance():
    y = np.array([0] * 200 + [1] * 15 + [3] * 50)
    findings = check_data(np.zeros((len(y), 2)), y, num_classes=4)
    assert _kinds(findings) == ["label_error", "label_error"]
    missing, imbalance = findings
    assert missing.evidence.startswith("class(es) [2] of 0 … 3 have no examples")
    assert imbalance.evidence == "class 0 has 200 examples, class 1 only 15 (ratio 13.3:1)"
    assert imbalance.severity == "warning"


def test_single_class():
    findings = check_data(np.zeros((5, 2)), np.zeros(5, dtype=int))
    assert any(f.evidence == "all 5 labels are class 0" for f in findings)


def test_length_mismatch():
    (f,) = check_data(np.zeros((5, 2)), np.zeros(4, dtype=int))
    assert f.evidence == "5 inputs but labels of shape (4,)"


def test_findings_are_json_safe(mini):
    for f in check_data(mini.x_train, mini.y_train, 10):
        d = f.to_dict()
        assert d["remedy"]["action"] == "normalize_inputs"
