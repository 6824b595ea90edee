"""label_error: labels that cannot be right for this network's output.

Checked on the labels passed to ``observe(labels=...)``: class indices must be integers in
[0, C−1] (C = the output width); one-hot rows must be 0/1 and sum to 1, and be as wide as the
output; there must be one label per example of the batch. (``nm.check_data`` checks a whole
data set before training; this catches what the training loop actually feeds.)
"""

from __future__ import annotations

from netmedic.doctor.finding import Finding
from netmedic.doctor.rules._context import RuleContext
from netmedic.doctor.rules._robust import fmt

THRESHOLDS: dict[str, float] = {}
ROW_SUM_TOLERANCE = 1e-3  # one-hot rows sum to 1 up to float rounding


def _problem(entry: dict, classes: int | None, batch: int | None) -> tuple[str, str] | None:
    rows, width = entry.get("rows"), entry.get("width", 1)
    lo, hi = entry.get("min"), entry.get("max")
    if entry.get("nan"):
        return f"{entry['nan']} labels are NaN", "Some labels are missing (NaN)."
    if batch and rows and rows != batch:
        return (f"{rows} labels for a batch of {batch} examples",
                "Labels and inputs are not the same batch: the wrong slice of y, or y transposed.")
    if width == 1:
        if entry.get("nonint"):
            return (f"{entry['nonint']} labels are not integers (range [{fmt(lo)}, {fmt(hi)}])",
                    "Class labels must be integers 0..C-1; these look like floats or scores.")
        if lo is not None and lo < 0:
            return f"labels go down to {fmt(lo)}", "Class labels must be ≥ 0."
        if classes and hi is not None and hi >= classes:
            return (f"labels go up to {fmt(hi)} but the output has {classes} units "
                    f"(classes 0..{classes - 1})",
                    "A label equal to or above the number of outputs: labels 1..C instead of "
                    "0..C-1, or an output layer too narrow for the classes.")
        return None
    if classes and width != classes:
        return (f"one-hot labels {width} wide for {classes} outputs",
                "The label encoding and the output layer disagree on the number of classes.")
    if lo is not None and (lo < 0 or hi > 1):
        return (f"one-hot labels range [{fmt(lo)}, {fmt(hi)}]",
                "One-hot labels must be 0 or 1.")
    low, high = entry.get("row_sum_min"), entry.get("row_sum_max")
    if low is not None and (abs(low - 1) > ROW_SUM_TOLERANCE or abs(high - 1) > ROW_SUM_TOLERANCE):
        return (f"label rows sum to between {fmt(low)} and {fmt(high)}, not 1",
                "Each one-hot row must hold exactly one 1 (encoded twice, or a row of zeros).")
    return None


def check(ctx: RuleContext) -> list[Finding]:
    out = []
    for record in ctx.new:
        for name, entry in record.role("label"):
            if ("label_error", name) in ctx.findings:
                continue
            problem = _problem(entry, ctx.classes, record.batch)
            if problem is None:
                continue
            evidence = f"{problem[0]} at step {record.step}"
            fix = ("Fix the labels: netmedic data PATH (or nm.check_data(x, y)) checks a whole "
                   "data set.")
            out.append(Finding("label_error", "error", record.step, name, evidence, problem[1],
                               fix, None))
    return out
