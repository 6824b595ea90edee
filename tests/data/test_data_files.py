"""File formats: .npz, .h5/.hdf5, .csv round trips, 80/20 splits, and their bad-input messages."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from netmedic.data import load
from netmedic.errors import BadInputError


def _flat(a: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The seed-000 layout: x (N, 784), y (N, 1)."""
    return {
        "x_train": a["x_train"].reshape(len(a["x_train"]), -1),
        "y_train": a["y_train"][:, None],
        "x_test": a["x_test"].reshape(len(a["x_test"]), -1),
        "y_test": a["y_test"][:, None],
    }


def test_npz_round_trip(tmp_path, arrays):
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    ds = load(str(path))
    assert ds.x_train.shape == (60, 1, 28, 28) and ds.x_train.dtype == np.uint8
    np.testing.assert_array_equal(ds.x_train[:, 0], arrays["x_train"])
    np.testing.assert_array_equal(ds.y_test, arrays["y_test"])
    assert ds.y_train.dtype == np.int64
    assert ds.name == "d.npz" and ds.source == str(path) and ds.num_classes == 10
    assert any("channel axis" in n for n in ds.notes)


def test_npz_flat_784_becomes_images_and_says_so(tmp_path, arrays):
    path = tmp_path / "flat.npz"
    np.savez(path, **_flat(arrays))
    ds = load(path)  # a Path works too
    assert ds.x_train.shape == (60, 1, 28, 28)
    np.testing.assert_array_equal(ds.x_train.reshape(60, -1), _flat(arrays)["x_train"])
    assert any("rows of 784 values read as 1×28×28 images" in n for n in ds.notes)


