"""The five users' trainings (/work/shared/seeds), reproduced, and what the doctor tells them."""

from __future__ import annotations

import json

import numpy as np
from _loops import mnist

from netmedic.doctor import Doctor, diagnose_trace


def _kinds(doctor):
    """kind -> its first finding."""
    found = {}
    for f in doctor.findings:
        found.setdefault(f.kind, f)
    return found


def seed_000(iterations=4):
    """Seed 000/001: raw float32 pixels, np.random.rand weights, sigmoid, softmax over the whole
    matrix, backprop with (y - A2) and z*(1-z) applied to pre-activations, full batch."""
    rng = np.random.default_rng(0)
    x, labels = mnist(1000, raw=True)
    y = np.eye(10)[labels]
    params = {"W1": rng.random((784, 30)).astype(np.float32), "b1": np.zeros((1, 30)),
              "W2": rng.random((30, 10)).astype(np.float32), "b2": np.zeros((1, 10))}
    doctor = Doctor()
    for epoch in range(iterations):
        with np.errstate(all="ignore"):
            z1 = x @ params["W1"] + params["b1"]
            a1 = 1 / (1 + np.exp(-z1))
            z2 = a1 @ params["W2"] + params["b2"]
            a2 = 1 / np.sum(np.exp(z2)) * np.exp(z2)
            loss = 1 / 10 * np.sum(-np.log(a2[np.arange(len(labels)), labels]))
            eo = (y - a2) * (z2 * (1 - z2))
            eh = (eo @ params["W2"].T) * (z1 * (1 - z1))
            grads = {"dW2": (eo.T @ a1).T, "dW1": (eh.T @ x).T, "db2": eo.sum(0), "db1": eh.sum(0)}
        doctor.observe(step=epoch, loss=loss, lr=0.001, params=params, grads=grads,
                       activations={"A1": a1, "A2": a2}, preactivations={"Z1": z1, "Z2": z2},
                       inputs=x, labels=labels)
        with np.errstate(all="ignore"):
            for k in params:
                params[k] = params[k] - 0.001 * grads["d" + k]
    doctor.finish()
    return doctor


def test_seed_000_is_told_about_its_inputs_its_init_and_where_the_nan_came_from():
    doctor = seed_000()
    found = _kinds(doctor)
    assert found["unscaled_input"].where == "inputs"
    assert "[0, 255]" in found["unscaled_input"].evidence
    assert "np.random.rand" in found["bad_init"].explanation and found["bad_init"].where == "W1"
    assert found["saturated_activation"].where == "A1"
    nonfinite = found["nonfinite"]
    assert nonfinite.severity == "error" and nonfinite.step <= 3
    assert "first non-finite value is" in nonfinite.evidence


def test_seed_002_examples_in_columns_big_uniform_init():
    """Seed 002: X is (784, N) (batch_axis=1), w_1 ~ U(-0.5, 0.5), MSE on sigmoid(0.01 z), and a
    backward pass whose output delta is +2(y - a) summed over the batch (sign and shape wrong)."""
    rng = np.random.default_rng(0)
    x, labels = mnist(512)
    x = x.T
    y = np.eye(10)[labels].T
    w1, b1 = rng.uniform(-0.5, 0.5, (128, 784)), rng.uniform(-0.5, 0.5, (128, 1))
    w2, b2 = rng.uniform(-0.5, 0.5, (10, 128)), rng.uniform(-0.5, 0.5, (10, 1))
    doctor = Doctor(batch_axis=1)
    for epoch in range(60):
        l1 = w1 @ x + b1
        a1 = np.maximum(0, l1)
        l2 = w2 @ a1 + b2
        a2 = 1 / (1 + np.exp(-0.01 * l2))
        n = y.shape[1]
        loss = np.mean(np.sum((y - a2) ** 2, axis=0))
        d_a2 = (2 / n) * np.sum(y - a2, axis=1).reshape(-1, 1)
        d_l2 = d_a2 * 0.01 * np.exp(-0.01 * l2) / (1 + np.exp(-0.01 * l2)) ** 2
        dw2, db2 = d_l2 @ a1.T, d_l2.sum(axis=1, keepdims=True)
        d_l1 = (w2.T @ d_l2) * (l1 > 0)
        dw1, db1 = d_l1 @ x.T, d_l1.sum(axis=1, keepdims=True)
        params = {"w_1": w1, "b_1": b1, "w_2": w2, "b_2": b2}
        grads = {"w_1": dw1, "b_1": db1, "w_2": dw2, "b_2": db2}
        doctor.observe(step=epoch, loss=loss, lr=0.1, params=params, grads=grads,
                       activations={"layer_1_act": a1, "layer_2_act": a2},
                       preactivations={"layer_1": l1, "layer_2": l2}, inputs=x, labels=labels)
        w1, b1, w2, b2 = w1 - 0.1 * dw1, b1 - 0.1 * db1, w2 - 0.1 * dw2, b2 - 0.1 * db2
    doctor.finish()
    found = _kinds(doctor)
    assert found["bad_init"].where == "w_1" and "for fan-in 784" in found["bad_init"].evidence
    assert "wrong_gradient" in found, doctor.summary()


def test_seed_003_theano_costs_as_a_trace(tmp_path):
    """Seed 003 can write its costs and per-layer norms from Python as a JSON-lines trace."""
    costs = [4.702012, 45338036.0, 7.4726722389225987e31, float("nan")]
    weights = [1.0, 1.2, 2.4e4, float("nan")]  # layer0's weights: tens of thousands, then NaN
    path = tmp_path / "theano.jsonl"
    with open(path, "w") as fh:
        for epoch, (cost, w) in enumerate(zip(costs, weights, strict=True)):
            tensors = {"param/cv0": {"norm": w}, "grad/cv0": {"norm": w * 10}}
            fh.write(json.dumps({"step": epoch, "loss": cost, "lr": 0.01, "tensors": tensors},
                                allow_nan=True) + "\n")  # bare NaN tokens are read as well
    found = _kinds(diagnose_trace(path))
    assert found["diverging_loss"].step == 1
    assert found["exploding_gradients"].where == "cv0" and found["exploding_gradients"].step == 2
    assert (found["nonfinite"].where, found["nonfinite"].step) == ("cv0", 3)


def test_seed_004_haskell_trace_of_a_deep_sigmoid_mse_net(tmp_path):
    """Seed 004 writes norms from Haskell: activations shrinking towards 1e-100, no progress."""
    path = tmp_path / "haskell.jsonl"
    with open(path, "w") as fh:
        for step in range(120):
            tensors = {}
            for layer in range(1, 5):
                tensors[f"act/a{layer}"] = {"norm": 10.0 ** (-25 * layer), "min": 0.0,
                                            "max": 10.0 ** (-25 * layer)}
                tensors[f"grad/w{layer}"] = {"norm": 1e-3 * 10.0 ** (-25 * (4 - layer))}
            fh.write(json.dumps({"step": step, "loss": 0.45, "lr": 0.1, "tensors": tensors}) + "\n")
    found = _kinds(diagnose_trace(path))
    assert found["vanishing_gradients"].where == "w1"
    assert found["stalled_loss"].step == 99
