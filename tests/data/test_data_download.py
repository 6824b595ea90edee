"""Named datasets: lookup order (data-dir, cache, Debian, download) and verified downloads from
a local http.server on 127.0.0.1 (good, corrupted, missing)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from netmedic.data import DownloadError, cache_dir, load, registry
from netmedic.data.download import RemoteFile
from netmedic.errors import BadInputError

FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}


@pytest.fixture
def synthetic_mnist(tmp_path, write_idx_folder, monkeypatch):
    """Replace the 'mnist' spec's checksums with those of small synthetic IDX files.

    Returns the folder of the good files; the spec keeps its real name and file names.
    """
    good = write_idx_folder(tmp_path / "www" / "good")
    remote = tuple(
        RemoteFile(role, name, hashlib.sha256((good / name).read_bytes()).hexdigest())
        for role, name in FILES.items()
    )
    spec = replace(registry.MNIST, files=remote)
    monkeypatch.setitem(registry.NAMED, "mnist", spec)
    return good


def _corrupt_copy(good: Path, bad: Path) -> None:
    bad.mkdir(parents=True)
    for name in FILES.values():
        data = bytearray((good / name).read_bytes())
        data[len(data) // 2] ^= 0xFF
        (bad / name).write_bytes(bytes(data))


def test_download_lands_in_cache(isolated, synthetic_mnist, http_mirror, arrays):
    ds = load("mnist", mirror=http_mirror("good"), progress=False)
    assert ds.x_train.shape == (60, 1, 28, 28) and ds.y_test.dtype == np.int64
    np.testing.assert_array_equal(ds.y_train, arrays["y_train"])
    target = isolated / "mnist"
    assert ds.source.startswith(str(target)) and "downloaded now" in ds.source
    assert sorted(os.listdir(target)) == sorted(FILES.values())  # no .part leftovers
    # second time: from the cache, no network needed
    again = load("mnist", download=False)
    assert again.source == f"{target} (netmedic's cache)"


def test_download_with_progress_bar_and_env_mirror(
    synthetic_mnist, http_mirror, monkeypatch, capsys
):
    monkeypatch.setenv("NETMEDIC_MIRROR", http_mirror("good"))
    ds = load("mnist", progress=True)
    assert len(ds.x_test) == 20
    assert "downloading train-images-idx3-ubyte.gz" in capsys.readouterr().err


def test_corrupted_download_rejected_and_not_cached(isolated, synthetic_mnist, http_mirror):
    _corrupt_copy(synthetic_mnist, synthetic_mnist.parent / "bad")
    with pytest.raises(DownloadError) as err:
        load("mnist", mirror=http_mirror("bad"), progress=False)
    msg = str(err.value)
    assert "mnist: could not download train-images-idx3-ubyte.gz" in msg
    assert http_mirror("bad") + "train-images-idx3-ubyte.gz" in msg
    assert "does not match the expected" in msg and "(deleted, not cached)" in msg
    assert "NETMEDIC_MIRROR" in msg and "--data-dir" in msg
    assert isinstance(err.value, BadInputError)  # CLI exit 2
    assert os.listdir(isolated / "mnist") == []  # nothing cached, no temp file left


def test_bad_mirror_then_good_mirror(isolated, synthetic_mnist, http_mirror):
    _corrupt_copy(synthetic_mnist, synthetic_mnist.parent / "bad")
    ds = load("mnist", mirror=f"{http_mirror('bad')},{http_mirror('good')}", progress=False)
    assert len(ds.x_train) == 60
    assert len(os.listdir(isolated / "mnist")) == 4


def test_missing_on_mirror_is_reported(synthetic_mnist, http_mirror):
    with pytest.raises(DownloadError) as err:
        load("mnist", mirror=http_mirror("nothing-here"), progress=False)
    assert http_mirror("nothing-here") + "train-images-idx3-ubyte.gz: HTTP 404" in str(err.value)


def test_unreachable_mirror_reported():
    with pytest.raises(DownloadError) as err:
        load("mnist", progress=False)  # the autouse fixture points at 127.0.0.1:9
    assert "http://127.0.0.1:9/train-images-idx3-ubyte.gz" in str(err.value)


def test_recompressed_file_accepted_by_raw_sha256(isolated, tmp_path, monkeypatch, http_mirror,
                                                  write_idx_folder):
    """A mirror that serves the same IDX bytes gzipped differently passes via raw_sha256."""
    import gzip

    good = write_idx_folder(tmp_path / "www" / "recompressed")
    remote = []
    for role, name in FILES.items():
        raw = gzip.decompress((good / name).read_bytes())
        (good / name).write_bytes(gzip.compress(raw, compresslevel=1, mtime=12345))
        remote.append(RemoteFile(role, name, "0" * 64, hashlib.sha256(raw).hexdigest()))
    monkeypatch.setitem(registry.NAMED, "mnist", replace(registry.MNIST, files=tuple(remote)))
    assert len(load("mnist", mirror=http_mirror("recompressed"), progress=False).x_test) == 20


def test_download_false_says_where_it_looked(tmp_path, isolated):
    data_dir = tmp_path / "mydata"
    data_dir.mkdir()
    with pytest.raises(BadInputError) as err:
        load("fashion-mnist", data_dir=data_dir, download=False)
    msg = str(err.value)
    assert "fashion-mnist: the dataset files are not here and downloading is off" in msg
    assert f"{data_dir} (--data-dir)" in msg
    assert f"{isolated / 'fashion-mnist'} (netmedic's cache)" in msg
    assert "Debian package dataset-fashion-mnist" in msg
    assert "apt-get install dataset-fashion-mnist" in msg
    assert "mnist-mini" in msg and "train-images-idx3-ubyte.gz" in msg


@pytest.mark.parametrize("sub", ["", "mnist", "MNIST/raw"])
def test_data_dir_layouts(tmp_path, write_idx_folder, sub):
    folder = write_idx_folder(tmp_path / "d" / sub, gz=False)
    ds = load("mnist", data_dir=tmp_path / "d", download=False)
    assert ds.source.startswith(str(folder)) and "--data-dir" in ds.source
    assert ds.num_classes == 10 and ds.class_names is None


def test_data_dir_wins_over_cache(tmp_path, isolated, write_idx_folder, arrays):
    write_idx_folder(isolated / "mnist")
    arrays["y_train"][:] = 3  # the data-dir copy differs
    mine = write_idx_folder(tmp_path / "mine")
    assert np.all(load("mnist", data_dir=mine, download=False).y_train == 3)
    assert not np.all(load("mnist", download=False).y_train == 3)


def test_debian_package_files_found(tmp_path, monkeypatch, write_idx_folder):
    debian = tmp_path / "usr-share-datasets"
    write_idx_folder(debian / "fashion-mnist")
    monkeypatch.setattr(registry, "DEBIAN_DATASETS_DIR", debian)
    ds = load("fashion-mnist", download=False)
    assert "Debian package dataset-fashion-mnist" in ds.source
    assert ds.class_names[0] == "T-shirt/top" and ds.class_names[9] == "Ankle boot"


def test_debian_lookup_path_is_what_dpkg_lists():
    # `dpkg -L dataset-fashion-mnist` lists /usr/share/datasets/fashion-mnist/*-ubyte.gz
    source = Path(registry.__file__).read_text()
    assert 'DEBIAN_DATASETS_DIR = Path("/usr/share/datasets")' in source
    dirs = [d for d, label in registry.candidate_dirs(registry.FASHION_MNIST, None)
            if "Debian" in label]
    assert dirs == [registry.DEBIAN_DATASETS_DIR / "fashion-mnist"]


def test_cache_dir_env_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("NETMEDIC_CACHE", str(tmp_path / "nm"))
    assert cache_dir("mnist") == tmp_path / "nm" / "mnist"
    monkeypatch.delenv("NETMEDIC_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir("mnist") == tmp_path / "xdg" / "netmedic" / "mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir("mnist") == Path.home() / ".cache" / "netmedic" / "mnist"


def test_name_spellings():
    assert registry.canonical_name("Fashion_MNIST") == "fashion-mnist"
    assert registry.canonical_name("MNIST") == "mnist"
    assert registry.canonical_name("mnist_mini") == "mnist-mini"
    assert registry.canonical_name("cifar10") is None


def test_builtin_checksums_are_well_formed():
    for spec in registry.NAMED.values():
        assert [f.role for f in spec.files] == list(FILES)
        assert [f.filename for f in spec.files] == list(FILES.values())
        for f in spec.files:
            assert len(f.sha256) == 64 and int(f.sha256, 16) >= 0
    assert registry.MNIST.mirrors[0] == "https://ossci-datasets.s3.amazonaws.com/mnist/"
