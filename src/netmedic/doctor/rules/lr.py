"""lr_too_high, lr_too_low: the size of the steps actually taken, relative to the weights.

CS231n: a healthy update/weight ratio ‖Δw‖/‖w‖ is about 1e-3 per step. DeepDiagnosis (ICSE
2022) flags an effective learning rate outside 1e-3 ×/÷ 100. Measured on the step actually taken
(Δw = w_t − w_{t−1}), this works for SGD, momentum and Adam alike. We take the median over the
weight matrices (a zero-initialized last layer moves by ~100% of itself on its first steps and
must not decide alone), over three measured steps, and ask for harm before calling a large ratio
too high: the loss is not improving (a small init grows by large ratios while the loss falls
fast: fine), or the loss diverges, oscillates, or ReLUs die.
"""

from __future__ import annotations

import math

from netmedic.doctor.finding import Finding
from netmedic.doctor.rules._context import RuleContext
from netmedic.doctor.rules._robust import fmt, median, nice, share, up_fraction
from netmedic.doctor.rules._series import lr_remedy

UPDATE_RATIO_HIGH = 0.1  # DeepDiagnosis: 1e-3 × 100
UPDATE_RATIO_LOW = 1e-5  # DeepDiagnosis: 1e-3 ÷ 100
UPDATE_RATIO_LOW_FASTEST = 1e-4  # ...and even the fastest layer 10× below CS231n's 1e-3
UPDATE_RATIO_TARGET = 1e-2  # a suggested LR aims here: 10× the CS231n ideal, safe for Adam too
LR_HIGH_NO_PROGRESS = 0.8  # "not improving": median loss still ≥ 80% of the initial loss
LR_LOW_MIN_SAMPLES = 5  # measurements of the ratio before calling the LR too low
LR_LOW_LEVEL = 0.5  # ...while the loss is above half its initial value (not converged)
OVERSHOOT_AGREEMENT = 0.6  # share of steps whose end gradient points back (⟨g_t, Δw⟩ > 0)

THRESHOLDS = {"update_ratio_high": UPDATE_RATIO_HIGH, "update_ratio_low": UPDATE_RATIO_LOW}


def _ratio_history(ctx: RuleContext, upto, count: int) -> list[tuple[object, dict, bool]]:
    """``(record, ratios, estimated)`` for the last ``count`` records with update ratios."""
    records = ctx.tail(upto, count, lambda r: bool(ctx.update_ratios(r)[0]))
    return [(r, *ctx.update_ratios(r)) for r in records]


def _median_ratio(record, ratios: dict[str, float]) -> float:
    """Median update/weight ratio over the weights of ``record`` (kept with the record: each
    record sits in several windows)."""
    value = record.cache.get("median_ratio")
    if value is None:
        value = record.cache["median_ratio"] = median(ratios.values())
    return value


def check_high(ctx: RuleContext) -> list[Finding]:
    if ctx.reported("lr_too_high") or ctx.reported("wrong_gradient"):
        return []  # after a wrong gradient, large steps are its consequence, not the LR's fault
    for record in ctx.new:
        tail = _ratio_history(ctx, record, 3)
        if len(tail) < 3 or tail[-1][0] is not record:
            continue  # three measured steps: one large first step is not a pattern
        level = median([_median_ratio(rec, r) for rec, r, _ in tail])
        initial = ctx.initial_loss(record.n, 1)  # the very first loss
        current = ctx.recent_loss(record.n) if record.loss_finite else math.nan
        stuck = not math.isfinite(current) or (math.isfinite(initial)
                                                and current >= LR_HIGH_NO_PROGRESS * initial)
        harm = [k for k in ("diverging_loss", "oscillating_loss", "dead_relu") if ctx.reported(k)]
        high = level >= ctx.th["update_ratio_high"] and (stuck or harm)
        overshoot = _overshoot(ctx, record)
        if not (high or overshoot):
            continue
        ratios = tail[-1][1]
        worst = max(ratios, key=ratios.get)
        words, remedy = lr_remedy(ctx, record)
        estimated = " (estimated as lr·‖g‖/‖w‖, plain SGD)" if tail[-1][2] else ""
        evidence = (f"update/weight ratio ‖Δw‖/‖w‖ = {fmt(ratios[worst])} for {worst} at step "
                    f"{record.step}{estimated}, median over layers {fmt(level)} (healthy ≈ 1e-3)")
        if overshoot and not high:
            evidence += ("; the loss rises while the gradient after each step points back: "
                         + overshoot)
        elif stuck and math.isfinite(current):
            evidence += (f"; loss {fmt(current)} (median of the last 3) vs {fmt(initial)} at the "
                         "first step")
        if harm:
            evidence += f"; also seen: {', '.join(harm)}"
        explanation = ("Each step changes the weights by a large fraction of their size, far past "
                       "the region where the gradient is a good guide: the loss jumps instead of "
                       "descending, ReLUs get knocked dead and the weights can blow up.")
        fix = (words if words.startswith("lr ") else "Lower " + words) + \
            " (aims at an update/weight ratio of ~1e-2)."
        return [Finding("lr_too_high", "warning", record.step, ctx.layer(worst), evidence,
                        explanation, fix, remedy)]
    return []


