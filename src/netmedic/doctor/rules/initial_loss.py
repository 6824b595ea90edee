"""initial_loss_off: the first loss is far from ln(C), what a softmax cross-entropy gives at init.

A freshly initialized classifier should be unsure: its softmax puts ~1/C on every class, so the
cross-entropy starts at ln(C) (2.30 for 10 classes; Karpathy, "A Recipe for Training Neural
Networks": verify the loss at init). Far above it, the initial logits are large (the last
layer's weights are too big, or the inputs unscaled), or the loss is *summed* over the batch
(then it is ~batch size × ln C). Below it we say nothing: other losses (MSE) start lower.
The number of classes comes from ``Doctor(num_classes=...)``, one-hot labels, or the width of
the last pre-activation (logits) or final softmax.
"""

from __future__ import annotations

import math

from netmedic.doctor.finding import Finding
from netmedic.doctor.rules._context import RuleContext
from netmedic.doctor.rules._robust import fmt

INITIAL_LOSS_FACTOR = 3.0  # first loss > 3 ln C (6.9 for C = 10): logits far from uniform
SUM_TOLERANCE = 1.5  # loss / ln C within ×1.5 of the batch size, with small logits: summed
SMALL_LOGITS = 2.0  # logits rms below this: the softmax is near uniform (ln C per example)

THRESHOLDS = {"initial_loss_factor": INITIAL_LOSS_FACTOR}


def check(ctx: RuleContext) -> list[Finding]:
    if ctx.reported("initial_loss_off") or not ctx.first or ctx.first[0].n <= ctx.since_n:
        return []
    record = ctx.first[0]
    classes = ctx.classes
    if not (record.loss_finite and classes and classes > 1):
        return []
    expected = math.log(classes)
    ratio = record.loss / expected
    if ratio <= ctx.th["initial_loss_factor"]:
        return []
    batch = record.batch
    evidence = (f"loss {fmt(record.loss)} at step {record.step}, ×{fmt(ratio)} ln {classes} = "
                f"{fmt(expected)} (what cross-entropy gives for a uniform guess over {classes} "
                "classes)")
    logits = [e for _, e in record.role("preact")][-1:]
    logit_rms = logits[0]["norm"] / math.sqrt(logits[0]["size"]) if logits and \
        logits[0].get("size") else None
    near_uniform = logit_rms is None or logit_rms < SMALL_LOGITS
    if batch and near_uniform and batch / SUM_TOLERANCE <= ratio <= batch * SUM_TOLERANCE:
        explanation = (f"The first loss is about the batch size ({batch}) times ln {classes}: the "
                       "loss is summed over the examples instead of averaged, so the gradients "
                       f"are ~{batch}× too large for the learning rate.")
        fix = "Average the loss over the batch (np.mean, or divide the sum by the batch size)."
        remedy = {"action": "set_loss", "loss": "cross_entropy"}
    else:
        explanation = ("At initialization the network is already confidently wrong: its logits "
                       + (f"(rms {fmt(logit_rms)}) " if logit_rms is not None else "")
                       + "are large, so the softmax is far from uniform. The last layer's weights "
                       "are too large (or the inputs unscaled), and the first steps are spent "
                       "undoing it, often with exploding gradients.")
        fix = ("Initialize the last layer smaller (He/Glorot scaling, or ×0.01) and check the "
               "input scale.")
        remedy = {"action": "set_init", "init": "he_normal"}
    return [Finding("initial_loss_off", "warning", record.step, "loss", evidence, explanation,
                    fix, remedy)]
