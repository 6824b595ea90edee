"""Hand-written NumPy backprops with known bugs, for the gradient checker's tests.

Each builder returns ``(loss, grads, params, batch_size)``: ``loss(params) -> float`` and
``grads(params) -> dict`` written the way people write them by hand, with one or more bugs
switched on by name. ``CASES`` lists the suite with the pattern expected for every parameter;
run this file to print the suite's classification accuracy and false-alarm count.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Net = tuple[Callable, Callable, dict[str, np.ndarray], int]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


def _softmax(z: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def mlp_softmax(bugs: frozenset[str] = frozenset(), *, act: str = "sigmoid", n: int = 16,
                sizes: tuple[int, ...] = (20, 12, 5), x_scale: float = 1.0, loss_scale: float = 1.0,
                l2: float = 0.0, seed: int = 0) -> Net:
    """Examples in rows; hidden ``act`` (sigmoid | tanh | relu); softmax + mean cross-entropy.

    Bugs: sign (y − p), sum (no 1/N), sigma_on_z (σ'(z) = z(1 − z) on pre-activations),
    transpose_w1, no_l2 (penalty in the loss, not in dW), bias_not_summed (db1 per example),
    softmax_axis (backward uses a softmax over the batch axis), b2_twice (db2 / N again),
    zero_w2, factor2 (output error doubled).
    """
    rng = np.random.default_rng(seed)
    d_in, hidden, classes = sizes
    x = rng.normal(size=(n, d_in)) * x_scale
    labels = rng.integers(0, classes, n)
    y = np.eye(classes)[labels]
    params = {"W1": rng.normal(0, 1 / np.sqrt(d_in), (d_in, hidden)), "b1": rng.normal(0, 0.1, hidden),
              "W2": rng.normal(0, 1 / np.sqrt(hidden), (hidden, classes)), "b2": np.zeros(classes)}
    f, df = {
        "sigmoid": (_sigmoid, lambda z, a: a * (1 - a)),
        "tanh": (np.tanh, lambda z, a: 1 - a**2),
        "relu": (lambda z: np.maximum(z, 0), lambda z, a: (z > 0).astype(float)),
    }[act]

    def forward(p):
        z1 = x @ p["W1"] + p["b1"]
        a1 = f(z1)
        z2 = a1 @ p["W2"] + p["b2"]
        return z1, a1, z2

    def loss(p):
        _, _, z2 = forward(p)
        logp = z2 - z2.max(1, keepdims=True)
        logp = logp - np.log(np.exp(logp).sum(1, keepdims=True))
        data = -np.mean(np.sum(y * logp, axis=1))
        return loss_scale * (data + 0.5 * l2 * (np.sum(p["W1"] ** 2) + np.sum(p["W2"] ** 2)))

    def grads(p):
        z1, a1, z2 = forward(p)
        prob = _softmax(z2, axis=0 if "softmax_axis" in bugs else 1)
        dz2 = (y - prob) if "sign" in bugs else (prob - y)
        if "sum" not in bugs:
            dz2 = dz2 / n
        if "factor2" in bugs:
            dz2 = 2 * dz2
        dz2 = loss_scale * dz2
        dw2 = a1.T @ dz2
        db2 = dz2.sum(axis=0)
        da1 = dz2 @ p["W2"].T
        deriv = z1 * (1 - z1) if "sigma_on_z" in bugs else df(z1, a1)
        dz1 = da1 * deriv
        dw1 = x.T @ dz1
        db1 = dz1 if "bias_not_summed" in bugs else dz1.sum(axis=0)
        if "no_l2" not in bugs:
            dw1 = dw1 + loss_scale * l2 * p["W1"]
            dw2 = dw2 + loss_scale * l2 * p["W2"]
        if "transpose_w1" in bugs:
            dw1 = dw1.T
        if "b2_twice" in bugs:
            db2 = db2 / n
        if "zero_w2" in bugs:
            dw2 = np.zeros_like(dw2)
        return {"W1": dw1, "b1": db1, "W2": dw2, "b2": db2}

    return loss, grads, params, n
