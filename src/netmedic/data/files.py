"""Readers for data files: ``.npz``, ``.h5``/``.hdf5``, ``.csv`` and folders of IDX files.

Each reader returns :class:`RawSplits`: the arrays as found (``x_test``/``y_test`` may be
``None``) plus notes; :func:`netmedic.data.validate.build_dataset` then checks and assembles them.
"""

from __future__ import annotations

import gzip
import re
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from netmedic.data.idx import read_idx
from netmedic.errors import BadInputError

#: IDX roles and the stems they go by: ``train-images-idx3-ubyte`` (LeCun, Zalando) and
#: ``train-images.idx3-ubyte`` (the Kaggle copies); ``test`` is accepted for ``t10k``.
IDX_STEMS: dict[str, tuple[str, ...]] = {
    "x_train": ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    "y_train": ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    "x_test": (
        "t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte",
        "test-images-idx3-ubyte", "test-images.idx3-ubyte",
    ),
    "y_test": (
        "t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte",
        "test-labels-idx1-ubyte", "test-labels.idx1-ubyte",
    ),
}

#: Accepted key spellings (case-insensitive) in .npz and .h5 files.
SPLIT_KEYS = ("x_train", "y_train", "x_test", "y_test")
X_ALIASES = ("x", "data", "images", "inputs", "features")
Y_ALIASES = ("y", "labels", "targets", "target")

_EXPECTED_KEYS = (
    "x_train, y_train, x_test, y_test (or x, y, which netmedic splits 80/20). Save them by name, "
    "e.g. np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)"
)


@dataclass
class RawSplits:
    """Arrays as read from a file, before validation; no test split when ``x_test`` is None."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)


def find_idx_files(folder: Path) -> dict[str, Path]:
    """The IDX files of ``folder`` by role (``x_train``…), raw or ``.gz``; missing roles absent."""
    found: dict[str, Path] = {}
    for role, stems in IDX_STEMS.items():
        for stem in stems:
            for name in (f"{stem}.gz", stem):
                if (folder / name).is_file():
                    found.setdefault(role, folder / name)
    return found


def read_idx_files(files: dict[str, Path]) -> RawSplits:
    """Read the four IDX files (``files`` maps role to path)."""
    arrays = {role: read_idx(path) for role, path in files.items()}
    for role in ("x_train", "x_test"):
        if arrays[role].ndim == 3:  # IDX images are (N, H, W); add the channel axis quietly
            arrays[role] = arrays[role][:, None]
    return RawSplits(**arrays)


def read_idx_folder(folder: Path) -> RawSplits:
    """Read a folder holding ``train-images-idx3-ubyte[.gz]`` and the three other IDX files."""
    files = find_idx_files(folder)
    missing = [role for role in IDX_STEMS if role not in files]
    if missing:
        wanted = ", ".join(f"{IDX_STEMS[r][0]}[.gz]" for r in missing)
        present = sorted(p.name for p in folder.iterdir())[:12]
        raise BadInputError(
            f"{folder}: expected the four IDX files of an MNIST-like dataset; missing {wanted}. "
            f"The folder holds: {', '.join(present) or 'nothing'}. Put all four files there "
            "(names as on the MNIST site), or pass a .npz, .h5 or .csv file instead."
        )
    return read_idx_files(files)


def read_npz(path: Path) -> RawSplits:
    """Read a ``.npz`` (never unpickling: ``allow_pickle=False``)."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = list(archive.files)
            chosen = _choose_keys(keys, path)
            arrays = {role: archive[key] for role, key in chosen.items()}
    except (zipfile.BadZipFile, EOFError, OSError) as err:
        raise BadInputError(
            f"{path}: cannot read it as a .npz archive ({err}). Is it complete? Re-save it with "
            "np.savez."
        ) from err
    except ValueError as err:  # object arrays need pickle, which we refuse
        raise BadInputError(
            f"{path}: holds Python objects ({err}); netmedic never unpickles files. Save plain "
            "numeric arrays: np.savez(path, x_train=np.asarray(x_train, dtype=np.uint8), ...)."
        ) from err
    return RawSplits(**arrays)


def read_h5(path: Path) -> RawSplits:
    """Read an HDF5 file with datasets ``x_train, y_train, x_test, y_test`` (or ``x, y``)."""
    import h5py  # imported here: h5py takes a moment to import and only this reader needs it

    try:
        with h5py.File(path, "r") as f:
            keys = [k for k in f.keys() if isinstance(f[k], h5py.Dataset)]
            chosen = _choose_keys(keys, path, groups=[k for k in f.keys() if k not in keys])
            arrays = {role: np.asarray(f[key][()]) for role, key in chosen.items()}
    except OSError as err:
        raise BadInputError(
            f"{path}: cannot read it as HDF5 ({err}). Is it complete, and really an HDF5 file?"
        ) from err
    return RawSplits(**arrays)


