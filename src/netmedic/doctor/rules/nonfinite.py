"""nonfinite: the FIRST tensor that went NaN/Inf, at the first step, producer vs inheritors.

Within a step, values are computed in this order: inputs → parameters → pre-activations and
activations in layer order → loss → gradients in backward order (last layer first). The first
non-finite tensor in that order whose upstream is finite *produced* the NaN/Inf; everything
non-finite after it merely *inherited* it (the loss is NaN because the logits overflowed; the
gradients are NaN because the loss was). Parameters are produced by the previous step's update,
so they count as inherited when that step's gradients or update were already non-finite.
"""

from __future__ import annotations

import math

from netmedic.doctor.finding import Finding
from netmedic.doctor.history import Record
from netmedic.doctor.rules._context import RuleContext
from netmedic.doctor.rules._robust import fmt
from netmedic.doctor.rules._series import lr_remedy
from netmedic.doctor.stats import finite_entry

EXP_OVERFLOW = 88.7  # exp(x) overflows float32 above ln(3.4e38) = 88.7 (709.8 in float64)
OVERFLOWING = 1e15  # forward values this large make a NaN gradient an overflow, not a formula bug
UNSCALED_FOR_OVERFLOW = 1e3  # inputs this large make an overflow the data's fault, not the LR's

THRESHOLDS: dict[str, float] = {}
ROLE_WORDS = {"input": "input", "param": "parameter", "preact": "pre-activation",
              "act": "activation", "loss": "loss", "grad": "gradient", "update": "update"}


def causal_order(record: Record) -> list[tuple[str, str, dict]]:
    """``(role, name, entry)`` in the order the values were computed; the loss as ``("loss",…)``."""
    out = [("input", n, e) for n, e in record.role("input")]
    out += [("param", n, e) for n, e in record.role("param")]
    out += [(k.split("/", 1)[0], k.split("/", 1)[1], e) for k, e in record.tensors.items()
            if k.startswith(("preact/", "act/"))]
    if record.loss is not None:
        out.append(("loss", "loss", {"norm": record.loss}))
    out += [("grad", n, e) for n, e in reversed(list(record.role("grad")))]
    return out


def _counts(role: str, entry: dict) -> str:
    if role == "loss":
        return fmt(entry["norm"])
    nan, inf, size = entry.get("nan"), entry.get("inf"), entry.get("size")
    if nan is None and inf is None:
        return fmt(entry["norm"])
    parts = [f"{nan} NaN" if nan else "", f"{inf} Inf" if inf else ""]
    return " + ".join(p for p in parts if p) + (f" of {size}" if size else "")


def check(ctx: RuleContext) -> list[Finding]:
    out = []
    for record in ctx.new:
        if record.finite:  # set by the monitor (live) or the replay
            continue
        previous = ctx.previous(record)
        if previous is not None and not previous.finite:
            continue  # the same episode: the first step of it was judged already
        order = causal_order(record)
        bad = [(i, role, name, e) for i, (role, name, e) in enumerate(order) if not finite_entry(e)]
        if not bad:
            continue
        i, role, name, entry = bad[0]
        if role == "param" and _inherited_param(ctx, record, name):
            continue
        upstream = [(r, n, e) for r, n, e in order[:i] if r != "param" or role != "param"]
        out.append(_finding(ctx, record, role, name, entry, upstream, bad[1:]))
    return out


def _inherited_param(ctx: RuleContext, record: Record, name: str) -> bool:
    prev = ctx.previous(record)
    if prev is None:
        return record.n > 0
    entries = [prev.get("grad", name), prev.get("update", name), prev.get("param", name)]
    return any(e is not None and not finite_entry(e) for e in entries) or (
        prev.loss is not None and not math.isfinite(prev.loss))


def _largest(upstream: list[tuple[str, str, dict]]) -> tuple[str, float] | None:
    """The largest finite magnitude computed before the producer (what overflowed into it)."""
    best = None
    for role, name, e in upstream:
        if role in ("input", "param", "preact", "act") and "max" in e and "min" in e:
            big = max(abs(e["min"]), abs(e["max"]))
            if math.isfinite(big) and (best is None or big > best[1]):
                best = (f"{name} ({ROLE_WORDS[role]})", big)
    return best


