"""Per-tensor statistics: cheap, allocation-light, silent on NaN/Inf.

Every function takes one array and returns plain Python numbers in a dict (the *entry* that the
history keeps and the trace writes), so nothing here holds on to the caller's memory. Callers
wrap them in ``np.errstate(all="ignore")``.

Entry fields (all optional but ``norm``; see the README's trace format):

==============  ==========================================================================
``norm``        L2 norm over all elements (NaN if any NaN, Inf if any Inf and no NaN)
``nan``/``inf`` counts, present only when the tensor is not finite
``size``        number of elements; ``rms = norm / sqrt(size)``
``min``/``max`` extremes (``max_abs = max(|min|, |max|)``); not for gradients (no rule needs
                them, and they cost two passes over the largest arrays); for parameters and
                pre-activations only on the first 10 observations and on steps where
                something is not finite (what overflowed)
``zero_frac``   fraction of elements exactly 0 (activations; gradients when no activations
                are given: the dead-ReLU rule's fallback)
``width``       features per example (size / batch size): 784 for MNIST inputs
``kind``        activations: ``relu``, ``sigmoid``, ``tanh``, ``softmax`` or ``other``
``dead_frac``   ReLU activations: fraction of units that output 0 for every example
``sat_frac``    sigmoid/tanh activations: fraction saturated (<0.01 or >0.99; tanh |x|>0.99)
``mean``        params, first observation: mean of the entries (an all-positive init shows)
``shape``       params, first observation
==============  ==========================================================================
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

SIGMOID_LOW, SIGMOID_HIGH = 0.01, 0.99  # issue 4 / DeepDiagnosis: saturated sigmoid outputs
TANH_SATURATED = 0.99  # issue 4: tanh |x| > 0.99 has derivative < 0.02
SOFTMAX_ROW_TOLERANCE = 1e-3  # rows of a softmax sum to 1 up to float32 rounding

Entry = dict[str, Any]


def flat(a: Any) -> np.ndarray:
    """A 1-D view of ``a`` (a copy only for non-contiguous or non-float input), float dtype."""
    a = np.asarray(a)
    if a.dtype.kind not in "fc":
        a = a.astype(np.float64)  # uint8 pixels: np.dot would wrap around
    return a.ravel(order="K")


def norm_entry(a: Any) -> Entry:
    """``{"norm": ‖a‖₂}``; with ``nan``/``inf`` counts when ``a`` is not finite.

    One BLAS dot on a raveled view: a NaN or Inf anywhere makes it non-finite, and only then are
    NaN and Inf counted. Squares that overflow while the values are finite are rescaled.
    """
    return _norm(flat(a))


def _norm(v: np.ndarray) -> Entry:
    """:func:`norm_entry` of an already raveled float vector (each statistic ravels once)."""
    square = float(np.dot(v, v)) if v.size else 0.0
    if math.isfinite(square):
        return {"norm": math.sqrt(square)}
    nan = int(np.count_nonzero(np.isnan(v)))
    inf = int(np.count_nonzero(np.isinf(v)))
    if nan or inf:
        return {"norm": math.nan if nan else math.inf, "nan": nan, "inf": inf}
    big = float(np.max(np.abs(v)))  # finite values whose squares overflow (|x| > 1.8e19 in f32)
    scaled = v.astype(np.float64) / big
    return {"norm": big * math.sqrt(float(np.dot(scaled, scaled)))}


def finite_entry(entry: Entry) -> bool:
    """No NaN/Inf in the tensor an entry describes (as far as its fields tell)."""
    return math.isfinite(entry.get("norm", 0.0)) and not (entry.get("nan") or entry.get("inf"))


def range_entry(a: Any, entry: Entry) -> Entry:
    """Add ``size``, ``min`` and ``max`` (two reductions, no temporary)."""
    return _range(flat(a), entry)


def _norm_size(v: np.ndarray, ranges: bool) -> Entry:
    """Norm and size of a raveled vector, and its range unless ``ranges`` is False (two passes
    fewer)."""
    entry = _norm(v)
    if ranges:
        return _range(v, entry)
    entry["size"] = int(v.size)
    return entry


def _range(v: np.ndarray, entry: Entry) -> Entry:
    entry["size"] = int(v.size)
    if v.size:
        entry["min"] = float(v.min())
        entry["max"] = float(v.max())
    return entry


def zero_fraction(a: Any) -> float:
    return _zero_fraction(flat(a))


def _zero_fraction(v: np.ndarray) -> float:
    # v == 0 then a count of booleans: ~4× faster than count_nonzero on the floats themselves
    return float(np.count_nonzero(v == 0)) / v.size if v.size else 0.0


def width(a: np.ndarray, batch_axis: int) -> int:
    """Features per example: all axes but the batch axis."""
    if a.ndim < 2:
        return 1
    return int(a.size // max(a.shape[batch_axis], 1))


def batch_size(a: np.ndarray, batch_axis: int) -> int | None:
    return int(a.shape[batch_axis]) if a.ndim >= 2 else None


def param_entry(a: Any, first: bool, ranges: bool = True) -> Entry:
    """Parameters: norm, size, min, max (``ranges=False``: norm and size only, two passes
    fewer); on the first observation also mean, shape, dtype."""
    a = np.asarray(a)
    v = flat(a)
    entry = _norm_size(v, ranges)
    if first and a.size:
        entry["mean"] = float(np.mean(v, dtype=np.float64))
        entry["shape"] = list(a.shape)
        entry["dtype"] = str(a.dtype)
    return entry


def update_entry(update: np.ndarray, grad: np.ndarray | None,
                 prev_grad: np.ndarray | None) -> Entry:
    """The step just taken, Δw = w_t − w_{t−1}: its norm and first-order loss predictions.

    ``dot_grad`` = ⟨g_t, Δw⟩ (gradient at the end of the step), ``dot_prev_grad`` = ⟨g_{t−1}, Δw⟩
    (gradient at its start). For a loss whose gradient is ``g``, the loss change over the step is
    about their mean (exact for a quadratic); both negative means "this step went downhill".
    """
    u = flat(update)
    entry = _norm(u)
    if grad is not None and np.shape(grad) == update.shape:
        entry["dot_grad"] = float(np.dot(flat(grad), u))
    if prev_grad is not None and prev_grad.shape == update.shape:
        entry["dot_prev_grad"] = float(np.dot(flat(prev_grad), u))
    return entry


def activation_entry(a: Any, kind: str | None, batch_axis: int) -> Entry:
    """Activations: norm, range, zero_frac, width, kind (inferred when ``None``), dead/saturated.

    ``dead_frac`` (ReLU): fraction of units (the first non-batch axis: features of a dense layer,
    channels of a conv layer) whose output is 0 for every example of the batch.
    """
    a = np.asarray(a)
    v = flat(a)
    entry = _range(v, _norm(v))
    zeros = v == 0
    entry["zero_frac"] = float(np.count_nonzero(zeros)) / v.size if v.size else 0.0
    entry["width"] = width(a, batch_axis)
    if not math.isfinite(entry["norm"]) or not a.size:
        if kind:
            entry["kind"] = kind
        return entry
    if kind is None:
        entry["one_frac"] = float(np.count_nonzero(v == 1)) / v.size
        entry["rows_sum_to_one"] = _rows_sum_to_one(a, entry, batch_axis)
        kind = infer_activation_kind(entry)
    entry["kind"] = kind
    if kind == "relu" and a.ndim >= 2:
        if entry["min"] >= 0 and a.flags.c_contiguous:  # silent = all 0: reuse the zero mask
            entry["dead_frac"] = _dead_fraction(zeros.reshape(a.shape), batch_axis, silent=True)
        else:
            entry["dead_frac"] = _dead_fraction(a, batch_axis)
    elif kind == "sigmoid":
        saturated = np.count_nonzero(v < SIGMOID_LOW) + np.count_nonzero(v > SIGMOID_HIGH)
        entry["sat_frac"] = float(saturated) / v.size
    elif kind == "tanh":
        saturated = np.count_nonzero(v > TANH_SATURATED) + np.count_nonzero(v < -TANH_SATURATED)
        entry["sat_frac"] = float(saturated) / v.size
    return entry


def preactivation_entry(a: Any, batch_axis: int, ranges: bool = True) -> Entry:
    """Pre-activations (the output of a dense/conv layer, logits last): norm, size, width, and
    the range (``ranges=False``: without it, two passes fewer)."""
    a = np.asarray(a)
    entry = _norm_size(flat(a), ranges)
    entry["width"] = width(a, batch_axis)
    return entry


def input_entry(a: Any, batch_axis: int) -> Entry:
    """Inputs: norm, range, width (uint8 pixels are read as numbers, not wrapped)."""
    return preactivation_entry(a, batch_axis)


def label_entry(y: Any, batch_axis: int) -> Entry:
    """Labels: class indices ``(N,)`` or one-hot/targets ``(N, C)``.

    ``nonint``: count of non-integer values; ``rows`` = examples; for 2-D labels ``width`` and the
    extreme row sums (``row_sum_min``/``row_sum_max``, 1 for one-hot).
    """
    y = np.asarray(y)
    entry: Entry = {"size": int(y.size)}
    if not y.size:
        return entry
    if y.dtype.kind in "iu":  # integers: no NaN, nothing fractional, no float copy needed
        entry["min"], entry["max"] = float(y.min()), float(y.max())
        entry["nan"] = entry["nonint"] = 0
    else:
        v = flat(y)
        entry["min"], entry["max"] = float(v.min()), float(v.max())
        entry["nan"] = int(np.count_nonzero(np.isnan(v)))
        entry["nonint"] = int(np.count_nonzero(v != np.round(v))) - entry["nan"]
    squeezed = y.reshape(y.shape[0], -1) if y.ndim == 2 and 1 in y.shape else y
    if squeezed.ndim == 2 and min(squeezed.shape) > 1:
        rows = np.sum(squeezed, axis=1 - batch_axis, dtype=np.float64)
        entry["rows"] = int(squeezed.shape[batch_axis])
        entry["width"] = int(squeezed.shape[1 - batch_axis])
        entry["row_sum_min"], entry["row_sum_max"] = float(rows.min()), float(rows.max())
    else:
        entry["rows"] = int(y.size)
        entry["width"] = 1
    return entry


def infer_activation_kind(entry: Entry) -> str | None:
    """Which nonlinearity produced these values, from the statistics alone.

    softmax: ≥ 0, ≤ 1 and every row sums to 1; then, with ``min ≥ 0``: values in [0, 1] with
    (almost) no exact zeros, or with exact ones (a saturated sigmoid rounds to 0 and 1) → sigmoid;
    otherwise exact zeros → relu; no zeros and values above 1 → other (softplus, exp...). With
    negative values: inside [−1, 1] → tanh, else other. ``None`` while the values are not finite.
    """
    lo, hi = entry.get("min"), entry.get("max")
    if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return None
    zero = entry.get("zero_frac", 0.0)
    if entry.get("rows_sum_to_one"):
        return "softmax"
    if lo >= 0:
        if hi <= 1 and (zero < 0.01 or entry.get("one_frac", 0.0) > 0):
            return "sigmoid"
        return "relu" if zero > 0 else "other"
    if lo >= -1 and hi <= 1:
        return "tanh"
    return "other"


def _rows_sum_to_one(a: np.ndarray, entry: Entry, batch_axis: int) -> bool:
    if a.ndim != 2 or entry.get("min", -1) < 0 or entry.get("max", 2) > 1:
        return False
    if a.shape[1 - batch_axis] < 2:
        return False
    rows = np.sum(a, axis=1 - batch_axis, dtype=np.float64)
    return bool(np.all(np.abs(rows - 1.0) < SOFTMAX_ROW_TOLERANCE))


def _dead_fraction(a: np.ndarray, batch_axis: int, silent: bool = False) -> float:
    """Fraction of units whose output is ≤ 0 on every example; ``silent``: ``a`` is already the
    mask of outputs that are 0 (outputs ≥ 0: then "≤ 0 everywhere" is "all of the mask")."""
    unit_axis = 1 if batch_axis == 0 else 0
    other = tuple(i for i in range(a.ndim) if i != unit_axis)
    if silent:
        dead = np.logical_and.reduce(a, axis=other)
    else:
        dead = np.maximum.reduce(a, axis=other) <= 0
    return float(np.count_nonzero(dead)) / dead.size if dead.size else 0.0
