"""The engine's model seen as plain callables, for preflight and the gradient checker.

The doctor never imports the engine (ARCHITECTURE.md): it takes ``loss(params)``,
``grads(params)``, ``forward_activations(params)`` and ``step()``. These wrap a *copy* of a
:class:`~netmedic.nn.Sequential`, so checking or overfitting never touches the model being trained.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from netmedic.nn import Sequential, make_optimizer

Params = Mapping[str, np.ndarray]


@dataclass
class ModelCallables:
    """``loss``, ``grads`` and ``forward_activations`` of one fixed batch ``(x, y)``."""

    params: dict[str, np.ndarray]
    loss: Callable[[Params], float]
    grads: Callable[[Params], dict[str, np.ndarray]]
    forward_activations: Callable[[Params], dict[str, np.ndarray]]
    activation_kinds: dict[str, str]


def model_callables(model: Sequential, loss_fn: Any, x: np.ndarray, y: np.ndarray,
                    dtype: np.dtype | type | None = None) -> ModelCallables:
    """Callables over a private copy of ``model`` on the batch ``(x, y)``.

    ``dtype``: the copy's precision (float64 for gradient checks; default: the model's).
    """
    twin = copy.deepcopy(model)
    if dtype is not None:
        twin.astype(dtype)
    x = x.astype(twin.dtype)
    loss_fn = copy.deepcopy(loss_fn)
    activation_layers = [layer for layer in twin.layers if hasattr(layer, "saturation")]

    def at(params: Params) -> np.ndarray:
        twin.load_parameters(params)
        with np.errstate(all="ignore"):
            return twin.forward(x, training=False)

    def loss(params: Params) -> float:
        with np.errstate(all="ignore"):
            return loss_fn.forward(at(params), y)

    def grads(params: Params) -> dict[str, np.ndarray]:
        with np.errstate(all="ignore"):
            loss_fn.forward(at(params), y)
            twin.backward(loss_fn.backward())
        return {k: v.copy() for k, v in twin.gradients().items()}

    def forward_activations(params: Params) -> dict[str, np.ndarray]:
        at(params)
        return {layer.name: layer.output.copy() for layer in activation_layers
                if layer.kind != "softmax"}

    return ModelCallables(
        params={k: v.copy() for k, v in twin.parameters().items()},
        loss=loss, grads=grads, forward_activations=forward_activations,
        activation_kinds={layer.name: layer.saturation for layer in activation_layers},
    )


def overfit_step(model: Sequential, loss_fn: Any, x: np.ndarray, y: np.ndarray,
                 optimizer: str = "adam", lr: float = 1e-3) -> Callable[[], float]:
    """``step() -> loss``: one optimizer step of a private copy of ``model`` on ``(x, y)``."""
    twin = copy.deepcopy(model)
    loss_fn = copy.deepcopy(loss_fn)
    x = x.astype(twin.dtype)
    opt = make_optimizer(optimizer, twin.parameters(), twin.gradients(), lr)

    def step() -> float:
        with np.errstate(all="ignore"):
            value = loss_fn.forward(twin.forward(x, training=True), y)
            twin.backward(loss_fn.backward())
            opt.step()
        return value

    return step


def gradcheck_model(model: Sequential, x: np.ndarray, y: np.ndarray, loss_fn: Any = None,
                    **options: Any):
    """Check the engine's backward for ``model`` on ``(x, y)`` with
    :func:`netmedic.check_gradients`, in float64 on a copy (the model is left as it is)."""
    from netmedic.doctor.gradcheck import check_gradients
    from netmedic.nn import SoftmaxCrossEntropy

    calls = model_callables(model, loss_fn or SoftmaxCrossEntropy(), x, y, dtype=np.float64)
    return check_gradients(calls.loss, calls.grads, calls.params, **options)
