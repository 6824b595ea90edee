"""Overfit one small batch: a model that cannot memorize 16 examples has a bug or no capacity.

Karpathy, "A Recipe for Training Neural Networks" (2019): "overfit one batch ... to zero loss".
When it fails, one measurement of the dynamics tells a gradient bug from the rest: step along the
claimed gradient g by h and back; the loss must change at the rate ‖g‖ (first order:
L(p + h·g/‖g‖) − L(p − h·g/‖g‖) ≈ 2h‖g‖). A sign-flipped gradient gives −‖g‖, a gradient summed
instead of averaged over a batch of B gives ‖g‖/B, a wrong one anything else.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from netmedic.doctor.finding import Finding
from netmedic.doctor.preflight.user import call_user

OVERFIT_STEPS = 200  # a healthy net memorizes a 16-example batch in well under 200 steps
OVERFIT_FRACTION = 0.05  # "near-zero loss": 5% of the first loss (0.12 when it starts at ln 10)
RISE_FACTOR = 1.5  # a last loss above 1.5× the first: the steps made things worse
DIRECTION_STEP = 1e-3  # probe step: 0.1% of ‖params‖, small for curvature, large for rounding
SLOPE_RANGE = (0.5, 2.0)  # measured slope within ×2 of ‖g‖: g points along the true gradient
RESOLUTION = 1e-5  # loss changes below 1e-5 × |L| are float32 rounding: no verdict


@dataclass(frozen=True)
class Direction:
    """The loss's measured slope along the claimed gradient, as a multiple of ‖g‖ (1 is right)."""

    ratio: float
    grad_norm: float
    step: float

    @property
    def consistent(self) -> bool:
        return SLOPE_RANGE[0] <= self.ratio <= SLOPE_RANGE[1]

    def __str__(self) -> str:
        return (f"the loss changes at {self.ratio:.3g}× the rate ‖grads‖ = {self.grad_norm:.3g} "
                f"promises along the gradient (1.00 for a true gradient; probe step "
                f"{self.step:.2g})")


def gradient_direction(loss: Callable, grads: Callable,
                       params: Mapping[str, np.ndarray]) -> Direction | None:
    """Measure the slope of ``loss`` along ``grads(params)``; ``None`` when it cannot be told."""
    claimed = call_user(grads, params, what="grads(params)")
    if not isinstance(claimed, Mapping):
        return None  # a list or tuple: check_gradients pairs those with names
    claimed = {name: claimed.get(name, claimed.get(f"d{name}")) for name in params}
    if any(g is None or np.shape(g) != np.shape(params[name]) for name, g in claimed.items()):
        return None  # missing or misshapen gradients: check_gradients says which
    with np.errstate(all="ignore"):
        grad_norm = math.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64)))
                                  for g in claimed.values()))
        param_norm = math.sqrt(sum(float(np.sum(np.square(p, dtype=np.float64)))
                                   for p in params.values()))
    if not (math.isfinite(grad_norm) and grad_norm > 0 and math.isfinite(param_norm)):
        return None
    h = DIRECTION_STEP * (param_norm or 1.0)

    def moved(sign: float) -> dict[str, np.ndarray]:
        return {name: (p + sign * h / grad_norm * np.asarray(claimed[name])).astype(p.dtype)
                for name, p in params.items()}

    base = float(call_user(loss, params, what="loss(params)"))
    up = float(call_user(loss, moved(1.0), what="loss(params)"))
    down = float(call_user(loss, moved(-1.0), what="loss(params)"))
    change, promised = up - down, 2 * h * grad_norm
    floor = RESOLUTION * max(abs(base), 1.0)
    if not math.isfinite(change) or (abs(change) < floor and promised < floor):
        return None
    return Direction(ratio=change / promised, grad_norm=grad_norm, step=h)


