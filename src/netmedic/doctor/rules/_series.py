"""Loss-series helpers shared by the loss rules: windows, row medians, noise, LR remedies.

Minibatch losses are noisy (one small batch can be 2–5× the next; with a batch of 1, far more),
so the loss rules compare medians and scale every margin by the series' own noise: ``noise``
is the robust standard deviation of log L from step to step, 1.4826 · median|Δ log L| / √2 (a
MAD, so a spike does not inflate it; for losses that can be ≤ 0, of the relative change).
"""

from __future__ import annotations

import numpy as np

from netmedic.doctor.rules._context import RuleContext
from netmedic.doctor.rules._robust import fmt, nice

NOISE_WINDOW = 30  # losses used to estimate the noise at each step
MEDIAN_SE = 1.2533  # the standard error of a median is ~1.25 σ/√n (normal noise)


def new_indices(ctx: RuleContext, minimum: int = 1) -> np.ndarray:
    """Indices into ``ctx.loss_series`` of the losses new since the last evaluation that have at
    least ``minimum`` losses up to and including them."""
    n, _, _ = ctx.loss_series
    start = max(int(np.searchsorted(n, ctx.since_n, side="right")), minimum - 1)
    return np.arange(start, len(n))  # n is increasing: the new ones are a suffix


def windows(values: np.ndarray, idx: np.ndarray, size: int) -> np.ndarray:
    """``(len(idx), size)``: the ``size`` values ending at each index."""
    return values[idx[:, None] + np.arange(1 - size, 1)]


def row_median(rows: np.ndarray) -> np.ndarray:
    """Median of each row (np.median costs ~15 µs a call; a sort of these rows ~2 µs)."""
    ordered = np.sort(rows, axis=1)
    mid = rows.shape[1] // 2
    return ordered[:, mid] if rows.shape[1] % 2 else 0.5 * (ordered[:, mid - 1] + ordered[:, mid])


def noise(losses: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Relative noise σ of the loss at each index, from up to NOISE_WINDOW losses before it."""
    if not idx.size:
        return np.zeros(0)
    start = max(int(idx.min()) - NOISE_WINDOW + 1, 0)
    region = losses[start: int(idx.max()) + 1]
    with np.errstate(all="ignore"):
        if np.all(region > 0):
            change = np.abs(np.diff(np.log(region)))
        else:
            scale = 0.5 * (np.abs(region[1:]) + np.abs(region[:-1]))
            change = np.where(scale > 0, np.abs(np.diff(region)) / scale, 0.0)
    local = idx - start  # change[j] is the change from loss j to j + 1 of the region
    out = np.zeros(len(idx))
    full = local >= NOISE_WINDOW - 1
    if np.any(full):
        rows = windows(change, local[full] - 1, NOISE_WINDOW - 1)
        out[full] = 1.4826 * np.sort(rows, axis=1)[:, (NOISE_WINDOW - 1) // 2] / np.sqrt(2.0)
    for k in np.flatnonzero(~full).tolist():  # the first steps: fewer changes to go on
        recent = change[: local[k]]
        if recent.size >= 2:
            out[k] = 1.4826 * float(np.sort(recent)[recent.size // 2]) / np.sqrt(2.0)
    return out


def record_at(ctx: RuleContext, n: int):
    return next(r for r in reversed(ctx.records) if r.n == n)


def lr_remedy(ctx: RuleContext, record, factor: float | None = None) -> tuple[str, dict]:
    """``("lr 0.5 → 0.05", {"action": "set_lr", "lr": 0.05})``; with no ``factor``, the LR that
    every finding suggests (:meth:`RuleContext.suggested_lr`). A factor when lr is unknown."""
    lr = ctx.lr_at(record)
    if factor is None:
        new, factor = ctx.suggested_lr(record)
        lr = ctx.memo["suggested_lr"][2] or lr  # the LR the suggestion was made from
    else:
        new = nice(lr * factor) if lr else None
    if lr and new:
        return f"lr {fmt(lr)} → {fmt(new)}", {"action": "set_lr", "lr": new}
    return f"the learning rate ×{fmt(factor)}", {"action": "set_lr", "factor": factor}
