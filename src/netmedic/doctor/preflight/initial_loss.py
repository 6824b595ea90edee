"""The loss at init against ln C: a fresh softmax classifier knows nothing, so it starts near ln C.

With small logits every class gets probability ≈ 1/C and the mean cross-entropy is −ln(1/C) =
ln C (Karpathy, "A Recipe for Training Neural Networks", 2019: "verify loss @ init").
"""

from __future__ import annotations

import math

from netmedic.doctor.finding import Finding

HIGH_FACTOR = 2.0  # above 2 × ln C the logits are large at init (He-init nets start ≤ ~1.5 ln C)
HIGH_MARGIN = 1.0  # and at least 1 nat above: for C = 2, 2 × ln 2 is within init noise
LOW_FACTOR = 0.5  # below ln C / 2 the untrained model already "knows" the labels: a leak or bug


def check_initial_loss(initial: float, expected: float, num_classes: int | None, *,
                       unscaled: bool = False, by_ln_c: bool = True) -> list[Finding]:
    """``initial_loss_off`` (or ``nonfinite``) when ``initial`` is far from ``expected``.

    ``unscaled``: the data check found raw-pixel-like inputs (then they are the likely cause);
    ``by_ln_c``: ``expected`` is ln C (the wording says so), else the caller's own value.
    """
    if by_ln_c and num_classes is not None:
        reference = (f"a fresh softmax classifier over {num_classes} classes should start near "
                     f"ln {num_classes} = {expected:.2f}")
    else:
        reference = f"this model should start near a loss of {expected:.3g}"
    if not math.isfinite(initial):
        return [Finding(
            kind="nonfinite", severity="error", step=None, where="loss",
            evidence=f"loss at init = {initial}",
            explanation=f"{reference}; yours is {initial} before any step: the forward pass "
                        "overflows (exp of huge logits, log of 0) "
                        + ("because the inputs are unscaled" if unscaled else
                           "from too large initial weights or an unstable softmax"),
            fix="scale the inputs to [0, 1] (divide pixels by 255)" if unscaled else
                "use log-sum-exp cross-entropy from logits, and He/Glorot init",
            remedy={"action": "normalize_inputs", "mode": "unit"} if unscaled else
                   {"action": "set_init", "init": "glorot_normal"})]
    if initial > HIGH_FACTOR * expected and initial - expected > HIGH_MARGIN:
        cause = ("your inputs are unscaled (see unscaled_input)" if unscaled else
                 "the initial weights are too large for the layer widths")
        return [Finding(
            kind="initial_loss_off", severity="warning", step=None, where="loss",
            evidence=f"loss at init = {initial:.3g}, ×{initial / expected:.3g} the expected "
                     f"{expected:.3g}",
            explanation=f"{reference}; yours starts at {initial:.3g}: the initial logits are "
                        f"far too large: init scale or unscaled inputs. Here: {cause}. The first "
                        "steps will be spent shrinking the logits, with huge gradients",
            fix="scale the inputs (--normalize unit: pixels / 255)" if unscaled else
                "initialize with He (ReLU) or Glorot (sigmoid/tanh) scale: std √(2/fan_in)",
            remedy={"action": "normalize_inputs", "mode": "unit"} if unscaled else
                   {"action": "set_init", "init": "glorot_normal"})]
    if initial < LOW_FACTOR * expected:
        return [Finding(
            kind="initial_loss_off", severity="warning", step=None, where="loss",
            evidence=f"loss at init = {initial:.3g}, ×{initial / expected:.2f} the expected "
                     f"{expected:.3g}",
            explanation=f"{reference}; yours starts at {initial:.3g}, lower than an untrained "
                        "model can be: the labels leak into the inputs, the loss is not a mean "
                        "cross-entropy over the batch, or num_classes is wrong",
            fix="check that the loss is the batch mean of −log softmax(logits)[label] and that "
                "the labels are not among the inputs",
            remedy=None)]
    return []
