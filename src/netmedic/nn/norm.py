"""Normalisation layers: BatchNorm (over the batch, per channel) and LayerNorm (per example).

Both normalise ``x̂ = (x - mean) / sqrt(var + eps)`` with the *biased* variance and return
``weight · x̂ + bias``. Their backward uses the folded form of the chain rule (one pass, no
per-element Jacobian):

    dx = weight · inv_std · (dout - mean(dout) - x̂ · mean(dout · x̂))

with the means taken over the normalised axes. ``dbias = Σ dout``, ``dweight = Σ dout · x̂``.
"""

from __future__ import annotations

import math

import numpy as np

from netmedic.errors import BadInputError
from netmedic.nn.layer import Layer


class BatchNorm(Layer):
    """Batch normalisation (Ioffe & Szegedy 2015) of ``(N, C)`` or ``(N, C, H, W)`` input, per
    channel ``C``, exactly as PyTorch's ``BatchNorm1d``/``BatchNorm2d``.

    Training: normalise with the batch's mean and biased variance over ``N`` (and ``H, W``), and
    update ``running = (1 - momentum) · running + momentum · batch`` where the running variance
    takes the *unbiased* batch variance (``· m / (m - 1)``, m values per channel). Eval: normalise
    with the running statistics. ``weight, bias: (C,)`` start at 1 and 0.

    The running statistics are not parameters (no gradient, the optimizer never sees them); they
    live in ``running = {"running_mean": (C,), "running_var": (C,)}`` (PyTorch's state-dict
    names) and a checkpoint must save them too.
    """

    kind = "batchnorm"

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = True) -> None:
        super().__init__()
        assert num_features >= 1 and eps > 0 and 0 <= momentum <= 1, "bad BatchNorm options"
        self.num_features, self.eps, self.momentum = int(num_features), float(eps), float(momentum)
        self.affine = bool(affine)
        self.running: dict[str, np.ndarray] = {}
        self._init_state(np.dtype(np.float32))

    def _init_state(self, dtype: np.dtype) -> None:
        c = self.num_features
        if self.affine:
            self.params = {"weight": np.ones(c, dtype), "bias": np.zeros(c, dtype)}
            self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.running = {"running_mean": np.zeros(c, dtype), "running_var": np.ones(c, dtype)}

    def init_params(self, rng: np.random.Generator, dtype: np.dtype) -> None:
        """weight 1, bias 0, running mean 0, running variance 1 (PyTorch); draws nothing."""
        self._init_state(np.dtype(dtype))

    def astype(self, dtype: np.dtype) -> None:
        super().astype(dtype)
        self.running = {k: v.astype(dtype) for k, v in self.running.items()}

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        n, c = x.shape[:2]
        if c != self.num_features or x.ndim not in (2, 4):
            raise BadInputError(
                f"{self.name}: expects (N, {self.num_features}) or (N, {self.num_features}, H, W) "
                f"input, got {x.shape}"
            )
        x3 = x.reshape(n, c, -1)
        count = n * x3.shape[2]
        xhat = self._buffer("xhat", x3.shape, x.dtype)
        inv_std = self._buffer("inv_std", (c,), x.dtype)
        if training:
            if count < 2:
                raise BadInputError(
                    f"{self.name}: batch statistics need more than one value per channel; got "
                    f"input {x.shape}. Use a batch size of 2 or more (or LayerNorm)."
                )
            mean = np.sum(x3, axis=(0, 2)) / count
            np.subtract(x3, mean[:, None], out=xhat)
            var = np.einsum("ncs,ncs->c", xhat, xhat) / count
            momentum, running = self.momentum, self.running
            running["running_mean"] *= 1 - momentum
            running["running_mean"] += momentum * mean
            running["running_var"] *= 1 - momentum
            running["running_var"] += (momentum * count / (count - 1)) * var
        else:
            np.subtract(x3, self.running["running_mean"][:, None], out=xhat)
            var = self.running["running_var"]
        np.sqrt(var + self.eps, out=inv_std)
        np.reciprocal(inv_std, out=inv_std)
        xhat *= inv_std[:, None]
        out = self._buffer("out", x.shape, x.dtype)
        if self.affine:
            out3 = out.reshape(x3.shape)
            np.multiply(xhat, self.params["weight"][:, None], out=out3)
            out3 += self.params["bias"][:, None]
        else:
            np.copyto(out, xhat.reshape(x.shape))
        self._training, self._xhat, self._inv_std = training, xhat, inv_std
        self.output = out
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """``dout`` shaped like the input -> ``dx``; in eval mode the statistics are constants."""
        xhat, inv_std = self._xhat, self._inv_std
        n, c = dout.shape[:2]
        d3 = dout.reshape(n, c, -1)
        count = n * d3.shape[2]
        dbias = np.sum(d3, axis=(0, 2))
        dweight = np.einsum("ncs,ncs->c", d3, xhat)
        if self.affine:
            self.grads["bias"][...] = dbias
            self.grads["weight"][...] = dweight
        scale = inv_std * self.params["weight"] if self.affine else inv_std
        dx = self._buffer("dx", dout.shape, dout.dtype)
        dx3 = dx.reshape(d3.shape)
        if not self._training:
            np.multiply(d3, scale[:, None], out=dx3)
            return dx
        np.multiply(xhat, (dweight / count)[:, None], out=dx3)
        np.subtract(d3, dx3, out=dx3)
        dx3 -= (dbias / count)[:, None]
        dx3 *= scale[:, None]
        return dx

    def __repr__(self) -> str:
        return (f"BatchNorm({self.name}, {self.num_features}, eps={self.eps:g}, "
                f"momentum={self.momentum:g}{'' if self.affine else ', affine=False'})")


