"""IDX files (the format of MNIST and Fashion-MNIST), raw or gzip-compressed.

An IDX file is a 4-byte magic number ``0x00 0x00 TYPE NDIM``, then NDIM big-endian uint32
dimension sizes, then the values in C order, big-endian. Reference: the format description on
Yann LeCun's MNIST page ("THE IDX FILE FORMAT").
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from netmedic.errors import BadInputError

#: IDX type byte -> big-endian NumPy dtype (LeCun's MNIST page, "THE IDX FILE FORMAT").
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_DTYPE_CODES = {dt.newbyteorder("="): code for code, dt in IDX_DTYPES.items()}


def is_gzip(path: Path) -> bool:
    """True when ``path`` starts with the gzip magic bytes ``1f 8b``."""
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def read_bytes(path: str | Path) -> bytes:
    """The file's bytes, gunzipped when it is gzip-compressed (detected by content, not name).

    Raises
    ------
    BadInputError
        The path does not exist, or the gzip stream is corrupted or truncated.
    """
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"{path}: no such file.")
    if not is_gzip(path):
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as err:
        raise BadInputError(
            f"{path}: the gzip data is corrupted or cut short ({err}). Download the file again "
            "(delete it first), or check the disk it is on."
        ) from err


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode IDX bytes into an array in native byte order.

    Parameters
    ----------
    data : the whole file content (already gunzipped)
    name : how to name the file in error messages

    Returns
    -------
    np.ndarray with the shape from the header; uint8 for MNIST images ``(N, 28, 28)`` and
    labels ``(N,)``.
    """
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in IDX_DTYPES:
        found = data[:4].hex(" ") if data else "an empty file"
        raise BadInputError(
            f"{name}: not an IDX file; the first 4 bytes are {found}, expected 00 00 TYPE NDIM "
            "(00 00 08 03 for MNIST images, 00 00 08 01 for labels). Is this the right file, "
            "or an HTML error page saved by a failed download?"
        )
    dtype = IDX_DTYPES[data[2]]
    ndim = data[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise BadInputError(
            f"{name}: IDX header says {ndim} dimensions but the file is too short to hold them "
            f"({len(data)} bytes). The file is truncated; download it again."
        )
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) < expected:
        raise BadInputError(
            f"{name}: truncated IDX file; the header promises shape {shape} "
            f"({expected:,} bytes) but the file has {len(data):,} bytes. Download it again."
        )
    if len(data) > expected:
        raise BadInputError(
            f"{name}: {len(data) - expected:,} unexpected bytes after the IDX data of shape "
            f"{shape}; the file is damaged or not an IDX file. Download it again."
        )
    values = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return values.astype(dtype.newbyteorder("="))


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file, raw or ``.gz``; see :func:`parse_idx`."""
    path = Path(path)
    return parse_idx(read_bytes(path), name=str(path))


def write_idx(path: str | Path, array: np.ndarray, *, compress: bool | None = None) -> Path:
    """Write ``array`` as an IDX file (gzip-compressed when ``compress`` or the name ends .gz).

    Supported dtypes: uint8, int8, int16, int32, float32, float64.
    """
    path = Path(path)
    array = np.ascontiguousarray(array)
    code = _DTYPE_CODES.get(array.dtype.newbyteorder("="))
    if code is None:
        raise BadInputError(f"write_idx: dtype {array.dtype} has no IDX type code.")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    payload = header + array.astype(IDX_DTYPES[code], copy=False).tobytes()
    if compress or (compress is None and path.suffix == ".gz"):
        payload = gzip.compress(payload, mtime=0)
    path.write_bytes(payload)
    return path
