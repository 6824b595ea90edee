"""Signal propagation at init: how much each layer's output still varies with the input.

The *signal* of a layer is the mean over its units of the standard deviation over the batch (a
unit stuck at one value carries nothing, whatever its mean). A good init keeps it about constant
from layer to layer (Glorot & Bengio 2010, He et al. 2015); a shrinking signal starves the last
layers of information and the first layers of gradient, a growing one blows the logits up.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from netmedic.doctor.finding import Finding

COLLAPSE_RATIO = 0.1  # signal ×0.1 of the first hidden layer's: an order of magnitude lost
GROWTH_RATIO = 10.0  # signal ×10 of the first hidden layer's: an order of magnitude gained
SIGMOID_SATURATED = 0.01  # issue 4: sigmoid outputs < 0.01 or > 0.99 (slope < 0.01)
TANH_SATURATED = 0.99  # issue 4: tanh |x| > 0.99 (slope < 0.02)
SATURATED_FRACTION = 0.5  # DeepDiagnosis (ICSE 2022): a layer is saturated past 50% of its units
RELU_ZERO_FRACTION = 0.3  # ≥ 30% exact zeros and no negatives: ReLU-like (sigmoid never hits 0)


def infer_kind(values: np.ndarray) -> str:
    """``"relu"``, ``"sigmoid"``, ``"tanh"`` or ``"other"``, from the values alone."""
    low, high = float(values.min()), float(values.max())
    zeros = float(np.mean(values == 0))
    if low >= 0 and zeros >= RELU_ZERO_FRACTION and not (high == 1.0 and low == 0.0):
        return "relu"
    if low >= 0 and high <= 1:
        return "sigmoid"
    if low >= -1 and high <= 1:
        return "tanh"
    return "other"


def signal(values: np.ndarray) -> float:
    """Mean over units of the std over the batch; ``values``: ``(N, ...)``."""
    flat = values.reshape(len(values), -1).astype(np.float64)
    with np.errstate(all="ignore"):
        return float(np.std(flat, axis=0).mean())


def check_propagation(activations: Mapping[str, np.ndarray], kinds: Mapping[str, str], *,
                      unscaled: bool = False) -> list[Finding]:
    """Findings about the hidden layers' outputs at init (``activations`` in forward order)."""
    arrays = {name: np.asarray(a) for name, a in activations.items()}
    for name, values in arrays.items():
        if not np.all(np.isfinite(values)):
            return [Finding(kind="nonfinite", severity="error", step=None, where=name,
                            evidence=f"{int(np.sum(~np.isfinite(values)))} non-finite values in "
                                     f"{name} at init",
                            explanation=f"the forward pass overflows by {name} before any step",
                            fix="scale the inputs and use He/Glorot init",
                            remedy={"action": "set_init", "init": "glorot_normal"})]
    kind_of = {name: kinds.get(name) or infer_kind(a) for name, a in arrays.items()}
    findings = [f for name, a in arrays.items()
                if (f := _saturation(name, a, kind_of[name], unscaled)) is not None]
    signals = {name: signal(a) for name, a in arrays.items()}
    if len(signals) < 2:
        return findings
    names, values = list(signals), list(signals.values())
    evidence = "std per layer: " + ", ".join(f"{n} {s:.2g}" for n, s in signals.items())
    first = values[0]
    per_layer = (values[-1] / first) ** (1 / (len(values) - 1)) if first > 0 else 0.0
    collapsed = next((n for n, s in zip(names, values, strict=True)
                      if s < COLLAPSE_RATIO * first or s == 0), None)
    grown = next((n for n, s in zip(names, values, strict=True) if s > GROWTH_RATIO * first), None)
    kinds_used = set(kind_of.values())
    if collapsed is not None:
        sigmoid = "sigmoid" in kinds_used
        findings.append(Finding(
            kind="vanishing_gradients", severity="warning", step=None, where=collapsed,
            evidence=f"{evidence} (×{per_layer:.2g} per layer)",
            explanation=f"at init each layer passes on a fraction of the previous one's "
                        f"variation, so by {collapsed} the activations hardly depend on the "
                        "input, and backprop shrinks the gradients of the first layers the same "
                        "way: they will barely learn. "
                        + ("A sigmoid's slope is at most 0.25, so a deep sigmoid stack loses "
                           "signal at every layer whatever the init" if sigmoid else
                           "The initial weights are too small for this activation"),
            fix="use ReLU with He init (std √(2/fan_in)), or tanh with Glorot init"
                if sigmoid else "initialize with He (ReLU) or Glorot (tanh) scale",
            remedy={"action": "set_activation", "activation": "relu"} if sigmoid else
                   {"action": "set_init", "init": _init_for(kinds_used)}))
    elif grown is not None:
        findings.append(Finding(
            kind="bad_init", severity="warning", step=None, where=grown,
            evidence=f"{evidence} (×{per_layer:.2g} per layer)",
            explanation=f"at init each layer amplifies the previous one's variation, so by "
                        f"{grown} the activations are ×{signals[grown] / first:.0f} the first "
                        "layer's: the logits start huge and so do the gradients",
            fix="initialize with std √(2/fan_in) (He) for ReLU, √(2/(fan_in+fan_out)) for tanh",
            remedy={"action": "set_init", "init": _init_for(kinds_used)}))
    return findings


def _saturation(name: str, values: np.ndarray, kind: str, unscaled: bool) -> Finding | None:
    if kind == "sigmoid":
        flat = (values < SIGMOID_SATURATED) | (values > 1 - SIGMOID_SATURATED)
        where_flat = f"below {SIGMOID_SATURATED} or above {1 - SIGMOID_SATURATED}"
    elif kind == "tanh":
        flat, where_flat = np.abs(values) > TANH_SATURATED, f"beyond ±{TANH_SATURATED}"
    else:
        return None
    fraction = float(np.mean(flat))
    if fraction <= SATURATED_FRACTION:
        return None
    return Finding(
        kind="saturated_activation", severity="warning", step=None, where=name,
        evidence=f"{fraction:.0%} of {name}'s {kind} outputs are {where_flat} at init",
        explanation=f"those units sit on the flat ends of the {kind}, where its slope is nearly "
                    f"0: gradients through {name} are cut before training starts, because the "
                    + ("inputs are unscaled" if unscaled else "pre-activations are too large"),
        fix="scale the inputs to [0, 1]" if unscaled else
            "use Glorot init (std √(2/(fan_in+fan_out))) so pre-activations stay within ±2",
        remedy={"action": "normalize_inputs", "mode": "unit"} if unscaled else
               {"action": "set_init", "init": "glorot_normal"})


def _init_for(kinds: set[str]) -> str:
    return "he_normal" if kinds <= {"relu"} else "glorot_normal"
