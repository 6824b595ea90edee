"""``check_data(x, y)``: problems visible in the data before any training step.

Scale (raw 0…255 pixels), NaN/Inf inputs, and labels (shape, non-integers, range, one-hot,
missing classes, imbalance). NumPy only, like the rest of the doctor; never emits NumPy warnings.
"""

from __future__ import annotations

import numpy as np

from netmedic.doctor.finding import Finding

#: API.md: "unscaled_input means raw-pixel-like ranges (|x| in the tens or more); standardized
#: inputs with |x| up to ~10 are not unscaled". Flag when the bulk of |x| exceeds this.
UNSCALED_ABS = 20.0
#: Judge the scale by this quantile of |x|, not the max, so a few outliers of a standardized set
#: (one 25σ value) do not trigger it; raw MNIST has ~19% of its pixels above 20, so it still does.
SCALE_QUANTILE = 0.999
#: Values sampled for the quantile (evenly strided), enough for a 3-digit quantile estimate.
SCALE_SAMPLE = 1_000_000
#: Upper end of 8-bit pixel data: inputs within [0, 255] get the "divide by 255" fix.
PIXEL_MAX = 255.0
#: Rule of thumb from the class-imbalance literature (He & Garcia 2009, "Learning from
#: Imbalanced Data"): beyond ~10:1 plain accuracy hides the minority classes.
IMBALANCE_RATIO = 10.0
#: Above this many distinct values, integer "labels" look like IDs or regression targets.
MAX_CLASSES = 100_000


def check_data(
    x: np.ndarray, y: np.ndarray | None, num_classes: int | None = None
) -> list[Finding]:
    """Findings about inputs ``x`` and labels ``y``, made before training (``step=None``).

    Parameters
    ----------
    x : (N, ...) inputs, any numeric dtype
    y : (N,) or (N, 1) class indices, or (N, C) one-hot; ``None`` to check only ``x``
    num_classes : C when known; otherwise inferred as ``max(y) + 1``

    Returns
    -------
    list of :class:`Finding` of kinds ``unscaled_input``, ``nonfinite`` (where ``"inputs"``)
    and ``label_error`` (where ``"labels"``); empty when nothing looks wrong.
    """
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise TypeError(f"check_data: x must be numeric; got dtype {x.dtype}")
    findings: list[Finding] = []
    with np.errstate(all="ignore"):
        findings += _check_finite(x)
        findings += _check_scale(x)
        if y is not None:
            findings += _check_labels(np.asarray(y), len(x) if x.ndim else 0, num_classes)
    return findings


def _check_finite(x: np.ndarray) -> list[Finding]:
    if x.dtype.kind != "f":
        return []
    nan, inf = int(np.isnan(x).sum()), int(np.isinf(x).sum())
    if nan + inf == 0:
        return []
    per_row = ~np.isfinite(x.reshape(len(x), -1)) if x.ndim else ~np.isfinite(x)
    rows = np.flatnonzero(per_row.any(axis=-1)) if x.ndim else np.array([0])
    return [Finding(
        kind="nonfinite", severity="error", step=None, where="inputs",
        evidence=f"inputs hold {nan} NaN and {inf} Inf values in {len(rows)} examples "
                 f"(first: example {rows[0]})",
        explanation="One NaN input makes the loss and every gradient NaN, and the weights "
                    "become NaN after the first update.",
        fix="remove or impute those examples before training (np.isfinite(x).all(axis=1) "
            "selects the clean rows)",
    )]


