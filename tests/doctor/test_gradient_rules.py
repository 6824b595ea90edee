"""exploding_gradients, vanishing_gradients and wrong_gradient, on small real training loops."""

from __future__ import annotations

import numpy as np
from _scenarios import deep_sigmoid, lr_5, lr_tiny, sign_bug, update_sign_bug

from netmedic.doctor import Doctor


def _get(doctor, kind):
    found = [f for f in doctor.findings if f.kind == kind]
    return found[0] if found else None


def test_exploding_gradients_when_lr_5_blows_the_network_up():
    f = _get(lr_5().doctor, "exploding_gradients")
    assert (f.where, f.step, f.severity) == ("W3", 2, "warning")
    assert "‖grad W3‖ = " in f.evidence and "over its" in f.evidence and "at step 0" in f.evidence
    assert f.remedy["action"] == "clip_grad_norm" and f.remedy["max_norm"] > 0
    assert f"Clip the global gradient norm at {f.remedy['max_norm']:.3g}" in f.fix


def test_exploding_needs_growth_and_no_progress_not_just_a_big_gradient():
    """Large but steady gradients (a loss on a big scale) are not exploding."""
    doctor = Doctor()
    for step in range(40):
        g = {"W1": np.full((4, 4), 1e6), "W2": np.full((4, 2), 1e5)}
        doctor.observe(step=step, loss=1e9 / (step + 1), lr=1e-12, params=g, grads=g)
    assert _get(doctor, "exploding_gradients") is None


def test_exploding_from_a_hand_written_history_of_norms():
    doctor = Doctor()
    for step in range(12):
        grow = 10.0 ** max(step - 3, 0)  # steady for 4 steps, then ×10 per step
        g = {"W1": np.full(10, 0.1 * grow), "W2": np.full(10, 0.05 * grow)}
        doctor.observe(step=step, loss=2.3 + step, lr=0.1, grads=g)
    f = _get(doctor, "exploding_gradients")
    assert (f.where, f.step) == ("W1", 6) and "×1000 over its 0.316 at step 0" in f.evidence


def test_vanishing_gradients_in_a_deep_sigmoid_stack():
    f = _get(deep_sigmoid().doctor, "vanishing_gradients")
    assert (f.where, f.step) == ("W1", 2)
    assert "‖grad W1‖ / ‖grad W9‖ = " in f.evidence and "below 0.001" in f.evidence
    assert "sigmoid layer's derivative (at most 0.25" in f.explanation
    assert f.remedy == {"action": "set_activation", "activation": "relu"}


def test_wrong_gradient_from_the_dynamics_of_seed_000s_sign_bug():
    f = _get(sign_bug().doctor, "wrong_gradient")
    assert (f.severity, f.where, f.step) == ("error", "gradients", 8)
    assert "the loss rose" in f.evidence and "while the gradients predicted -" in f.evidence
    assert "⟨g, Δw⟩ < 0 on 100%" in f.evidence
    assert "not the gradients of this loss" in f.explanation
    assert "A smaller learning rate would not fix it" in f.explanation
    assert "netmedic gradcheck" in f.fix and f.remedy == {"action": "fix_gradient"}
    assert _get(sign_bug().doctor, "lr_too_high") is None


def test_an_update_that_adds_the_gradient_is_told_apart():
    f = _get(update_sign_bug().doctor, "wrong_gradient")
    assert (f.where, f.step) == ("update", 8)
    assert "w + lr·g" in f.explanation and "w = w - lr * grad" in f.fix


def test_lr_too_high_is_not_mistaken_for_a_wrong_gradient():
    doctor = lr_5().doctor
    assert _get(doctor, "lr_too_high") is not None
    assert _get(doctor, "wrong_gradient") is None


def test_minibatch_noise_around_tiny_steps_is_not_a_wrong_gradient():
    assert _get(lr_tiny().doctor, "wrong_gradient") is None
