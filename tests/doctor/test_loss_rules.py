"""diverging_loss, oscillating_loss, stalled_loss and initial_loss_off."""

from __future__ import annotations

import math

import numpy as np
from _loops import mnist
from _scenarios import big_init, dead_bias, oscillating, sign_bug

from netmedic.doctor import Doctor


def _get(doctor, kind):
    found = [f for f in doctor.findings if f.kind == kind]
    return found[0] if found else None


def test_a_loss_going_to_1e121_while_finite_is_diverging_not_nonfinite():
    doctor = Doctor()
    for step in range(40):
        loss = 2.3 * 10.0 ** (3 * max(step - 5, 0))  # float64: finite all the way to 1e105+
        g = {"W": np.full(5, 0.1 * 10.0 ** max(step - 5, 0))}
        doctor.observe(step=step, loss=loss, lr=0.5, params={"W": np.ones(5)}, grads=g)
    assert doctor.history.records[-1].loss > 1e100
    f = _get(doctor, "diverging_loss")
    assert (f.where, f.step, f.severity) == ("loss", 7, "warning")
    assert "its best 2.3" in f.evidence and "Lower the learning rate (lr 0.5 → 0.05)" in f.fix
    assert f.remedy == {"action": "set_lr", "lr": 0.05}
    assert _get(doctor, "nonfinite") is None


def test_diverging_in_the_first_steps_needs_a_tenfold_jump():
    doctor = Doctor()
    for step, loss in enumerate([2.3, 4.6, 9.0, 2.4, 2.2, 2.0]):  # batches 2-4× apart: noise
        doctor.observe(step=step, loss=loss, grads={"W": np.ones(3)})
    doctor.finish()
    assert _get(doctor, "diverging_loss") is None


def test_seed_003s_costs_diverge_at_the_second_epoch_then_go_nan():
    doctor = Doctor()
    for step, loss in enumerate([4.702012, 45338036.0, 7.47e31, float("nan")]):
        doctor.observe(step=step, loss=loss, lr=0.01, grads={"W": np.ones(3)})
    assert _get(doctor, "diverging_loss").step == 1
    f = _get(doctor, "nonfinite")
    assert (f.where, f.step) == ("loss", 3)


def test_oscillating_loss_from_a_step_just_too_large():
    f = _get(oscillating(), "oscillating_loss")
    assert (f.where, f.step) == ("loss", 30)
    assert "changed direction 96% of the time" in f.evidence
    assert "every other step on the high side" in f.evidence
    assert f.remedy == {"action": "set_lr", "lr": 1.0}  # 4 × 0.3 = 1.2 → nice value 1


def test_stalled_loss_when_every_relu_is_dead():
    f = _get(dead_bias().doctor, "stalled_loss")
    assert (f.where, f.step) == ("loss", 99)
    assert "over 100 steps" in f.evidence and "chance level" not in f.evidence
    assert f.fix.startswith("See dead_relu")


def test_a_diverging_loss_is_not_called_stalled():
    assert _get(sign_bug().doctor, "stalled_loss") is None


def test_initial_loss_far_above_ln_c():
    f = _get(big_init().doctor, "initial_loss_off")
    assert (f.where, f.step) == ("loss", 0)
    assert "ln 10 = 2.3" in f.evidence and "confidently wrong" in f.explanation
    assert f.remedy == {"action": "set_init", "init": "he_normal"}


def test_initial_loss_summed_over_the_batch():
    x, y = mnist(64)
    w = np.zeros((784, 10))
    doctor = Doctor(num_classes=10)
    loss = 64 * math.log(10)  # -sum(log p) instead of -mean(log p)
    doctor.observe(step=0, loss=loss, params={"W": w}, grads={"W": w}, inputs=x)
    f = _get(doctor, "initial_loss_off")
    assert "about the batch size (64) times ln 10" in f.explanation
    assert "Average the loss over the batch" in f.fix


def test_an_mse_loss_below_ln_c_is_not_flagged():
    doctor = Doctor(num_classes=10)
    doctor.observe(step=0, loss=0.45, grads={"W": np.ones(3)})
    assert doctor.findings == []
