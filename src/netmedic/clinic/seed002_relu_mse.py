"""Seed 002: a 784-128-10 ReLU MLP with a sigmoid(0.01·x) output and MSE that cannot learn.

The asker's code (../shared/seeds/002_*.txt), examples in *columns* (``X_train`` is
``(784, N)``, so the doctor watches with ``batch_axis=1``):

- every weight and bias drawn from ``np.random.uniform(-0.5, 0.5)`` (std 0.29: ×5.7 He's for a
  fan-in of 784);
- ``layer_2_act = sigmoid(layer_2, 0.01)``, loss ``(1 / n) * np.sum((one_hot_y - a2)**2, 0)``;
- ``d_loss_by_layer_2_act = (2 / n) * np.sum(one_hot_y - layer_2_act, axis=1).reshape(-1, 1)``:
  the batch is summed away before the chain rule (one (10, 1) column instead of (10, n)), and
  the sign is flipped (the derivative of (y − a)² by a is −2(y − a));
- full-batch gradient descent, ``w -= learning_rate * d_loss_by_w``.

Data: the first 1,000 mnist-mini training images, divided by 255 as they say they did.
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

EXAMPLES = 1000  # columns of X in the re-created run (theirs: 31,500); the dynamics are the same
GRADCHECK_BATCH = 32
ALPHA = 0.01  # the sigmoid's temperature: sigmoid(x, 0.01)


# ------------------------------------------------------------------------ the asker's functions
def sigmoid(x: np.ndarray, alpha: float) -> np.ndarray:
    return 1 / (1 + np.exp(-alpha * x))


def dx_sigmoid(x: np.ndarray, alpha: float) -> np.ndarray:
    exp_neg_x = np.exp(-alpha * x)
    return alpha * exp_neg_x / ((1 + exp_neg_x) ** 2)


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(0, x)


def dx_relu(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, 1, 0)


def one_hot(y: np.ndarray) -> np.ndarray:
    encoded = np.zeros((y.size, y.max() + 1))
    encoded[np.arange(y.size), y] = 1
    return encoded.T


def forward_pass(X: np.ndarray, w_1, b_1, w_2, b_2) -> tuple[np.ndarray, ...]:
    layer_1 = np.dot(w_1, X) + b_1
    layer_1_act = relu(layer_1)
    layer_2 = np.dot(w_2, layer_1_act) + b_2
    layer_2_act = sigmoid(layer_2, ALPHA)
    return layer_1, layer_1_act, layer_2, layer_2_act


def backward_pass(layer_1, layer_1_act, layer_2, layer_2_act, X, y, w_2) -> tuple[np.ndarray, ...]:
    one_hot_y = one_hot(y)
    n_samples = one_hot_y.shape[1]
    d_loss_by_layer_2_act = (2 / n_samples) * np.sum(one_hot_y - layer_2_act, axis=1).reshape(-1, 1)
    d_loss_by_layer_2 = d_loss_by_layer_2_act * dx_sigmoid(layer_2, ALPHA)
    d_loss_by_w_2 = np.dot(d_loss_by_layer_2, layer_1_act.T)
    d_loss_by_b_2 = np.sum(d_loss_by_layer_2, axis=1).reshape(-1, 1)
    d_loss_by_layer_1 = np.dot(w_2.T, d_loss_by_layer_2) * dx_relu(layer_1)
    d_loss_by_w_1 = np.dot(d_loss_by_layer_1, X.T)
    d_loss_by_b_1 = np.sum(d_loss_by_layer_1, axis=1).reshape(-1, 1)
    return d_loss_by_w_1, d_loss_by_b_1, d_loss_by_w_2, d_loss_by_b_2


def mse(layer_2_act: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Their loss: ``(1 / n_samples) * np.sum((one_hot_y - layer_2_act)**2, axis=0)``, (n,)."""
    one_hot_y = one_hot(y)
    return (1 / one_hot_y.shape[1]) * np.sum((one_hot_y - layer_2_act) ** 2, axis=0)


# ------------------------------------------------------------------------ the re-created run
def _init(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"w_1": rng.uniform(-0.5, 0.5, (128, 784)), "b_1": rng.uniform(-0.5, 0.5, (128, 1)),
            "w_2": rng.uniform(-0.5, 0.5, (10, 128)), "b_2": rng.uniform(-0.5, 0.5, (10, 1))}


