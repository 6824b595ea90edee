"""From the trace's records and ``metrics.json`` to the series the plots draw (NumPy only).

Every series is ``(steps, values)`` with NaN/±Inf kept as they were measured: the plots draw
the finite part and mark where it was not finite.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from netmedic.doctor.history import Record

MAX_POINTS = 4000  # per series on a 10-inch plot; non-finite points are always kept
BUCKETS = 150  # a long noisy series is drawn as this many buckets: geometric mean and range


@dataclass
class Series:
    """One line of a plot: ``steps`` (int) and ``values`` (float, may hold NaN/Inf)."""

    label: str
    steps: np.ndarray
    values: np.ndarray
    weight: bool = True  # a weight matrix or kernel (False: a bias or scale vector)

    @property
    def nonfinite_steps(self) -> np.ndarray:
        return self.steps[~np.isfinite(self.values)]

    def thinned(self, max_points: int = MAX_POINTS) -> Series:
        """Every k-th point (k so that at most ``max_points`` remain), plus every non-finite
        one, in step order."""
        n = len(self.steps)
        if n <= max_points:
            return self
        keep = np.zeros(n, bool)
        keep[:: -(-n // max_points)] = True
        keep |= ~np.isfinite(self.values)
        keep[-1] = True
        return Series(self.label, self.steps[keep], self.values[keep], self.weight)


@dataclass
class Buckets:
    """A long series summarized per bucket of consecutive steps: ``steps`` (bucket centres),
    ``mean`` (geometric mean of the finite positive values), ``low``/``high`` (their range);
    NaN where a bucket has none."""

    steps: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray


def bucketed(series: Series, buckets: int = BUCKETS) -> Buckets | None:
    """``series`` in ``buckets`` buckets of consecutive points, or ``None`` when it has fewer
    than two points per bucket (then draw it as it is)."""
    n = len(series.steps)
    if n < 2 * buckets:
        return None
    edges = np.linspace(0, n, buckets + 1).astype(np.int64)
    values = series.values
    ok = np.isfinite(values) & (np.nan_to_num(values, nan=0.0, posinf=0.0) > 0)
    logs = np.log10(np.where(ok, values, 1.0))
    which = np.repeat(np.arange(buckets), np.diff(edges))
    counts = np.bincount(which, weights=ok, minlength=buckets)
    sums = np.bincount(which, weights=logs * ok, minlength=buckets)
    empty = counts == 0
    mean = np.full(buckets, np.nan)
    np.divide(sums, counts, out=mean, where=~empty)
    low = np.minimum.reduceat(np.where(ok, values, np.inf), edges[:-1]).astype(float)
    high = np.maximum.reduceat(np.where(ok, values, -np.inf), edges[:-1]).astype(float)
    low[empty] = high[empty] = np.nan
    centres = np.add.reduceat(series.steps.astype(float), edges[:-1]) / np.diff(edges)
    return Buckets(centres, np.power(10.0, mean, where=~empty, out=np.full(buckets, np.nan)),
                   low, high)


def loss_per_step(records: Sequence[Record]) -> Series | None:
    pairs = [(r.step, math.nan if r.loss is None else r.loss) for r in records]
    if not pairs or all(r.loss is None for r in records):
        return None
    steps, values = zip(*pairs, strict=True)
    return Series("loss per step", np.array(steps, np.int64), np.array(values, float))


def _param_shapes(records: Sequence[Record]) -> dict[str, list[int]]:
    shapes: dict[str, list[int]] = {}
    for record in records[:50]:  # the doctor writes shapes on a parameter's first observation
        for name, entry in record.role("param"):
            if "shape" in entry:
                shapes.setdefault(name, entry["shape"])
    return shapes


def is_weight(name: str, shape: Sequence[int] | None) -> bool:
    """A weight matrix or kernel, not a bias/scale vector: by shape, else by name (``b1``,
    ``dense1.bias`` are biases) — the doctor's own test (rules/_context.py)."""
    if shape is not None:
        return math.prod(shape) > max(shape, default=1)
    last = name.rsplit(".", 1)[-1].lower()
    return not (last.startswith("b") or "bias" in last or last.startswith("db"))


