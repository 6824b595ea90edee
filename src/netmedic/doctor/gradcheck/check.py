"""``check_gradients``: the user's analytic gradients against numerical ones, per parameter."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from netmedic.doctor.gradcheck._usercode import call_user, match_grads, upcast_params
from netmedic.doctor.gradcheck.explain import Context, explain
from netmedic.doctor.gradcheck.localize import Layer, diagnose, infer_layers
from netmedic.doctor.gradcheck.measure import Point, fallback_scale, format_entries
from netmedic.doctor.gradcheck.numerical import (
    DEFAULT_REL_STEP,
    DIRECTIONS,
    ENTRIES,
    NOISE_POINTS,
    LossCounter,
)
from netmedic.doctor.gradcheck.patterns import Verdict
from netmedic.doctor.gradcheck.report import GradReport, GradResult
from netmedic.errors import BadInputError

#: Loss calls allowed per parameter (what one leaves unused passes to the next): 6 directions
#: × 4 calls, 2 entries × 2 calls, 5 retries × 4 (kinks, step changes); plus 9 loss calls
#: (params0, noise) and 1 grads call in all. 784-256-128-10 (6 parameters): ≤ 10 + 6·48 = 298.
EVALS_PER_PARAM = 48
#: The fewest calls per parameter a caller-imposed ``max_evals`` may leave: 3 directions + entries.
MIN_EVALS_PER_PARAM = 4 * 3 + 2 * ENTRIES
#: How far (× each parameter's RMS) a point on kinks is moved before re-checking: far enough that
#: probes of 1e-5 relative step do not reach the kink again, near enough to test the same formula.
JITTER = 1e-3

LossFn = Callable[[dict[str, np.ndarray]], Any]
GradsFn = Callable[[dict[str, np.ndarray]], Any]


def check_gradients(
    loss: LossFn,
    grads: GradsFn,
    params: Mapping[str, Any],
    batch_size: int | None = None,
    *,
    seed: int = 0,
    max_evals: int | None = None,
) -> GradReport:
    """Compare ``grads(params)`` with numerical gradients of ``loss`` and name each mismatch.

    Parameters
    ----------
    loss: ``loss(params) -> float``, the scalar the gradients are of.
    grads: ``grads(params) -> dict`` with the keys of ``params`` (``dW1`` for ``W1`` is accepted).
    params: ``dict[str, np.ndarray]``; never modified. The callables receive float64 copies.
    batch_size: the number of examples in the loss, so a factor k = N can be named as such.
    seed: seeds the ``numpy.random.Generator`` that draws directions and sampled entries.
    max_evals: cap on loss + grads evaluations (default ``10 + 48 × number of parameters``, plus
        ``2 + 48`` per parameter re-checked off kinks).

    Returns
    -------
    GradReport with one :class:`GradResult` per parameter, ``ok``, ``diagnosis`` (where the
    error enters), ``loss_calls``, ``grads_calls`` and ``seconds``.

    Raises
    ------
    netmedic.errors.UserCodeError: ``loss`` or ``grads`` raised (the cause is their exception).
    netmedic.errors.BadInputError: ``params`` or the callables' results are unusable.
    """
    start = time.perf_counter()
    if batch_size is not None and (not float(batch_size).is_integer() or batch_size < 1):
        raise BadInputError(f"batch_size must be a positive whole number, got {batch_size!r}")
    batch_size = None if batch_size is None else int(batch_size)
    pristine = upcast_params(params)
    base = {name: array.copy() for name, array in pristine.items()}
    names = list(base)
    per_param = _per_param_budget(max_evals, len(names))
    rng = np.random.default_rng(seed)

    counter = LossCounter(loss, base)
    if not np.isfinite(counter.value0):
        raise BadInputError(
            f"loss(params0) is {counter.value0}: the forward pass already fails at these "
            "parameters (log(0)? an overflowing exp?); fix that before checking gradients"
        )
    analytic, keys, notes = match_grads(call_user(grads, dict(base), what="grads(params)"), names)
    grads_calls = 1
    point = Point(counter, analytic, fallback_scale(base))
    counter.estimate_noise(rng)
    rel_step = DEFAULT_REL_STEP
    for i, name in enumerate(names):
        rel_step = point.check(name, rng, rel_step, limit=1 + NOISE_POINTS + (i + 1) * per_param)

    # Parameters whose point sits on kinks (ReLU at exactly 0, max-pool ties) have one-sided
    # derivatives only; their formula is checked again at a point moved slightly off the kinks.
    on_kinks = [n for n in names if point.needs_recheck(n)]
    if max_evals is None:  # the re-check gets a fresh allowance; a caller's cap is a hard cap
        budget_left = 2 + len(on_kinks) * EVALS_PER_PARAM
    else:
        budget_left = max_evals - 1 - counter.calls
    if on_kinks and budget_left >= 2 + len(on_kinks) * MIN_EVALS_PER_PARAM:
        notes.append(_recheck_off_kinks(loss, grads, point, on_kinks, rng, budget_left))
        grads_calls += 1
    verdicts, evidence = point.verdicts, point.evidence

    layers = infer_layers(names)
    factors = {n: _factor(v) for n, v in verdicts.items()}
    patterns = {n: v.pattern for n, v in verdicts.items()}
    ndims = {n: p.ndim for n, p in base.items()}
    diagnosis, hints = diagnose(layers, patterns, factors, ndims)
    contexts = _contexts(names, base, analytic, keys, layers, batch_size, verdicts)
    results = {}
    for name in names:
        explanation, fix = explain(verdicts[name], contexts[name])
        if name in hints and verdicts[name].pattern == "wrong" and _generic(verdicts[name]):
            fix = hints[name]
        results[name] = GradResult(
            name=name,
            pattern=verdicts[name].pattern,
            rel_error=float(verdicts[name].rel_error),
            scale=verdicts[name].scale,
            explanation=explanation,
            fix=fix,
            key=keys[name],
            evidence=format_entries(name, evidence.get(name, [])),
            layer=next((lay.label for lay in layers or [] if name in lay.names), None),
        )
    notes += _integrity_notes(params, pristine, base)
    if all(v.details.get("flat") for v in verdicts.values()) and any(
        np.any(g) for g in analytic.values()
    ):
        notes.append(
            "the loss did not change when any parameter moved: does loss(params) read "
            "the parameters from its argument rather than from globals?"
        )
    return GradReport(
        results=results,
        loss_calls=counter.calls,
        grads_calls=grads_calls,
        seconds=time.perf_counter() - start,
        diagnosis=diagnosis,
        notes=notes,
        entries=sum(p.size for p in base.values()),
        seed=seed,
    )


def _recheck_off_kinks(
    loss: LossFn,
    grads: GradsFn,
    point: Point,
    on_kinks: list[str],
    rng: np.random.Generator,
    budget: int,
) -> str:
    """Measure ``on_kinks`` again at a point moved by ``JITTER`` (one loss and one grads call more);
    the moved point's verdicts replace the first ones. Returns the note that tells the user."""
    counter = point.counter
    moved = {
        n: p + JITTER * point.scale(n) * rng.standard_normal(p.shape)
        for n, p in counter.base.items()
    }
    counter2 = LossCounter(loss, moved)
    counter2.eps, counter2.measured_noise = counter.eps, counter.measured_noise
    analytic2 = match_grads(call_user(grads, dict(moved), what="grads(params)"), list(moved))[0]
    point2 = Point(counter2, analytic2, point.fallback, {n: point.scale(n) for n in moved})
    share = (budget - 2) // len(on_kinks)  # minus its loss at the moved point and its grads
    for i, name in enumerate(on_kinks):
        point2.check(name, rng, DEFAULT_REL_STEP, limit=1 + (i + 1) * share)
        point.adopt(point2, name)
    counter.calls += counter2.calls
    they = "they were" if len(on_kinks) > 1 else "it was"
    return (
        f"params0 sits on kinks for {', '.join(on_kinks)} (ReLU at exactly 0, max-pool ties: only "
        f"one-sided derivatives exist there), so {they} checked at a point moved by {JITTER:g} × "
        "each parameter's RMS"
    )


