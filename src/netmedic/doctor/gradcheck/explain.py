"""Explanations and fixes for a gradient's pattern, in the user's own names and shapes."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from netmedic.doctor.gradcheck.patterns import Verdict

#: A factor "is" N, 2, C... when it matches within this relative distance.
FACTOR_MATCH = 0.01


@dataclass(frozen=True)
class Context:
    """What is known about one parameter, to phrase its explanation."""

    name: str
    key: str  # the key the user's grads used: "dW1" or "W1"
    param_shape: tuple[int, ...]
    grad_shape: tuple[int, ...]
    role: str = "other"  # weight | bias | other
    is_output: bool | None = None
    batch_size: int | None = None
    n_outputs: int | None = None

    @property
    def yours(self) -> str:
        """How to name the user's gradient: their own key, or grads['W1'] when it is the name."""
        return self.key if self.key != self.name else f"grads['{self.name}']"


def explain(verdict: Verdict, ctx: Context) -> tuple[str, str]:
    """``(explanation, fix)`` for one parameter."""
    handler = {
        "ok": _ok,
        "sign_flipped": _sign_flipped,
        "scaled": _scaled,
        "transposed": _transposed,
        "zero": _zero,
        "shape": _shape,
        "wrong": _wrong,
    }[verdict.pattern]
    return handler(verdict, ctx)


def describe_factor(k: float, batch_size: int | None, n_outputs: int | None) -> tuple[str, str]:
    """Name the factor ``k`` in words: (what it means, what to change)."""
    sign = "the sign is flipped (yours points uphill)" if k < 0 else ""
    magnitude = abs(k)
    if abs(magnitude - 1) <= FACTOR_MATCH:
        return sign, "flip the sign of the output error: (p − y), not (y − p)"
    sign += " and " if sign else ""
    n = batch_size
    if n is None:  # a factor that is an integer ≥ 3 (or its inverse) is most likely the batch size
        for candidate in (magnitude, 1 / magnitude):
            if candidate >= 2.5 and abs(candidate - round(candidate)) <= FACTOR_MATCH * candidate:
                n = round(candidate)
    names = {"N": n, "C": n_outputs if n_outputs != n else None}
    best = None
    for a, b, c in itertools.product((-2, -1, 0, 1, 2), (-1, 0, 1), (-1, 0, 1)):
        if (a and names["N"] is None) or (c and names["C"] is None):
            continue
        value = (names["N"] or 1) ** a * 2.0**b * (names["C"] or 1) ** c
        if abs(value / magnitude - 1) <= FACTOR_MATCH:
            cost = abs(a) + abs(b) + abs(c)
            if best is None or cost < best[0]:
                best = (cost, a, b, c)
    if best is None or best[0] == 0:
        return (
            f"{sign}it is off by a constant factor {magnitude:.4g} that the loss does not have",
            "look for a constant applied in the gradient but not in the loss (or the reverse): "
            "a 1/N, a factor 2, a temperature, a learning rate folded into the gradient",
        )
    _, a, b, c = best
    why, fix = [], []
    guessed = batch_size is None
    batch = f"the batch of {n}" + (" (if your batch has that many examples)" if guessed else "")
    if a > 0:
        times = "" if a == 1 else f" {a} times"
        why.append(f"you summed over {batch}{times} but the loss is a mean")
        fix.append(f"divide by the batch size N = {n} (use the mean, e.g. dZ = (p - y) / N)")
    elif a < 0:
        times = "twice" if a == -1 else f"{abs(a) + 1} times"
        why.append(
            f"you divided by the batch size N = {n} {times}, once is right"
            + (" (if your batch has that many examples)" if guessed else "")
        )
        fix.append(f"remove the extra division by N = {n}")
    if b > 0:
        why.append(
            "the gradient has a factor 2 the loss does not (a loss written ½·Σ(p − y)² has "
            "gradient (p − y), not 2(p − y))"
        )
        fix.append("drop the factor 2, or write the loss without the ½")
    elif b < 0:
        why.append("the factor 2 of the square is missing: d/dp (p − y)² = 2(p − y)")
        fix.append("multiply by 2, or define the loss as ½·(p − y)²")
    if c > 0:
        why.append(
            f"your loss divides by the number of outputs C = {names['C']} but the gradient does not"
        )
        fix.append(
            f"divide the gradient by C = {names['C']} as the loss does (or average over "
            "the batch, not the classes)"
        )
    elif c < 0:
        why.append(
            f"the gradient divides by the number of outputs C = {names['C']} but the loss does not"
        )
        fix.append(f"remove the division by C = {names['C']}")
    if k < 0:
        fix.append("flip the sign of the output error: (p − y), not (y − p)")
    return sign + "; ".join(why), "; ".join(fix)


