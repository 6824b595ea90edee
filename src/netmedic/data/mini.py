"""``mnist-mini``: 10,000 real MNIST digits shipped inside netmedic, so everything works offline.

Built by ``tools/build_mnist_mini.py`` from the official MNIST test set (``t10k-*.gz``, checked
against its published MD5s): a stratified split of 8,000 train / 2,000 test drawn with
``numpy.random.default_rng(0)``. Its identity is the sha256 of the array bytes (see
:func:`arrays_sha256`), not of the ``.npz`` file, so a rebuild reproduces it exactly.
"""

from __future__ import annotations

import hashlib
import zipfile
from importlib import resources
from pathlib import Path

import numpy as np

from netmedic.data.dataset import Dataset
from netmedic.errors import BadInputError

MNIST_MINI_FILE = "mnist_mini.npz"
#: sha256 of x_train, y_train, x_test, y_test bytes, in that order (uint8 and little-endian int64).
MNIST_MINI_SHA256 = "f2124aa163adf321fed39f2c509e67b2abdbe0f0fc528d76595eed0a80973206"
MNIST_MINI_TRAIN = 8_000
MNIST_MINI_TEST = 2_000
MNIST_MINI_SEED = 0

_ROLES = ("x_train", "y_train", "x_test", "y_test")
_SOURCE = (
    "embedded in netmedic: 8,000 train / 2,000 test digits drawn stratified (seed 0) from the "
    "official MNIST test set"
)


def arrays_sha256(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray
) -> str:
    """sha256 hex digest of the four arrays' C-contiguous bytes, concatenated in that order.

    Labels are hashed as little-endian int64 and pixels as uint8, whatever the platform.
    """
    digest = hashlib.sha256()
    for array, dtype in ((x_train, "u1"), (y_train, "<i8"), (x_test, "u1"), (y_test, "<i8")):
        digest.update(np.ascontiguousarray(array, dtype=dtype).tobytes())
    return digest.hexdigest()


def default_path() -> Path:
    """Where the packaged ``mnist_mini.npz`` lives."""
    return Path(str(resources.files("netmedic.data").joinpath(MNIST_MINI_FILE)))


def load_mnist_mini(path: Path | None = None) -> Dataset:
    """The embedded ``mnist-mini`` dataset, its sha256 verified.

    Returns
    -------
    Dataset with x_train (8000, 1, 28, 28) uint8, y_train (8000,) int64, x_test
    (2000, 1, 28, 28) uint8, y_test (2000,) int64, num_classes 10.
    """
    path = default_path() if path is None else Path(path)
    reinstall = "Reinstall netmedic (pip install --force-reinstall netmedic) to restore it."
    if not path.is_file():
        raise BadInputError(f"mnist-mini: the embedded file {path} is missing. {reinstall}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {role: archive[role] for role in _ROLES}
    except (zipfile.BadZipFile, EOFError, OSError, KeyError, ValueError) as err:
        raise BadInputError(
            f"mnist-mini: the embedded file {path} is corrupted ({err}). {reinstall}"
        ) from err
    found = arrays_sha256(*(arrays[r] for r in _ROLES))
    if found != MNIST_MINI_SHA256:
        raise BadInputError(
            f"mnist-mini: the embedded file {path} is corrupted: its arrays hash to sha256 "
            f"{found[:16]}…, expected {MNIST_MINI_SHA256[:16]}…. {reinstall}"
        )
    return Dataset(
        x_train=arrays["x_train"],
        y_train=arrays["y_train"].astype(np.int64, copy=False),
        x_test=arrays["x_test"],
        y_test=arrays["y_test"].astype(np.int64, copy=False),
        name="mnist-mini",
        num_classes=10,
        source=_SOURCE,
        notes=[],
    )
