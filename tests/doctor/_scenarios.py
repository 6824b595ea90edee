"""Broken and healthy trainings, each small, seeded and run once per test session (cached).

Every kind of the vocabulary is produced by at least one broken scenario (test_coverage.py) and by
no healthy one (test_healthy.py).
"""

from __future__ import annotations

from functools import cache

import numpy as np
from _loops import Run, mnist, run

from netmedic.doctor import Doctor


@cache
def lr_5() -> Run:
    """issue 4: lr 5 on an MNIST MLP: ReLUs of the first layer die, the loss blows up."""
    return run(sizes=(784, 128, 64, 10), lr=5.0, steps=120)


@cache
def lr_5_adam() -> Run:
    return run(sizes=(784, 128, 64, 10), lr=5.0, steps=60, optimizer="adam")


@cache
def sign_bug() -> Run:
    """seed 000's backprop: Eo = (y - A2)...: every gradient has the wrong sign."""
    return run(sign_bug="all", lr=0.01, steps=60)


@cache
def update_sign_bug() -> Run:
    """w + lr·g with a positive lr (seed 004's update, had the LR not been negated)."""
    return run(optimizer="ascent", lr=0.01, steps=60)


@cache
def raw_sigmoid_rand() -> Run:
    """seed 000's setup: raw 0..255 pixels, np.random.rand weights, sigmoid hidden layer."""
    return run(sizes=(784, 30, 10), act="sigmoid", init="rand", raw=True, lr=0.001, steps=30,
               pass_preacts=True)


@cache
def dead_bias() -> Run:
    """A hidden-layer bias initialized at -10: every ReLU is dead from the first step."""
    return run(bias=-10.0, steps=150)


@cache
def deep_sigmoid() -> Run:
    """Nine sigmoid layers (seed 004's worry): the first layers' gradients vanish."""
    return run(sizes=(784,) + (64,) * 8 + (10,), act="sigmoid", init="glorot", lr=0.1, steps=30)


@cache
def lr_tiny() -> Run:
    return run(lr=1e-5, steps=60)


@cache
def big_init() -> Run:
    """Weights ×20 the He scale: logits in the hundreds at step 0."""
    return run(sizes=(784, 64, 10), init_scale=20.0, steps=20, pass_preacts=True)


@cache
def shifted_labels() -> Doctor:
    """Labels 1..10 for a 10-way output (the classic off-by-one), as a loop would feed them."""
    rng = np.random.default_rng(0)
    x, y = mnist(64)
    w = (rng.standard_normal((784, 10)) * 0.05).astype(np.float32)
    doctor = Doctor()
    for step in range(3):
        logits = x @ w
        doctor.observe(step=step, loss=2.3, lr=0.1, params={"W": w}, grads={"W": w * 0.01},
                       preactivations={"logits": logits}, inputs=x, labels=y + 1)
    doctor.finish()
    return doctor


@cache
def oscillating() -> Doctor:
    """Gradient descent on an asymmetric bowl, sqrt(1 + w²) + w/2, with a step too large for its
    curvature: w settles into a two-point cycle and the loss alternates between two levels."""
    doctor = Doctor()
    w = np.array([3.0])
    for step in range(60):
        loss = float(np.sum(np.sqrt(1 + w**2) + 0.5 * w))
        grad = w / np.sqrt(1 + w**2) + 0.5
        doctor.observe(step=step, loss=loss, lr=4.0, params={"w": w}, grads={"w": grad})
        w = w - 4.0 * grad
    doctor.finish()
    return doctor


@cache
def logits_overflow() -> Doctor:
    """Unscaled float32 inputs (issue 4's --normalize none case) that grow until the first
    layer's output overflows at step 3; the loss and every gradient inherit the NaN."""
    rng = np.random.default_rng(0)
    doctor = Doctor()
    w1 = (rng.standard_normal((20, 16)) * 0.3).astype(np.float32)
    w2 = (rng.standard_normal((16, 3)) * 0.3).astype(np.float32)
    for step in range(5):
        x = (rng.random((8, 20)) * (1e3 if step < 3 else 3e38)).astype(np.float32)
        y = rng.integers(0, 3, 8)
        with np.errstate(all="ignore"):
            z1 = x @ w1
            h1 = np.maximum(z1, 0)
            z2 = h1 @ w2
            z = z2 - z2.max(axis=1, keepdims=True)
            logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
            loss = -logp[np.arange(8), y].mean()
            d2 = np.exp(logp)
            d2[np.arange(8), y] -= 1
            g2 = h1.T @ d2 / 8
            g1 = x.T @ ((d2 @ w2.T) * (z1 > 0)) / 8
        doctor.observe(step=step, loss=loss, lr=1e-30, params={"W1": w1, "W2": w2},
                       grads={"W1": g1, "W2": g2}, preactivations={"z1": z1, "z2": z2},
                       activations={"h1": h1}, inputs=x)
    doctor.finish()
    return doctor