def _overshoot(ctx: RuleContext, record) -> str:
    """Steps that overshoot: loss rising, gradient at the new point opposing the step."""
    samples = ctx.step_samples(record, 8)
    if len(samples) < 5 or samples[-1]["step"] != record.step:
        return ""
    back = share(s["p_end"] > 0 for s in samples)
    ratio = median(s["ratio"] for s in samples)
    if back < OVERSHOOT_AGREEMENT or not ratio >= UPDATE_RATIO_TARGET:
        return ""
    first = samples[0]["step"]
    ns, steps, losses = ctx.loss_series
    window = losses[(steps >= first - 1) & (ns <= record.n)]
    rising = up_fraction(window) if window.size >= 6 else math.nan
    if back >= OVERSHOOT_AGREEMENT and rising >= 0.7 and ratio >= UPDATE_RATIO_TARGET:
        return f"⟨g_t, Δw⟩ > 0 on {back:.0%} of steps {first}–{record.step}"
    return ""


def check_low(ctx: RuleContext) -> list[Finding]:
    if ctx.reported("lr_too_low"):
        return []
    for record in ctx.new:
        tail = _ratio_history(ctx, record, LR_LOW_MIN_SAMPLES)
        if len(tail) < LR_LOW_MIN_SAMPLES or tail[-1][0] is not record:
            continue
        level = median([_median_ratio(r, ratios) for r, ratios, _ in tail])
        if not level < ctx.th["update_ratio_low"]:
            continue  # the usual case: decided before anything else is computed
        top = median([max(r.values()) for _, r, _ in tail])
        if not top < UPDATE_RATIO_LOW_FASTEST:
            continue
        if any(sum(v > 0 for v in r.values()) * 2 < len(r) for _, r, _ in tail):
            continue  # most weights do not move at all: zero gradients, not a small LR
        initial = ctx.initial_loss(record.n)
        current = ctx.recent_loss(record.n)
        if math.isfinite(initial) and math.isfinite(current) and current < LR_LOW_LEVEL * initial:
            continue
        lr = ctx.lr_at(record)
        factor = min(max(1e-3 / max(level, 1e-30), 10.0), 100.0)
        estimated = " (estimated as lr·‖g‖/‖w‖, plain SGD)" if tail[-1][2] else ""
        evidence = (f"update/weight ratio ‖Δw‖/‖w‖: median over layers {fmt(level)}, fastest "
                    f"layer {fmt(top)} over the last {len(tail)} measurements to step "
                    f"{record.step}{estimated} (healthy ≈ 1e-3); loss {fmt(current)} vs "
                    f"{fmt(initial)} at the start")
        explanation = ("Each step moves the weights by a tiny fraction of their size: the loss "
                       "will take orders of magnitude more steps to fall than it should.")
        if lr:
            new = nice(lr * factor)
            fix, remedy = f"lr {fmt(lr)} → {fmt(new)}.", {"action": "set_lr", "lr": new}
        else:
            fix, remedy = f"Raise the learning rate ×{fmt(factor)}.", \
                {"action": "set_lr", "factor": factor}
        name = max(tail[-1][1], key=tail[-1][1].get)
        return [Finding("lr_too_low", "warning", record.step, ctx.layer(name), evidence,
                        explanation, fix, remedy)]
    return []