def _choose_keys(keys: list[str], path: Path, groups: list[str] | None = None) -> dict[str, str]:
    """Map roles (x_train…) to the file's own key names, matching case-insensitively."""
    by_lower = {k.lower(): k for k in keys}
    if "x_train" in by_lower or "y_train" in by_lower:
        wanted = ["x_train", "y_train"]
        if "x_test" in by_lower or "y_test" in by_lower:
            wanted += ["x_test", "y_test"]
        missing = [k for k in wanted if k not in by_lower]
        if not missing:
            return {k: by_lower[k] for k in wanted}
    else:
        x_key = next((by_lower[a] for a in X_ALIASES if a in by_lower), None)
        y_key = next((by_lower[a] for a in Y_ALIASES if a in by_lower), None)
        if x_key and y_key:
            return {"x_train": x_key, "y_train": y_key}
        missing = ["x" if x_key is None else "y"]
    found = ", ".join(keys) or "no arrays"
    if groups:
        found += f" (and groups {', '.join(groups)}, which netmedic does not look inside)"
    raise BadInputError(
        f"{path}: missing key(s) {', '.join(missing)}; found {found}. Expected {_EXPECTED_KEYS}."
    )


def read_csv(path: Path) -> RawSplits:
    """Read a CSV (or ``.csv.gz``) with the label in the first column; a header row is skipped.

    Integers in 0 … 255 (pixels) come back as uint8, other integers as int64, anything else as
    float64. When
    ``path``'s name contains ``train`` and the same name with ``test`` exists beside it, that
    file is the test set; otherwise there is none (the caller splits).
    """
    x, y = _read_label_first_csv(path)
    splits = RawSplits(x_train=x, y_train=y)
    partner = _test_partner(path)
    if partner is not None:
        splits.x_test, splits.y_test = _read_label_first_csv(partner)
        splits.notes.append(f"test set read from {partner.name}, found beside {path.name}")
    if splits.x_test is not None and splits.x_test.dtype != x.dtype:
        common = np.promote_types(x.dtype, splits.x_test.dtype)
        splits.x_test, splits.x_train = splits.x_test.astype(common), x.astype(common)
    if splits.x_train.dtype == np.uint8:
        splits.notes.append("CSV values are integers in 0 … 255: kept as uint8 pixels")
    return splits


def _test_partner(path: Path) -> Path | None:
    if "train" not in path.name.lower():
        return None
    partner = path.with_name(re.sub("train", "test", path.name, flags=re.IGNORECASE))
    return partner if partner.is_file() and partner != path else None


def _read_label_first_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
        first = f.readline()
        second = f.readline()
    delimiter = next((d for d in (",", ";", "\t") if d in first), None)
    cells = [c.strip().strip('"') for c in first.strip().split(delimiter)]
    has_header = not all(_is_number(c) for c in cells)
    if not first.strip() or (has_header and not second.strip()):
        raise BadInputError(
            f"{path}: the CSV file holds no data rows; expected rows of label,x1,x2,…"
        )
    try:
        table = _loadtxt(path, delimiter, int(has_header))
    except (ValueError, EOFError, OSError) as err:
        raise BadInputError(
            f"{path}: not a numeric CSV ({err}). Expected a header row or none, then rows of "
            "numbers with the label first (the mnist_train.csv layout), all rows the same length."
        ) from err
    if table.shape[1] < 2:
        raise BadInputError(
            f"{path}: {table.shape[1]} column(s); expected the label in the first column followed "
            "by at least one feature column."
        )
    y, x = table[:, 0], table[:, 1:]
    if x.dtype == np.int64 and x.min() >= 0 and x.max() <= 255:
        x = x.astype(np.uint8)
    return x, y


def _loadtxt(path: Path, delimiter: str | None, skiprows: int) -> np.ndarray:
    """The table as int64 when every cell is an integer (6× faster to parse), else float64."""
    options = {"delimiter": delimiter, "skiprows": skiprows, "ndmin": 2}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # numpy warns on trailing empty lines
        try:
            return np.loadtxt(path, dtype=np.int64, **options)
        except ValueError:
            return np.loadtxt(path, dtype=np.float64, **options)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
