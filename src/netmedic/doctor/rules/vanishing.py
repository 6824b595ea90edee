"""vanishing_gradients: the first layer's gradient is a vanishing fraction of the last one's.

AUTOTRAINER (ICSE 2021): first/last-layer gradient-norm ratio < 1e-3 (with first-layer norm
< 1e-4, an absolute number that depends on the loss's scale; we use the first layer's
update/weight ratio instead when updates are known: below 1e-5 it is not learning, CS231n's
healthy value being ~1e-3). It must hold on several consecutive measurements, so one lucky batch
does not decide, and a network converging to a tiny loss (every gradient small) does not
trigger it: the ratio is relative.
"""

from __future__ import annotations

from netmedic.doctor.finding import Finding
from netmedic.doctor.rules._context import RuleContext
from netmedic.doctor.rules._robust import fmt

VANISHING_RATIO = 1e-3  # AUTOTRAINER: ‖g_first‖ / ‖g_last‖ < 1e-3
VANISHING_UPDATE_RATIO = 1e-5  # first layer's ‖Δw‖/‖w‖: 100× below CS231n's healthy 1e-3
VANISHING_PERSIST = 3  # consecutive measurements (full steps) that must agree

THRESHOLDS = {"vanishing_ratio": VANISHING_RATIO, "vanishing_update_ratio": VANISHING_UPDATE_RATIO}


def _ratio(ctx: RuleContext, record) -> tuple[str, str, float, float, float] | None:
    if "vanishing" not in record.cache:
        record.cache["vanishing"] = _measure(ctx, record)
    return record.cache["vanishing"]


def _measure(ctx: RuleContext, record) -> tuple[str, str, float, float, float] | None:
    weights = ctx.weights(record)
    if len(weights) < 2:
        return None
    first, last = weights[0], weights[-1]
    g_first, g_last = record.get("grad", first)["norm"], record.get("grad", last)["norm"]
    if not (g_last > 0 and g_first == g_first and g_last < float("inf")):
        return None
    return first, last, g_first / g_last, g_first, g_last


def check(ctx: RuleContext) -> list[Finding]:
    if ctx.reported("vanishing_gradients"):
        return []
    for record in ctx.new:
        window = ctx.tail(record, VANISHING_PERSIST, lambda r: _ratio(ctx, r) is not None)
        if len(window) < VANISHING_PERSIST or window[-1] is not record:
            continue
        ratios = [_ratio(ctx, r) for r in window]
        if not all(x[2] < ctx.th["vanishing_ratio"] for x in ratios):
            continue
        first, last, ratio, g_first, g_last = ratios[-1]
        moving, _ = ctx.update_ratios(record)
        update = moving.get(first)
        if update is not None and update >= ctx.th["vanishing_update_ratio"]:
            continue
        kinds = ctx.activation_kinds()
        saturating = kinds & {"sigmoid", "tanh"}
        upstream = [f for k in ("unscaled_input", "saturated_activation", "bad_init")
                    for f in ctx.reported(k)]
        evidence = (f"‖grad {first}‖ / ‖grad {last}‖ = {fmt(ratio)} at step {record.step} "
                    f"({fmt(g_first)} vs {fmt(g_last)}), below {fmt(ctx.th['vanishing_ratio'])} "
                    f"for {VANISHING_PERSIST} measurements in a row"
                    + (f"; {first} moves {fmt(update)} of its norm per step" if update else ""))
        if upstream:
            cause = upstream[0]
            explanation = (f"The gradient has all but vanished by the time it reaches {first}, "
                           f"and {cause.kind} at {cause.where} explains it: fix that first.")
            fix, remedy = cause.fix, cause.remedy
        elif saturating:
            act = sorted(saturating)[0]
            explanation = (f"Backpropagation multiplies by each {act} layer's derivative (at most "
                           f"{'0.25' if act == 'sigmoid' else '1'}, near 0 when saturated): "
                           f"by the time it reaches {first} the gradient has all but vanished, so "
                           "the first layers barely learn.")
            fix = "Use ReLU hidden activations with He initialization (or add batch normalization)."
            remedy = {"action": "set_activation", "activation": "relu"}
        else:
            explanation = (f"The gradient shrinks layer after layer on its way back to {first}: "
                           "the weights are too small for the depth, so the first layers barely "
                           "learn.")
            fix = "Initialize with He (ReLU) / Glorot (tanh) scaling, or add normalization layers."
            remedy = {"action": "set_init", "init": "he_normal"}
        return [Finding("vanishing_gradients", "warning", record.step, ctx.layer(first), evidence,
                        explanation, fix, remedy)]
    return []