def _ok(v: Verdict, ctx: Context) -> tuple[str, str]:
    if v.details.get("flat"):
        text = (
            f"{ctx.yours} is zero and so is the numerical gradient: the loss does not depend on "
            f"{ctx.name} here"
        )
    else:
        text = f"{ctx.yours} matches the numerical gradient (relative error {v.rel_error:.1e})"
    if v.details.get("kinked"):
        text += (
            "; some directions crossed a kink (ReLU at 0, a max-pool tie) and were measured again"
        )
    return text, "nothing to change"


def _sign_flipped(v: Verdict, ctx: Context) -> tuple[str, str]:
    text = (
        f"{ctx.yours} is the negative of ∂L/∂{ctx.name} (relative error {v.rel_error:.2g} before "
        f"flipping). With {ctx.name} -= lr * {ctx.yours} every step climbs the loss instead of "
        "descending it, so the loss grows and the weights blow up. Typical cause: the output error "
        "written as (y − p); for softmax + cross-entropy the gradient w.r.t. the logits is p − y "
        "(the same holds for sigmoid + binary cross-entropy and for MSE)"
    )
    return (
        text,
        f"compute the output error as (p − y), predictions minus targets (or negate {ctx.yours})",
    )


def _scaled(v: Verdict, ctx: Context) -> tuple[str, str]:
    k = float(v.scale or 0.0)
    why, fix = describe_factor(k, ctx.batch_size, ctx.n_outputs)
    text = f"{ctx.yours} = {k:.4g} × ∂L/∂{ctx.name}: {why}"
    if abs(k) > 1:
        text += f"; your steps are {abs(k):.3g}× too large, which alone can make training diverge"
    return text, fix


def _transposed(v: Verdict, ctx: Context) -> tuple[str, str]:
    rows, cols = ctx.param_shape[0], ctx.param_shape[-1]
    if v.details.get("square"):
        text = (
            f"{ctx.yours} has {ctx.name}'s shape {ctx.param_shape} but holds ∂L/∂{ctx.name} "
            f"transposed; because {ctx.name} is square NumPy cannot catch it, and the update "
            "mixes up rows and columns"
        )
    else:
        text = (
            f"{ctx.yours} has shape {ctx.grad_shape}, the transpose of {ctx.name}'s "
            f"{ctx.param_shape}, and its values are ∂L/∂{ctx.name} transposed"
        )
    factor = v.details.get("factor")
    if factor is not None:
        why, _ = describe_factor(float(factor), ctx.batch_size, ctx.n_outputs)
        text += f"; transposed, it is also {float(factor):.4g} × the true gradient: {why}"
    fix = (
        f"swap the operands of the product so the result is {rows} × {cols}: for a weight "
        "stored (in, out) with examples in rows use X.T @ dZ; for (out, in) with examples in "
        "columns use dZ @ X.T"
    )
    return text, fix


def _zero(v: Verdict, ctx: Context) -> tuple[str, str]:
    text = (
        f"{ctx.yours} is all zeros, but the loss does change with {ctx.name}: the update never "
        f"moves {ctx.name}"
    )
    fix = (
        f"compute {ctx.yours}: look for an array created with np.zeros_like and never filled, or "
        "a gradient written into a copy instead of the array you return"
    )
    return text, fix


