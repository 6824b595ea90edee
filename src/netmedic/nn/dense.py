"""Fully connected layer: ``y = x @ W + b``."""

from __future__ import annotations

import numpy as np

from netmedic.nn.init import Initializer, he_normal, zeros
from netmedic.nn.layer import Layer


class Dense(Layer):
    """``x: (N, in_features) -> (N, out_features)``; ``weight: (in, out)``, ``bias: (out,)``.

    The weight is stored input-major (``x @ W``, as hand-written NumPy code usually does);
    PyTorch's ``nn.Linear.weight`` is its transpose.
    """

    kind = "dense"

    def __init__(
        self,
        in_features: int,
        out_features: int,
        init: Initializer = he_normal,
        bias_init: Initializer = zeros,
    ) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.init, self.bias_init = init, bias_init
        #: False for the first layer: nobody needs the gradient w.r.t. the data, so skip its GEMM.
        self.needs_input_grad = True
        self._x: np.ndarray | None = None

    def init_params(self, rng: np.random.Generator, dtype: np.dtype) -> None:
        shape = (self.in_features, self.out_features)
        fan_in, fan_out = self.in_features, self.out_features
        self.params = {
            "weight": self.init(shape, fan_in, fan_out, rng).astype(dtype),
            "bias": self.bias_init((self.out_features,), fan_in, fan_out, rng).astype(dtype),
        }
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        weight = self.params["weight"]
        out = self._buffer("out", (x.shape[0], self.out_features), weight.dtype)
        np.matmul(x, weight, out=out)
        out += self.params["bias"]
        self._x = x
        self.output = out
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        np.matmul(self._x.T, dout, out=self.grads["weight"])
        np.sum(dout, axis=0, out=self.grads["bias"])
        if not self.needs_input_grad:
            return None
        dx = self._buffer("dx", self._x.shape, dout.dtype)
        return np.matmul(dout, self.params["weight"].T, out=dx)
