"""Gradient clipping, in place: by global L2 norm (PyTorch's ``clip_grad_norm_``) and by value."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np


def global_norm(grads: Iterable[np.ndarray]) -> float:
    """``sqrt(Σ ‖g‖²)`` over all gradients (inf or nan if any element is).

    One BLAS dot per array in its own precision; a float32 sum of squares that overflows while
    every element is finite (‖g‖ > ~1.8e19) is redone in float64, so the norm stays exact."""
    total = 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        for grad in grads:
            flat = grad.ravel()
            square = float(np.dot(flat, flat))
            if square == math.inf and np.isfinite(flat).all():
                wide = flat.astype(np.float64)
                square = float(np.dot(wide, wide))
            total += square
    return math.sqrt(total) if total == total else math.nan


def clip_grad_norm(grads: Iterable[np.ndarray], max_norm: float) -> float:
    """Scale every gradient by ``max_norm / (norm + 1e-6)`` when the global norm exceeds
    ``max_norm``; return the norm before clipping. A non-finite norm is left alone (the guard
    skips such steps; scaling by 0 would hide them)."""
    grads = list(grads)
    norm = global_norm(grads)
    coef = max_norm / (norm + 1e-6)
    if np.isfinite(norm) and coef < 1.0:
        for grad in grads:
            grad *= coef
    return norm


def clip_grad_value(grads: Iterable[np.ndarray], limit: float) -> None:
    """Clamp every gradient element into ``[-limit, limit]``."""
    for grad in grads:
        np.clip(grad, -limit, limit, out=grad)
