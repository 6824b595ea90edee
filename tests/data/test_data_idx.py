"""IDX reading: round trips (raw and gzip) and every way a file can be broken."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from netmedic.data import load, read_idx, write_idx
from netmedic.errors import BadInputError


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_round_trip(tmp_path, suffix, dtype):
    x = (np.arange(2 * 3 * 4) - 5).astype(dtype).reshape(2, 3, 4)
    path = write_idx(tmp_path / f"a-idx3-ubyte{suffix}", x)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype)
    assert back.dtype.isnative
    np.testing.assert_array_equal(back, x)


def test_gzip_detected_by_content_not_name(tmp_path):
    path = tmp_path / "labels-idx1-ubyte"  # no .gz, but compressed
    write_idx(path, np.array([1, 2, 3], dtype=np.uint8), compress=True)
    np.testing.assert_array_equal(read_idx(path), [1, 2, 3])


def test_mnist_header_bytes(tmp_path):
    path = write_idx(tmp_path / "x", np.zeros((2, 28, 28), np.uint8))
    assert path.read_bytes()[:16].hex() == "00000803" "00000002" "0000001c" "0000001c"


def test_bad_magic_names_file_and_bytes(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(b"<html>404 Not Found</html>")
    with pytest.raises(BadInputError) as err:
        read_idx(path)
    msg = str(err.value)
    assert str(path) in msg
    assert "not an IDX file" in msg
    assert "3c 68 74 6d" in msg  # what was found: "<htm"
    assert "00 00 08 03" in msg  # what was expected
    assert "HTML error page" in msg


def test_empty_file(tmp_path):
    path = tmp_path / "x-idx1-ubyte"
    path.write_bytes(b"")
    with pytest.raises(BadInputError, match="an empty file"):
        read_idx(path)


def test_truncated_data(tmp_path):
    path = write_idx(tmp_path / "x-idx3-ubyte", np.ones((10, 28, 28), np.uint8))
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(BadInputError) as err:
        read_idx(path)
    msg = str(err.value)
    assert "truncated IDX file" in msg and "(10, 28, 28)" in msg
    assert f"{16 + 7840 - 100:,} bytes" in msg and "Download it again" in msg


def test_truncated_header(tmp_path):
    path = tmp_path / "x-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 8, 3, 0, 0]))
    with pytest.raises(BadInputError, match="3 dimensions but the file is too short"):
        read_idx(path)


def test_trailing_bytes(tmp_path):
    path = write_idx(tmp_path / "x-idx1-ubyte", np.ones(5, np.uint8))
    path.write_bytes(path.read_bytes() + b"junk")
    with pytest.raises(BadInputError, match="4 unexpected bytes after the IDX data"):
        read_idx(path)


def test_truncated_gzip(tmp_path):
    path = tmp_path / "x-idx3-ubyte.gz"
    data = gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 200]) + bytes(range(200)))
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(BadInputError) as err:
        read_idx(path)
    assert str(path) in str(err.value)
    assert "gzip data is corrupted or cut short" in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(BadInputError, match="no such file"):
        read_idx(tmp_path / "nope-idx1-ubyte")


def test_load_idx_folder_gz_and_raw(tmp_path, arrays, write_idx_folder):
    for gz in (True, False):
        folder = write_idx_folder(tmp_path / f"gz{gz}", gz=gz)
        ds = load(str(folder))
        assert ds.x_train.shape == (60, 1, 28, 28) and ds.x_train.dtype == np.uint8
        assert ds.y_train.dtype == np.int64 and ds.y_train.shape == (60,)
        np.testing.assert_array_equal(ds.x_test[:, 0], arrays["x_test"])
        np.testing.assert_array_equal(ds.y_test, arrays["y_test"])
        assert ds.num_classes == 10 and ds.notes == []


def test_load_single_idx_file_reads_its_folder(tmp_path, write_idx_folder):
    folder = write_idx_folder(tmp_path / "m")
    ds = load(str(folder / "t10k-labels-idx1-ubyte.gz"))
    assert ds.x_train.shape == (60, 1, 28, 28)
    assert ds.source == str(folder)


def test_kaggle_dotted_names(tmp_path, write_idx_folder):
    stems = {
        "x_train": "train-images.idx3-ubyte", "y_train": "train-labels.idx1-ubyte",
        "x_test": "t10k-images.idx3-ubyte", "y_test": "t10k-labels.idx1-ubyte",
    }
    folder = write_idx_folder(tmp_path / "kaggle", gz=False, stems=stems)
    assert load(str(folder)).x_test.shape == (20, 1, 28, 28)


def test_folder_missing_files_lists_what_is_missing_and_present(tmp_path, write_idx_folder):
    folder = write_idx_folder(tmp_path / "m")
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(BadInputError) as err:
        load(str(folder))
    msg = str(err.value)
    assert str(folder) in msg
    assert "missing t10k-labels-idx1-ubyte[.gz]" in msg
    assert "train-images-idx3-ubyte.gz" in msg  # what the folder holds
    assert "Put all four files there" in msg


def test_labels_out_of_range_in_idx_named_dataset(tmp_path, arrays, write_idx_folder):
    arrays["y_test"][4] = 10
    folder = write_idx_folder(tmp_path / "d")
    with pytest.raises(BadInputError) as err:
        load("mnist", data_dir=folder, download=False)
    msg = str(err.value)
    assert "labels must be integers in [0, 9]; found 10 in test labels (row 4)" in msg
    assert str(folder) in msg
