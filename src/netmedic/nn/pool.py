"""Pooling over NCHW images: max, average, global average. No padding; floor output size.

Every pooling here loops over the ``kh·kw`` offsets inside a window (4 for the usual 2×2), each
step one vectorised operation on a strided view of the whole batch; never over pixels or windows.

Max-pool ties: the gradient goes to the *first* maximum of the window in row-major order (the
top-left one), exactly as PyTorch's CPU kernel does, so side-by-side runs agree even when a
window holds equal values (e.g. the exact zeros a ReLU emits; there the ReLU's own backward
zeroes the gradient anyway). A NaN in a window propagates to the output, as in PyTorch.
"""

from __future__ import annotations

import numpy as np

from netmedic.nn.layer import Layer


def pool_output_size(size: int, kernel: int, stride: int) -> int:
    """``floor((size - kernel) / stride) + 1`` (PyTorch with ``ceil_mode=False``)."""
    return (size - kernel) // stride + 1


class _Pool2D(Layer):
    def __init__(self, kernel_size: int = 2, stride: int | None = None) -> None:
        super().__init__()
        self.kernel_size = int(kernel_size)
        self.stride = int(stride) if stride is not None else self.kernel_size
        assert self.kernel_size >= 1 and self.stride >= 1, "pooling needs kernel, stride >= 1"
        self._x_shape: tuple[int, ...] = ()

    def output_shape(self, in_shape: tuple[int, int, int]) -> tuple[int, int, int]:
        """``(C, H, W) -> (C, H_out, W_out)`` without the batch axis."""
        k, s = self.kernel_size, self.stride
        return in_shape[0], pool_output_size(in_shape[1], k, s), pool_output_size(in_shape[2], k, s)

    def _windows(self, x: np.ndarray) -> list[np.ndarray]:
        """The ``k·k`` strided views ``(N, C, H_out, W_out)``, offset ``(i, j)`` at ``i·k + j``."""
        k, s = self.kernel_size, self.stride
        _, ho, wo = self.output_shape(x.shape[1:])
        assert ho >= 1 and wo >= 1, f"{self.name}: window {k}×{k} larger than input {x.shape[2:]}"
        return [x[:, :, i : i + s * (ho - 1) + 1 : s, j : j + s * (wo - 1) + 1 : s]
                for i in range(k) for j in range(k)]

    @property
    def _fast(self) -> bool:
        """2×2 stride 2: the four quarters of each window, handled without index bookkeeping."""
        return self.kernel_size == 2 and self.stride == 2

    def _out(self, x: np.ndarray) -> np.ndarray:
        return self._buffer("out", (x.shape[0], *self.output_shape(x.shape[1:])), x.dtype)

    def __repr__(self) -> str:
        k, s = self.kernel_size, self.stride
        return f"{type(self).__name__}({self.name}, kernel={k}×{k}, stride={s})"