def train(config: dict[str, Any], doctor: Doctor) -> BrokenRun:
    """Their epoch loop: one full-batch step per epoch, accuracy on the training set."""
    rng = np.random.default_rng(0)
    images, y_train = mnist_train(EXAMPLES)
    X_train = flat_pixels(images, np.float64, 1 / 255).T  # (784, N): examples in columns
    p = _init(rng)
    learning_rate, losses, accuracy, largest = config["lr"], [], [], []
    for epoch in range(config["steps"]):
        with np.errstate(all="ignore"):
            layer_1, layer_1_act, layer_2, layer_2_act = forward_pass(X_train, *p.values())
            g = backward_pass(layer_1, layer_1_act, layer_2, layer_2_act, X_train, y_train,
                              p["w_2"])
            loss = float(np.sum(mse(layer_2_act, y_train)))
        grads = dict(zip(p, g, strict=True))
        doctor.observe(step=epoch, loss=loss, lr=learning_rate, params=p, grads=grads,
                       activations={"layer_1_act": layer_1_act, "layer_2_act": layer_2_act},
                       preactivations={"layer_1": layer_1, "layer_2": layer_2},
                       activation_kinds={"layer_1_act": "relu", "layer_2_act": "sigmoid"},
                       inputs=X_train, labels=y_train)
        with np.errstate(all="ignore"):
            for k in p:
                p[k] -= learning_rate * grads[k]
        losses.append(loss)
        accuracy.append(float(np.mean(layer_2_act.argmax(axis=0) == y_train)))
        largest.append(float(np.max(np.abs(layer_2))))
    shown = sorted({0, 1, 2, len(losses) - 1})
    facts = [f"training accuracy at epochs {shown}: " + ", ".join(f"{accuracy[i]:.1%}"
                                                                   for i in shown),
             "largest |layer_2| (what np.exp(-0.01·x) sees): "
             + ", ".join(fmt(largest[i]) for i in shown)]
    return BrokenRun(losses, facts)


def gradients() -> GradProblem:
    """Their loss and backward_pass on 32 training images at their own initialization."""
    images, y = mnist_train(GRADCHECK_BATCH)
    X = flat_pixels(images, np.float64, 1 / 255).T
    params = _init(np.random.default_rng(0))

    def loss(p: dict[str, np.ndarray]) -> float:
        with np.errstate(all="ignore"):
            return float(np.sum(mse(forward_pass(X, *p.values())[3], y)))

    def grads(p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        with np.errstate(all="ignore"):
            outs = forward_pass(X, *p.values())
            return dict(zip(p, backward_pass(*outs, X, y, p["w_2"]), strict=True))

    return GradProblem(loss, grads, params, GRADCHECK_BATCH,
                       f"their loss and backward_pass on {GRADCHECK_BATCH} images, their init")


SCENARIO = Scenario(
    name="seed-002-relu-mse",
    seed="002",
    question="My hand-written MNIST MLP cannot learn: the numbers get too large for exp; is my "
             "backward pass wrong?",
    recreates="784-128-10 ReLU + sigmoid(0.01·x) output, MSE, uniform(−0.5, 0.5) init, their "
              "batch-collapsing backward pass, examples in columns (batch_axis=1)",
    choices="lr 0.1 (the post does not give it; they tried several, all fail the same way); "
            "1,000 columns of mnist-mini for their 31,500; 120 full-batch epochs",
    config={
        "layers": ["in784", "fc128", "act", "fc10"], "activation": "relu", "output": "sigmoid",
        "loss": "mse", "init": "uniform(-0.5, 0.5)", "normalize": "unit", "normalization": None,
        "dtype": "float64", "lr": 0.1, "clip_norm": None, "gradients": "hand-written",
        "optimizer": "sgd (full batch)", "batch_size": EXAMPLES, "steps": 120,
    },
    budget={"optimizer": "adam", "lr": 3e-3, "batch_size": 64, "epochs": 5},
    target=0.92,
    train=train,
    gradients=gradients,
    doctor_options={"batch_axis": 1},
    expected=("bad_init", "wrong_gradient", "stalled_loss"),
)
