"""The engine's names (netmedic.nn): layers dense1, relu1…, parameters dense1.weight/bias, the
activation kinds given by the probe, pre-activations by dense layer. Findings name layers."""

from __future__ import annotations

from _loops import run


def test_lr_5_with_engine_names_names_the_layers():
    doctor = run(sizes=(784, 128, 64, 10), lr=5.0, steps=60, engine_names=True).doctor
    found = {(f.kind, f.where): f for f in doctor.findings}
    assert ("lr_too_high", "dense1") in found
    assert ("dead_relu", "relu1") in found and found[("dead_relu", "relu1")].step == 4
    assert ("exploding_gradients", "dense3") in found
    assert "dense3.weight" in found[("exploding_gradients", "dense3")].evidence
    assert doctor.verdict().startswith("5 warnings: diverging_loss at loss (step 2)")
