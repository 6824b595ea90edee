"""Seed 000, as asked: a 784-30-10 MNIST net whose weights explode by the second step.

The network and the backprop are the asker's (sigmoid hidden layer, softmax output, cross-entropy,
gradients keyed dW1, db1, ...), kept with their bugs; only the data loading is replaced by a small
seeded random batch so the file runs offline. Check it with:

    netmedic gradcheck examples/seed000_buggy.py

and compare with examples/seed000_fixed.py. Their bugs, all in the backward pass:
  * sigmoid_der(z) = z*(1-z) is the derivative written in terms of the *output* a = σ(z), but it
    is applied to the pre-activations Z1 (and, via softmax_der, to the logits Z2);
  * the output error is (y - A2), the negative of the gradient;
  * "softmax derivative is alike to sigmoid": for softmax + cross-entropy there is no extra factor;
  * softmax sums with Python's built-in sum, i.e. over the batch axis, not over the classes;
  * the loss divides by the number of classes (1/ny) where the gradient divides by nothing.
"""

import numpy as np
from numpy import exp

rng = np.random.default_rng(0)

# DATA: a stand-in for one MNIST batch (pixels in [0, 1), labels 0..9)
batch_size = 16
nx, Nh, ny = 784, 30, 10
x_train = rng.random((batch_size, nx))
y_train = rng.integers(0, ny, batch_size)
y_train_one_hot = np.eye(ny)[y_train]

# The asker initialised with np.random.rand (all weights in [0, 1)), which saturates every sigmoid
# (z ≈ 200); that is a separate problem (netmedic's doctor reports it). Small weights here keep
# the gradients measurable, so the check is about the backprop equations alone.
params0 = {
    "W1": rng.normal(0, 0.05, (nx, Nh)),
    "b1": np.zeros((1, Nh)),
    "W2": rng.normal(0, 0.2, (Nh, ny)),
    "b2": np.zeros((1, ny)),
}


# activation function
def sigmoid(z):
    return 1 / (1 + exp(-z))


# derivative of activation function
def sigmoid_der(z):
    return z * (1 - z)


# softmax function
def softmax(z):
    return 1 / sum(exp(z)) * exp(z)


# softmax derivative is alike to sigmoid
def softmax_der(z):
    return sigmoid_der(z)


def cross_entropy_error(v, y):
    return -np.sum(y * np.log(v), axis=1)


# forward propagation
def forward_prop(X, y, params):
    outs = {}
    outs["A0"] = X
    outs["Z1"] = np.matmul(outs["A0"], params["W1"]) + params["b1"]
    outs["A1"] = sigmoid(outs["Z1"])
    outs["Z2"] = np.matmul(outs["A1"], params["W2"]) + params["b2"]
    outs["A2"] = softmax(outs["Z2"])
    outs["error"] = cross_entropy_error(outs["A2"], y)
    return outs


# back propagation
def back_prop(X, y, params, outs):
    grads = {}
    Eo = (y - outs["A2"]) * softmax_der(outs["Z2"])
    Eh = np.matmul(Eo, params["W2"].T) * sigmoid_der(outs["Z1"])
    dW2 = np.matmul(Eo.T, outs["A1"]).T
    dW1 = np.matmul(Eh.T, X).T
    db2 = np.sum(Eo, 0)
    db1 = np.sum(Eh, 0)

    grads["dW2"] = dW2
    grads["dW1"] = dW1
    grads["db2"] = db2
    grads["db1"] = db1
    return grads


# what netmedic gradcheck calls
def loss(params):
    outs = forward_prop(x_train, y_train_one_hot, params)
    return 1 / ny * np.sum(outs["error"])


def grads(params):
    outs = forward_prop(x_train, y_train_one_hot, params)
    return back_prop(x_train, y_train_one_hot, params, outs)
