"""``load(name_or_path)``: one entry point for every dataset netmedic reads."""

from __future__ import annotations

from pathlib import Path

from netmedic.data import files, registry
from netmedic.data.dataset import Dataset
from netmedic.data.mini import load_mnist_mini
from netmedic.data.validate import build_dataset
from netmedic.errors import BadInputError

#: File suffix -> reader. IDX files are recognised by name (``*-ubyte``, ``*-ubyte.gz``).
READERS = {
    ".npz": files.read_npz,
    ".h5": files.read_h5,
    ".hdf5": files.read_h5,
    ".csv": files.read_csv,
}


def load(
    name_or_path: str | Path,
    *,
    data_dir: str | Path | None = None,
    seed: int = 0,
    download: bool = True,
    progress: bool = True,
    mirror: str | None = None,
) -> Dataset:
    """Load a dataset by name or from a file or folder.

    Parameters
    ----------
    name_or_path : ``"mnist-mini"`` (embedded, offline), ``"mnist"``, ``"fashion-mnist"``, or a
        path: a folder of the four IDX files, one IDX file (its folder is read), ``.npz``,
        ``.h5``/``.hdf5`` or ``.csv``. A known name wins over a same-named folder; write
        ``./mnist`` for the folder.
    data_dir : folder holding the IDX files of a named dataset (searched before the cache)
    seed : seed of the stratified 80/20 split for files with no test set
    download : allow downloading a named dataset that is not found locally
    progress : show a progress bar while downloading
    mirror : base URL(s), comma-separated, to download from instead of the built-in mirrors
        (also ``$NETMEDIC_MIRROR``)

    Returns
    -------
    Dataset with images ``(N, C, H, W)`` (dtype as stored, uint8 for MNIST) or tabular
    ``(N, D)`` inputs and ``(N,)`` int64 labels; ``notes`` lists what was converted or decided.
    """
    text = str(name_or_path)
    name = registry.canonical_name(text) if isinstance(name_or_path, str) else None
    if name == "mnist-mini":
        dataset = load_mnist_mini()
        if seed != 0:
            dataset.notes.append("mnist-mini's split is fixed (seed 0); --seed does not change it")
        return dataset
    if name is not None:
        return _load_named(registry.NAMED[name], data_dir, download, progress, mirror)
    return load_path(Path(text).expanduser(), seed=seed)


def load_path(path: Path, *, seed: int = 0) -> Dataset:
    """Load a file or folder; see :func:`load`."""
    if not path.exists():
        raise BadInputError(
            f"{path}: no such file or folder, and not a dataset name (known names: "
            f"{', '.join(registry.KNOWN_NAMES)}). Check the spelling and the working directory."
        )
    if path.is_dir():
        raw = files.read_idx_folder(path)
    elif _is_idx_name(path):
        raw = files.read_idx_folder(path.parent)
        path = path.parent
    elif _suffix(path) in READERS:
        raw = READERS[_suffix(path)](path)
    else:
        raise BadInputError(
            f"{path}: unknown file type {path.suffix or '(no extension)'!r}. netmedic reads "
            ".npz, .h5/.hdf5, .csv[.gz] (label in the first column), IDX files (*-ubyte[.gz]) or a "
            "folder holding the four MNIST-style IDX files. Convert it, e.g. np.savez(...)."
        )
    return build_dataset(
        raw.x_train, raw.y_train, raw.x_test, raw.y_test,
        name=path.name, source=str(path), seed=seed, notes=raw.notes,
    )


def _load_named(
    spec: registry.NamedDataset,
    data_dir: str | Path | None,
    download: bool,
    progress: bool,
    mirror: str | None,
) -> Dataset:
    folder = Path(data_dir).expanduser() if data_dir is not None else None
    found, source = registry.locate(
        spec, data_dir=folder, download=download, progress=progress, mirror=mirror
    )
    raw = files.read_idx_files(found)
    return build_dataset(
        raw.x_train, raw.y_train, raw.x_test, raw.y_test, name=spec.name, source=source,
        num_classes=spec.num_classes, class_names=spec.class_names,
    )


def _suffix(path: Path) -> str:
    """``.csv`` for ``data.csv.gz`` (NumPy reads gzipped text), else the lower-case suffix."""
    return ".csv" if path.name.lower().endswith(".csv.gz") else path.suffix.lower()


def _is_idx_name(path: Path) -> bool:
    stem = path.name[:-3] if path.name.endswith(".gz") else path.name
    return stem.endswith("-ubyte")
