"""unscaled_input: inputs in raw-pixel-like ranges (|x| in the tens or more).

DeepDiagnosis (ICSE 2022) wants inputs inside [-1, 1]; API.md is looser on purpose: standardized
data has |x| up to ~10 and trains fine. Raw 0..255 pixels do not: with weights scaled for unit
inputs, the first pre-activations come out ~100× too large.
"""

from __future__ import annotations

import math

from netmedic.doctor.finding import Finding
from netmedic.doctor.rules._context import RuleContext
from netmedic.doctor.rules._robust import fmt

UNSCALED_MAX_ABS = 20.0  # API.md: "|x| in the tens or more"; standardized data stays under ~10
UNSCALED_RMS = 2.0  # and typical values well above unit scale (one outlier feature is not it)

THRESHOLDS = {"unscaled_max_abs": UNSCALED_MAX_ABS}


def check(ctx: RuleContext) -> list[Finding]:
    out = []
    for record in ctx.new:
        for name, entry in record.role("input"):
            if ("unscaled_input", name) in ctx.findings or "max" not in entry:
                continue
            lo, hi = entry["min"], entry["max"]
            biggest = max(abs(lo), abs(hi))
            rms = entry["norm"] / math.sqrt(entry["size"]) if entry.get("size") else math.nan
            if not (math.isfinite(biggest) and biggest >= ctx.th["unscaled_max_abs"]
                    and rms >= UNSCALED_RMS):
                continue
            evidence = f"{name} range [{fmt(lo)}, {fmt(hi)}], rms {fmt(rms)} at step {record.step}"
            if lo >= 0 and hi <= 255:
                fix = "Divide by 255 (x = x / 255.0) so the pixels lie in [0, 1]."
                mode = "unit"
            else:
                fix = ("Standardize with the training set's statistics: x = (x - mean) / std "
                       "(one mean and std from the training split).")
                mode = "standard"
            explanation = (f"The values of {name} reach {fmt(biggest)}: weights initialized for "
                           f"unit-scale inputs then produce pre-activations ~{fmt(rms)}× too "
                           "large, saturating sigmoid/tanh units, killing ReLUs and making the "
                           "first layer's gradients huge.")
            out.append(Finding("unscaled_input", "warning", record.step, name, evidence,
                               explanation, fix, {"action": "normalize_inputs", "mode": mode}))
    return out