class LayerNorm(Layer):
    """Layer normalisation (Ba et al. 2016) over the trailing ``normalized_shape`` axes of each
    example, as PyTorch's ``nn.LayerNorm``: ``x: (N, *normalized_shape)`` -> same shape, with
    ``weight, bias: normalized_shape`` (start at 1 and 0). No running statistics: training and
    eval compute the same thing."""

    kind = "layernorm"

    def __init__(self, normalized_shape: int | tuple[int, ...], eps: float = 1e-5,
                 affine: bool = True) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
        self.normalized_shape = tuple(int(d) for d in shape)
        assert min(self.normalized_shape) >= 1 and eps > 0, "bad LayerNorm options"
        self.eps, self.affine = float(eps), bool(affine)
        self.init_params(None, np.dtype(np.float32))

    def init_params(self, rng: np.random.Generator | None, dtype: np.dtype) -> None:
        """weight 1, bias 0 (PyTorch); draws nothing."""
        if self.affine:
            self.params = {"weight": np.ones(self.normalized_shape, dtype),
                           "bias": np.zeros(self.normalized_shape, dtype)}
            self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        k = len(self.normalized_shape)
        if x.shape[x.ndim - k:] != self.normalized_shape:
            raise BadInputError(
                f"{self.name}: normalises the trailing axes {self.normalized_shape}; "
                f"got input {x.shape}"
            )
        size = math.prod(self.normalized_shape)
        x2 = x.reshape(-1, size)
        xhat = self._buffer("xhat", x2.shape, x.dtype)
        np.subtract(x2, np.sum(x2, axis=1, keepdims=True) / size, out=xhat)
        var = np.einsum("md,md->m", xhat, xhat) / size
        inv_std = self._buffer("inv_std", (x2.shape[0], 1), x.dtype)
        np.sqrt(var[:, None] + self.eps, out=inv_std)
        np.reciprocal(inv_std, out=inv_std)
        xhat *= inv_std
        out = self._buffer("out", x.shape, x.dtype)
        out2 = out.reshape(x2.shape)
        if self.affine:
            np.multiply(xhat, self.params["weight"].reshape(-1), out=out2)
            out2 += self.params["bias"].reshape(-1)
        else:
            np.copyto(out2, xhat)
        self._xhat, self._inv_std = xhat, inv_std
        self.output = out
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        xhat, inv_std = self._xhat, self._inv_std
        d2 = dout.reshape(xhat.shape)
        if self.affine:
            np.einsum("md,md->d", d2, xhat, out=self.grads["weight"].reshape(-1))
            np.sum(d2, axis=0, out=self.grads["bias"].reshape(-1))
        dx = self._buffer("dx", dout.shape, dout.dtype)
        dxhat = dx.reshape(xhat.shape)
        if self.affine:
            np.multiply(d2, self.params["weight"].reshape(-1), out=dxhat)
        else:
            np.copyto(dxhat, d2)
        size = xhat.shape[1]
        proj = np.einsum("md,md->m", dxhat, xhat)[:, None] / size
        centre = np.sum(dxhat, axis=1, keepdims=True) / size
        dxhat -= centre
        dxhat -= xhat * proj
        dxhat *= inv_std
        return dx

    def __repr__(self) -> str:
        return f"LayerNorm({self.name}, {self.normalized_shape}, eps={self.eps:g})"