def test_npz_keys_case_insensitive_and_tabular_kept(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "tab.npz"
    np.savez(path, X_train=rng.normal(size=(30, 5)), Y_train=np.arange(30) % 3,
             X_test=rng.normal(size=(9, 5)), Y_test=np.arange(9) % 3)
    ds = load(str(path))
    assert ds.x_train.shape == (30, 5) and ds.x_train.dtype == np.float64
    assert ds.num_classes == 3 and not ds.is_image


def test_npz_x_y_only_is_split_80_20_stratified(tmp_path):
    y = np.repeat(np.arange(4), [40, 30, 20, 10])
    x = np.arange(100, dtype=np.float32)[:, None] * np.ones((1, 3), np.float32)
    path = tmp_path / "xy.npz"
    np.savez(path, x=x, y=y)
    ds = load(str(path), seed=7)
    assert len(ds.x_train) == 80 and len(ds.x_test) == 20
    np.testing.assert_array_equal(ds.class_counts("test"), [8, 6, 4, 2])
    np.testing.assert_array_equal(ds.class_counts("train"), [32, 24, 16, 8])
    # rows stay paired with their labels, and no example is on both sides
    np.testing.assert_array_equal(y[ds.x_train[:, 0].astype(int)], ds.y_train)
    assert not set(ds.x_train[:, 0]) & set(ds.x_test[:, 0])
    assert any("split 80/20 stratified with seed 7" in n for n in ds.notes)
    again = load(str(path), seed=7)
    np.testing.assert_array_equal(again.x_test, ds.x_test)
    other = load(str(path), seed=8)
    assert not np.array_equal(other.x_test, ds.x_test)


def test_npz_missing_keys(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, images=np.zeros((4, 2)), something=np.zeros(4))
    with pytest.raises(BadInputError) as err:
        load(str(path))
    msg = str(err.value)
    assert str(path) in msg
    assert "missing key(s) y" in msg and "found images, something" in msg
    assert "x_train, y_train, x_test, y_test" in msg and "np.savez(path, x_train=" in msg


def test_npz_test_half_missing(tmp_path, arrays):
    path = tmp_path / "half.npz"
    np.savez(path, x_train=arrays["x_train"], y_train=arrays["y_train"], x_test=arrays["x_test"])
    with pytest.raises(BadInputError, match=r"missing key\(s\) y_test; found x_train"):
        load(str(path))


def test_npz_never_unpickles(tmp_path):
    path = tmp_path / "obj.npz"
    np.savez(path, x=np.array([object(), 1], dtype=object), y=np.array([0, 1]))
    with pytest.raises(BadInputError) as err:
        load(str(path))
    assert "never unpickles" in str(err.value) and str(path) in str(err.value)


def test_npz_not_a_zip(tmp_path):
    path = tmp_path / "broken.npz"
    path.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(BadInputError, match="cannot read it as a .npz archive"):
        load(str(path))


@pytest.mark.parametrize("suffix", [".h5", ".hdf5"])
def test_h5_seed_000_layout(tmp_path, arrays, suffix):
    path = tmp_path / f"MNISTdata{suffix}"
    with h5py.File(path, "w") as f:
        for key, value in _flat(arrays).items():
            f[key] = value.astype(np.float64)  # floats, as many h5 files store them
    ds = load(str(path))
    assert ds.x_train.shape == (60, 1, 28, 28) and ds.x_train.dtype == np.float64
    assert ds.y_train.shape == (60,) and ds.y_train.dtype == np.int64
    np.testing.assert_array_equal(ds.y_train, arrays["y_train"])
    assert any("labels were stored as float64; converted to int64" in n for n in ds.notes)


def test_h5_missing_keys_names_groups(tmp_path):
    path = tmp_path / "g.h5"
    with h5py.File(path, "w") as f:
        f.create_group("train")["x"] = np.zeros((3, 2))
        f["x_train"] = np.zeros((3, 2))
    with pytest.raises(BadInputError) as err:
        load(str(path))
    msg = str(err.value)
    assert "missing key(s) y_train; found x_train" in msg and "groups train" in msg


def test_h5_not_hdf5(tmp_path):
    path = tmp_path / "fake.h5"
    path.write_text("hello")
    with pytest.raises(BadInputError, match="cannot read it as HDF5"):
        load(str(path))


def _write_csv(path, x, y, header=True):
    lines = ["label," + ",".join(f"pixel{i}" for i in range(x.shape[1]))] if header else []
    lines += [",".join(map(str, [int(label), *row])) for label, row in zip(y, x, strict=True)]
    path.write_text("\n".join(lines) + "\n")


def test_csv_mnist_layout_with_header_and_test_partner(tmp_path, arrays):
    flat = _flat(arrays)
    _write_csv(tmp_path / "mnist_train.csv", flat["x_train"], flat["y_train"][:, 0])
    _write_csv(tmp_path / "mnist_test.csv", flat["x_test"], flat["y_test"][:, 0], header=False)
    ds = load(str(tmp_path / "mnist_train.csv"))
    assert ds.x_train.shape == (60, 1, 28, 28) and ds.x_train.dtype == np.uint8
    np.testing.assert_array_equal(ds.x_test.reshape(20, -1), flat["x_test"])
    np.testing.assert_array_equal(ds.y_test, arrays["y_test"])
    assert any("test set read from mnist_test.csv" in n for n in ds.notes)
    assert any("kept as uint8" in n for n in ds.notes)


def test_single_csv_is_split_and_user_told(tmp_path):
    x = np.round(np.random.default_rng(1).normal(size=(50, 4)), 3)
    y = np.arange(50) % 2
    path = tmp_path / "table.csv"
    _write_csv(path, x, y, header=False)
    ds = load(str(path))
    assert ds.x_train.shape == (40, 4) and ds.x_test.shape == (10, 4)
    assert ds.x_train.dtype == np.float64
    np.testing.assert_array_equal(ds.class_counts("test"), [5, 5])
    assert any("no test set in the file: split 80/20 stratified with seed 0" in n
               for n in ds.notes)


def test_csv_non_numeric_cell(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("label,a,b\n1,2,3\n0,x,5\n")
    with pytest.raises(BadInputError) as err:
        load(str(path))
    msg = str(err.value)
    assert str(path) in msg and "not a numeric CSV" in msg and "'x'" in msg
    assert "label first" in msg


def test_csv_ragged_rows(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("1,2,3\n0,4\n")
    with pytest.raises(BadInputError, match="all rows the same length"):
        load(str(path))


def test_csv_header_only_is_empty(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("label,a,b\n")
    with pytest.raises(BadInputError, match="holds no data rows"):
        load(str(path))


def test_csv_single_column(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("1\n2\n3\n")
    with pytest.raises(BadInputError, match="1 column"):
        load(str(path))


def test_unknown_extension(tmp_path):
    path = tmp_path / "data.parquet"
    path.write_bytes(b"PAR1")
    with pytest.raises(BadInputError) as err:
        load(str(path))
    msg = str(err.value)
    assert str(path) in msg and "unknown file type '.parquet'" in msg
    assert ".npz, .h5/.hdf5, .csv" in msg


def test_nonexistent_path(tmp_path):
    path = tmp_path / "nowhere.npz"
    with pytest.raises(BadInputError) as err:
        load(str(path))
    msg = str(err.value)
    assert str(path) in msg and "no such file or folder" in msg
    assert "mnist-mini, mnist, fashion-mnist" in msg


def test_gzipped_csv(tmp_path):
    import gzip

    path = tmp_path / "train.csv.gz"
    rows = [f"{i % 3},{i},{2 * i}" for i in range(30)]
    path.write_bytes(gzip.compress(("label,a,b\n" + "\n".join(rows)).encode()))
    ds = load(str(path))
    assert len(ds.x_train) + len(ds.x_test) == 30 and ds.num_classes == 3