class MaxPool2D(_Pool2D):
    """``x: (N, C, H, W) -> (N, C, floor((H-k)/s)+1, floor((W-k)/s)+1)``, max over each window.

    ``stride`` defaults to ``kernel_size``. Ties: first maximum in row-major order (PyTorch).
    The 2×2 stride-2 fast path takes the four quarters of ``x.reshape(N, C, H/2, 2, W/2, 2)``
    (as strided views, so odd sizes need no copy) and compares them pairwise: three maxima and
    three bool masks, no index array (forward + backward 10× faster than ``max(axis=(3, 5))``
    with an equality mask, which would also send a tie's gradient to every tied pixel).
    The general path keeps the winning offset per output in a uint8 index array.
    """

    kind = "maxpool"

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        out = self._out(x)
        self._x_shape = x.shape
        v = self._windows(x)
        if self._fast:
            top, bottom = self._buffer("top", out.shape, x.dtype), out
            right_top = self._buffer("right_top", out.shape, np.bool_)
            right_bottom = self._buffer("right_bottom", out.shape, np.bool_)
            below = self._buffer("below", out.shape, np.bool_)
            # strict ">" keeps the first of equal values: left over right, top over bottom
            np.greater(v[1], v[0], out=right_top)
            np.maximum(v[0], v[1], out=top)
            np.greater(v[3], v[2], out=right_bottom)
            np.maximum(v[2], v[3], out=bottom)
            np.greater(bottom, top, out=below)
            np.maximum(top, bottom, out=out)
        else:
            index_dtype = np.uint8 if len(v) <= 256 else np.int32
            index = self._buffer("index", out.shape, index_dtype)
            wins = self._buffer("wins", out.shape, np.bool_)
            np.copyto(out, v[0])
            index.fill(0)
            for offset, window in enumerate(v[1:], start=1):
                np.greater(window, out, out=wins)
                np.maximum(out, window, out=out)
                np.copyto(index, offset, where=wins)
        self.output = out
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """``dout: (N, C, H_out, W_out) -> dx: (N, C, H, W)``; each window's gradient goes to
        its first maximum, every other input pixel gets 0."""
        dx = self._buffer("dx", self._x_shape, dout.dtype)
        shape = dout.shape
        if self._fast:
            if self._x_shape[2] % 2 or self._x_shape[3] % 2:
                dx.fill(0)  # the odd last row/column is in no window
            d = self._windows(dx)
            half = self._buffer("half", shape, dout.dtype)
            right_top = self._buffer("right_top", shape, np.bool_)
            right_bottom = self._buffer("right_bottom", shape, np.bool_)
            below = self._buffer("below", shape, np.bool_)
            np.multiply(dout, below, out=half)  # the bottom row's share
            np.multiply(half, right_bottom, out=d[3])
            np.subtract(half, d[3], out=d[2])
            np.subtract(dout, half, out=half)  # the top row's share
            np.multiply(half, right_top, out=d[1])
            np.subtract(half, d[1], out=d[0])
            return dx
        dx.fill(0)
        index = self._buffer("index", shape, np.uint8 if self.kernel_size**2 <= 256 else np.int32)
        hit = self._buffer("hit", shape, np.bool_)
        term = self._buffer("term", shape, dout.dtype)
        for offset, window in enumerate(self._windows(dx)):
            np.equal(index, offset, out=hit)
            window += np.multiply(dout, hit, out=term)
        return dx


class AvgPool2D(_Pool2D):
    """``x: (N, C, H, W) -> (N, C, H_out, W_out)``, mean over each ``k×k`` window (no padding,
    so PyTorch's ``count_include_pad`` does not arise). ``stride`` defaults to ``kernel_size``."""

    kind = "avgpool"

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        out = self._out(x)
        self._x_shape = x.shape
        v = self._windows(x)
        np.copyto(out, v[0])
        for window in v[1:]:
            out += window
        out *= 1.0 / len(v)
        self.output = out
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dx = self._buffer("dx", self._x_shape, dout.dtype)
        share = self._buffer("share", dout.shape, dout.dtype)
        np.multiply(dout, 1.0 / self.kernel_size**2, out=share)
        k, s, (h, w) = self.kernel_size, self.stride, self._x_shape[2:]
        tiles = k == s and h % k == 0 and w % k == 0
        if not tiles:
            dx.fill(0)
        for window in self._windows(dx):
            if tiles:  # disjoint windows covering every pixel: assign, no zeroing needed
                np.copyto(window, share)
            else:
                window += share
        return dx


class GlobalAvgPool(Layer):
    """``x: (N, C, H, W) -> (N, C)``: the mean of each channel's feature map."""

    kind = "global_avgpool"

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        n, c = x.shape[:2]
        out = self._buffer("out", (n, c), x.dtype)
        np.sum(x.reshape(n, c, -1), axis=2, out=out)
        out *= 1.0 / (x.shape[2] * x.shape[3])
        self._x_shape = x.shape
        self.output = out
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dx = self._buffer("dx", self._x_shape, dout.dtype)
        area = self._x_shape[2] * self._x_shape[3]
        np.multiply(dout[:, :, None, None], 1.0 / area, out=dx)
        return dx
