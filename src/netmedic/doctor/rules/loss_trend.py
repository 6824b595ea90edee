"""diverging_loss, oscillating_loss, stalled_loss: what the loss curve itself says.

Minibatch losses are noisy (one small batch can be 2–5× the next), so every test compares
medians, never single values, and asks for more than noise: a diverging loss has undone at least
half of the progress made; an oscillating one alternates up/down far more regularly than noise
(which alternates 2/3 of the time) without getting lower; a stalled one has not moved over a long
window while still near where it started. A run converging to a tiny loss with a flat, noisy tail
is none of these: its changes are tiny next to the progress it made.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from netmedic.doctor.finding import Finding
from netmedic.doctor.rules._context import RuleContext
from netmedic.doctor.rules._robust import fmt, median, nice_down

DIVERGE_FACTOR = 2.0  # median of 5 losses at 2× its best median: far beyond median noise
DIVERGE_FACTOR_SINGLE = 10.0  # with < 6 losses, single values: one batch may be 2–5× (issue 4)
DIVERGE_UNDONE = 0.5  # ...and at least half of the progress from the initial loss undone
OSCILLATION_WINDOW = 30  # losses; iid noise alternates ≥90% of 28 pairs with p ≈ 1e-3
OSCILLATION_ALTERNATION = 0.9  # fraction of consecutive changes that flip sign
OSCILLATION_AMPLITUDE = 0.05  # median |Δloss| ≥ 5% of the loss level (not float jitter)
OSCILLATION_LEVEL = 0.1  # only while the loss is above 10% of its initial value
STALL_WINDOW = 100  # losses without progress (a plateau of a few dozen steps is normal)
STALL_PROGRESS = 0.02  # median of the last 20 within 2% of the median of the window's first 20
STALL_LEVEL = 0.7  # ...while still above 70% of the initial loss (or ≥ 90% of ln C)

THRESHOLDS = {
    "diverge_factor": DIVERGE_FACTOR,
    "oscillation_alternation": OSCILLATION_ALTERNATION,
    "stall_window": STALL_WINDOW,
    "stall_progress": STALL_PROGRESS,
}


def _lr_remedy(ctx: RuleContext, record, factor: float) -> tuple[str, dict]:
    lr = ctx.lr_at(record)
    if lr:
        new = nice_down(lr * factor)
        return f"lr {fmt(lr)} → {fmt(new)}", {"action": "set_lr", "lr": new}
    return f"the learning rate ×{fmt(factor)}", {"action": "set_lr", "factor": factor}


def _new_indices(ctx: RuleContext, minimum: int = 1) -> np.ndarray:
    """Indices (into ``ctx.loss_series``) of the losses new since the last evaluation that have
    at least ``minimum`` losses up to them."""
    n, _, _ = ctx.loss_series
    idx = np.flatnonzero(n > ctx.since_n)
    return idx[idx + 1 >= minimum]


def _windows(values: np.ndarray, idx: np.ndarray, size: int) -> np.ndarray:
    """``(len(idx), size)``: the ``size`` values ending at each index."""
    return sliding_window_view(values, size)[idx + 1 - size]


def _record(ctx: RuleContext, n: int):
    return next(r for r in reversed(ctx.records) if r.n == n)


def check_diverging(ctx: RuleContext) -> list[Finding]:
    if ctx.reported("diverging_loss"):
        return []
    n, steps, losses = ctx.loss_series
    idx = _new_indices(ctx, minimum=2)
    if not idx.size:
        return []
    for i in (int(k) for k in idx):
        m = i + 1
        w = 1 if m < 6 else (3 if m < 15 else 5)
        if m >= 5:  # best median of 5 so far, over the whole run
            window = median(losses[i - 4: i + 1].tolist())
            best5 = ctx.memo.get("best5")
            if best5 is None or window < best5[0]:
                ctx.memo["best5"] = (window, int(steps[i]))
        if w == 5:
            current = median(losses[i - 4: i + 1].tolist())
            best, best_step = ctx.memo["best5"]
        else:
            rolling = np.median(sliding_window_view(losses[:m], w), axis=1)
            current, j = float(rolling[-1]), int(np.argmin(rolling))
            best, best_step = float(rolling[j]), int(steps[j + w - 1])
        factor = DIVERGE_FACTOR_SINGLE if w == 1 else ctx.th["diverge_factor"]
        initial = ctx.initial_loss(int(n[i]), w)
        if not math.isfinite(initial):
            initial = median(losses[:w].tolist())
        rise = current - best
        if not (rise > 0 and rise >= (factor - 1) * abs(best)
                and rise >= DIVERGE_UNDONE * (initial - best)):
            continue
        fix_words, remedy = _lr_remedy(ctx, _record(ctx, int(n[i])), 0.1)
        evidence = (f"loss {fmt(current)} at step {int(steps[i])}"
                    + (f" (median of the last {w})" if w > 1 else "")
                    + f", ×{fmt(current / best) if best > 0 else 'n/a'} its best {fmt(best)} "
                    f"(step {best_step}); initial {fmt(initial)}")
        explanation = ("The loss is growing, not shrinking: the updates are making the model "
                       "worse. Usually the steps are too large for the curvature (each one "
                       "overshoots further); if the update/weight ratios are small, suspect the "
                       "gradient itself (see wrong_gradient).")
        fix = f"Lower the learning rate ({fix_words}); clip the gradient norm."
        return [Finding("diverging_loss", "warning", int(steps[i]), "loss", evidence,
                        explanation, fix, remedy)]
    return []


def check_oscillating(ctx: RuleContext) -> list[Finding]:
    if ctx.reported("oscillating_loss"):
        return []
    n, steps, losses = ctx.loss_series
    size = OSCILLATION_WINDOW
    idx = _new_indices(ctx, minimum=size)
    if not idx.size:
        return []
    signs = np.sign(np.diff(losses))
    flips = (signs[1:] * signs[:-1] < 0).astype(float)
    alternation = _windows(flips, idx - 2, size - 2).mean(axis=1)
    keep = alternation >= ctx.th["oscillation_alternation"]
    if not np.any(keep):
        return []
    idx, alternation = idx[keep], alternation[keep]
    windows = _windows(losses, idx, size)
    diff = np.diff(windows, axis=1)
    level = np.median(windows, axis=1)
    with np.errstate(all="ignore"):
        amplitude = np.median(np.abs(diff), axis=1) / np.abs(level)
    half = size // 2
    progress = np.median(windows[:, half:], axis=1) < 0.9 * np.median(windows[:, :half], axis=1)
    candidates = (amplitude >= OSCILLATION_AMPLITUDE) & ~progress
    for k in np.flatnonzero(candidates):
        i = int(idx[k])
        initial = ctx.initial_loss(int(n[i]))
        if math.isfinite(initial) and level[k] < OSCILLATION_LEVEL * initial:
            continue
        fix_words, remedy = _lr_remedy(ctx, _record(ctx, int(n[i])), 0.3)
        evidence = (f"over steps {int(steps[i + 1 - size])}–{int(steps[i])} the loss changed "
                    f"direction {alternation[k]:.0%} of the time (noise: ~67%), by "
                    f"{amplitude[k]:.0%} of its level ({fmt(float(level[k]))}), without getting "
                    "lower")
        explanation = ("The loss zig-zags: each step jumps across the valley instead of down "
                       "into it, which happens when the learning rate is just above what the "
                       "steepest direction tolerates.")
        fix = f"Lower the learning rate ({fix_words}), or add momentum with a lower rate."
        return [Finding("oscillating_loss", "warning", int(steps[i]), "loss", evidence,
                        explanation, fix, remedy)]
    return []


def check_stalled(ctx: RuleContext) -> list[Finding]:
    if ctx.reported("stalled_loss"):
        return []
    n, steps, losses = ctx.loss_series
    size = int(ctx.th["stall_window"])
    part = max(size // 5, 1)
    idx = _new_indices(ctx, minimum=size)
    if not idx.size:
        return []
    windows = _windows(losses, idx, size)
    early, late = np.median(windows[:, :part], axis=1), np.median(windows[:, -part:], axis=1)
    with np.errstate(all="ignore"):
        progress = np.where(early != 0, (early - late) / np.abs(early), 0.0)
    chance = math.log(ctx.classes) if ctx.classes and ctx.classes > 1 else None
    for k in np.flatnonzero(progress < ctx.th["stall_progress"]):
        i = int(idx[k])
        initial = ctx.initial_loss(int(n[i]))
        high = (math.isfinite(initial) and late[k] >= STALL_LEVEL * initial) or (
            chance is not None and late[k] >= 0.9 * chance)
        if not high:
            continue
        record = _record(ctx, int(n[i]))
        ratios, _ = ctx.update_ratios(record)
        if not ratios:
            recent = ctx.tail(record, 1, lambda r: bool(ctx.update_ratios(r)[0]))
            ratios = ctx.update_ratios(recent[0])[0] if recent else {}
        ratio = median(ratios.values()) if ratios else None
        evidence = (f"loss {fmt(float(late[k]))} at step {int(steps[i])} vs "
                    f"{fmt(float(early[k]))} at step {int(steps[i + 1 - size])} "
                    f"({float(progress[k]):+.1%} progress over {size} steps); initial "
                    f"{fmt(initial)}" + (f", ln {ctx.classes} = {fmt(chance)}" if chance else ""))
        explanation = ("The loss has stopped moving while still near where it started: the model "
                       "is not learning.")
        if ratio is not None and ratio < 1e-4:
            fix_words, remedy = _lr_remedy(ctx, record, 10.0)
            explanation += f" The weights move only {fmt(ratio)} of their norm per step."
            fix = f"Raise the learning rate ({fix_words})."
        else:
            remedy = None
            fix = ("Look at the other findings: dead ReLUs, saturated units, wrong labels or a "
                   "wrong gradient each stop learning this way.")
        return [Finding("stalled_loss", "warning", int(steps[i]), "loss", evidence, explanation,
                        fix, remedy)]
    return []
