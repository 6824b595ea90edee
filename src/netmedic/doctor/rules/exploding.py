"""exploding_gradients: a gradient norm that grew by orders of magnitude while the loss did not
improve.

AUTOTRAINER (ICSE 2021) calls gradients exploding when the first/last-layer gradient-norm ratio
exceeds 70 at one step; that ratio depends on layer sizes and input scale (raw pixels alone give
it). Measured over time instead, each layer against its own start, the test is scale-free: a
healthy run's gradient norms move within one or two decades, an exploding one's grow ×1000 and
more within a few steps — and the loss is not getting better meanwhile. Non-finite gradients
are ``nonfinite``'s business, not this rule's.
"""

from __future__ import annotations

import math

import numpy as np

from netmedic.doctor.finding import Finding
from netmedic.doctor.rules._context import BASELINE_STEPS, RuleContext
from netmedic.doctor.rules._robust import fmt
from netmedic.doctor.rules._series import lr_remedy

EXPLODING_GROWTH = 1e3  # ‖g_t‖ / ‖g‖ at start; the healthy test runs stay within 14×
EXPLODING_LOSS_PROGRESS = 0.5  # ...while the loss is still above half its initial value
CLIP_PERCENTILE = 90  # clip at the 90th percentile of the healthy steps' global norms
CLIP_WINDOW = 256  # ...over the last 256 steps: half the default history, the rest is slack

THRESHOLDS = {"exploding_growth": EXPLODING_GROWTH}


def check(ctx: RuleContext) -> list[Finding]:
    if ctx.reported("exploding_gradients"):
        return []
    for record in ctx.new:
        worst = None
        for name, entry in record.role("grad"):
            norm = entry["norm"]
            base = _baseline(ctx, name, record.n)
            if not (math.isfinite(norm) and base and base > 0):
                continue
            growth = norm / base
            if growth >= ctx.th["exploding_growth"] and (worst is None or growth > worst[1]):
                worst = (name, growth, norm, base)
        if worst is None or not _loss_not_improving(ctx, record):
            continue
        name, growth, norm, base = worst
        first_step = next(r.step for r in ctx.first if r.get("grad", name))
        max_norm = _clip_threshold(ctx, record)
        words, _ = lr_remedy(ctx, record)
        where = ctx.layer(name)
        evidence = (f"‖grad {name}‖ = {fmt(norm)} at step {record.step}, ×{fmt(growth)} over its "
                    f"{fmt(base)} at step {first_step}; loss {fmt(record.loss)}")
        explanation = (f"The gradient of {name} grew by {fmt(growth)}× while the loss did not "
                       "improve: each update makes the next gradient larger (weights growing, "
                       "activations growing with them), a feedback loop that ends in Inf/NaN.")
        fix = (f"Clip the global gradient norm at {fmt(max_norm)} (the {CLIP_PERCENTILE}th "
               f"percentile of the healthy steps) and lower the learning rate ({words}).")
        remedy = {"action": "clip_grad_norm", "max_norm": max_norm}
        return [Finding("exploding_gradients", "warning", record.step, where, evidence,
                        explanation, fix, remedy)]
    return []


def _baseline(ctx: RuleContext, name: str, upto_n: int) -> float | None:
    """Smallest positive finite norm of this gradient over the first steps (causal)."""
    key = ("grad_baseline", name, min(upto_n, BASELINE_STEPS))
    if upto_n >= BASELINE_STEPS and key in ctx.memo:
        return ctx.memo[key]
    norms = [r.get("grad", name)["norm"] for r in ctx.first[:BASELINE_STEPS]
             if r.n <= upto_n and r.get("grad", name)]
    norms = [x for x in norms if math.isfinite(x) and x > 0]
    ctx.memo[key] = min(norms) if norms else None
    return ctx.memo[key]


def _loss_not_improving(ctx: RuleContext, record) -> bool:
    if record.loss is None:
        return True
    if not math.isfinite(record.loss):
        return True
    initial = ctx.initial_loss(record.n)
    current = ctx.recent_loss(record.n)
    return not math.isfinite(initial) or current >= EXPLODING_LOSS_PROGRESS * initial


def _clip_threshold(ctx: RuleContext, upto) -> float:
    """A percentile of the global gradient norm over the CLIP_WINDOW steps up to ``upto``
    (whatever else the history holds), those within 10× the start counting as healthy."""
    totals = []
    for record in ctx.records:
        if record.n > upto.n:
            break
        total = record.global_grad_norm()  # light records: the probe's own global norm
        if record.n > upto.n - CLIP_WINDOW and total is not None and math.isfinite(total):
            totals.append(total)
    first = [t for r in ctx.first[:BASELINE_STEPS]
             if (t := r.global_grad_norm()) is not None and math.isfinite(t) and t > 0]
    if not totals:
        return 1.0
    start = min(first) if first else min(totals[:BASELINE_STEPS])
    healthy = [t for t in totals if t <= 10 * start] or totals[:1]
    return float(f"{float(np.percentile(healthy, CLIP_PERCENTILE)):.3g}")