def _per_tensor(records: Sequence[Record], role: str, value: Any) -> list[Series]:
    shapes = _param_shapes(records)
    found: dict[str, tuple[list[int], list[float]]] = {}
    for record in records:
        for name, entry in record.role(role):
            v = value(record, name, entry)
            if v is None:
                continue
            steps, values = found.setdefault(name, ([], []))
            steps.append(record.step)
            values.append(v)
    return [Series(name, np.array(s, np.int64), np.array(v, float), is_weight(name,
                                                                           shapes.get(name)))
            for name, (s, v) in found.items()]


def grad_norms(records: Sequence[Record]) -> list[Series]:
    """‖grad‖ of every parameter at every step the trace has it, in forward order."""
    return _per_tensor(records, "grad", lambda r, name, entry: entry.get("norm"))


def global_grad_norm(records: Sequence[Record]) -> Series | None:
    """√Σ‖g‖² over every gradient at every step the trace has it: between the doctor's full
    steps (per-parameter norms) the probe's global norm is kept, so this line has every step."""
    pairs = [(r.step, norm) for r in records if (norm := r.global_grad_norm()) is not None]
    if not pairs:
        return None
    steps, values = zip(*pairs, strict=True)
    return Series("global √Σ‖g‖²", np.array(steps, np.int64), np.array(values, float))


def update_ratios(records: Sequence[Record]) -> list[Series]:
    """‖Δw‖ / ‖w‖ of every weight at the steps where the update was measured (every
    stride-th step); biases are left out, as the doctor's rule leaves them out."""
    def ratio(record: Record, name: str, entry: dict[str, Any]) -> float | None:
        param = record.get("param", name)
        if param is None or "norm" not in entry:
            return None
        w, dw = param["norm"], entry["norm"]
        if math.isfinite(w) and w == 0:
            return None
        return dw / w if math.isfinite(w) and math.isfinite(dw) else math.nan

    return [s for s in _per_tensor(records, "update", ratio) if s.weight]


def epoch_points(metrics: dict[str, Any]) -> dict[str, Any] | None:
    """Per-epoch ``train``/``val`` losses with where each sits on the step axis.

    ``train_x``: the middle of its epoch (it is the mean over that epoch's steps); ``val_x``:
    the epoch's end. Without ``history`` steps the x values are epoch numbers
    (``on_steps`` False).
    """
    history = metrics.get("history") or []
    train = _floats(metrics.get("train_loss"))
    val = _floats(metrics.get("val_loss"))
    if not len(train) and not len(val):
        return None
    n = max(len(train), len(val))
    ends = [h.get("step") for h in history if isinstance(h, dict)]
    if len(ends) == n and all(isinstance(e, int | float) for e in ends):
        end = np.array(ends, float)
        start = np.concatenate([[_first_step(end)], end[:-1]])
        return {"on_steps": True, "train_x": ((start + end) / 2 - 0.5)[: len(train)],
                "train": train, "val_x": (end - 1)[: len(val)], "val": val,
                "steps_per_epoch": float(np.median(np.diff(np.concatenate([[0.0], end]))))}
    epochs = np.arange(1, n + 1, dtype=float)
    return {"on_steps": False, "train_x": epochs[: len(train)], "train": train,
            "val_x": epochs[: len(val)], "val": val, "steps_per_epoch": None}


def _first_step(end: np.ndarray) -> float:
    """Where the first recorded epoch started (0, or a resumed run's start guess)."""
    if len(end) >= 2:
        return max(end[0] - (end[1] - end[0]), 0.0)
    return 0.0


def _floats(values: Any) -> np.ndarray:
    if not isinstance(values, list):
        return np.zeros(0)
    return np.array([math.nan if v is None else float(v) for v in values], float)
