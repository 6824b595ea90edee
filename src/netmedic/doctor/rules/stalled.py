"""stalled_loss: over a long window the loss has not improved, while still near its start.

The medians of the first and last fifth of ``stall_window`` losses are compared; stalled when
even the optimistic reading (the measured progress plus 2 standard errors of the series' noise)
is below ``stall_progress``, and the loss is still ≥ 70% of its initial value or at chance level
(≥ 90% of ln C). A network at 1e-4 with a flat tail is converged, not stalled; a noisy batch-of-1
run that is slowly learning is not called stalled on noise.
"""

from __future__ import annotations

import math

import numpy as np

from netmedic.doctor.finding import Finding
from netmedic.doctor.history import FIRST_KEEP
from netmedic.doctor.rules._context import RuleContext
from netmedic.doctor.rules._robust import fmt, median
from netmedic.doctor.rules._series import (
    MEDIAN_SE,
    lr_remedy,
    new_indices,
    noise,
    record_at,
    row_median,
    windows,
)

STALL_WINDOW = 100  # losses without progress (a plateau of a few dozen steps is normal)
STALL_PROGRESS = 0.05  # less than 5% improvement over the window, even counting the noise
STALL_LEVEL = 0.7  # while still above 70% of the initial loss (or ≥ 90% of ln C)
LR_LOW_HINT = 1e-4  # update/weight ratio below which the fix is "raise the LR"

THRESHOLDS = {"stall_window": STALL_WINDOW, "stall_progress": STALL_PROGRESS}
#: findings that already explain a stalled loss (their fix is the fix)
CAUSES = ("dead_relu", "saturated_activation", "vanishing_gradients", "lr_too_low", "lr_too_high",
          "wrong_gradient", "label_error", "unscaled_input")


def check(ctx: RuleContext) -> list[Finding]:
    if ctx.reported("stalled_loss"):
        return []
    n, steps, losses = ctx.loss_series
    size = int(ctx.th["stall_window"])
    part = max(size // 5, 1)
    idx = new_indices(ctx, minimum=size)
    if not idx.size:
        return []
    chance = math.log(ctx.classes) if ctx.classes and ctx.classes > 1 else None
    if _surely_low(ctx, n, losses, idx, part, chance):
        return []
    rows = windows(losses, idx, size)
    early, late = row_median(rows[:, :part]), row_median(rows[:, -part:])
    with np.errstate(all="ignore"):
        if np.all(rows > 0):
            progress = np.log(early / late)  # log space, like the noise
        else:
            progress = np.where(early != 0, (early - late) / np.abs(early), 0.0)
    se = MEDIAN_SE * noise(losses, idx) * math.sqrt(2 / part)
    flat = (progress + 2 * se < ctx.th["stall_progress"]) & ~(late > 2 * early)
    for k in np.flatnonzero(flat).tolist():
        i = int(idx[k])
        initial = _initial(ctx, int(n[i]))
        high = (math.isfinite(initial) and late[k] >= STALL_LEVEL * initial) or (
            chance is not None and late[k] >= 0.9 * chance)
        if not high:
            continue
        record = record_at(ctx, int(n[i]))
        measured = ctx.tail(record, 1, lambda r: bool(ctx.update_ratios(r)[0]))
        ratios = ctx.update_ratios(measured[0])[0] if measured else {}
        ratio = median(ratios.values()) if ratios else None
        causes = [k for k in CAUSES if ctx.reported(k)]
        evidence = (f"loss {fmt(float(late[k]))} at step {int(steps[i])} vs "
                    f"{fmt(float(early[k]))} at step {int(steps[i + 1 - size])} "
                    f"({float(progress[k]):+.1%} over {size} steps); initial {fmt(initial)}"
                    + (f", chance level ln {ctx.classes} = {fmt(chance)}" if chance else ""))
        explanation = ("The loss has stopped moving while still near where it started: the model "
                       "is not learning.")
        if causes:
            remedy = None
            fix = f"See {', '.join(causes)}: {'that is' if len(causes) == 1 else 'those are'} why."
        elif ratio == 0:
            remedy = None
            fix = ("The weights do not move at all: their gradients are exactly zero (dead units, "
                   "or a gradient that is not connected to the loss).")
        elif ratio is not None and ratio < LR_LOW_HINT:
            fix_words, remedy = lr_remedy(ctx, record, 10.0)
            explanation += f" The weights move only {fmt(ratio)} of their norm per step."
            fix = f"Raise the learning rate ({fix_words})."
        else:
            remedy = None
            fix = ("Look at the other findings: dead ReLUs, saturated units, wrong labels or a "
                   "wrong gradient each stop learning this way.")
        return [Finding("stalled_loss", "warning", int(steps[i]), "loss", evidence, explanation,
                        fix, remedy)]
    return []


def _initial(ctx: RuleContext, upto_n: int) -> float:
    # where it started: the first loss, or the median of the first 5 if higher (a lucky first
    # batch must not make a run that learned fast look stalled)
    return max(ctx.initial_loss(upto_n, 1), ctx.initial_loss(upto_n))


def _surely_low(ctx: RuleContext, n, losses, idx, part: int, chance: float | None) -> bool:
    """The cheap pre-test of the usual case: every new window's late median (at most the
    largest of its last ``part`` losses) is below the level a stall must still be at."""
    if int(n[idx[0]]) < FIRST_KEEP:
        return False  # the initial loss seen from these steps may still change
    initial = _initial(ctx, int(n[idx[0]]))
    levels = [STALL_LEVEL * initial if math.isfinite(initial) else math.inf,
              0.9 * chance if chance is not None else math.inf]
    return float(np.max(losses[int(idx[0]) - part + 1: int(idx[-1]) + 1])) < min(levels)
