"""lr_too_high and lr_too_low, from the update/weight ratio of the steps actually taken."""

from __future__ import annotations

from _scenarios import dead_bias, lr_5, lr_5_adam, lr_tiny


def _get(doctor, kind):
    found = [f for f in doctor.findings if f.kind == kind]
    return found[0] if found else None


def test_lr_5_is_too_high_with_the_layer_the_step_and_a_number():
    f = _get(lr_5().doctor, "lr_too_high")
    assert (f.where, f.step, f.severity) == ("W1", 3, "warning")
    assert "update/weight ratio ‖Δw‖/‖w‖ = " in f.evidence and "(healthy ≈ 1e-3)" in f.evidence
    assert f.fix.startswith("lr 5 → ") and f.remedy["action"] == "set_lr"
    assert 1e-3 <= f.remedy["lr"] <= 0.5


def test_lr_5_with_adam_is_too_high_too():
    f = _get(lr_5_adam().doctor, "lr_too_high")
    assert f is not None and f.step == 3 and f.remedy["lr"] <= 0.5


def test_every_finding_quotes_the_same_lower_lr():
    doctor = lr_5().doctor
    lrs = {f.remedy["lr"] for f in doctor.findings if f.remedy and f.remedy.get("lr")}
    assert len(lrs) == 1


def test_lr_1e_5_is_too_low():
    f = _get(lr_tiny().doctor, "lr_too_low")
    assert f.step == 5 and "median over layers 1.1e-06" in f.evidence
    assert f.fix == "lr 1.0e-05 → 0.001." and f.remedy == {"action": "set_lr", "lr": 0.001}


def test_weights_frozen_by_dead_units_are_not_a_low_lr():
    assert _get(dead_bias().doctor, "lr_too_low") is None
