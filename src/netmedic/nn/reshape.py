"""Flatten: the bridge from image-shaped activations to dense layers."""

from __future__ import annotations

import numpy as np

from netmedic.nn.layer import Layer


class Flatten(Layer):
    """``x: (N, d1, d2, ...) -> (N, d1·d2·...)`` in C order (PyTorch's ``nn.Flatten``), so a
    ``(N, C, H, W)`` map is laid out channel by channel. A view when ``x`` is contiguous (every
    engine layer's output is), so it costs nothing; ``backward`` reshapes ``dout`` back."""

    kind = "flatten"

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        self._x_shape = x.shape
        self.output = x.reshape(x.shape[0], -1)
        return self.output

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout.reshape(self._x_shape)
