"""wrong_gradient: the loss moves against what the gradients say — from the dynamics alone.

The doctor sees the parameters before every update, so it knows the step Δw actually taken and,
with the gradients g at both ends of it, predicts the loss change to first order:
p = ½(⟨g_{t−1}, Δw⟩ + ⟨g_t, Δw⟩) (the trapezoid rule, exact for a quadratic loss, so it stays
right even for large steps: an overshooting step has ⟨g_t, Δw⟩ > 0 and p > 0). If p < 0 on most
steps (the gradients promise descent) while the loss keeps rising over the same steps, the
gradients are not the loss's gradients: a sign error, or a loss that is not the one
differentiated. Minibatch noise: each loss is on a different batch, so we ask for a consistent
sign over a window of steps and a rising trend of the losses (Kendall: ≥ 70% of pairs rising,
noise gives 50%, and 3 of noise's standard deviations above it, which a short window only
passes when the loss rises nearly every step), and update/weight ratios below
``update_ratio_high`` (large steps are lr_too_high's business). If the step goes *uphill* by
the gradient from its very start (⟨g_{t−1}, Δw⟩ > 0) and the loss rises, the update rule adds
the gradient instead.
"""

from __future__ import annotations

import math

from netmedic.doctor.finding import Finding
from netmedic.doctor.rules._context import RuleContext
from netmedic.doctor.rules._robust import fmt, median, share, slope, up_fraction, up_fraction_sd
from netmedic.doctor.rules._series import row_median
from netmedic.doctor.rules.lr import UPDATE_RATIO_HIGH

WRONG_GRADIENT_WINDOW = 8  # steps with a measured Δw (full steps) judged together
WRONG_GRADIENT_MIN_SAMPLES = 8  # fewer measured steps decide nothing (9+ losses for the trend)
WRONG_GRADIENT_MAGNITUDE = 10.0  # a rise more than ×10 the predicted change is not the steps'
#   doing (minibatch noise around tiny steps); a smaller one still contradicts the prediction
WRONG_GRADIENT_AGREEMENT = 0.8  # share of those steps where the gradients promised descent
WRONG_GRADIENT_RISING = 0.7  # Kendall share of rising loss pairs (noise: 0.5 ± 0.05 for 50)
WRONG_GRADIENT_Z = 3.0  # ...and 3 noise standard deviations above 0.5, so a short window needs
#   a nearly steady rise (9 losses: ≥ 0.9; a sign bug rises steadily); p ≈ 0.1% per window

THRESHOLDS = {"wrong_gradient_agreement": WRONG_GRADIENT_AGREEMENT,
              "wrong_gradient_rising": WRONG_GRADIENT_RISING}


def check(ctx: RuleContext) -> list[Finding]:
    if ctx.reported("wrong_gradient"):
        return []
    for record in ctx.new:
        samples = ctx.step_samples(record, WRONG_GRADIENT_WINDOW)
        if len(samples) < WRONG_GRADIENT_MIN_SAMPLES or samples[-1]["step"] != record.step:
            continue
        predicted = [s["p"] for s in samples]
        descent = share(p < 0 for p in predicted)
        starts = [s["p_start"] for s in samples if math.isfinite(s["p_start"])]
        uphill = share(p > 0 for p in starts) if len(starts) == len(samples) else 0.0
        agree = ctx.th["wrong_gradient_agreement"]
        if descent < agree and uphill < agree:
            continue
        ratio = median(s["ratio"] for s in samples)
        if math.isfinite(ratio) and ratio >= ctx.th.get("update_ratio_high", UPDATE_RATIO_HIGH):
            continue
        ns, steps, losses = ctx.loss_series
        first = samples[0]["step"]
        keep = (steps >= first - 1) & (ns <= record.n)
        window = losses[keep]
        third = len(window) // 3
        if third < 2 or row_median(window[None, -third:])[0] <= row_median(window[None, :third])[0]:
            continue  # not even the medians rise: no need for the full trend test
        rising = up_fraction(window)
        needed = max(ctx.th["wrong_gradient_rising"],
                     0.5 + WRONG_GRADIENT_Z * up_fraction_sd(len(window)))
        if not rising >= needed:
            continue
        per_step = slope(steps[keep], window)  # O(n²): only for a series that does rise
        if not per_step > 0:
            continue
        expected = abs(median(predicted if descent >= agree else starts))
        if per_step > expected * WRONG_GRADIENT_MAGNITUDE:
            continue
        if descent >= agree:
            return [_finding(record, first, per_step, median(predicted), rising,
                             descent, ratio, sign="gradient")]
        return [_finding(record, first, per_step, median(starts), rising, uphill, ratio,
                         sign="update")]
    return []


def _finding(record, first, per_step, predicted, rising, share, ratio, sign) -> Finding:
    evidence = (f"steps {first}–{record.step}: the loss rose {fmt(per_step)} per step "
                f"({rising:.0%} of step pairs rising) while the gradients predicted "
                f"{fmt(predicted)} per step (⟨g, Δw⟩ {'< 0' if sign == 'gradient' else '> 0'} on "
                f"{share:.0%} of the measured steps); update/weight ratio {fmt(ratio)}, small "
                "enough for the first-order prediction to hold")
    if sign == "gradient":
        explanation = ("The steps go where your gradients say the loss decreases, yet the loss "
                       "increases: the gradients are not the gradients of this loss. Typical "
                       "causes: a flipped sign (y - p instead of p - y), a derivative of the wrong "
                       "function (e.g. the softmax treated like a sigmoid), or a loss printed that "
                       "is not the one differentiated. A smaller learning rate would not fix it.")
        fix = ("Check the backward pass: netmedic gradcheck FILE.py (FILE defines params0, loss, "
               "grads) compares each parameter's gradient with numerical derivatives and names the "
               "wrong one and its pattern (sign flipped, scaled, transposed).")
        return Finding("wrong_gradient", "error", record.step, "gradients", evidence,
                       explanation, fix, {"action": "fix_gradient"})
    explanation = ("Each step moves the weights *along* the gradient, uphill: the update rule adds "
                   "the gradient (w + lr·g) where it should subtract it, or the learning rate is "
                   "negative.")
    fix = "Update with w = w - lr * grad (and a positive lr)."
    return Finding("wrong_gradient", "error", record.step, "update", evidence, explanation, fix,
                   {"action": "fix_gradient", "where": "update"})
