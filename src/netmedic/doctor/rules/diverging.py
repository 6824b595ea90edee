"""diverging_loss: the loss has grown well past its best, undoing the progress made.

A median of 5 (3, then 1, in the first steps) is compared with the best such median so far;
diverging when it is ``diverge_factor``× the best *times* a margin of 3 standard errors of the
series' own noise in log space (so a batch-of-1 run, whose losses jump 100×, needs a far larger
rise than a batch-of-128 run), and at least half of the progress from the initial loss has been
undone (a run converged to 1e-4 whose tail jitters ×3 is not diverging).
"""

from __future__ import annotations

import math

import numpy as np

from netmedic.doctor.finding import Finding
from netmedic.doctor.rules._context import RuleContext
from netmedic.doctor.rules._robust import fmt
from netmedic.doctor.rules._series import (
    MEDIAN_SE,
    lr_remedy,
    new_indices,
    noise,
    record_at,
    row_median,
    windows,
)

DIVERGE_FACTOR = 2.0  # median loss at 2× its best median (plus the noise margin)
DIVERGE_FACTOR_SINGLE = 10.0  # first 5 steps, single values: one batch may be 2–5× (issue 4)
DIVERGE_UNDONE = 0.5  # and at least half of the progress from the initial loss undone
DIVERGE_NOISE_Z = 3.0  # margin: 3 standard errors of the difference of two medians

THRESHOLDS = {"diverge_factor": DIVERGE_FACTOR}


def check(ctx: RuleContext) -> list[Finding]:
    if ctx.reported("diverging_loss"):
        return []
    n, steps, losses = ctx.loss_series
    idx = new_indices(ctx, minimum=2)
    if not idx.size:
        return []
    fives = idx[idx >= 4]
    medians5 = row_median(windows(losses, fives, 5)) if fives.size else np.zeros(0)
    before = ctx.memo.get("best5", (math.inf, -1))  # best median of 5 so far, whole run
    best5 = np.minimum.accumulate(np.concatenate([[before[0]], medians5]))[1:]
    if fives.size and medians5.min() < before[0]:
        k = int(np.argmin(medians5))
        ctx.memo["best5"] = (float(medians5[k]), int(steps[fives[k]]))
    # from the 15th loss on, a cheap vectorized pre-test of two necessary conditions: at least
    # `factor`× the best median, and half the progress from the initial loss undone
    with np.errstate(all="ignore"):
        risen = medians5 >= ctx.th["diverge_factor"] * best5
        if idx[0] >= 14:  # medians of 5 everywhere: one initial loss for all of them
            initial = ctx.initial_loss(int(n[idx[0]]), 5)
            risen &= ~(medians5 - best5 < DIVERGE_UNDONE * (initial - best5))
    if idx[0] >= 14 and not risen.any():
        return []  # the usual case, settled by the pre-test alone
    bests = {int(i): (float(m), float(b)) for i, m, b, r in
             zip(fives, medians5, best5, risen, strict=True) if r or i < 14}
    idx = idx[(idx < 14) | np.isin(idx, list(bests))]
    if not idx.size:
        return []
    sigma = dict(zip(idx.tolist(), noise(losses, idx).tolist(), strict=True))
    for i in idx.tolist():
        m = i + 1
        w = 1 if m < 6 else (3 if m < 15 else 5)
        if w == 5:
            current, best = bests[i]
        else:
            rolling = row_median(windows(losses, np.arange(w - 1, m), w))
            j = int(np.argmin(rolling))
            current, best, best_step = float(rolling[-1]), float(rolling[j]), int(steps[j + w - 1])

        factor = DIVERGE_FACTOR_SINGLE if w == 1 else ctx.th["diverge_factor"]
        margin = 0.0 if w == 1 else DIVERGE_NOISE_Z * MEDIAN_SE * sigma[i] * math.sqrt(2 / w)
        initial = ctx.initial_loss(int(n[i]), w)
        rise = current - best
        if best > 0:
            grown = math.log(current / best) >= math.log(factor) + margin if current > 0 else False
        else:
            grown = rise >= (factor - 1 + margin) * abs(best)
        if not (rise > 0 and grown and not rise < DIVERGE_UNDONE * (initial - best)):
            continue
        if w == 5:
            best_step = _best_step(before, fives, medians5, steps, i)
        fix_words, remedy = lr_remedy(ctx, record_at(ctx, int(n[i])))
        evidence = (f"loss {fmt(current)} at step {int(steps[i])}"
                    + (f" (median of the last {w})" if w > 1 else "")
                    + f", ×{fmt(current / best) if best > 0 else 'n/a'} its best {fmt(best)} "
                    f"(step {best_step}); initial {fmt(initial)}")
        explanation = ("The loss is growing, not shrinking: the updates are making the model "
                       "worse. Usually the steps are too large for the curvature, each one "
                       "overshooting further; if the update/weight ratios are small, suspect the "
                       "gradient itself (see wrong_gradient).")
        fix = f"Lower the learning rate ({fix_words}); clip the gradient norm."
        return [Finding("diverging_loss", "warning", int(steps[i]), "loss", evidence,
                        explanation, fix, remedy)]
    return []


def _best_step(before, fives, medians5, steps, i) -> int:
    upto = [(before[0], before[1])] + [
        (float(v), int(steps[j])) for v, j in zip(medians5, fives, strict=True) if j <= i]
    return min(upto)[1]
