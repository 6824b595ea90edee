"""Preflight: what to check before training, on plain callables (it never imports the engine).

``preflight(...)`` runs, for what it is given:

1. the data (``x``, ``y``) through :func:`netmedic.check_data`: scale, NaN/Inf, labels;
2. the initial loss ``loss(params)`` against ln C (:mod:`.initial_loss`);
3. signal propagation at init: the spread of each layer's activations on one batch
   (:mod:`.propagation`);
4. overfitting one small batch with ``overfit_step()`` to near-zero loss in a bounded number of
   steps, and, if that fails, a look at the gradient along its own direction (:mod:`.overfit`);
5. optionally (``gradcheck=True``) :func:`netmedic.check_gradients` on ``loss``/``grads``.

Each failure is a :class:`~netmedic.doctor.finding.Finding` (``step=None``) with evidence,
explanation, fix and remedy. A healthy model gets an empty list.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from netmedic.doctor.finding import Finding
from netmedic.doctor.preflight.initial_loss import check_initial_loss
from netmedic.doctor.preflight.overfit import OVERFIT_STEPS, check_overfit, gradient_direction
from netmedic.doctor.preflight.propagation import check_propagation
from netmedic.doctor.preflight.user import call_user

__all__ = ["preflight"]

Params = Mapping[str, np.ndarray]


def preflight(*, x: np.ndarray | None = None, y: np.ndarray | None = None,
              num_classes: int | None = None, params: Params | None = None,
              loss: Callable[[Params], float] | None = None,
              grads: Callable[[Params], Mapping[str, np.ndarray]] | None = None,
              forward_activations: Callable[[Params], Mapping[str, np.ndarray]]
              | Mapping[str, np.ndarray] | None = None,
              activation_kinds: Mapping[str, str] | None = None,
              overfit_step: Callable[[], float] | None = None,
              overfit_steps: int = OVERFIT_STEPS, overfit_target: float | None = None,
              expected_initial_loss: float | None = None,
              gradcheck: bool = False) -> list[Finding]:
    """Check a model and its data before training; return the findings (empty when healthy).

    Parameters
    ----------
    x, y : the training inputs ``(N, ...)`` and integer labels ``(N,)``, for ``check_data``.
    num_classes : C; the initial loss of a softmax classifier should be near ln C.
    params : ``{name: array}`` at init; never mutated here.
    loss : ``loss(params) -> float``, the mean cross-entropy of one batch at ``params``.
    grads : ``grads(params) -> {name: array}``, the gradient of that same ``loss``.
    forward_activations : ``forward_activations(params) -> {layer: (N, ...) array}``, the
        post-activation outputs of the hidden layers on one batch, in forward order (or that
        mapping itself).
    activation_kinds : ``{layer: "relu" | "sigmoid" | "tanh" | "other"}``; inferred from the
        values when left out.
    overfit_step : ``overfit_step() -> float``: one optimizer step on a fixed small batch (say 16
        examples), returning that batch's loss. It trains the model: hand preflight a copy.
    overfit_steps : the most steps to reach ``overfit_target``.
    overfit_target : the loss that counts as "overfit"; default 5% of the first loss.
    expected_initial_loss : overrides ln C (say 0.5 · C_out for an MSE loss on one-hot targets).
    gradcheck : also run ``netmedic.check_gradients(loss, grads, params)`` (costs two loss
        evaluations per parameter element: for small models).

    Raises ``netmedic.errors.UserCodeError`` (CLI exit 3) when a callable raises.
    """
    findings: list[Finding] = []
    if x is not None:
        from netmedic.doctor.check_data import check_data  # lazily: written beside the doctor

        findings += check_data(x, y, num_classes=num_classes)
    unscaled = any(f.kind == "unscaled_input" for f in findings)
    if loss is not None and params is not None:
        expected = expected_initial_loss
        if expected is None and num_classes is not None:
            expected = float(np.log(num_classes))
        if expected is not None:
            initial = float(call_user(loss, params, what="loss(params)"))
            findings += check_initial_loss(initial, expected, num_classes, unscaled=unscaled,
                                           by_ln_c=expected_initial_loss is None)
    if forward_activations is not None:
        activations = forward_activations
        if callable(forward_activations):
            arguments = () if params is None else (params,)
            activations = call_user(forward_activations, *arguments,
                                    what="forward_activations(params)")
        findings += check_propagation(activations, activation_kinds or {}, unscaled=unscaled)
    if overfit_step is not None:
        def direction() -> Any:
            if loss is None or grads is None or params is None:
                return None
            return gradient_direction(loss, grads, params)

        findings += check_overfit(overfit_step, overfit_steps, overfit_target, direction)
    if gradcheck and loss is not None and grads is not None and params is not None:
        findings += _gradcheck(loss, grads, params)
    return findings


def _gradcheck(loss: Callable, grads: Callable, params: Params) -> list[Finding]:
    """``wrong_gradient`` per parameter whose gradient ``check_gradients`` rejects."""
    try:
        from netmedic.doctor.gradcheck import check_gradients
    except ImportError:  # the gradient checker is optional here
        return []
    report = check_gradients(loss, grads, dict(params))
    findings = []
    for name, result in report.results.items():
        if result.pattern == "ok":
            continue
        findings.append(Finding(
            kind="wrong_gradient", severity="error", step=None, where=name,
            evidence=f"gradient check of {name}: pattern {result.pattern}, "
                     f"relative error {result.rel_error:.2g}",
            explanation=result.explanation, fix=result.fix,
            remedy={"action": "fix_gradient", "where": name}))
    return findings
