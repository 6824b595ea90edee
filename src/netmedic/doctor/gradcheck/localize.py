"""Where does the error enter the backward pass? Layer order from names, then a walk top-down.

Backprop computes an error signal δ per layer from the one above, and each layer's gradients
from its δ: ``dW_k = a_{k-1}ᵀ δ_k``, ``db_k = Σ_batch δ_k``. So

* a layer whose bias gradient is right has a right δ; a wrong weight gradient there is a local
  mistake in ``dW_k``'s own formula (and vice versa);
* layers right above and wrong from layer k down mean δ_k went wrong in the step from layer
  k+1 to k: the activation derivative or the product with ``W_{k+1}ᵀ``;
* wrong from the output down means the output error itself is wrong.

Layer order comes from names (``W1, b1, W2``; ``dense1.weight``; ``layers.0.bias``); names of
several kinds (``conv1``, ``conv2``, ``dense1``) are taken in the order given when that order
agrees with each kind's numbering. Otherwise the report keeps its per-parameter table only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Parameter-name tokens that mean "weight" and "bias".
WEIGHT_TOKENS = {"w", "weight", "weights", "kernel", "theta"}
BIAS_TOKENS = {"b", "bias", "biases"}

_PLAIN = re.compile(r"^(?P<kind>[A-Za-z]+?)_?(?P<index>\d+)$")
_DOTTED = re.compile(r"^(?P<layer>.+)\.(?P<kind>[A-Za-z_]+)$")


@dataclass(frozen=True)
class Layer:
    """One layer's parameters, by the user's names; ``index`` orders layers input → output."""

    index: int
    label: str
    weight: str | None = None
    bias: str | None = None
    others: tuple[str, ...] = ()

    @property
    def names(self) -> list[str]:
        return [n for n in (self.weight, self.bias, *self.others) if n is not None]


def _parse(name: str) -> tuple[str, int, str] | None:
    """``(layer label, layer index, kind token)`` or None when the name gives no layer."""
    plain = _PLAIN.match(name)
    if plain:
        return plain["index"], int(plain["index"]), plain["kind"].lower()
    dotted = _DOTTED.match(name)
    if dotted:
        numbers = re.findall(r"\d+", dotted["layer"])
        if numbers:
            return dotted["layer"], int(numbers[-1]), dotted["kind"].lower()
    return None


def infer_layers(names: list[str]) -> list[Layer] | None:
    """Layers in forward order, or None when the names do not give an unambiguous order."""
    groups: dict[str, dict[str, object]] = {}
    for name in names:
        parsed = _parse(name)
        if parsed is None:
            return None
        label, index, kind = parsed
        group = groups.setdefault(
            label, {"index": index, "weight": None, "bias": None, "others": []}
        )
        slot = "weight" if kind in WEIGHT_TOKENS else "bias" if kind in BIAS_TOKENS else None
        if slot is not None and group[slot] is None:
            group[slot] = name
        else:
            group["others"].append(name)  # type: ignore[union-attr]
    layers = [
        Layer(int(g["index"]), label, g["weight"], g["bias"], tuple(g["others"]))  # type: ignore[arg-type]
        for label, g in groups.items()
    ]
    if len({layer.index for layer in layers}) == len(layers):
        return sorted(layers, key=lambda layer: layer.index)
    # conv1 … conv2 … dense1: the numbers alone do not interleave the kinds. The order of the
    # names is used when it agrees with every kind's own numbering (as a model's parameters do).
    kinds: dict[str, list[int]] = {}
    for layer in layers:
        kinds.setdefault(re.sub(r"\d+", "#", layer.label), []).append(layer.index)
    if all(numbers == sorted(set(numbers)) for numbers in kinds.values()):
        return [
            Layer(i, lay.label, lay.weight, lay.bias, lay.others) for i, lay in enumerate(layers)
        ]
    return None


def _join(names: list[str]) -> str:
    return ", ".join(names)


def _capital(sentence: str) -> str:
    """Capitalise an ASCII first letter (never turn δ into Δ)."""
    return sentence[0].upper() + sentence[1:] if sentence[:1].isascii() else sentence


def _same(a: object, b: object) -> bool:
    """Equal signatures; factors equal within 1%."""
    if isinstance(a, tuple) and isinstance(b, tuple):
        return abs(a[1] / b[1] - 1) < 1e-2
    return a == b


def _signature(
    layer: Layer, patterns: dict[str, str], factors: dict[str, float | None]
) -> str | tuple[str, float]:
    """What a layer's δ looks like: "ok", ("k", factor) or "wrong".

    δ is right when the weight or the bias gradient is right in value (the other one then has a
    local mistake); a shared factor (a sign flip is k = −1) is carried down unchanged by backprop.
    """
    core = [n for n in (layer.weight, layer.bias) if n is not None] or list(layer.others)
    ks = []
    for n in core:
        pattern, factor = patterns[n], factors.get(n)
        if pattern == "ok" or (pattern in ("transposed", "shape") and factor is None):
            return "ok"
        ks.append(-1.0 if pattern == "sign_flipped" else factor)
    if ks and all(k is not None and abs(k / ks[0] - 1) < 1e-2 for k in ks):
        return ("k", float(ks[0]))
    return "wrong"


def _describe_entry(sig: object, layer: Layer, above: Layer | None, conv: bool = False) -> str:
    """One sentence on an error entering at ``layer`` (from ``above``, or at the output)."""
    factor = sig[1] if isinstance(sig, tuple) else None
    if factor is not None:
        what = "is sign-flipped" if abs(factor + 1) < 1e-2 else f"carries a factor k = {factor:.4g}"
        if above is None:
            cause = (
                "the output error is (y − p) where it should be (p − y)"
                if abs(factor + 1) < 1e-2
                else "it is in the output error (or the loss normalisation), not in one layer"
            )
            return f"the output error δ {what}: {cause}."
        return (
            f"δ of layer {layer.label} {what} that layer {above.label} does not have: a constant "
            f"crept into the backward step from layer {above.label} to layer {layer.label}."
        )
    if above is None:
        return (
            "the error enters at the output: the output error δ (the gradient of the loss "
            "with respect to the last pre-activation; for softmax + cross-entropy (p − y)/N, "
            "with p normalised over the class axis and no extra activation-derivative factor)."
        )
    w_next = above.weight or f"layer {above.label}'s weight"
    product = (
        f"the transposed convolution with {w_next} (kernel flipped, in/out channels swapped)"
        if conv
        else f"the product with {w_next}ᵀ (dA = δ @ {w_next}.T)"
    )
    return (
        f"the error enters in the backward step from layer {above.label} to layer {layer.label}: "
        f"the derivative of layer {layer.label}'s activation (f′ evaluated on the pre-activation "
        "z: for sigmoid σ(z)(1 − σ(z)) = a(1 − a), never z(1 − z); for tanh 1 − a²; for ReLU "
        f"(z > 0)) or {product}."
    )


def diagnose(
    layers: list[Layer] | None,
    patterns: dict[str, str],
    factors: dict[str, float | None],
    ndims: dict[str, int] | None = None,
) -> tuple[str | None, dict[str, str]]:
    """``(where the error enters, per-parameter fix hints)`` from each parameter's pattern.

    ``factors`` holds each parameter's k (``scale``, or the factor of a transposed/shape match);
    ``ndims`` the parameters' numbers of axes (a 4-axis weight is a convolution's).
    """
    ndims = ndims or {}
    bad = {n for n, p in patterns.items() if p != "ok"}
    if not bad:
        return None, {}
    if layers is None:
        return _shared_factor(bad, patterns, factors, set(patterns)), {}
    parts, hints = [], {}
    signatures = {layer.label: _signature(layer, patterns, factors) for layer in layers}
    for layer in layers:  # local mistakes: δ is right, one of W, b is not
        w, b = layer.weight, layer.bias
        if w is None or b is None or signatures[layer.label] != "ok":
            continue
        for wrong, right, what in ((w, b, "weight"), (b, w, "bias")):
            if patterns[wrong] in ("ok", "transposed", "shape") and factors.get(wrong) is None:
                continue
            parts.append(
                f"In layer {layer.label}, {right} is right, so the error signal δ reaching "
                f"that layer is right: the mistake is in {wrong}'s own formula."
            )
            hints[wrong] = (
                f"{right} checks out, so δ is right: fix this gradient's own formula ("
                + (
                    "the layer's input, transposed, times δ; the right input is the "
                    "previous layer's output, or X for the first layer; any "
                    "regularisation term)"
                    if what == "weight"
                    else "δ summed over the batch axis: the axis, sum versus mean, any "
                    "extra factor)"
                )
            )
    entries = []
    previous: object = "ok"
    above: Layer | None = None
    entry_layer = layers[-1]
    for layer in reversed(layers):  # output → input, the order backprop runs
        sig = signatures[layer.label]
        if sig == "ok" and previous != "ok":
            entries.append(
                f"layer {layer.label} is right again below a wrong layer, which one "
                "mistake cannot explain (or the layers are not a plain chain)."
            )
        elif sig != "ok" and not _same(sig, previous):
            conv = above is not None and ndims.get(above.weight or "", 2) > 2
            entries.append(_describe_entry(sig, layer, above, conv))
            where = (
                "at the output error δ"
                if above is None
                else f"in the backward step from layer {above.label} to layer {layer.label}"
            )
            for n in layer.names:
                if n in bad:
                    hints.setdefault(n, f"the error enters {where} (see 'where the error enters')")
            entry_layer = layer
        elif sig != "ok":
            for n in layer.names:  # inherited from the entry above
                if n in bad:
                    hints.setdefault(
                        n,
                        f"inherited from layer {entry_layer.label}: fix the error "
                        "there and this gradient follows",
                    )
        previous, above = sig, layer
    if entries:
        right = [n for n in patterns if n not in bad]
        wrong = [n for n in patterns if n in bad]
        lead = f"{_join(right)} {'is' if len(right) == 1 else 'are'} right; " if right else ""
        lead += f"{_join(wrong)} {'is' if len(wrong) == 1 else 'are'} wrong. "
        parts.insert(0, lead + _capital(entries[0]) + "".join(f" Then {e}" for e in entries[1:]))
    return (" ".join(parts) or None), hints


def _shared_factor(
    bad: set[str], patterns: dict[str, str], factors: dict[str, float | None], everyone: set[str]
) -> str | None:
    """A sentence when every parameter is wrong by one shared sign flip or factor k."""
    if bad != everyone or len(bad) < 2:
        return None
    kinds = {patterns[n] for n in bad}
    if kinds == {"sign_flipped"}:
        return (
            "Every gradient is sign-flipped: the error is common to all of them, most likely the "
            "output error written as (y − p) where it should be (p − y)."
        )
    ks = [factors.get(n) for n in bad]
    if kinds == {"scaled"} and all(k is not None for k in ks):
        first = float(ks[0])  # type: ignore[arg-type]
        if all(abs(float(k) / first - 1) < 1e-2 for k in ks):  # type: ignore[arg-type]
            return (
                f"Every gradient carries the same factor k = {first:.4g}: it is in the output "
                "error (or the loss normalisation), not in any one layer."
            )
    return None
