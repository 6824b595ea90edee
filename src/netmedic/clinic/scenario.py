"""What a clinic scenario is: a seed's broken training, its settings, and what "fixed" must reach.

A :class:`Scenario` has two halves:

- ``train(config, doctor)``: the seed's own training loop, re-created in NumPy as its author wrote
  it (their init, loss, learning rate and backprop, bugs included), reporting every step to the
  :class:`~netmedic.doctor.Doctor` through ``observe`` with the seed's own tensor names;
- ``config``: the same training in the engine's terms (layer tokens, activation, loss, init,
  input scaling, dtype, learning rate, where the gradients come from). The doctor's remedies edit
  a copy of it (:mod:`netmedic.clinic.fix`), and the fixed run trains what it then says.

``budget`` is how long and with what optimizer the fixed run trains: the seeds' loops (three
full-batch iterations, one pass over 66 patches) are demonstrations, not training budgets.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np

from netmedic.doctor import Doctor

#: Keys of a scenario ``config``: what the remedies edit (:class:`~.fix.ScenarioEditor`).
CONFIG_KEYS = (
    "layers",  # cnn-grammar tokens; "act" marks a hidden activation (config["activation"])
    "activation",  # hidden activation: relu, sigmoid, tanh, leaky_relu, elu
    "output",  # activation after the last layer for mse/bce ("sigmoid"), or None (logits)
    "loss",  # cross_entropy, mse, bce
    "init",  # an initializer name of netmedic.nn.init: "uniform(0, 1)", "he_normal"...
    "normalize",  # none, unit, standard (as --normalize)
    "normalization",  # None, or where batch norm goes ("all": before every hidden activation)
    "dtype",  # float32, float64
    "lr",  # learning rate
    "clip_norm",  # global gradient-norm clipping, or None
    "gradients",  # "hand-written" (the seed's backprop) or "engine" (netmedic's verified one)
    "optimizer",  # the seed's optimizer, as the seed ran it (informational)
    "batch_size",  # the seed's batch size
    "steps",  # steps the re-created loop runs
)


@dataclass(frozen=True)
class BrokenRun:
    """What the re-created loop did: its printed loss per step, and facts worth showing.

    ``losses``: the loss the seed's code computes, one per step (NaN once it is NaN);
    ``facts``: short lines in the seed's terms ("max |W1| per iteration: 1, 1.1e+08, nan").
    """

    losses: list[float]
    facts: list[str] = field(default_factory=list)

    @property
    def steps(self) -> int:
        return len(self.losses)


@dataclass(frozen=True)
class GradProblem:
    """The seed's hand-written gradients at a point where they can be measured."""

    loss: Callable[[dict[str, np.ndarray]], float]
    grads: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]
    params: dict[str, np.ndarray]
    batch_size: int
    where: str  # in words: which point, which batch


@dataclass(frozen=True)
class Scenario:
    """One seed's broken training: the question, the re-creation, and the target once fixed."""

    name: str  # "seed-000-sigmoid-mlp"
    seed: str  # "000": ../shared/seeds/000_*.txt
    question: str  # the seed's question, in one line
    recreates: str  # what is re-created, in one line
    choices: str  # what the seed does not say and what we chose, and why
    config: Mapping[str, Any]
    budget: Mapping[str, Any]  # optimizer, lr (used when the seed's LR is void), batch_size, epochs
    target: float  # test accuracy the fixed run must reach on mnist-mini
    train: Callable[[dict[str, Any], Doctor], BrokenRun]
    gradients: Callable[[], GradProblem] | None = None  # None: no hand-written backprop
    doctor_options: Mapping[str, Any] = field(default_factory=dict)  # batch_axis, stride…
    expected: tuple[str, ...] = ()  # finding kinds the diagnosis must contain (tests, bench)

    def fresh_config(self) -> dict[str, Any]:
        """A deep copy of ``config`` to edit (the scenario itself never changes)."""
        return copy.deepcopy(dict(self.config))

    def make_doctor(self, trace: str | None = None) -> Doctor:
        """The doctor that watches the re-created loop (and writes ``trace`` if given)."""
        return Doctor(num_classes=10, trace=trace, **dict(self.doctor_options))

    def __repr__(self) -> str:
        return f"Scenario({self.name!r}: {self.recreates})"


@cache
def _mnist_mini() -> Any:
    from netmedic.data import load

    return load("mnist-mini")


def mnist_train(n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` mnist-mini training images, ``(n, 1, 28, 28)`` uint8, and labels ``(n,)``.

    Read-only views of a cached dataset: scenarios copy before they change anything."""
    data = _mnist_mini()
    n = len(data.y_train) if n is None else n
    return data.x_train[:n], data.y_train[:n]


def flat_pixels(images: np.ndarray, dtype: type, scale: float) -> np.ndarray:
    """``(n, 784)`` rows of ``images`` as ``dtype``, multiplied by ``scale`` (1/255: [0, 1])."""
    return images.reshape(len(images), -1).astype(dtype) * dtype(scale)


def max_abs(values: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Largest |entry| of each array (NaN if any entry is NaN): what the seeds printed."""
    with np.errstate(all="ignore"):
        return {k: float(np.max(np.abs(v))) for k, v in values.items()}


def fmt(x: float) -> str:
    """A number as the seeds would read it: 3 significant digits, exponent when large."""
    return f"{x:.3g}"
