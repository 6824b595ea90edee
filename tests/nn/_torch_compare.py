"""Shared helpers for parity tests against PyTorch autograd in float64."""

from __future__ import annotations

import numpy as np
import torch


def rel_error(mine: np.ndarray, theirs: np.ndarray) -> float:
    """max |a - b| / max(|a|, |b|, 1e-12): relative to the tensor's scale, with a floor."""
    mine, theirs = np.asarray(mine, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
    scale = max(np.abs(mine).max(initial=0.0), np.abs(theirs).max(initial=0.0), 1e-12)
    return float(np.abs(mine - theirs).max(initial=0.0) / scale)


def assert_close(mine: np.ndarray, theirs, what: str, tol: float = 1e-10) -> None:
    if isinstance(theirs, torch.Tensor):
        theirs = theirs.detach().numpy()
    assert np.shape(mine) == np.shape(theirs), (
        f"{what}: shape netmedic {np.shape(mine)} vs torch {np.shape(theirs)}"
    )
    err = rel_error(mine, theirs)
    assert err <= tol, f"{what}: rel error {err:.3e} > {tol:g}\nnetmedic {mine}\ntorch    {theirs}"


def numerical_grad(f, x: np.ndarray, dout: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central differences of ``sum(f(x) * dout)`` with respect to ``x`` (CS231n style)."""
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        plus = np.sum(f(x) * dout)
        x[i] = old - h
        minus = np.sum(f(x) * dout)
        x[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad
