"""Seed 000, fixed: the same 784-30-10 sigmoid + softmax net with a correct backward pass.

    netmedic gradcheck examples/seed000_fixed.py      # exit 0: every gradient matches

What changed from examples/seed000_buggy.py:
  * softmax normalises each example over its 10 classes (axis=1), after subtracting the row max;
  * the loss is the mean cross-entropy over the batch (1/N, not 1/ny);
  * the output error for softmax + cross-entropy is (A2 - y) / N, with no extra derivative factor;
  * the sigmoid derivative is taken from the activation: A1 * (1 - A1) = σ'(Z1).
The gradient keys keep the asker's d-prefix (dW1 for W1); netmedic matches them and says so.
"""

import numpy as np
from numpy import exp

rng = np.random.default_rng(0)

batch_size = 16
nx, Nh, ny = 784, 30, 10
x_train = rng.random((batch_size, nx))
y_train = rng.integers(0, ny, batch_size)
y_train_one_hot = np.eye(ny)[y_train]

params0 = {
    "W1": rng.normal(0, 0.05, (nx, Nh)),
    "b1": np.zeros((1, Nh)),
    "W2": rng.normal(0, 0.2, (Nh, ny)),
    "b2": np.zeros((1, ny)),
}


def sigmoid(z):
    return 1 / (1 + exp(-z))


def softmax(z):
    e = exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def cross_entropy_error(v, y):
    return -np.sum(y * np.log(v), axis=1)


def forward_prop(X, y, params):
    outs = {"A0": X}
    outs["Z1"] = X @ params["W1"] + params["b1"]
    outs["A1"] = sigmoid(outs["Z1"])
    outs["Z2"] = outs["A1"] @ params["W2"] + params["b2"]
    outs["A2"] = softmax(outs["Z2"])
    outs["error"] = cross_entropy_error(outs["A2"], y)
    return outs


def back_prop(X, y, params, outs):
    m = X.shape[0]
    Eo = (outs["A2"] - y) / m  # softmax + cross-entropy: dL/dZ2 = (p - y) / N
    Eh = (Eo @ params["W2"].T) * outs["A1"] * (1 - outs["A1"])  # sigma'(Z1) = A1 (1 - A1)
    return {
        "dW2": outs["A1"].T @ Eo,
        "db2": Eo.sum(axis=0, keepdims=True),
        "dW1": X.T @ Eh,
        "db1": Eh.sum(axis=0, keepdims=True),
    }


def loss(params):
    outs = forward_prop(x_train, y_train_one_hot, params)
    return np.mean(outs["error"])


def grads(params):
    outs = forward_prop(x_train, y_train_one_hot, params)
    return back_prop(x_train, y_train_one_hot, params, outs)
