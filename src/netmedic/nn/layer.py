"""The layer contract every engine layer follows.

A layer holds ``params`` and ``grads`` (same keys, same shapes, same dtype). ``forward(x,
training)`` computes the output and keeps what ``backward`` needs; ``backward(dout) -> dx``
*writes* (overwrites, it does not accumulate) the gradients of the last forward and returns the
gradient with respect to the input. A Sequential model never uses a layer twice, so overwriting
lets every gradient be computed straight into its preallocated buffer with ``out=``.

``output`` is the last forward's output (a view owned by the layer, valid until the next forward);
the probe reads it to show the doctor activations (after an activation layer) and pre-activations
(after a Dense or Conv layer) without copying.

Optimizers never live inside a layer: they update the ``(param, grad)`` pairs in place.
"""

from __future__ import annotations

import numpy as np


class Layer:
    """Base class: a named, parameter-holding (possibly parameter-free) step of a Sequential."""

    #: "dense", "relu", "conv"... ; the model numbers layers of one kind: dense1, dense2, relu1...
    kind: str = "layer"

    def __init__(self) -> None:
        self.name: str = self.kind
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.output: np.ndarray | None = None

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dout: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def init_params(self, rng: np.random.Generator, dtype: np.dtype) -> None:
        """(Re)draw the parameters from ``rng``; parameter-free layers do nothing."""

    def astype(self, dtype: np.dtype) -> None:
        """Cast parameters and gradients to ``dtype`` (float32 or float64), in place of the old."""
        for key in self.params:
            self.params[key] = self.params[key].astype(dtype)
            self.grads[key] = np.zeros_like(self.params[key])

    def _buffer(self, slot: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """A preallocated array for ``slot``, reallocated only when shape or dtype change.

        The training loop sees at most two batch sizes (full and last), so this keeps the hot
        path free of allocation without any bookkeeping by the caller.
        """
        cache = self.__dict__.setdefault("_buffers", {})
        key = (slot, shape, np.dtype(dtype))
        buf = cache.get(key)
        if buf is None:
            buf = cache[key] = np.empty(shape, dtype=dtype)
        return buf

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}={tuple(v.shape)}" for k, v in self.params.items())
        return f"{type(self).__name__}({self.name}{', ' + shapes if shapes else ''})"
