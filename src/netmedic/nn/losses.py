"""Fused, numerically stable losses. ``forward(output, target) -> float``, ``backward() -> dout``.

All are means (PyTorch's ``reduction="mean"``): over the batch for cross-entropy, over every
element for MSE and binary cross-entropy. Targets may be integer class labels ``(N,)``; MSE and
binary cross-entropy then compare against their one-hot encoding.
"""

from __future__ import annotations

import numpy as np

from netmedic.errors import BadInputError


def _one_hot(labels: np.ndarray, num_classes: int, dtype: np.dtype) -> np.ndarray:
    encoded = np.zeros((labels.shape[0], num_classes), dtype=dtype)
    encoded[np.arange(labels.shape[0]), labels] = 1
    return encoded


def _targets_like(output: np.ndarray, target: np.ndarray) -> np.ndarray:
    if target.ndim == 1 and output.ndim == 2 and np.issubdtype(target.dtype, np.integer):
        return _one_hot(target, output.shape[1], output.dtype)
    if target.shape != output.shape:
        raise BadInputError(
            f"target shape {target.shape} does not match the network output {output.shape}; "
            "pass integer labels (N,) or targets of the output's shape"
        )
    return target.astype(output.dtype, copy=False)


class SoftmaxCrossEntropy:
    """Mean cross-entropy of ``softmax(logits)`` against integer labels, via log-sum-exp.

    ``logits: (N, C)``, ``labels: (N,)`` int. The gradient is ``(softmax(logits) - onehot) / N``;
    no probability is ever computed as ``exp(z) / sum(exp(z))`` on raw logits, so large logits
    neither overflow nor give ``log(0)``.
    """

    name = "cross_entropy"

    def forward(self, logits: np.ndarray, labels: np.ndarray) -> float:
        n = logits.shape[0]
        shifted = logits - logits.max(axis=1, keepdims=True)
        with np.errstate(under="ignore"):
            exp = np.exp(shifted)
        sum_exp = exp.sum(axis=1)
        rows = np.arange(n)
        # log p_y = shifted_y - log(sum exp(shifted)); summed in float64 so the value is exact
        log_p = shifted[rows, labels] - np.log(sum_exp)
        exp /= sum_exp[:, None]
        exp[rows, labels] -= 1
        exp /= n
        self._grad = exp
        return float(-np.sum(log_p, dtype=np.float64) / n)

    def backward(self) -> np.ndarray:
        return self._grad


class MSE:
    """Mean over all elements of ``(output - target)²``."""

    name = "mse"

    def forward(self, output: np.ndarray, target: np.ndarray) -> float:
        diff = output - _targets_like(output, target)
        self._grad = diff * (2.0 / diff.size)
        return float(np.mean(np.square(diff, dtype=np.float64)))

    def backward(self) -> np.ndarray:
        return self._grad


class BCEWithLogits:
    """Mean binary cross-entropy of ``sigmoid(logits)`` against targets in [0, 1], stable form
    ``max(z, 0) - z * t + log(1 + exp(-|z|))``."""

    name = "bce"

    def forward(self, logits: np.ndarray, target: np.ndarray) -> float:
        t = _targets_like(logits, target)
        with np.errstate(over="ignore", under="ignore"):
            loss = np.maximum(logits, 0) - logits * t + np.log1p(np.exp(-np.abs(logits)))
            prob = 1.0 / (1.0 + np.exp(-logits))
        self._grad = (prob - t) / logits.size
        return float(np.mean(loss, dtype=np.float64))

    def backward(self) -> np.ndarray:
        return self._grad


LOSSES = {cls.name: cls for cls in (SoftmaxCrossEntropy, MSE, BCEWithLogits)}


def get_loss(name: str):
    """A loss object by name: ``cross_entropy``, ``mse`` or ``bce``."""
    if name not in LOSSES:
        raise BadInputError(f"unknown loss {name!r}; expected one of {', '.join(LOSSES)}")
    return LOSSES[name]()