def _finding(ctx, record, role, name, entry, upstream, inheritors) -> Finding:
    step = record.step
    where = "loss" if role == "loss" else name
    largest = _largest(upstream)
    inputs_max = max((max(abs(e.get("min", 0)), abs(e.get("max", 0)))
                      for r, _, e in upstream if r == "input"), default=0.0)
    inherited = _inherited_words(inheritors)
    evidence = (f"step {step}: the first non-finite value is {where}"
                f"{'' if role == 'loss' else ' (' + ROLE_WORDS[role] + ')'}: "
                f"{_counts(role, entry)}; everything computed before it was finite"
                + (f" (largest: {largest[0]} = {fmt(largest[1])})" if largest else "")
                + (f". Inherited from it: {inherited}" if inherited else ""))
    if role == "param" and record.n == 0:
        explanation, fix, remedy = (
            f"{where} is already non-finite at the first step observed: it was created (or "
            "loaded) that way.", f"Check how {where} is initialized or loaded.",
            {"action": "set_init", "init": "he_normal"})
    else:
        explanation, fix, remedy = _diagnose(role, where, largest, inputs_max,
                                             lr_remedy(ctx, record), upstream)
    if inherited:
        explanation += " The tensors that inherited it are not separate problems."
    return Finding("nonfinite", "error", step, where, evidence, explanation, fix, remedy)


def _inherited_words(inheritors) -> str:
    groups: dict[str, list[str]] = {}
    for _, role, name, _ in inheritors:
        groups.setdefault(ROLE_WORDS[role], []).append(name)
    words = []
    for role, names in groups.items():
        if role == "loss":
            words.append("the loss")
        elif len(names) <= 3:
            words.append(f"{role} {', '.join(names)}")
        else:
            words.append(f"{len(names)} {role}s")
    return "; ".join(words)


def _diagnose(role, where, largest, inputs_max, lower, upstream):
    lr_words, lower_lr = lower
    if role == "input":
        return (f"Your data already contains NaN/Inf in {where}: nothing downstream can be finite.",
                "Clean the data: netmedic data PATH (or nm.check_data(x, y)) shows where.", None)
    if role == "param":
        return (f"{where} was finite before the last update and is not after it: the update "
                "itself overflowed (a gradient or step too large for the dtype).",
                f"Lower the learning rate ({lr_words}) or clip the gradient norm.", lower_lr)
    if role in ("preact", "act"):
        big = largest[1] if largest else 0.0
        if inputs_max > UNSCALED_FOR_OVERFLOW:
            return (f"{where} overflowed: your inputs reach {fmt(inputs_max)}, and multiplying "
                    "them by the weights exceeds the largest float.",
                    "Scale the inputs (divide pixels by 255, or standardize).",
                    {"action": "normalize_inputs", "mode": "unit"})
        if role == "act":  # relu/tanh cannot overflow on finite input: an exp inside did
            return (f"{where} turned finite inputs into NaN/Inf: exp() overflows above "
                    f"{EXP_OVERFLOW} in float32 (709.8 in float64), so a softmax written as "
                    "exp(z)/sum(exp(z)) gives inf/inf = NaN once the logits grow.",
                    "Subtract the row maximum before exp (softmax(z - z.max(1, keepdims=True))), "
                    "or compute the loss from the logits with a fused log-softmax cross-entropy.",
                    {"action": "set_loss", "loss": "cross_entropy"})
        return (f"{where} overflowed: the values feeding it had grown to {fmt(big)} — the weights "
                "or activations grew step after step until they passed the largest float.",
                f"Lower the learning rate ({lr_words}); clip the gradient norm to stop the growth.",
                lower_lr)
    if role == "loss":
        seen = any(r == "preact" for r, _, _ in upstream)
        where_words = ("" if seen else " (pass the logits as preactivations=... to see whether "
                       "they overflowed first)")
        return ("The loss is the first non-finite value: log(0) on a probability that underflowed "
                "to 0, or exp() overflowing inside the loss" + where_words + ".",
                "Compute the loss from the logits with a stable log-softmax (log-sum-exp with the "
                "max subtracted), or clip probabilities to [eps, 1] before log.",
                {"action": "set_loss", "loss": "cross_entropy"})
    big = largest[1] if largest else 0.0
    if big > OVERFLOWING:
        return (f"The backward pass overflowed at {where}'s gradient: forward values reach "
                f"{fmt(big)}.", f"Lower the learning rate ({lr_words}).", lower_lr)
    return (f"The forward pass and the loss were finite, but the backward pass produced NaN/Inf at "
            f"{where}'s gradient: a division by zero, log(0) or sqrt of a negative number in the "
            "gradient code.",
            "Check that gradient's formula; netmedic gradcheck FILE.py compares it with numerical "
            "derivatives.", {"action": "fix_gradient", "where": where})
