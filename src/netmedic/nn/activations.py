"""Element-wise activations and the inference softmax.

Each writes into a buffer of its own (the input stays intact, so the probe still sees the
pre-activation) and keeps its output for the backward pass. Overflow inside ``exp`` is harmless
here (it saturates to the right limit), so it runs under ``np.errstate`` instead of warning.
"""

from __future__ import annotations

import numpy as np

from netmedic.nn.layer import Layer


class _Activation(Layer):
    #: "relu", "sigmoid", "tanh" or "other": the probe tells the doctor what saturation means here.
    saturation = "other"

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        self._x = x
        self.output = self._forward(x, self._buffer("out", x.shape, x.dtype))
        return self.output

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return self._backward(dout, self._buffer("dx", dout.shape, dout.dtype))


class ReLU(_Activation):
    kind = "relu"
    saturation = "relu"

    def _forward(self, x, out):
        return np.maximum(x, 0, out=out)

    def _backward(self, dout, dx):
        mask = self._buffer("mask", dout.shape, np.bool_)
        np.greater(self.output, 0, out=mask)
        return np.multiply(dout, mask, out=dx)


class LeakyReLU(_Activation):
    """``x if x > 0 else slope * x`` (PyTorch default slope 0.01)."""

    kind = "leaky_relu"
    saturation = "relu"

    def __init__(self, slope: float = 0.01) -> None:
        super().__init__()
        self.slope = slope

    def _forward(self, x, out):
        np.multiply(x, self.slope, out=out)
        return np.maximum(x, out, out=out) if self.slope <= 1 else np.minimum(x, out, out=out)

    def _backward(self, dout, dx):
        np.copyto(dx, dout)
        dx[self._x <= 0] *= self.slope
        return dx


class ELU(_Activation):
    """``x if x > 0 else alpha * (exp(x) - 1)``."""

    kind = "elu"

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = alpha

    def _forward(self, x, out):
        np.minimum(x, 0, out=out)
        np.expm1(out, out=out)
        out *= self.alpha
        np.copyto(out, x, where=x > 0)
        return out

    def _backward(self, dout, dx):
        # d/dx alpha*(e^x - 1) = alpha*e^x = output + alpha on the negative side
        np.add(self.output, self.alpha, out=dx)
        np.copyto(dx, 1, where=self._x > 0)
        return np.multiply(dx, dout, out=dx)


class Sigmoid(_Activation):
    kind = "sigmoid"
    saturation = "sigmoid"

    def _forward(self, x, out):
        with np.errstate(over="ignore", under="ignore"):  # exp(-x) = inf for x << 0: exactly 0
            np.negative(x, out=out)
            np.exp(out, out=out)
        out += 1
        return np.reciprocal(out, out=out)

    def _backward(self, dout, dx):
        np.subtract(1, self.output, out=dx)
        dx *= self.output
        return np.multiply(dx, dout, out=dx)


class Tanh(_Activation):
    kind = "tanh"
    saturation = "tanh"

    def _forward(self, x, out):
        return np.tanh(x, out=out)

    def _backward(self, dout, dx):
        np.multiply(self.output, self.output, out=dx)
        np.subtract(1, dx, out=dx)
        return np.multiply(dx, dout, out=dx)


class Identity(_Activation):
    kind = "identity"

    def _forward(self, x, out):
        np.copyto(out, x)
        return out

    def _backward(self, dout, dx):
        np.copyto(dx, dout)
        return dx


class Softmax(_Activation):
    """Softmax over the last axis, for inference (train with the fused ``SoftmaxCrossEntropy``)."""

    kind = "softmax"

    def _forward(self, x, out):
        np.subtract(x, x.max(axis=-1, keepdims=True), out=out)
        np.exp(out, out=out)
        out /= out.sum(axis=-1, keepdims=True)
        return out

    def _backward(self, dout, dx):
        # Jacobian-vector product s * (dout - <dout, s>), never the (C, C) Jacobian per example
        inner = np.sum(dout * self.output, axis=-1, keepdims=True)
        np.subtract(dout, inner, out=dx)
        return np.multiply(dx, self.output, out=dx)


ACTIVATIONS: dict[str, type[_Activation]] = {
    cls.kind: cls for cls in (ReLU, LeakyReLU, ELU, Sigmoid, Tanh, Identity, Softmax)
}
