"""nonfinite: the FIRST tensor that went NaN/Inf, at the first step, producer vs inheritors."""

from __future__ import annotations

import numpy as np
from _scenarios import logits_overflow

from netmedic.doctor import Doctor


def _only(doctor, kind):
    found = [f for f in doctor.findings if f.kind == kind]
    assert len(found) == 1, doctor.summary()
    return found[0]


def test_overflow_in_a_layer_is_named_as_producer_and_the_rest_as_inheritors():
    f = _only(logits_overflow(), "nonfinite")
    assert (f.severity, f.where, f.step) == ("error", "z1", 3)
    assert "first non-finite value is z1 (pre-activation)" in f.evidence
    assert "Inherited from it: activation h1; pre-activation z2; the loss; gradient W2, W1" in \
        f.evidence
    assert "inputs reach" in f.explanation and "not separate problems" in f.explanation
    assert f.remedy == {"action": "normalize_inputs", "mode": "unit"}


def _softmax_loop(naive: bool, pass_probs: bool):
    """A user's 2-layer net whose logits grow each step; softmax written as exp(z)/sum(exp(z))."""
    rng = np.random.default_rng(0)
    doctor = Doctor()
    w1 = rng.standard_normal((5, 8)) * 0.5
    w2 = rng.standard_normal((8, 3)) * 0.5
    for step in range(12):
        x = rng.standard_normal((4, 5))
        y = rng.integers(0, 3, 4)
        scale = 10.0 ** step  # the logits grow by 10× a step (the weights are being scaled up)
        with np.errstate(all="ignore"):
            h = np.maximum(x @ w1, 0)
            z = h @ (w2 * scale)
            p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True) if naive else \
                np.exp(z - z.max(1, keepdims=True)) / np.exp(z - z.max(1, keepdims=True)).sum(
                    1, keepdims=True)
            loss = -np.log(p[np.arange(4), y]).mean()
            d = p.copy()
            d[np.arange(4), y] -= 1
            g2, g1 = h.T @ d / 4 * 1e-3, x.T @ ((d @ w2.T) * (h > 0)) / 4 * 1e-3
        acts = {"h1": h, "probs": p} if pass_probs else {"h1": h}
        doctor.observe(step=step, loss=loss, lr=0.1, params={"W1": w1, "W2": w2},
                       grads={"W1": g1, "W2": g2}, activations=acts)
    doctor.finish()
    return doctor


def test_nan_born_in_a_softmax_overflow_is_nonfinite_not_exploding_gradients():
    doctor = _softmax_loop(naive=True, pass_probs=True)
    f = _only(doctor, "nonfinite")
    assert f.where == "probs" and "first non-finite value is probs (activation)" in f.evidence
    assert "exp() overflows" in f.explanation and "Subtract the row maximum" in f.fix
    assert f.remedy == {"action": "set_loss", "loss": "cross_entropy"}
    assert "the loss" in f.evidence and "gradient" in f.evidence  # inheritors
    assert not [g for g in doctor.findings if g.kind == "exploding_gradients"]


def test_without_activations_the_loss_is_the_first_visible_producer():
    doctor = _softmax_loop(naive=False, pass_probs=False)  # stable softmax: p underflows to 0
    f = _only(doctor, "nonfinite")
    assert f.where == "loss" and "log(0)" in f.explanation
    assert "pass the logits as preactivations=" in f.explanation
    assert "loss: Inf" in f.evidence
    assert "Inherited" not in f.evidence  # p - onehot stays finite: the gradients are fine


def test_nan_produced_by_the_backward_pass_with_a_finite_loss():
    doctor = Doctor()
    w = {"W1": np.ones((3, 3)), "W2": np.ones((3, 2))}
    for step in range(4):
        with np.errstate(all="ignore"):
            g1 = np.zeros((3, 3)) / (0.0 if step == 2 else 1.0)  # 0/0 in the user's backward
        doctor.observe(step=step, loss=1.0, params=w, grads={"W1": g1, "W2": np.ones((3, 2))})
    f = _only(doctor, "nonfinite")
    assert (f.where, f.step) == ("W1", 2)
    assert "backward pass produced NaN/Inf at W1's gradient" in f.explanation
    assert "gradcheck" in f.fix and f.remedy == {"action": "fix_gradient", "where": "W1"}


def test_parameters_made_infinite_by_an_update_from_finite_gradients():
    doctor = Doctor()
    w = np.ones(4, dtype=np.float32)
    for step in range(4):
        g = np.full(4, 3e37, dtype=np.float32) if step == 1 else np.ones(4, dtype=np.float32)
        doctor.observe(step=step, loss=1.0 if step < 2 else float("inf"), lr=100.0,
                       params={"W": w}, grads={"W": g})
        with np.errstate(all="ignore"):
            w = w - np.float32(100.0) * g
    f = _only(doctor, "nonfinite")
    assert (f.where, f.step) == ("W", 2)
    assert "the update itself overflowed" in f.explanation
    assert f.remedy["action"] == "set_lr" and "lr 100 →" in f.fix


def test_nan_in_the_data_is_blamed_on_the_data():
    doctor = Doctor()
    x = np.ones((4, 3))
    x[1, 2] = np.nan
    doctor.observe(step=0, loss=float("nan"), inputs=x, grads={"W": np.full(3, np.nan)})
    f = _only(doctor, "nonfinite")
    assert f.where == "inputs" and "Your data already contains NaN" in f.explanation