def _check_scale(x: np.ndarray) -> list[Finding]:
    values = x.reshape(-1)
    values = values[np.isfinite(values)] if x.dtype.kind == "f" else values
    if values.size == 0:
        return []
    stride = max(1, values.size // SCALE_SAMPLE)
    magnitude = np.abs(values[::stride].astype(np.float64))
    typical = float(np.quantile(magnitude, SCALE_QUANTILE))
    if typical < UNSCALED_ABS:
        return []
    low, high = float(values.min()), float(values.max())
    mean = float(np.mean(values, dtype=np.float64))
    std = float(np.std(values[::stride], dtype=np.float64))
    evidence = (f"inputs range {low:.4g} … {high:.4g}, mean {mean:.4g} "
                f"(99.9th percentile of |x|: {typical:.4g})")
    if low >= 0 and high <= PIXEL_MAX:
        fix, mode = "divide by 255 (--normalize unit)", "unit"
    else:
        fix = (f"standardize: subtract the mean ({mean:.4g} here) and divide by the std "
               f"({std:.4g}), both from the training set (--normalize standard)")
        mode = "standard"
    return [Finding(
        kind="unscaled_input", severity="warning", step=None, where="inputs",
        evidence=evidence,
        explanation="Inputs in the tens or hundreds make the first layer's pre-activations "
                    "that large too: sigmoid/tanh units saturate, the softmax becomes one-hot, "
                    "and gradients explode unless the learning rate is tiny.",
        fix=fix, remedy={"action": "normalize_inputs", "mode": mode},
    )]


def _label(evidence: str, explanation: str, fix: str, severity: str = "error") -> Finding:
    return Finding(kind="label_error", severity=severity, step=None, where="labels",
                   evidence=evidence, explanation=explanation, fix=fix)


def _check_labels(y: np.ndarray, n: int, num_classes: int | None) -> list[Finding]:
    if y.ndim == 0 or len(y) != n:
        return [_label(f"{n} inputs but labels of shape {y.shape}",
                       "Every example needs exactly one label; a mismatch means the two arrays "
                       "come from different subsets or one is transposed.",
                       "pair x and y row by row: both must have N rows")]
    if y.ndim == 2 and y.shape[1] > 1:
        return _check_one_hot(y, num_classes)
    if y.ndim == 2:
        y = y[:, 0]
    if y.ndim != 1:
        return [_label(f"labels have shape {y.shape}", "Labels are one class index per example.",
                       "give labels as (N,) class indices")]
    if y.dtype.kind not in "biuf":
        return [_label(f"labels have dtype {y.dtype}", "Class indices must be integers.",
                       "map class names to integers 0 … C-1")]
    if y.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(y) | (y != np.round(y)))
        if len(bad):
            return [_label(f"labels must be integers; found {y[bad[0]]:g} at row {bad[0]} "
                           f"({len(bad)} non-integer labels)",
                           "Cross-entropy needs a class index per example; fractional or NaN "
                           "labels are probabilities, regression targets or missing values.",
                           "give integer class indices 0 … C-1 (drop unlabelled rows)")]
    if len(y) == 0:
        return [_label("no labels (0 examples)", "An empty set cannot be trained on.",
                       "check the file was read completely")]
    y = y.astype(np.int64)
    return _check_label_values(y, num_classes)


def _check_one_hot(y: np.ndarray, num_classes: int | None) -> list[Finding]:
    binary = bool(np.all((y == 0) | (y == 1)))
    if binary and np.all(y.sum(axis=1) == 1):
        return [_label(f"labels are one-hot, shape {y.shape}",
                       "netmedic's losses take class indices; a one-hot matrix would be read "
                       "as something else (or one-hot encoded again).",
                       "pass y.argmax(axis=1) (netmedic.data.load converts one-hot for you)",
                       severity="warning")]
    return [_label(f"labels have shape {y.shape} but rows are not one-hot "
                   f"({'values other than 0/1' if not binary else 'rows without exactly one 1'})",
                   "A classifier needs one class per example.",
                   "give (N,) class indices 0 … C-1")]


def _check_label_values(y: np.ndarray, num_classes: int | None) -> list[Finding]:
    low, high = int(y.min()), int(y.max())
    if low < 0 or (num_classes is not None and high >= num_classes) or high > MAX_CLASSES:
        bad = np.flatnonzero((y < 0) | (y >= (num_classes or MAX_CLASSES + 1)))[0]
        top = (num_classes or high + 1) - 1
        hint = ("they look 1-based: subtract 1" if num_classes and low >= 1 and high == num_classes
                else "did you one-hot encode twice, or shift the classes?")
        return [_label(f"labels must be integers in [0, {top}]; found {y[bad]} at row {bad}",
                       "A label outside [0, C) indexes past the network's outputs.",
                       hint)]
    classes = num_classes or high + 1
    counts = np.bincount(y, minlength=classes)
    findings = []
    missing = np.flatnonzero(counts == 0)
    if len(missing):
        hint = ("labels start at 1: if they are 1-based, subtract 1" if missing.tolist() == [0]
                else "check the split kept every class, or lower num_classes")
        findings.append(_label(
            f"class(es) {missing.tolist()[:10]} of 0 … {classes - 1} have no examples "
            f"(counts {counts.tolist()[:10]}{'…' if classes > 10 else ''})",
            "The network keeps an output for a class it never sees, and accuracy on that class "
            "is undefined.", hint, severity="warning"))
    present = counts[counts > 0]
    if len(present) == 1:
        findings.append(_label(f"all {len(y)} labels are class {high}",
                               "With one class there is nothing to learn.",
                               "check the labels were read from the right column"))
    elif present.max() > IMBALANCE_RATIO * present.min():
        big, small = int(np.argmax(counts)), int(np.flatnonzero(counts == present.min())[0])
        findings.append(_label(
            f"class {big} has {counts[big]} examples, class {small} only {counts[small]} "
            f"(ratio {counts[big] / counts[small]:.1f}:1)",
            "A network can reach high accuracy by ignoring the rare classes.",
            "resample or weight the classes, and watch per-class accuracy", severity="warning"))
    return findings
