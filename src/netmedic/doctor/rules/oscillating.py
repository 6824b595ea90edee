"""oscillating_loss: the loss zig-zags, up and down in turn, without getting lower.

Noise alone changes direction 2/3 of the time; a step size just above what the steepest
direction tolerates makes the loss alternate almost every step, and splits it into two
interleaved levels (every other loss is the higher one). Both must show over a window of
``OSCILLATION_WINDOW`` losses (iid noise alternates ≥ 90% of 28 pairs with p ≈ 1e-3, and
separates its even and odd steps ≥ 80% with p < 1e-3), with a visible amplitude, no progress,
and the loss still above a tenth of its initial value (a converged tail's jitter is not it).
"""

from __future__ import annotations

import math

import numpy as np

from netmedic.doctor.finding import Finding
from netmedic.doctor.rules._context import RuleContext
from netmedic.doctor.rules._robust import fmt
from netmedic.doctor.rules._series import lr_remedy, new_indices, record_at, row_median, windows

OSCILLATION_WINDOW = 30  # losses judged together
OSCILLATION_ALTERNATION = 0.9  # share of consecutive changes that flip direction
OSCILLATION_SEPARATION = 0.8  # share of (even, odd) step pairs on the same side
OSCILLATION_AMPLITUDE = 0.05  # median |Δloss| ≥ 5% of the loss level (not float jitter)
OSCILLATION_LEVEL = 0.1  # only while the loss is above 10% of its initial value

THRESHOLDS = {"oscillation_alternation": OSCILLATION_ALTERNATION}


def check(ctx: RuleContext) -> list[Finding]:
    if ctx.reported("oscillating_loss"):
        return []
    n, steps, losses = ctx.loss_series
    size = OSCILLATION_WINDOW
    idx = new_indices(ctx, minimum=size)
    if not idx.size:
        return []
    start = int(idx.min()) + 1 - size  # only the losses the new windows cover
    if _steady(losses[start: int(idx.max()) + 1].tolist(), size, ctx.th["oscillation_alternation"]):
        return []
    signs = np.sign(np.diff(losses[start: int(idx.max()) + 1]))
    flips = (signs[1:] * signs[:-1] < 0).astype(float)
    alternation = windows(flips, idx - start - 2, size - 2).mean(axis=1)
    keep = alternation >= ctx.th["oscillation_alternation"]
    if not np.any(keep):
        return []
    idx, alternation = idx[keep], alternation[keep]
    rows = windows(losses, idx, size)
    level = row_median(rows)
    with np.errstate(all="ignore"):
        amplitude = row_median(np.abs(np.diff(rows, axis=1))) / np.abs(level)
    half = size // 2
    progress = row_median(rows[:, half:]) < 0.9 * row_median(rows[:, :half])
    for k in np.flatnonzero((amplitude >= OSCILLATION_AMPLITUDE) & ~progress).tolist():
        i = int(idx[k])
        even, odd = rows[k, 0::2], rows[k, 1::2]
        separation = float(np.mean(even[:, None] > odd[None, :]))
        if max(separation, 1 - separation) < OSCILLATION_SEPARATION:
            continue
        initial = ctx.initial_loss(int(n[i]))
        if math.isfinite(initial) and level[k] < OSCILLATION_LEVEL * initial:
            continue
        fix_words, remedy = lr_remedy(ctx, record_at(ctx, int(n[i])), 0.3)
        evidence = (f"over steps {int(steps[i + 1 - size])}–{int(steps[i])} the loss changed "
                    f"direction {alternation[k]:.0%} of the time (noise: ~67%), by "
                    f"{amplitude[k]:.0%} of its level {fmt(float(level[k]))}, every other step "
                    "on the high side, without getting lower")
        explanation = ("The loss zig-zags: each step jumps across the valley instead of down "
                       "into it, which happens when the learning rate is just above what the "
                       "steepest direction tolerates.")
        fix = f"Lower the learning rate ({fix_words})."
        return [Finding("oscillating_loss", "warning", int(steps[i]), "loss", evidence,
                        explanation, fix, remedy)]
    return []


def _steady(values: list[float], size: int, alternation: float) -> bool:
    """The usual case, in plain Python: no window of ``size`` losses ending at a new one flips
    direction on ``alternation`` of its consecutive changes (the test below, exactly)."""
    signs = [(b > a) - (b < a) for a, b in zip(values, values[1:], strict=False)]
    flips = [s * t < 0 for s, t in zip(signs, signs[1:], strict=False)]
    pairs = size - 2
    count = sum(flips[:pairs])
    if count / pairs >= alternation:
        return False
    for k in range(pairs, len(flips)):
        count += flips[k] - flips[k - pairs]
        if count / pairs >= alternation:
            return False
    return True
