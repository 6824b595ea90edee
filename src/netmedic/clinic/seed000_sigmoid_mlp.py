"""Seed 000: a 784-30-10 sigmoid MLP whose weights reach the tens of thousands, then NaN.

The asker's code (../shared/seeds/000_*.txt), kept line for line where it matters:

- ``params`` drawn with ``np.random.rand`` (all weights in [0, 1)), biases zero, float64;
- ``softmax(z) = 1/sum(exp(z)) * exp(z)``: Python's ``sum`` adds over the *batch* axis, and the
  exponentials overflow once the logits pass 709;
- ``sigmoid_der(z) = z*(1-z)`` applied to the pre-activations Z1 and Z2 (it is σ' only when
  given σ(z)), and "softmax derivative is alike to sigmoid";
- ``Eo = (y - A2) * ...``: the sign is flipped, and ``y`` is the column of integer labels
  (``np.array([y_train]).T``), not the one-hot matrix they built and never used;
- ``dW = ... summed`` over the whole training set (no 1/m), full-batch gradient descent at
  ``alpha = 0.001`` for ``iterations = 3``;
- ``cross_entropy_error(v, y) = -np.log(v[y])`` with that label column indexes *rows* of A2.

Data: mnist-mini's 8,000 training images as float32 in [0, 1]. Their ``MNISTdata.hdf5`` (as far
as we know the UIUC IE 534 course file) stores pixels already scaled to [0, 1], and they feed it
unchanged; with 0..255 pixels the doctor adds ``unscaled_input`` and the rest is the same.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy import exp

from netmedic.clinic.scenario import (
    BrokenRun,
    GradProblem,
    Scenario,
    flat_pixels,
    fmt,
    max_abs,
    mnist_train,
)
from netmedic.doctor import Doctor

NX, NH, NY = 784, 30, 10
GRADCHECK_BATCH = 16  # examples in the gradient check's batch (cheap, every row measurable)


# ------------------------------------------------------------------------ the asker's functions
def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + exp(-z))


def sigmoid_der(z: np.ndarray) -> np.ndarray:
    return z * (1 - z)  # theirs: σ(z)(1 − σ(z)) only if z were σ(z) already


def softmax(z: np.ndarray) -> np.ndarray:
    return 1 / sum(exp(z)) * exp(z)  # theirs: built-in sum adds the rows (the batch axis)


def softmax_der(z: np.ndarray) -> np.ndarray:
    return sigmoid_der(z)  # theirs: "softmax derivative is alike to sigmoid"


def cross_entropy_error(v: np.ndarray, y: np.ndarray) -> np.ndarray:
    return -np.log(v[y])  # theirs: y is an (m, 1) label column, so v[y] picks rows of v


def forward_prop(X: np.ndarray, y: np.ndarray, params: dict[str, np.ndarray]) -> dict:
    outs = {"A0": X}
    outs["Z1"] = np.matmul(outs["A0"], params["W1"]) + params["b1"]
    outs["A1"] = sigmoid(outs["Z1"])
    outs["Z2"] = np.matmul(outs["A1"], params["W2"]) + params["b2"]
    outs["A2"] = softmax(outs["Z2"])
    outs["error"] = cross_entropy_error(outs["A2"], y)
    return outs


def back_prop(X: np.ndarray, y: np.ndarray, params: dict[str, np.ndarray], outs: dict) -> dict:
    Eo = (y - outs["A2"]) * softmax_der(outs["Z2"])
    Eh = np.matmul(Eo, params["W2"].T) * sigmoid_der(outs["Z1"])
    return {"dW2": np.matmul(Eo.T, outs["A1"]).T, "dW1": np.matmul(Eh.T, X).T,
            "db2": np.sum(Eo, 0), "db1": np.sum(Eh, 0)}


def total_loss(outs: dict) -> float:
    return float(1 / NY * np.sum(outs["error"]))  # theirs: loss = 1/ny * np.sum(outs['error'])


# ------------------------------------------------------------------------ the re-created run
def train(config: dict[str, Any], doctor: Doctor) -> BrokenRun:
    """Their main loop: full-batch gradient descent for ``config["steps"]`` iterations."""
    rng = np.random.default_rng(0)
    images, labels = mnist_train()
    x_train = flat_pixels(images, np.float32, 1 / 255)  # np.float32(MNIST_data['x_train'])
    y_train = np.array([labels.astype(np.int32)]).T  # y_train = np.array([y_train]).T
    params = {"W1": rng.random((NX, NH)), "b1": np.zeros((1, NH)),
              "W2": rng.random((NH, NY)), "b2": np.zeros((1, NY))}  # np.random.rand
    alpha, losses, sizes = config["lr"], [], []
    for epoch in range(config["steps"]):
        sizes.append(max_abs({k: params[k] for k in ("W1", "W2")}))
        with np.errstate(all="ignore"):
            outs = forward_prop(x_train, y_train, params)
            grads = back_prop(x_train, y_train, params, outs)
            loss = total_loss(outs)
        doctor.observe(step=epoch, loss=loss, lr=alpha, params=params, grads=grads,
                       activations={"A1": outs["A1"], "A2": outs["A2"]},
                       preactivations={"Z1": outs["Z1"], "Z2": outs["Z2"]},
                       activation_kinds={"A1": "sigmoid", "A2": "softmax"},
                       inputs=x_train, labels=labels)
        with np.errstate(all="ignore"):  # optimise(): params[k] -= alpha * grads['d' + k]
            for k in params:
                params[k] -= alpha * grads["d" + k]
        losses.append(loss)
    sizes.append(max_abs({k: params[k] for k in ("W1", "W2")}))
    facts = [f"max |{k}| after each iteration: " + ", ".join(fmt(s[k]) for s in sizes)
             for k in ("W1", "W2")]
    return BrokenRun(losses, facts)


def gradients() -> GradProblem:
    """Their loss and back_prop on 16 training images, at small weights (N(0, 0.05²) and
    N(0, 0.2²)): at their own ``np.random.rand`` weights every sigmoid is saturated and no
    derivative can be measured; the equations are the same at any point."""
    rng = np.random.default_rng(0)
    images, labels = mnist_train(GRADCHECK_BATCH)
    x = flat_pixels(images, np.float64, 1 / 255)
    y = np.array([labels]).T
    params = {"W1": rng.normal(0, 0.05, (NX, NH)), "b1": np.zeros((1, NH)),
              "W2": rng.normal(0, 0.2, (NH, NY)), "b2": np.zeros((1, NY))}

    def loss(p: dict[str, np.ndarray]) -> float:
        with np.errstate(all="ignore"):
            return total_loss(forward_prop(x, y, p))

    def grads(p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        with np.errstate(all="ignore"):
            return back_prop(x, y, p, forward_prop(x, y, p))

    return GradProblem(loss, grads, params, GRADCHECK_BATCH,
                       f"their loss and back_prop on {GRADCHECK_BATCH} images, small weights")


SCENARIO = Scenario(
    name="seed-000-sigmoid-mlp",
    seed="000",
    question="My weights go from [0, 1] to tens of thousands in one iteration, then NaN: is it "
             "the sigmoid, or my backprop?",
    recreates="784-30-10 sigmoid + softmax, np.random.rand init, their hand-written backprop "
              "with its bugs, full-batch GD at lr 0.001 on 8,000 digits",
    choices="pixels in [0, 1] as (we believe) their MNISTdata.hdf5 stores them; mnist-mini's "
            "8,000 training images stand in for their 60,000 (more only blows up faster)",
    config={
        "layers": ["in784", "fc30", "act", "fc10"], "activation": "sigmoid", "output": None,
        "loss": "cross_entropy", "init": "uniform(0, 1)", "normalize": "unit",
        "normalization": None, "dtype": "float64", "lr": 0.001, "clip_norm": None,
        "gradients": "hand-written", "optimizer": "sgd (full batch)", "batch_size": 8000,
        "steps": 3,
    },
    budget={"optimizer": "adam", "lr": 3e-3, "batch_size": 32, "epochs": 20},
    target=0.92,
    train=train,
    gradients=gradients,
    expected=("bad_init", "nonfinite", "saturated_activation", "wrong_gradient"),
)
