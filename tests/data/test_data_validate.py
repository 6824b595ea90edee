"""Validation: labels, inputs, layouts and the model-size check, judged by what messages say."""

from __future__ import annotations

import numpy as np
import pytest

from netmedic.data import check_input_size, load, stratified_split
from netmedic.errors import BadInputError


def _save(tmp_path, **arrays):
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    return str(path)


def _base(n_train=40, n_test=10, d=6):
    rng = np.random.default_rng(0)
    return {
        "x_train": rng.normal(size=(n_train, d)), "y_train": np.arange(n_train) % 4,
        "x_test": rng.normal(size=(n_test, d)), "y_test": np.arange(n_test) % 4,
    }


def test_one_hot_labels_converted_and_noted(tmp_path):
    a = _base()
    a["y_train"] = np.eye(4)[a["y_train"]]
    ds = load(_save(tmp_path, **a))
    np.testing.assert_array_equal(ds.y_train, np.arange(40) % 4)
    assert ds.y_train.dtype == np.int64
    assert "train labels were one-hot (40, 4); converted to class indices with argmax" in ds.notes


def test_two_d_labels_not_one_hot(tmp_path):
    a = _base()
    a["y_train"] = np.eye(4)[a["y_train"]]
    a["y_train"][3] = [1, 1, 0, 0]
    with pytest.raises(BadInputError) as err:
        load(_save(tmp_path, **a))
    msg = str(err.value)
    assert "train labels have shape (40, 4) but are not one-hot (row 3 has 2 ones)" in msg
    assert "exactly one 1 per row" in msg


def test_soft_labels_rejected(tmp_path):
    a = _base()
    a["y_test"] = np.full((10, 4), 0.25)
    with pytest.raises(BadInputError, match=r"not one-hot \(row 0 holds 0.25\)"):
        load(_save(tmp_path, **a))


def test_non_integer_labels(tmp_path):
    a = _base()
    a["y_train"] = a["y_train"].astype(float)
    a["y_train"][12] = 2.5
    with pytest.raises(BadInputError) as err:
        load(_save(tmp_path, **a))
    msg = str(err.value)
    assert "labels must be integers; found 2.5 in train labels (row 12)" in msg
    assert "probabilities or regression targets" in msg


def test_nan_label(tmp_path):
    a = _base()
    a["y_test"] = a["y_test"].astype(float)
    a["y_test"][7] = np.nan
    with pytest.raises(BadInputError, match=r"found nan in test labels \(row 7\)"):
        load(_save(tmp_path, **a))


def test_negative_labels(tmp_path):
    a = _base()
    a["y_train"][5] = -1
    with pytest.raises(BadInputError) as err:
        load(_save(tmp_path, **a))
    msg = str(err.value)
    assert "labels must be integers >= 0; found -1 in train labels (row 5)" in msg
    assert "unlabelled" in msg


def test_huge_label_looks_like_an_id(tmp_path):
    a = _base()
    a["y_train"][0] = 4_000_000
    with pytest.raises(BadInputError, match="look like IDs or values"):
        load(_save(tmp_path, **a))


def test_string_labels(tmp_path):
    a = _base()
    a["y_train"] = np.array(["cat", "dog"] * 20)
    with pytest.raises(BadInputError, match="train labels must be integers; found dtype <U3"):
        load(_save(tmp_path, **a))


def test_length_mismatch(tmp_path):
    a = _base()
    a["y_train"] = a["y_train"][:-3]
    with pytest.raises(BadInputError) as err:
        load(_save(tmp_path, **a))
    msg = str(err.value)
    assert "train inputs have 40 examples but train labels have 37" in msg
    assert "transposed" in msg


def test_nan_and_inf_pixels(tmp_path):
    a = _base()
    a["x_test"][3, 1] = np.nan
    a["x_test"][8, 0] = np.inf
    with pytest.raises(BadInputError) as err:
        load(_save(tmp_path, **a))
    msg = str(err.value)
    assert "2 NaN/Inf values in the test inputs, in 2 examples (first: row 3)" in msg
    assert "Remove or impute" in msg and "d.npz" in msg


def test_empty_set(tmp_path):
    a = _base()
    a["x_test"], a["y_test"] = np.zeros((0, 6)), np.zeros(0, dtype=int)
    with pytest.raises(BadInputError) as err:
        load(_save(tmp_path, **a))
    assert "the test set is empty (inputs of shape (0, 6))" in str(err.value)


def test_one_dimensional_inputs(tmp_path):
    a = _base()
    a["x_train"] = np.zeros(40)
    with pytest.raises(BadInputError, match=r"reshape to \(N, 1\)"):
        load(_save(tmp_path, **a))


def test_train_test_shape_mismatch(tmp_path):
    a = _base()
    a["x_test"] = np.zeros((10, 7))
    with pytest.raises(BadInputError, match=r"train examples have shape \(6,\) but test .*\(7,\)"):
        load(_save(tmp_path, **a))


def test_channels_last_images_transposed(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, size=(12, 8, 8, 3), dtype=np.uint8)
    ds = load(_save(tmp_path, x_train=x, y_train=np.arange(12) % 2,
                    x_test=x[:4], y_test=np.arange(4) % 2))
    assert ds.x_train.shape == (12, 3, 8, 8)
    np.testing.assert_array_equal(ds.x_train[5, 2], x[5, :, :, 2])
    assert any("channels-last" in n for n in ds.notes)


def test_unseen_test_class_noted(tmp_path):
    a = _base()
    a["y_test"][0] = 5
    ds = load(_save(tmp_path, **a))
    assert ds.num_classes == 6
    assert "test labels include classes never seen in training: [5]" in ds.notes


def test_one_example_cannot_be_split(tmp_path):
    with pytest.raises(BadInputError, match="need at least 2 examples to split"):
        load(_save(tmp_path, x=np.zeros((1, 3)), y=np.zeros(1, dtype=int)))


def test_check_input_size_mlp(tmp_path):
    ds = load("mnist-mini")
    check_input_size(ds, 784, "mlp:784-10")  # fits: no error
    with pytest.raises(BadInputError) as err:
        check_input_size(ds, 100, "mlp:100-64-10")
    msg = str(err.value)
    assert "model 'mlp:100-64-10' expects 100 input features" in msg
    assert "mnist-mini has 784 values per example (1×28×28)" in msg
    assert "--model mlp:784-64-10" in msg


def test_check_input_size_cnn():
    ds = load("mnist-mini")
    check_input_size(ds, (1, 28, 28), "cnn")
    with pytest.raises(BadInputError, match=r"expects inputs of shape \(3, 32, 32\) but "
                                            r"mnist-mini has examples of shape \(1, 28, 28\)"):
        check_input_size(ds, (3, 32, 32), "cnn")


def test_stratified_split_exact_sizes_and_proportions():
    y = np.repeat(np.arange(3), [50, 33, 17])
    train, test = stratified_split(y, 25, np.random.default_rng(0))
    assert len(test) == 25 and len(train) == 75
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(100))
    counts = np.bincount(y[test], minlength=3)
    assert np.all(np.abs(counts - np.array([50, 33, 17]) * 0.25) < 1)


def test_one_hot_width_sets_num_classes_when_last_class_absent(tmp_path):
    a = _base()
    a["y_train"] = np.eye(5)[a["y_train"]]  # 5 columns, class 4 never used
    a["y_test"] = np.eye(5)[a["y_test"]]
    assert load(_save(tmp_path, **a)).num_classes == 5
