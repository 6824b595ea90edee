"""Seed 004: a Haskell MLP of 1000-unit sigmoid layers and MSE whose activations sink to 1e-100.

The asker's algorithm (../shared/seeds/004_*.txt, hmatrix, float64), examples in rows:

- every layer ``FC w b af`` with a sigmoid ``af``; ``runLayers`` gives each layer's output and
  its derivative σ(z)(1 − σ(z));
- ``mse``: ``f (y, y') = (y' − y)² / 2``, ``f' (y, y') = y' − y``;
- ``backward``: ``δout = tr (derivate lf (tar, out))`` and, down the layers,
  ``δ = tr a' * (w <> δ)``, with the derivatives of all layers *but the last*
  (``init as'``): the output layer's σ'(z) is never applied, so δout is the gradient of
  cross-entropy-with-sigmoid, not of the MSE they print;
- ``grad``: ``tr (δ <> a) / r`` and the row sums of δ / r for a minibatch of r rows;
- ``move``: ``w + lr·g`` with a negative ``lr`` (the descent is right).

Unknown from the post (the rest is on their GitHub): the depth, the initialization, the learning
rate, the minibatch. We chose three hidden layers of 1000, weights ``uniform(−1, 1)`` (what
``randomRs (-1, 1)`` gives), zero biases, lr 1 and minibatches of 32 on inputs in [0, 1]: a
combination that does what the post says — the activations shrink layer after layer to 1e-100
and the loss and the accuracy do not improve.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from netmedic.clinic.scenario import (
    BrokenRun,
    GradProblem,
    Scenario,
    flat_pixels,
    fmt,
    mnist_train,
)
from netmedic.doctor import Doctor

SIZES = (784, 1000, 1000, 1000, 10)
GRADCHECK_BATCH = 8
GRADCHECK_SIZES = (784, 32, 32, 32, 10)  # the same equations as 1000 wide, ~100× cheaper to check


# ------------------------------------------------------------------------ the asker's algorithm
def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def run_layers(net: list[tuple[np.ndarray, np.ndarray]], i: np.ndarray):
    """``runLayers n i``: each layer's output ``as`` and activation derivative ``as'``."""
    outs, ders, a = [], [], i
    for w, b in net:
        a = sigmoid(a @ w + b)
        outs.append(a)
        ders.append(a * (1 - a))
    return outs, ders


def mse(out: np.ndarray, tar: np.ndarray) -> float:
    """Mean over the minibatch of Σ (y' − y)² / 2."""
    return float(np.mean(np.sum((out - tar) ** 2 / 2, axis=1)))


def backward(net, out: np.ndarray, tar: np.ndarray, das: list[np.ndarray]) -> list[np.ndarray]:
    """``scanr (\\(l, a') δ -> tr a' * (w <> δ)) δout (zip (tail n) das)``; deltas are columns."""
    deltas = [(out - tar).T]  # δout = tr (derivate lf (tar, out)): no σ'(z_out)
    for (w, _), a_der in zip(reversed(net[1:]), reversed(das), strict=True):
        deltas.insert(0, a_der.T * (w @ deltas[0]))
    return deltas


def grad(net, i: np.ndarray, tar: np.ndarray):
    """``grad lf (n, (i, t))``: weight and bias gradients averaged over the r rows of i."""
    outs, ders = run_layers(net, i)
    ds = backward(net, outs[-1], tar, ders[:-1])  # (init as')
    r = i.shape[0]
    gs = [(d @ a).T / r for d, a in zip(ds, [i, *outs[:-1]], strict=True)]
    return gs, [d.sum(axis=1) / r for d in ds], outs


def _init(rng: np.random.Generator, sizes: tuple[int, ...] = SIZES) -> list[tuple]:
    """Their layers: weights uniform(−1, 1) (``randomRs (-1, 1)``), biases zero."""
    shapes = zip(sizes[:-1], sizes[1:], strict=True)
    return [(rng.uniform(-1, 1, (m, n)), np.zeros(n)) for m, n in shapes]


def _named(net, gs=None, bs=None) -> tuple[dict, dict | None]:
    params, grads = {}, {} if gs is not None else None
    for k, (w, b) in enumerate(net, start=1):
        params[f"w{k}"], params[f"b{k}"] = w, b
        if grads is not None:
            grads[f"w{k}"], grads[f"b{k}"] = gs[k - 1], bs[k - 1]
    return params, grads


# ------------------------------------------------------------------------ the re-created run
def train(config: dict[str, Any], doctor: Doctor) -> BrokenRun:
    """Minibatch gradient descent: ``move`` after ``grad``, for ``config["steps"]`` batches."""
    rng = np.random.default_rng(0)
    images, labels = mnist_train()
    x, targets = flat_pixels(images, np.float64, 1 / 255), np.eye(10)[labels]
    net, lr, r = _init(rng), -config["lr"], config["batch_size"]  # they pass a negative lr
    losses, accuracy, medians, smallest = [], [], [], np.full(len(SIZES) - 1, np.inf)
    for step in range(config["steps"]):
        rows = rng.integers(0, len(labels), r)
        i, t = x[rows], targets[rows]
        with np.errstate(all="ignore"):
            gs, bs, outs = grad(net, i, t)
            loss = mse(outs[-1], t)
        params, grads = _named(net, gs, bs)
        doctor.observe(step=step, loss=loss, lr=-lr, params=params, grads=grads,
                       activations={f"a{k}": a for k, a in enumerate(outs, start=1)},
                       activation_kinds={f"a{k}": "sigmoid" for k in range(1, len(outs) + 1)},
                       inputs=i, labels=labels[rows])
        with np.errstate(all="ignore"):  # move: FC (w + lr .* g) (b + lr .* δ)
            net = [(w + lr * g, b + lr * d) for (w, b), g, d in zip(net, gs, bs, strict=True)]
        losses.append(loss)
        accuracy.append(float(np.mean(outs[-1].argmax(axis=1) == labels[rows])))
        medians.append([float(np.median(a)) for a in outs])
        smallest = np.minimum(smallest, [float(np.min(a)) for a in outs])
    n = len(losses)
    window = max(n // 5, 1)
    facts = ["smallest activation per layer a1…a4 over the run: "
             + ", ".join(fmt(v) for v in smallest),
             "median activation per layer a1…a4 at the last step: "
             + ", ".join(fmt(v) for v in medians[-1]),
             f"minibatch accuracy, first {window} steps vs last {window}: "
             f"{np.mean(accuracy[:window]):.1%} vs {np.mean(accuracy[-window:]):.1%}"]
    return BrokenRun(losses, facts)


def gradients() -> GradProblem:
    """Their ``grad`` against their printed MSE, on 8 training images at their initialization,
    with hidden layers of 32 units: the equations do not depend on the width."""
    images, labels = mnist_train(GRADCHECK_BATCH)
    x, t = flat_pixels(images, np.float64, 1 / 255), np.eye(10)[labels]
    params0, _ = _named(_init(np.random.default_rng(0), GRADCHECK_SIZES))
    depth = len(GRADCHECK_SIZES) - 1

    def net_of(p: dict[str, np.ndarray]):
        return [(p[f"w{k}"], p[f"b{k}"]) for k in range(1, depth + 1)]

    def loss(p: dict[str, np.ndarray]) -> float:
        with np.errstate(all="ignore"):
            return mse(run_layers(net_of(p), x)[0][-1], t)

    def grads(p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        with np.errstate(all="ignore"):
            gs, bs, _ = grad(net_of(p), x, t)
        return _named(net_of(p), gs, bs)[1]

    return GradProblem(loss, grads, params0, GRADCHECK_BATCH,
                       f"their grad and mse on {GRADCHECK_BATCH} images, their init, hidden "
                       f"layers of {GRADCHECK_SIZES[1]} (the same equations as 1000 wide)")


SCENARIO = Scenario(
    name="seed-004-wide-sigmoid",
    seed="004",
    question="With 1000-unit layers, activations of order 1e-100 and NaN appear, and the loss "
             "never improves: is my Haskell backprop right?",
    recreates="784-1000-1000-1000-10 sigmoid, MSE, their backward (deltas without the output "
              "σ'), minibatches of 32 at lr 1, float64 like hmatrix",
    choices="depth 3, uniform(−1, 1) weights, lr 1, minibatch 32, inputs in [0, 1] (the post "
            "gives none of them); 60 steps",
    config={
        "layers": ["in784", "fc1000", "act", "fc1000", "act", "fc1000", "act", "fc10"],
        "activation": "sigmoid", "output": "sigmoid", "loss": "mse", "init": "uniform(-1, 1)",
        "normalize": "unit", "normalization": None, "dtype": "float64", "lr": 1.0,
        "clip_norm": None, "gradients": "hand-written", "optimizer": "sgd", "batch_size": 32,
        "steps": 60,
    },
    budget={"optimizer": "adam", "lr": 3e-4, "batch_size": 64, "epochs": 3},
    target=0.92,
    train=train,
    gradients=gradients,
    expected=("saturated_activation", "wrong_gradient"),
)
