"""The issue's budget: a 784-256-128-10 tanh MLP (≈235k parameters) in ≤ 300 evaluations."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from netmedic.doctor.gradcheck import check_gradients

_BENCH = Path(__file__).resolve().parents[2] / "bench" / "gradcheck_speed.py"


def _bench():
    spec = importlib.util.spec_from_file_location("gradcheck_speed", _BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_235k_parameter_mlp_within_budget():
    bench = _bench()
    loss, grads, params = bench.build_mlp()
    assert sum(p.size for p in params.values()) == 235_146
    report = check_gradients(loss, grads, params, batch_size=32)
    assert report.ok, report
    assert report.evaluations <= 300, report.headline()
    # seconds are measured by bench/gradcheck_speed.py, never asserted in a unit test


def test_235k_parameter_mlp_bug_still_found():
    bench = _bench()
    loss, grads, params = bench.build_mlp()

    def transposed(p):
        g = grads(p)
        g["W2"] = g["W2"].T
        return g

    report = check_gradients(loss, transposed, params, batch_size=32)
    assert report.results["W2"].pattern == "transposed"
    assert [r.pattern for n, r in report.results.items() if n != "W2"] == ["ok"] * 5
