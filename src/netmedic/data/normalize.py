"""Input scaling (``--normalize``), with statistics from the training split only.

``unit`` (default): uint8 pixels divided by 255, other dtypes min–max scaled with the training
minimum and maximum. ``standard``: subtract one mean and divide by one std, both over *all*
training values (not per pixel: MNIST's border pixels have std 0). ``none``: only the dtype
changes. Fit on the training part (after the validation split is carved out), apply to all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from netmedic.data.dataset import Dataset
from netmedic.errors import BadInputError

MODES = ("none", "unit", "standard")
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
#: Largest value of a uint8 pixel; ``unit`` divides uint8 data by it (255 → 1.0).
UINT8_MAX = 255.0


@dataclass(frozen=True)
class Normalizer:
    """``x ↦ (x - shift) / scale``, computed in the requested float dtype.

    ``shift`` and ``scale`` are plain floats (a single pair for all features).
    """

    mode: str
    shift: float = 0.0
    scale: float = 1.0

    def apply(self, x: np.ndarray, dtype: Any = np.float32) -> np.ndarray:
        """Scaled copy of ``x`` (any shape) as ``dtype`` (float32 or float64)."""
        dtype = _float_dtype(dtype)
        out = np.array(x, dtype=dtype, copy=True)
        with np.errstate(all="ignore"):  # NaN/Inf in, NaN/Inf out, without warnings
            if self.shift != 0.0:
                out -= dtype.type(self.shift)
            if self.scale != 1.0:
                out /= dtype.type(self.scale)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form, for checkpoints and metrics.json."""
        return {"mode": self.mode, "shift": self.shift, "scale": self.scale}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Normalizer:
        return cls(mode=str(d["mode"]), shift=float(d["shift"]), scale=float(d["scale"]))

    def describe(self) -> str:
        """One line for the user: ``"unit: x / 255"``."""
        if self.mode == "none":
            return "none: inputs used as they are"
        shift = f"(x - {self.shift:.4g})" if self.shift else "x"
        return f"{self.mode}: {shift} / {self.scale:.4g}"


def fit_normalizer(x_train: np.ndarray, mode: str = "unit") -> Normalizer:
    """Fit the ``mode`` scaling on training inputs ``x_train`` (any shape, N first).

    A constant training set (max = min, or std = 0) gets scale 1 rather than a division by zero.
    """
    if mode not in MODES:
        raise BadInputError(
            f"normalize mode must be one of {', '.join(MODES)}; got {mode!r}. Use 'unit' for "
            "pixels (divide by 255) or 'standard' for mean 0, std 1."
        )
    x_train = np.asarray(x_train)
    if mode == "none":
        return Normalizer("none")
    if x_train.size == 0:
        raise BadInputError("cannot fit input normalization on an empty training set.")
    if mode == "unit":
        if x_train.dtype == np.uint8:
            return Normalizer("unit", 0.0, UINT8_MAX)
        low, high = _finite_min_max(x_train)
        return Normalizer("unit", low, (high - low) or 1.0)
    mean, std = _mean_std(x_train)
    if not (np.isfinite(mean) and np.isfinite(std)):
        raise BadInputError(
            "cannot standardize: the training inputs contain NaN or Inf. Remove those examples."
        )
    return Normalizer("standard", mean, std or 1.0)


def normalize(
    data: Dataset | np.ndarray | tuple[np.ndarray, ...],
    mode: str = "unit",
    dtype: Any = np.float32,
) -> Any:
    """Scale inputs by ``mode`` with statistics from the training inputs only.

    Parameters
    ----------
    data : a :class:`Dataset` (fit on ``x_train``, applied to both splits; returns a new
        Dataset), a single array (fit and applied to it), or a tuple of arrays (fit on the first,
        applied to each; returns a tuple)
    mode : ``"none"``, ``"unit"`` or ``"standard"``
    dtype : output float dtype, float32 (default) or float64
    """
    if isinstance(data, Dataset):
        norm = fit_normalizer(data.x_train, mode)
        return Dataset(
            x_train=norm.apply(data.x_train, dtype), y_train=data.y_train,
            x_test=norm.apply(data.x_test, dtype), y_test=data.y_test, name=data.name,
            num_classes=data.num_classes, source=data.source,
            notes=[*data.notes, f"inputs normalized ({norm.describe()}), fit on train"],
            class_names=data.class_names,
        )
    if isinstance(data, tuple | list):
        norm = fit_normalizer(data[0], mode)
        return tuple(norm.apply(x, dtype) for x in data)
    return fit_normalizer(data, mode).apply(data, dtype)


def _mean_std(x: np.ndarray, rows_per_chunk: int = 4096) -> tuple[float, float]:
    """Mean and std over all values in float64, two passes in chunks (no full float64 copy)."""
    n = x.size
    with np.errstate(all="ignore"):
        total = sum(float(np.sum(x[i:i + rows_per_chunk], dtype=np.float64))
                    for i in range(0, len(x), rows_per_chunk))
        mean = total / n
        squares = sum(float(np.sum((x[i:i + rows_per_chunk] - mean) ** 2, dtype=np.float64))
                      for i in range(0, len(x), rows_per_chunk))
    return mean, (squares / n) ** 0.5


def _finite_min_max(x: np.ndarray) -> tuple[float, float]:
    if x.dtype.kind == "f":
        finite = x[np.isfinite(x)]
        if finite.size == 0:
            raise BadInputError("cannot min–max scale: no finite training input values.")
        x = finite
    return float(x.min()), float(x.max())


def _float_dtype(dtype: Any) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype not in FLOAT_DTYPES:
        raise BadInputError(f"normalized inputs must be float32 or float64; got {dtype}.")
    return dtype
