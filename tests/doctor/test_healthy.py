"""No false alarms: correct networks with sensible settings, including noisy small batches, deep
nets converging to a tiny loss, and the engine's own names. `netmedic train` runs the doctor on
every default run, which must say "no findings"."""

from __future__ import annotations

import numpy as np
import pytest
from _loops import run

HEALTHY = {
    "sgd lr 0.1": dict(lr=0.1, steps=300),
    "momentum lr 0.05": dict(lr=0.05, optimizer="momentum", steps=300),
    "adam lr 1e-3": dict(lr=1e-3, optimizer="adam", steps=300),
    "batch 4, losses jumping 2-5x": dict(lr=0.05, batch=4, steps=400),
    "batch 1": dict(lr=0.01, batch=1, steps=400),
    "sigmoid, glorot": dict(act="sigmoid", init="glorot", lr=0.5, steps=300),
    "tanh, glorot": dict(act="tanh", init="glorot", lr=0.1, steps=300),
    "deep relu": dict(sizes=(784, 128, 64, 32, 10), lr=0.1, steps=300),
    "long run, small stride": dict(steps=1500, stride=3),
    "everything passed": dict(steps=300, softmax_act=True, pass_labels=True, pass_preacts=True),
    "engine names": dict(steps=300, engine_names=True),
    "float64": dict(steps=200, dtype=np.float64),
    "deep net converging to 1e-4 (flat tail)": dict(
        sizes=(784, 64, 64, 64, 10), lr=3e-3, optimizer="adam", batch=8, n=64, steps=1500,
        dtype=np.float64),
}


@pytest.mark.parametrize("name", list(HEALTHY))
def test_healthy_training_has_no_findings(name):
    result = run(**HEALTHY[name])
    doctor = result.doctor
    assert doctor.internal_errors == []
    assert np.median(result.losses[-20:]) < 0.5 * result.losses[0]  # it did learn
    assert doctor.findings == [], doctor.summary()
    assert doctor.verdict() == "no findings"
    if "converging" in name:
        assert np.median(result.losses[-100:]) < 1e-3
