"""Weight initializers: each ``(shape, fan_in, fan_out, rng) -> float64 array``.

Names and formulas follow the papers and PyTorch's ``torch.nn.init`` with the gain of the layer's
activation folded in by choosing the right scheme (He for ReLU-like, Glorot for sigmoid/tanh):

- ``he_normal``: N(0, 2 / fan_in)  (He et al. 2015)
- ``he_uniform``: U(±sqrt(6 / fan_in))
- ``glorot_normal``: N(0, 2 / (fan_in + fan_out))  (Glorot & Bengio 2010)
- ``glorot_uniform``: U(±sqrt(6 / (fan_in + fan_out)))
- ``lecun_normal``: N(0, 1 / fan_in)  (LeCun et al. 1998)
- ``uniform(a, b)``, ``normal(std)``, ``zeros``
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from netmedic.errors import BadInputError

Shape = tuple[int, ...]
Initializer = Callable[[Shape, int, int, np.random.Generator], np.ndarray]


def he_normal(shape: Shape, fan_in: int, fan_out: int, rng: np.random.Generator) -> np.ndarray:
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape)


def he_uniform(shape: Shape, fan_in: int, fan_out: int, rng: np.random.Generator) -> np.ndarray:
    bound = np.sqrt(6.0 / fan_in)
    return rng.uniform(-bound, bound, size=shape)


def glorot_normal(shape: Shape, fan_in: int, fan_out: int, rng: np.random.Generator) -> np.ndarray:
    return rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), size=shape)


def glorot_uniform(shape: Shape, fan_in: int, fan_out: int, rng: np.random.Generator) -> np.ndarray:
    bound = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-bound, bound, size=shape)


def lecun_normal(shape: Shape, fan_in: int, fan_out: int, rng: np.random.Generator) -> np.ndarray:
    return rng.normal(0.0, np.sqrt(1.0 / fan_in), size=shape)


def zeros(shape: Shape, fan_in: int, fan_out: int, rng: np.random.Generator) -> np.ndarray:
    return np.zeros(shape)


def uniform(a: float, b: float) -> Initializer:
    """U(a, b) whatever the fan (seed 002: ``uniform(-0.5, 0.5)``; seed 000: ``uniform(0, 1)``)."""
    if not a < b:
        raise BadInputError(f"uniform(a, b) needs a < b; got a={a}, b={b}")

    def init(shape: Shape, fan_in: int, fan_out: int, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(a, b, size=shape)

    init.__name__ = f"uniform({a:g}, {b:g})"
    return init


def normal(std: float) -> Initializer:
    """N(0, std²) whatever the fan."""
    if not std > 0:
        raise BadInputError(f"normal(std) needs std > 0; got {std}")

    def init(shape: Shape, fan_in: int, fan_out: int, rng: np.random.Generator) -> np.ndarray:
        return rng.normal(0.0, std, size=shape)

    init.__name__ = f"normal({std:g})"
    return init


INITIALIZERS: dict[str, Initializer] = {
    f.__name__: f
    for f in (he_normal, he_uniform, glorot_normal, glorot_uniform, lecun_normal, zeros)
}
_FACTORIES = {"uniform": (uniform, 2), "normal": (normal, 1)}
_CALL = re.compile(r"^\s*(\w+)\s*\(([^()]*)\)\s*$")


def get_initializer(name: str | Initializer) -> Initializer:
    """An initializer by name: ``"he_normal"``, ``"uniform(-0.5, 0.5)"``, ``"normal(0.01)"``…"""
    if callable(name):
        return name
    if name in INITIALIZERS:
        return INITIALIZERS[name]
    match = _CALL.match(name)
    if match and match.group(1) in _FACTORIES:
        factory, arity = _FACTORIES[match.group(1)]
        try:
            args = [float(a) for a in match.group(2).split(",")]
        except ValueError:
            args = []
        if len(args) == arity:
            return factory(*args)
    known = ", ".join([*INITIALIZERS, "uniform(a, b)", "normal(std)"])
    raise BadInputError(f"unknown initializer {name!r}; expected one of {known}")
