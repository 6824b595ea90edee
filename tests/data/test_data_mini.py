"""The embedded mnist-mini: shapes, dtypes, stratification, sha256, corruption, packaging."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from netmedic.data import arrays_sha256, load
from netmedic.data.mini import MNIST_MINI_SHA256, default_path, load_mnist_mini
from netmedic.errors import BadInputError

ROOT = Path(__file__).resolve().parents[2]
#: Class counts of the official MNIST test set (t10k-labels-idx1-ubyte), which mnist-mini splits.
T10K_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="module")
def mini():
    return load("mnist-mini")


def test_shapes_and_dtypes(mini):
    assert mini.x_train.shape == (8000, 1, 28, 28) and mini.x_train.dtype == np.uint8
    assert mini.x_test.shape == (2000, 1, 28, 28) and mini.x_test.dtype == np.uint8
    assert mini.y_train.shape == (8000,) and mini.y_train.dtype == np.int64
    assert mini.y_test.shape == (2000,) and mini.y_test.dtype == np.int64
    assert mini.num_classes == 10 and mini.name == "mnist-mini"
    assert "embedded" in mini.source and "seed 0" in mini.source
    assert mini.x_train.max() == 255 and mini.x_train.min() == 0


def test_stratified_from_the_whole_t10k_set(mini):
    train, test = mini.class_counts("train"), mini.class_counts("test")
    np.testing.assert_array_equal(train + test, T10K_COUNTS)
    expected_test = np.array(T10K_COUNTS) * 0.2
    assert np.all(np.abs(test - expected_test) < 1)  # largest-remainder rounding
    np.testing.assert_allclose(train / 8000, test / 2000, atol=0.003)


def test_no_image_in_both_splits(mini):
    train = {row.tobytes() for row in mini.x_train.reshape(8000, -1)}
    shared = sum(row.tobytes() in train for row in mini.x_test.reshape(2000, -1))
    assert shared == 0


def test_sha256_of_array_bytes(mini):
    assert arrays_sha256(mini.x_train, mini.y_train, mini.x_test, mini.y_test) == MNIST_MINI_SHA256
    assert MNIST_MINI_SHA256 == "f2124aa163adf321fed39f2c509e67b2abdbe0f0fc528d76595eed0a80973206"


def test_small_enough_and_shipped_as_package_data():
    assert default_path().stat().st_size <= 3 * 2**20
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "data/*.npz" in config["tool"]["setuptools"]["package-data"]["netmedic"]


def test_altered_pixel_detected(tmp_path, mini):
    x_train = mini.x_train.copy()
    x_train[0, 0, 0, 0] ^= 1
    path = tmp_path / "mnist_mini.npz"
    np.savez_compressed(path, x_train=x_train, y_train=mini.y_train,
                        x_test=mini.x_test, y_test=mini.y_test)
    with pytest.raises(BadInputError) as err:
        load_mnist_mini(path)
    msg = str(err.value)
    assert f"mnist-mini: the embedded file {path} is corrupted" in msg
    assert MNIST_MINI_SHA256[:16] in msg and "pip install --force-reinstall netmedic" in msg


def test_truncated_file_detected(tmp_path):
    path = tmp_path / "mnist_mini.npz"
    shutil.copy(default_path(), path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(BadInputError, match="is corrupted"):
        load_mnist_mini(path)


def test_missing_file(tmp_path):
    with pytest.raises(BadInputError, match="is missing. Reinstall netmedic"):
        load_mnist_mini(tmp_path / "gone.npz")


def test_seed_does_not_change_mini_and_says_so():
    ds = load("mnist-mini", seed=3)
    assert any("split is fixed (seed 0)" in n for n in ds.notes)
    assert arrays_sha256(ds.x_train, ds.y_train, ds.x_test, ds.y_test) == MNIST_MINI_SHA256


def test_build_tool_check_mode(tmp_path):
    cmd = [sys.executable, str(ROOT / "tools" / "build_mnist_mini.py"), "--check"]
    source = Path("/work/shared/data/mnist")
    if not (source / "t10k-images-idx3-ubyte.gz").is_file():
        cmd += ["--source", str(tmp_path)]  # no source files: verify the shipped file only
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "sha256 of arrays ok" in out.stdout and out.stdout.strip().endswith("OK")