def _per_param_budget(max_evals: int | None, n_params: int) -> int:
    if max_evals is None:
        return EVALS_PER_PARAM
    per_param = (int(max_evals) - 2 - NOISE_POINTS) // n_params
    if per_param < MIN_EVALS_PER_PARAM:
        raise BadInputError(
            f"max_evals={max_evals} leaves {per_param} loss calls per parameter for {n_params} "
            f"parameters; at least {MIN_EVALS_PER_PARAM} are needed "
            f"(max_evals ≥ {2 + NOISE_POINTS + MIN_EVALS_PER_PARAM * n_params})"
        )
    return min(per_param, EVALS_PER_PARAM + 4 * DIRECTIONS)


def _generic(v: Verdict) -> bool:
    """A "wrong" verdict with no specific cause (so the localisation's hint is the fix)."""
    return not any(key in v.details for key in ("l2", "nonfinite")) and not v.details.get("flat")


def _factor(v: Verdict) -> float | None:
    if v.scale is not None:
        return float(v.scale)
    factor = v.details.get("factor")
    return None if factor is None else float(factor)


def _contexts(
    names: list[str],
    base: dict[str, np.ndarray],
    analytic: dict[str, np.ndarray],
    keys: dict[str, str],
    layers: list[Layer] | None,
    batch_size: int | None,
    verdicts: dict[str, Verdict],
) -> dict[str, Context]:
    """Roles, output layer, output size and batch size (given, or read off a per-example shape)."""
    if batch_size is None:
        for name, v in verdicts.items():
            match = v.details.get("match", "")
            if match.startswith("sum:") and "," not in match:
                batch_size = analytic[name].shape[int(match[4:])]
                break
    n_outputs = None
    if layers:
        last = layers[-1]
        if last.bias is not None:
            n_outputs = int(base[last.bias].size)
    out = {}
    for name in names:
        layer = next((lay for lay in layers or [] if name in lay.names), None)
        role = (
            "other"
            if layer is None
            else ("weight" if name == layer.weight else "bias" if name == layer.bias else "other")
        )
        out[name] = Context(
            name=name,
            key=keys[name],
            param_shape=tuple(base[name].shape),
            grad_shape=tuple(analytic[name].shape),
            role=role,
            is_output=None if layer is None else layer is layers[-1],  # type: ignore[index]
            batch_size=batch_size,
            n_outputs=n_outputs,
        )
    return out


def _integrity_notes(
    params: Mapping[str, Any], pristine: dict[str, np.ndarray], base: dict[str, np.ndarray]
) -> list[str]:
    """Restore caller arrays the user's code wrote into; warn when it modified our copies."""
    notes = []
    for name, original in pristine.items():
        user = params[name]
        if isinstance(user, np.ndarray) and not np.array_equal(user, original.astype(user.dtype)):
            if user.flags.writeable:
                user[...] = original.astype(user.dtype)
            notes.append(
                f"your code wrote into params['{name}'] during the check; its original "
                "values were restored"
            )
        if not np.array_equal(base[name], original):
            notes.append(
                f"your loss or grads modified the array params['{name}'] it was given, in "
                "place; the numbers above may be wrong. Work on copies."
            )
    return notes
