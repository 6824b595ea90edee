"""dead_relu: most units of a ReLU layer output 0 for every example, so they never learn again.

DeepDiagnosis (ICSE 2022) counts outputs ≤ 0 (≥ 70%); a healthy ReLU layer is often 50–80% zeros,
so we count *units* instead: a unit that is 0 for the whole batch gets no gradient at all. With
a batch of 8 a live unit firing 30% of the time is silent on all 8 examples 6% of the time, far
from half the layer. Without activations we fall back on AUTOTRAINER's signal (ICSE 2021):
≥ 70% exactly-zero weight gradients, up from the start.
"""

from __future__ import annotations

from netmedic.doctor.finding import Finding
from netmedic.doctor.rules._context import RuleContext
from netmedic.doctor.rules._robust import pct
from netmedic.doctor.rules._series import lr_remedy

DEAD_UNIT_FRACTION = 0.5  # units silent on the whole batch (DeepDiagnosis: 70% of outputs)
DEAD_ZERO_FRACTION = 0.9  # ...and 90% of all outputs 0 (healthy ReLU layers: ~50–80%)
DEAD_ZERO_GRADIENTS = 0.7  # AUTOTRAINER: ≥ 70% zero gradients (fallback without activations)
DEAD_PERSIST = 2  # consecutive measurements (full steps)

THRESHOLDS = {"dead_unit_fraction": DEAD_UNIT_FRACTION, "dead_zero_gradients": DEAD_ZERO_GRADIENTS}


def _dead(ctx: RuleContext, entry) -> bool:
    return (entry.get("dead_frac", 0.0) >= ctx.th["dead_unit_fraction"]
            and entry.get("zero_frac", 0.0) >= DEAD_ZERO_FRACTION)


def check(ctx: RuleContext) -> list[Finding]:
    out = []
    for record in ctx.new:
        acts = [(name, e) for name, e in record.role("act") if "dead_frac" in e]
        for name, entry in acts:
            if (("dead_relu", name) in ctx.findings or not _dead(ctx, entry)
                    or ctx.activation_kind(name) != "relu"):
                continue
            tail = [r.get("act", name) for r in ctx.tail(
                record, DEAD_PERSIST, lambda r, n=name: "dead_frac" in (r.get("act", n) or {}))]
            if len(tail) < DEAD_PERSIST or not all(_dead(ctx, e) for e in tail):
                continue
            start = _first_entry(ctx, "act", name, "dead_frac") or entry
            out.append(_finding(ctx, record, name, entry, start["dead_frac"], _dead(ctx, start)))
        if not any(True for _ in record.role("act")):
            out += _from_gradients(ctx, record)
    return out


def _finding(ctx, record, name, entry, start, from_start: bool) -> Finding:
    units = entry.get("width")
    lr = ctx.lr_at(record)
    evidence = (f"{pct(entry['dead_frac'])} of {name}'s {units or ''} units output 0 for all "
                f"{record.batch or ''} examples at step {record.step} ({pct(entry['zero_frac'])} "
                f"of all its outputs are 0; {pct(start)} of the units were silent at the start)")
    explanation = (f"A ReLU unit whose input is negative for every example outputs 0 and gets a "
                   f"zero gradient, so nothing ever revives it: {name} has lost most of its "
                   "capacity.")
    if from_start:
        explanation += (" They were dead from the first step: the initialization (a large "
                        "negative bias, or weights too large for the inputs) put them there.")
        fix = "Initialize biases to 0 and weights with He scaling (std sqrt(2/fan_in))."
        remedy = {"action": "set_init", "init": "he_normal"}
    elif lr:
        words, remedy = lr_remedy(ctx, record)
        explanation += (" They died during training: a too-large step pushed their weights or "
                        "biases far negative.")
        fix = f"Lower the learning rate ({words}); or use leaky ReLU."
    else:
        fix = "Lower the learning rate, or use leaky ReLU (a small slope keeps units alive)."
        remedy = {"action": "set_activation", "activation": "leaky_relu"}
    return Finding("dead_relu", "warning", record.step, name, evidence, explanation, fix, remedy)


def _from_gradients(ctx: RuleContext, record) -> list[Finding]:
    out = []
    for name in ctx.weights(record):
        layer = ctx.layer(name)
        entry = record.get("grad", name)
        if ("dead_relu", layer) in ctx.findings or "zero_frac" not in entry:
            continue
        tail = [r.get("grad", name)["zero_frac"] for r in ctx.tail(
            record, DEAD_PERSIST, lambda r, n=name: "zero_frac" in (r.get("grad", n) or {}))]
        if len(tail) < DEAD_PERSIST or min(tail) < ctx.th["dead_zero_gradients"]:
            continue
        start = (_first_entry(ctx, "grad", name, "zero_frac") or entry)["zero_frac"]
        if start >= ctx.th["dead_zero_gradients"] - 0.2:
            continue  # zeros from the start: sparse inputs or a zero-initialized layer, not death
        evidence = (f"{pct(entry['zero_frac'])} of grad {name} is exactly 0 at step {record.step} "
                    f"({pct(start)} at the start)")
        explanation = ("Most of this layer's gradient became exactly zero: the ReLU units feeding "
                       "it stopped firing for every example (pass activations=... to see which).")
        if ctx.lr_at(record):
            words, remedy = lr_remedy(ctx, record)
            fix = f"Lower the learning rate ({words}), or use leaky ReLU."
        else:
            fix = "Lower the learning rate, or use leaky ReLU."
            remedy = {"action": "set_activation", "activation": "leaky_relu"}
        out.append(Finding("dead_relu", "warning", record.step, layer, evidence, explanation,
                           fix, remedy))
    return out


def _first_entry(ctx: RuleContext, role: str, name: str, field: str) -> dict | None:
    """The first measurement of ``field`` for this tensor (the state at the start)."""
    for record in ctx.first:
        entry = record.get(role, name)
        if entry is not None and field in entry:
            return entry
    return None
