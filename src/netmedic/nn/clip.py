"""Gradient clipping, in place: by global L2 norm (PyTorch's ``clip_grad_norm_``) and by value."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def global_norm(grads: Iterable[np.ndarray]) -> float:
    """``sqrt(Σ ‖g‖²)`` over all gradients, accumulated in float64 (inf or nan if any is)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return float(np.sqrt(sum(float(np.dot(g.ravel(), g.ravel())) for g in grads)))


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
