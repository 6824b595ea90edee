"""Each seed's broken training: what the doctor and the gradient checker find, what --fix
applies, and the fixed run's test accuracy on mnist-mini."""

from __future__ import annotations

import math

import pytest

from netmedic import clinic


def _found(result) -> dict[str, list]:
    """kind -> its findings (the doctor's and the gradient checker's)."""
    out: dict[str, list] = {}
    for f in result.findings:
        out.setdefault(f.kind, []).append(f)
    return out


def _applied(result) -> dict[str, dict]:
    """action -> the remedy applied for it (after every round)."""
    return {a.planned.action: a.planned.remedy for a in result.applied if a.outcome is not None}


@pytest.mark.parametrize("name", clinic.names())
def test_the_expected_kinds_are_found_and_the_fixed_run_reaches_its_target(runs, name):
    result = runs(name)
    scenario = clinic.get(name)
    assert set(scenario.expected) <= set(result.kinds), result.to_dict()["verdict"]
    assert result.first_detection is not None and result.first_detection <= 1
    accuracy = result.test_accuracy
    print(f"{name}: {result.kinds}, fixed test accuracy {accuracy:.4f} "
          f"(target {scenario.target}) in {result.fixed_seconds:.1f} s")
    assert accuracy >= scenario.target
    assert result.config["gradients"] == "engine"
    # the seed's architecture is kept: same layer tokens (sizes), only options change
    assert result.config["layers"] == scenario.config["layers"]


def test_seed_000_weights_explode_then_nan_and_every_backprop_bug_shows(runs):
    result = runs("seed-000-sigmoid-mlp")
    found = _found(result)
    nonfinite = found["nonfinite"][0]
    assert (nonfinite.where, nonfinite.step, nonfinite.severity) == ("A2", 1, "error")
    assert "exp(z)/sum(exp(z))" in nonfinite.explanation
    assert {f.where for f in found["bad_init"]} == {"W1", "W2"}
    assert "np.random.rand" in found["bad_init"][0].explanation
    assert found["saturated_activation"][0].where == "A1"
    # the post: "tens of thousands in the next iteration", NaN by the 3rd
    w2 = result.broken.facts[1]
    sizes = [float(v) for v in w2.split(": ")[1].split(", ")]
    assert sizes[0] <= 1 and 1e4 <= sizes[1] < 1e6 and math.isnan(sizes[-1])
    report = result.gradcheck
    assert not report.ok and set(report.results) == {"W1", "b1", "W2", "b2"}
    assert "softmax normalised over the batch axis" in report.results["b2"].fix
    assert "output error" in report.diagnosis
    applied = _applied(result)
    assert applied["set_init"] == {"action": "set_init", "init": "glorot_normal"}
    assert result.config["init"] == "glorot_normal"
    assert result.config["activation"] == "sigmoid"  # 784-30-10 sigmoid, as they built it
    superseded = [a for a in result.applied if a.planned.status == "superseded"]
    assert [a.planned.remedy["init"] for a in superseded] == ["he_normal"]


def test_seed_002_in_columns_wrong_gradient_and_contradictory_lr_findings_are_void(runs):
    result = runs("seed-002-relu-mse")
    found = _found(result)
    assert found["bad_init"][0].where == "w_1" and "fan-in 784" in found["bad_init"][0].evidence
    dynamic = [f for f in found["wrong_gradient"] if f.step is not None]
    assert dynamic and dynamic[0].step <= 10  # seen from the dynamics alone
    assert {f.where for f in found["wrong_gradient"] if f.step is None} == \
        {"w_1", "b_1", "w_2", "b_2"}
    assert found["stalled_loss"][0].where == "loss"
    void = [a for a in result.applied if a.planned.status == "void"]
    assert void and all(a.planned.action == "set_lr" for a in void)
    assert "measured with gradients that are wrong" in void[0].line()
    assert result.config["init"] == "he_normal"
    assert result.config["lr"] == clinic.get("seed-002-relu-mse").budget["lr"]
    assert result.doctor.batch_axis == 1


def test_seed_003_raw_pixels_diverge_to_nan_and_the_remedies_scale_and_slow_it(runs):
    result = runs("seed-003-deep-cnn")
    found = _found(result)
    assert (found["unscaled_input"][0].where, found["unscaled_input"][0].step) == ("inputs", 0)
    assert found["diverging_loss"][0].step == 1
    assert found["nonfinite"][0].severity == "error"
    losses = result.broken.losses
    finite = [c for c in losses if math.isfinite(c)]
    assert max(finite) > 1e20 * finite[0] and not math.isfinite(losses[-1])
    assert result.gradcheck is None  # Theano computed their gradients
    assert result.config["normalize"] == "unit"
    assert result.config["lr"] < 0.01
    assert result.config["init"] == "he_normal"


def test_seed_004_activations_sink_towards_1e_100_and_preflight_swaps_the_sigmoids(runs):
    result = runs("seed-004-wide-sigmoid")
    found = _found(result)
    assert {f.where for f in found["saturated_activation"]} >= {"a2", "a3"}
    smallest = [float(v) for v in result.broken.facts[0].split(": ")[1].split(", ")]
    assert smallest[-1] < 1e-90  # the output layer: "order of 1e-100"
    assert smallest == sorted(smallest, reverse=True)  # shrinking layer after layer
    assert "w4" in {f.where for f in found["wrong_gradient"]}  # δout without σ'(z_out)
    rounds = [a for a in result.applied if a.stage.startswith("preflight")]
    assert any(a.planned.remedy == {"action": "set_activation", "activation": "relu"}
               for a in rounds)
    assert result.config["activation"] == "relu" and result.config["loss"] == "mse"
