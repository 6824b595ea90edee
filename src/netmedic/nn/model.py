"""A Sequential model: named layers, one forward, one backward, flat views of params and grads."""

from __future__ import annotations

import copy
from collections import Counter

import numpy as np

from netmedic.nn.layer import Layer

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class Sequential:
    """Layers applied in order. Layers are named by kind and count (``dense1``, ``relu1``,
    ``dense2``…), their parameters ``dense1.weight``, ``dense1.bias``.

    ``parameters()`` and ``gradients()`` return dicts of the live arrays (the optimizer updates
    them in place), in layer order. After :meth:`init` every parameter is a view into one
    contiguous vector ``flat_params`` (gradients into ``flat_grads``), so an optimizer step or a
    global gradient norm is a few large NumPy operations instead of a few per tensor.
    """

    def __init__(self, layers: list[Layer], input_shape: tuple[int, ...]) -> None:
        self.layers = list(layers)
        self.input_shape = tuple(input_shape)
        counts: Counter[str] = Counter()
        for layer in self.layers:
            counts[layer.kind] += 1
            layer.name = f"{layer.kind}{counts[layer.kind]}"
        if hasattr(self.layers[0], "needs_input_grad"):
            self.layers[0].needs_input_grad = False  # nobody needs d loss / d data: skip that GEMM
        self.dtype = np.dtype(np.float32)
        self.flat_params = np.empty(0, self.dtype)
        self.flat_grads = np.empty(0, self.dtype)

    def init(self, rng: np.random.Generator, dtype: np.dtype | type = np.float32) -> Sequential:
        """Draw every layer's parameters from ``rng`` (in layer order) as ``dtype``."""
        self.dtype = _float_dtype(dtype)
        for layer in self.layers:
            layer.init_params(rng, self.dtype)
        self._pack()
        return self

    def astype(self, dtype: np.dtype | type) -> Sequential:
        self.dtype = _float_dtype(dtype)
        for layer in self.layers:
            layer.astype(self.dtype)
        self._pack()
        return self

    def _pack(self) -> None:
        """Move every parameter and gradient into views of two contiguous vectors."""
        total = sum(p.size for p in self.parameters().values())
        self.flat_params = np.empty(total, self.dtype)
        self.flat_grads = np.zeros(total, self.dtype)
        offset = 0
        for layer in self.layers:
            for key, param in layer.params.items():
                span = slice(offset, offset + param.size)
                view = self.flat_params[span].reshape(param.shape)
                view[...] = param
                layer.params[key] = view
                layer.grads[key] = self.flat_grads[span].reshape(param.shape)
                offset += param.size

    def __deepcopy__(self, memo: dict) -> Sequential:
        twin = copy.copy(self)
        twin.layers = copy.deepcopy(self.layers, memo)
        twin._pack()  # the copied layers' arrays are no longer views of anything: re-pack
        return twin

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        """``x: (N, *input_shape)`` of the model's dtype -> output ``(N, ...)``.

        The returned array is a layer's buffer, overwritten by the next forward."""
        if x.dtype != self.dtype:
            raise TypeError(
                f"input dtype {x.dtype} does not match the model's {self.dtype}; "
                "netmedic never mixes precisions silently: cast the input first"
            )
        for layer in self.layers:
            x = layer.forward(x, training)
        return x

    def backward(self, dout: np.ndarray) -> None:
        """Write every parameter's gradient for the last forward (overwriting the old ones)."""
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
            if dout is None:
                break

    def parameters(self) -> dict[str, np.ndarray]:
        return {f"{layer.name}.{k}": v for layer in self.layers for k, v in layer.params.items()}

    def gradients(self) -> dict[str, np.ndarray]:
        return {f"{layer.name}.{k}": v for layer in self.layers for k, v in layer.grads.items()}

    def buffers(self) -> dict[str, np.ndarray]:
        """Non-trainable state by name (BatchNorm's ``batchnorm1.running_mean``...), live arrays."""
        return {f"{layer.name}.{k}": v for layer in self.layers
                for k, v in getattr(layer, "running", {}).items()}

    def state(self) -> dict[str, np.ndarray]:
        """Parameters and buffers: everything a checkpoint must hold to evaluate the model."""
        return {**self.parameters(), **self.buffers()}

    def load_state(self, values: dict[str, np.ndarray]) -> None:
        """Copy parameters and buffers from ``values`` (as given by :meth:`state`)."""
        self.load_parameters(values)
        for key, buffer in self.buffers().items():
            buffer[...] = values[key]

    def rng_states(self) -> dict[str, dict]:
        """The bit-generator states of layers that draw at training time (Dropout)."""
        return {layer.name: layer.rng.bit_generator.state for layer in self.layers
                if getattr(layer, "rng", None) is not None}

    def set_rng_states(self, states: dict[str, dict]) -> None:
        for layer in self.layers:
            if layer.name in states:
                layer.rng.bit_generator.state = states[layer.name]

    def load_parameters(self, values: dict[str, np.ndarray]) -> None:
        """Copy ``values`` into the live parameter arrays (same names, same shapes)."""
        params = self.parameters()
        missing = params.keys() - values.keys()
        if missing:
            raise KeyError(f"missing parameters: {', '.join(sorted(missing))}")
        for key, param in params.items():
            if values[key].shape != param.shape:
                raise ValueError(f"{key}: shape {values[key].shape}, model has {param.shape}")
            param[...] = values[key]

    def predict(self, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        """Class indices ``(N,)`` int64 of the argmax output, in eval mode, chunk by chunk."""
        out = np.empty(x.shape[0], dtype=np.int64)
        for start in range(0, x.shape[0], batch_size):
            chunk = x[start : start + batch_size]
            out[start : start + len(chunk)] = self.forward(chunk, training=False).argmax(axis=1)
        return out

    @property
    def num_parameters(self) -> int:
        return sum(p.size for p in self.parameters().values())

    def __repr__(self) -> str:
        body = "\n".join(f"  {layer!r}" for layer in self.layers)
        return f"Sequential(input={self.input_shape}, dtype={self.dtype},\n{body}\n)"


def _float_dtype(dtype: np.dtype | type) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype not in FLOAT_DTYPES:
        raise ValueError(f"dtype must be float32 or float64; got {dtype}")
    return dtype
