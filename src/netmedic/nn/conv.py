"""2-D convolution (cross-correlation, as PyTorch's ``nn.Conv2d``) by im2col and one GEMM.

Inside the layer the padded input ``xp`` is kept channel-first in one of two layouts, and every
kernel offset ``(i, j)`` copies one strided view of it into ``cols: (C, kh, kw, <rest>)``:

    forward   res  = W (F, K) @ cols (K, N·H_out·W_out)    K = C·kh·kw, one GEMM
    backward  dW   = dres (F, N·H_out·W_out) @ colsᵀ        one GEMM
              dcol = Wᵀ (K, F) @ dres                       one GEMM (skipped for the 1st layer)
              col2im: kh·kw strided ``+=`` into dxp (a loop over kernel offsets, never pixels)

``(C, N, H, W)`` copies im2col runs of ``W_out`` values and converts to and from NCHW almost for
free; ``(C, H, W, N)`` (cuda-convnet's CHWN) copies runs of ``W_out·N`` values but pays two
element-wise transposes. Measured on the default CNN (1 thread): its second conv (K = 800)
takes im2col 1.8 ms and col2im 3.3 ms in CHWN against 3.9 and 7.8 ms in CNHW, while the first
(K = 25) runs forward + backward in 6.1 ms in CNHW against 9.9 ms in CHWN. So a layer uses CHWN
when its im2col volume exceeds twice its output (``K > 2·C_out``). CS231n's row-major
``(N·H_out·W_out, K)`` im2col (runs of ``kw`` values) was slower than both. Every array lives
in a preallocated buffer.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from netmedic.nn.init import Initializer, he_normal, zeros
from netmedic.nn.layer import Layer

#: most im2col values an eval forward holds at once (64 MiB in float32); training keeps the whole
#: batch's columns for the weight gradient
EVAL_COLS_BUDGET = 2**24


def conv_output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """``floor((size + 2·padding - kernel) / stride) + 1`` (PyTorch's formula, no dilation)."""
    return (size + 2 * padding - kernel) // stride + 1


class Conv2D(Layer):
    """``x: (N, C_in, H, W) -> (N, C_out, H_out, W_out)``; ``weight: (C_out, C_in, kh, kw)``,
    ``bias: (C_out,)`` — the shapes and meaning of PyTorch's ``nn.Conv2d`` (no transpose).

    ``H_out = floor((H + 2·padding - kh) / stride) + 1``; zero padding. Initializers receive
    ``fan_in = C_in·kh·kw`` and ``fan_out = C_out·kh·kw`` (PyTorch's convention).
    """

    kind = "conv"

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int = 1,
        padding: int = 0,
        bias: bool = True,
        init: Initializer = he_normal,
        bias_init: Initializer = zeros,
    ) -> None:
        super().__init__()
        kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        assert min(in_channels, out_channels, kh, kw, stride) >= 1 and padding >= 0, (
            "Conv2D needs positive channels, kernel and stride, and padding >= 0"
        )
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = (int(kh), int(kw))
        self.stride, self.padding, self.bias = int(stride), int(padding), bool(bias)
        self.init, self.bias_init = init, bias_init
        #: False for the first layer: nobody needs the gradient w.r.t. the data, skip its GEMM.
        self.needs_input_grad = True
        #: internal axis order, as NCHW axis numbers: CHWN for large im2col volumes, else CNHW
        self._order = (1, 2, 3, 0) if self.in_channels * kh * kw > 2 * self.out_channels \
            else (1, 0, 2, 3)
        self._xp_zeroed: np.ndarray | None = None
        self._x_shape: tuple[int, ...] = ()
        self._cols: np.ndarray | None = None

    def output_shape(self, in_shape: tuple[int, int, int]) -> tuple[int, int, int]:
        """``(C_in, H, W) -> (C_out, H_out, W_out)`` without the batch axis."""
        (kh, kw), s, p = self.kernel_size, self.stride, self.padding
        return (self.out_channels, conv_output_size(in_shape[1], kh, s, p),
                conv_output_size(in_shape[2], kw, s, p))

    def init_params(self, rng: np.random.Generator, dtype: np.dtype) -> None:
        kh, kw = self.kernel_size
        shape = (self.out_channels, self.in_channels, kh, kw)
        fan_in, fan_out = self.in_channels * kh * kw, self.out_channels * kh * kw
        self.params = {"weight": self.init(shape, fan_in, fan_out, rng).astype(dtype)}
        if self.bias:
            bias = self.bias_init((self.out_channels,), fan_in, fan_out, rng)
            self.params["bias"] = bias.astype(dtype)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def _internal(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """An NCHW shape in the layer's internal axis order."""
        return tuple(shape[axis] for axis in self._order)

    def _offsets(self, ho: int, wo: int) -> Iterator[tuple[int, int, tuple[slice, ...]]]:
        """``(i, j, index)`` per kernel offset: ``xp[index]`` is the window of offset (i, j)."""
        (kh, kw), s = self.kernel_size, self.stride
        h_axis, w_axis = self._order.index(2), self._order.index(3)
        for i in range(kh):
            for j in range(kw):
                index = [slice(None)] * 4
                index[h_axis] = slice(i, i + s * (ho - 1) + 1, s)
                index[w_axis] = slice(j, j + s * (wo - 1) + 1, s)
                yield i, j, tuple(index)

    def _interior(self, h: int, w: int) -> tuple[slice, ...]:
        index = [slice(None)] * 4
        p = self.padding
        index[self._order.index(2)], index[self._order.index(3)] = slice(p, p + h), slice(p, p + w)
        return tuple(index)

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        """``x: (N, C_in, H, W)`` -> ``(N, C_out, H_out, W_out)``. An eval forward whose im2col
        would exceed :data:`EVAL_COLS_BUDGET` values runs in chunks of examples (evaluation at
        batch 1000 would otherwise hold 0.6 GB of columns for the default CNN)."""
        n, c, h, w = x.shape
        assert c == self.in_channels, f"{self.name}: expected {self.in_channels} channels, got {c}"
        (kh, kw), f = self.kernel_size, self.out_channels
        _, ho, wo = self.output_shape((c, h, w))
        assert ho >= 1 and wo >= 1, f"{self.name}: kernel {kh}×{kw} larger than input {h}×{w}"
        out = self._buffer("out", (n, f, ho, wo), self.params["weight"].dtype)
        chunk = n if training else max(1, EVAL_COLS_BUDGET // (c * kh * kw * ho * wo))
        for start in range(0, n, chunk):
            self._cols = self._forward_into(x[start : start + chunk], out[start : start + chunk])
        if chunk < n:
            self._cols = None  # the columns of the last chunk only: no backward from here
        self._x_shape = x.shape
        self.output = out
        return out

    def _forward_into(self, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Write the convolution of ``x`` into ``out`` (both NCHW); return the im2col columns."""
        weight = self.params["weight"]
        n, c, h, w = x.shape
        (kh, kw), p, f = self.kernel_size, self.padding, self.out_channels
        ho, wo = out.shape[2:]
        dtype = weight.dtype
        xp = self._buffer("xp", self._internal((n, c, h + 2 * p, w + 2 * p)), dtype)
        if p and xp is not self._xp_zeroed:  # a new buffer: zero its border once, for good
            xp.fill(0)
            self._xp_zeroed = xp
        xp[self._interior(h, w)] = x.transpose(self._order)
        rest = self._internal((n, c, ho, wo))[1:]
        cols = self._buffer("cols", (c, kh, kw, *rest), dtype)
        for i, j, window in self._offsets(ho, wo):
            cols[:, i, j] = xp[window]
        res = self._buffer("res", (f, *rest), dtype)
        np.matmul(weight.reshape(f, -1), cols.reshape(c * kh * kw, -1), out=res.reshape(f, -1))
        to_nchw = tuple(np.argsort(self._order))
        if self.bias:
            np.add(res.transpose(to_nchw), self.params["bias"][:, None, None], out=out)
        else:
            np.copyto(out, res.transpose(to_nchw))
        return cols

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        """``dout: (N, C_out, H_out, W_out)`` -> ``dx: (N, C_in, H, W)`` (``None`` for the first
        layer); writes ``grads["weight"]`` and ``grads["bias"]``."""
        if self._cols is None:
            raise RuntimeError(
                f"{self.name}: backward needs the columns of a forward over the whole batch; call "
                f"forward(x, training=True) first (eval forwards of large batches run in chunks)"
            )
        n, c, h, w = self._x_shape
        f, ho, wo = dout.shape[1:]
        (kh, kw), p = self.kernel_size, self.padding
        dres = self._buffer("dres", self._internal(dout.shape), dout.dtype)
        np.copyto(dres, dout.transpose(self._order))
        dres2 = dres.reshape(f, -1)
        np.matmul(dres2, self._cols.reshape(c * kh * kw, -1).T,
                  out=self.grads["weight"].reshape(f, -1))
        if self.bias:
            np.sum(dres2, axis=1, out=self.grads["bias"])
        if not self.needs_input_grad:
            return None
        dcols = self._buffer("dcols", self._cols.shape, dout.dtype)
        np.matmul(self.params["weight"].reshape(f, -1).T, dres2, out=dcols.reshape(c * kh * kw, -1))
        dxp = self._buffer("dxp", self._internal((n, c, h + 2 * p, w + 2 * p)), dout.dtype)
        dxp.fill(0)
        for i, j, window in self._offsets(ho, wo):
            dxp[window] += dcols[:, i, j]
        dx = self._buffer("dx", self._x_shape, dout.dtype)
        np.copyto(dx, dxp[self._interior(h, w)].transpose(tuple(np.argsort(self._order))))
        return dx

    def __repr__(self) -> str:
        (kh, kw), s, p = self.kernel_size, self.stride, self.padding
        return (f"Conv2D({self.name}, {self.in_channels}->{self.out_channels}, kernel={kh}×{kw}, "
                f"stride={s}, padding={p}{'' if self.bias else ', bias=False'})")