def _shape(v: Verdict, ctx: Context) -> tuple[str, str]:
    match, factor = v.details.get("match"), v.details.get("factor")
    base = f"{ctx.yours} has shape {ctx.grad_shape} but {ctx.name} is {ctx.param_shape}"
    if match and match.startswith("sum:"):
        axis = match.split(":")[1]
        n = ctx.grad_shape[int(axis.split(",")[0])]
        keep = ", keepdims=True" if len(ctx.grad_shape) == len(ctx.param_shape) else ""
        if factor is not None and abs(float(factor) * n - 1) <= FACTOR_MATCH:
            return (
                f"{base}: one gradient per example along axis {axis} ({n}), not averaged; its "
                "mean over that axis is right",
                f"average over the batch axis: {ctx.yours} = dZ.mean(axis={axis}{keep})",
            )
        text = (
            f"{base}: one gradient per example along axis {axis} ({n}), not summed over the batch"
        )
        if factor is None:
            text += "; summed over that axis it is right"
            return text, f"sum over the batch axis: {ctx.yours} = dZ.sum(axis={axis}{keep})"
        why, fix = describe_factor(float(factor), ctx.batch_size, ctx.n_outputs)
        return (
            f"{text}; summed, it is {float(factor):.4g} × the true gradient: {why}",
            f"sum over the batch axis ({ctx.yours} = dZ.sum(axis={axis}{keep})) and {fix}",
        )
    if match == "reshape":
        return (
            f"{base}: the numbers are right but laid out in the wrong shape",
            f"reshape it: {ctx.yours}.reshape{ctx.param_shape}",
        )
    return (
        f"{base}, which is neither its shape nor its transpose, so the values cannot be compared",
        f"return an array of shape {ctx.param_shape}: check the operand order of the product and "
        "that per-example gradients are summed over the batch axis",
    )


def _wrong(v: Verdict, ctx: Context) -> tuple[str, str]:
    d = v.details
    if "nonfinite" in d:
        return (
            f"{ctx.yours} contains {d['nonfinite']} NaN or Inf entries",
            "find where the backward pass overflows or divides by zero (np.seterr(all='raise') "
            "stops at the first one)",
        )
    if d.get("flat"):
        return (
            f"The loss does not change when {ctx.name} changes (the numerical gradient is zero "
            f"within its error bar) but {ctx.yours} is not zero",
            f"check that loss(params) reads params['{ctx.name}'] rather than a global, "
            "whether the units it feeds are saturated or dead, and whether the forward pass "
            "cancels it (a softmax normalised over the batch axis cancels a per-class bias)",
        )
    text = f"{ctx.yours} does not match ∂L/∂{ctx.name} (relative error {v.rel_error:.2g})"
    if d.get("transposed_shape"):
        text += f"; it has the transposed shape {ctx.grad_shape}, and even transposed it is wrong"
    lam = d.get("l2")
    if lam is not None:
        if lam > 0:
            return (
                text + f". The difference is exactly {lam:.3g}·{ctx.name}: the loss has an L2 "
                f"(weight decay) term whose gradient {lam:.3g}·{ctx.name} is missing from "
                f"{ctx.yours}",
                f"add it: {ctx.yours} += {lam:.3g} * {ctx.name} (λ·W for a penalty (λ/2)·‖W‖², "
                "2λ·W for λ·‖W‖²)",
            )
        return (
            text + f". The difference is exactly {-lam:.3g}·{ctx.name}: {ctx.yours} has an L2 "
            "(weight decay) term that the loss does not have",
            "add the same penalty to the loss, or remove it from the gradient",
        )
    cosine = d.get("cosine")
    if cosine is not None:
        if cosine > 0.9:
            text += (
                f"; it points roughly the right way (cosine {cosine:.2f}) but its values are off"
            )
        elif cosine < -0.9:
            text += f"; it points roughly the opposite way (cosine {cosine:.2f})"
        else:
            text += f"; it is nearly unrelated to the true gradient (cosine {cosine:.2f})"
    if d.get("kinked"):
        text += "; some directions crossed kinks and were measured again"
    if ctx.is_output:
        text += (
            ". At the output layer, check the output error: for softmax + cross-entropy it is "
            "(p − y)/N with p normalised over the class axis (each row sums to 1), and no "
            "extra activation-derivative factor"
        )
    fix = (
        f"re-derive {ctx.yours} step by step; the evidence shows yours beside the numerical values"
    )
    return text, fix


def fmt_number(x: float) -> str:
    """Compact scientific notation for tables and evidence."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{x:.2e}"
