"""Inverted dropout (Srivastava et al. 2014), PyTorch's ``nn.Dropout`` semantics."""

from __future__ import annotations

import numpy as np

from netmedic.errors import BadInputError
from netmedic.nn.layer import Layer


class Dropout(Layer):
    """Training: zero each element with probability ``p`` and scale the survivors by
    ``1 / (1 - p)``, so the expected output equals the input and eval needs no rescaling.
    Eval: the identity (the input array itself is returned). Any shape.

    Randomness comes only from ``rng``, a ``numpy.random.Generator``: pass one at construction,
    or let ``Sequential.init(rng)`` give one — ``init_params`` then takes ``rng.spawn(1)[0]``, an
    independent child stream that draws nothing from ``rng`` (the weights of the other layers are
    the same with or without dropout) and is reproducible: same seed, same masks.
    """

    kind = "dropout"

    def __init__(self, p: float = 0.5, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise BadInputError(f"dropout probability must be in [0, 1]; got {p}")
        self.p = float(p)
        self.rng = rng
        self._keep: np.ndarray | None = None

    def init_params(self, rng: np.random.Generator, dtype: np.dtype) -> None:
        """Take a child stream of the model's generator unless one was given at construction."""
        if self.rng is None:
            self.rng = _child(rng)

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        if not training or self.p == 0.0:
            self._keep = None
            self.output = x
            return x
        if self.rng is None:
            raise RuntimeError(
                f"{self.name} has no random generator: pass rng=np.random.default_rng(seed) or "
                "call model.init(rng) before training"
            )
        # keep = (u >= p) / (1 - p): the survivors' scale folded into the mask, one multiply later
        keep = self._buffer("keep", x.shape, x.dtype)
        self.rng.random(out=keep, dtype=x.dtype)
        if self.p == 1.0:
            keep.fill(0)
        else:
            np.greater_equal(keep, self.p, out=keep)
            keep *= 1.0 / (1.0 - self.p)
        out = self._buffer("out", x.shape, x.dtype)
        np.multiply(x, keep, out=out)
        self._keep = keep
        self.output = out
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self._keep is None:
            return dout
        dx = self._buffer("dx", dout.shape, dout.dtype)
        return np.multiply(dout, self._keep, out=dx)

    @property
    def mask(self) -> np.ndarray | None:
        """The last training forward's keep mask (bool, input shape); ``None`` after eval."""
        return None if self._keep is None else self._keep != 0

    def __repr__(self) -> str:
        return f"Dropout({self.name}, p={self.p:g})"


def _child(rng: np.random.Generator) -> np.random.Generator:
    try:
        return rng.spawn(1)[0]
    except (AttributeError, TypeError, ValueError):  # numpy < 1.25, or no seed sequence
        return np.random.default_rng(rng.integers(2**63))
