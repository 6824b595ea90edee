"""netmedic's data layer: datasets by name or from files, validated, as NumPy arrays.

    import netmedic as nm
    ds = nm.data.load("mnist-mini")      # embedded, offline: (8000, 1, 28, 28) uint8
    ds = nm.data.load("data/MNISTdata.hdf5")
    x_train = nm.data.fit_normalizer(ds.x_train, "unit").apply(ds.x_train)

See :func:`load` for names and formats, :func:`normalize` / :func:`fit_normalizer` for scaling
(``--normalize``), and :func:`check_input_size` for the model-versus-data size check.
"""

from netmedic.data.dataset import Dataset
from netmedic.data.download import DownloadError
from netmedic.data.idx import read_idx, write_idx
from netmedic.data.loader import load
from netmedic.data.mini import arrays_sha256
from netmedic.data.normalize import MODES, Normalizer, fit_normalizer, normalize
from netmedic.data.registry import KNOWN_NAMES, cache_dir
from netmedic.data.split import stratified_split
from netmedic.data.validate import check_input_size

__all__ = [
    "Dataset",
    "DownloadError",
    "KNOWN_NAMES",
    "MODES",
    "Normalizer",
    "arrays_sha256",
    "cache_dir",
    "check_input_size",
    "fit_normalizer",
    "load",
    "normalize",
    "read_idx",
    "stratified_split",
    "write_idx",
]
