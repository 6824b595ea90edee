"""saturated_activation: most outputs of a sigmoid/tanh hidden layer sit on the flat ends.

DeepDiagnosis (ICSE 2022): > 50% of pre-activations beyond ±5. We measure the outputs instead
(sigmoid < 0.01 or > 0.99, i.e. |z| > 4.6; tanh |x| > 0.99, i.e. |z| > 2.6), where the derivative
is below 0.01 (sigmoid) or 0.02 (tanh): those units pass almost no gradient back. The output
layer is not judged (a confident classifier is supposed to saturate).
"""

from __future__ import annotations

from netmedic.doctor.finding import Finding
from netmedic.doctor.rules._context import RuleContext
from netmedic.doctor.rules._robust import fmt, pct

SATURATED_FRACTION = 0.5  # DeepDiagnosis: more than half the units saturated
SATURATION_PERSIST = 2  # consecutive measurements (full steps)
UNSCALED_FOR_SATURATION = 20.0  # inputs beyond this make saturation the data's fault

THRESHOLDS = {"saturated_fraction": SATURATED_FRACTION}


def check(ctx: RuleContext) -> list[Finding]:
    out = []
    output = ctx.output_activation()
    for record in ctx.new:
        for name, entry in record.role("act"):
            if (name == output or "sat_frac" not in entry or ("saturated_activation", name)
                    in ctx.findings or entry["sat_frac"] <= ctx.th["saturated_fraction"]):
                continue
            tail = [r.get("act", name) for r in ctx.tail(
                record, SATURATION_PERSIST,
                lambda r, n=name: "sat_frac" in (r.get("act", n) or {}))]
            if len(tail) < SATURATION_PERSIST or min(e["sat_frac"] for e in tail) <= \
                    ctx.th["saturated_fraction"]:
                continue
            start = next((r.get("act", name)["sat_frac"] for r in ctx.first
                          if "sat_frac" in (r.get("act", name) or {})), entry["sat_frac"])
            out.append(_finding(ctx, record, name, entry, start))
    return out


def _finding(ctx: RuleContext, record, name: str, entry, start: float) -> Finding:
    kind = ctx.activation_kind(name) or entry.get("kind", "sigmoid")
    bounds = "< 0.01 or > 0.99" if kind == "sigmoid" else "beyond ±0.99"
    inputs = [max(abs(e.get("min", 0)), abs(e.get("max", 0))) for _, e in record.role("input")]
    evidence = (f"{pct(entry['sat_frac'])} of {name}'s outputs are {bounds} at step "
                f"{record.step} ({pct(start)} at the start)")
    explanation = (f"{name} is a {kind} layer whose units sit on its flat ends, where the "
                   f"derivative is almost 0: they pass back almost no gradient, so the layers "
                   "before them stop learning.")
    if inputs and max(inputs) > UNSCALED_FOR_SATURATION:
        explanation += f" The inputs reach {fmt(max(inputs))}: unscaled data drives them there."
        fix = "Scale the inputs to [0, 1] (divide pixels by 255) or standardize them."
        remedy = {"action": "normalize_inputs", "mode": "unit"}
    elif start > ctx.th["saturated_fraction"]:
        explanation += " They were saturated from the start: the initial weights are too large."
        fix = "Initialize with Glorot scaling (std sqrt(2/(fan_in+fan_out)))."
        remedy = {"action": "set_init", "init": "glorot_normal"}
    else:
        explanation += " They saturated during training, as the weights grew."
        fix = "Use ReLU hidden units, or add batch normalization before the activation."
        remedy = {"action": "set_activation", "activation": "relu"}
    return Finding("saturated_activation", "warning", record.step, name, evidence, explanation,
                   fix, remedy)