def check_overfit(step: Callable[[], float], max_steps: int = OVERFIT_STEPS,
                  target: float | None = None,
                  direction: Callable[[], Direction | None] = lambda: None) -> list[Finding]:
    """Run ``step()`` up to ``max_steps`` times; a finding if the loss never reaches ``target``."""
    losses: list[float] = []
    for _ in range(max_steps):
        losses.append(float(call_user(step, what="overfit_step()")))
        if target is None and math.isfinite(losses[0]):
            target = OVERFIT_FRACTION * losses[0]
        if not math.isfinite(losses[-1]) or (target is not None and losses[-1] <= target):
            break
    first, last = losses[0], losses[-1]
    if math.isfinite(last) and target is not None and last <= target:
        return []
    evidence = (f"overfitting one small batch: loss {first:.3g} → {last:.3g} in {len(losses)} "
                f"steps (target {target:.3g})" if target is not None else
                f"overfitting one small batch: loss {first} at the first step")
    measured = direction()
    if measured is not None and not measured.consistent:
        return [_wrong_gradient(evidence, measured)]
    if not math.isfinite(last) or last > RISE_FACTOR * first:
        if measured is not None:
            return [Finding(
                kind="lr_too_high", severity="error", step=None, where="lr",
                evidence=f"{evidence}; {measured}",
                explanation="the gradient is right along its own direction, yet the steps raise "
                            "the loss on a batch the model should memorize: each step overshoots,"
                            " the learning rate is too high for this model",
                fix="lower the learning rate ×10 (or run `netmedic lr-find`)",
                remedy={"action": "set_lr", "factor": 0.1})]
        return [Finding(
            kind="diverging_loss", severity="error", step=None, where="loss",
            evidence=evidence,
            explanation="the steps raise the loss on a batch the model should memorize: either "
                        "the learning rate is too high or the gradient is not the loss's "
                        "gradient (pass loss and grads to preflight to tell which)",
            fix="lower the learning rate ×10; if that does not help, run `netmedic gradcheck`",
            remedy={"action": "set_lr", "factor": 0.1})]
    verdict = (f"Its gradient is right along its own direction ({measured}), so look at "
               "capacity and the learning rate" if measured is not None else
               "Either the gradient is wrong or the model cannot fit")
    return [Finding(
        kind="stalled_loss", severity="warning", step=None, where="loss",
        evidence=evidence,
        explanation="a model that cannot memorize a handful of examples will not learn the "
                    f"whole set. {verdict}: a learning rate too low for {max_steps} steps, "
                    "layers too narrow, dead or saturated units, labels that do not match the "
                    "inputs of the batch, or a gradient wrong for only some parameters",
        fix="raise the learning rate or the width, check the batch's labels, and run "
            "`netmedic gradcheck` to rule out a partly wrong gradient",
        remedy=None)]


def _wrong_gradient(evidence: str, measured: Direction) -> Finding:
    ratio = measured.ratio
    if ratio < 0 and abs(abs(ratio) - 1) < 0.5:
        why = ("the loss falls when moving *along* grads: the gradient's sign is flipped, so "
               "every update climbs the loss")
    elif ratio > 0:
        factor = 1 / ratio
        size = f"×{factor:.3g} too large" if factor > 1 else f"×{ratio:.3g} too small"
        hint = (f" (k = {round(factor)}: a sum over a batch of {round(factor)} where the loss is "
                "a mean?)" if factor >= 2 and abs(factor - round(factor)) < 0.05 * factor
                else " (a missing or extra factor, or a partly wrong gradient)")
        why = f"the gradient is {size} for the loss{hint}"
    else:
        why = ("the gradient does not point along the loss's slope: part of it is wrong (a "
               "transposed matrix, a missing term, the derivative of another loss)")
    return Finding(
        kind="wrong_gradient", severity="error", step=None, where="grads",
        evidence=f"{evidence}; {measured}",
        explanation=f"the model cannot memorize a small batch because {why}",
        fix="run `netmedic gradcheck` (or netmedic.check_gradients) to see which parameter's "
            "gradient is wrong, and fix its backward pass",
        remedy={"action": "fix_gradient"})
