"""The generic fix mechanism: one value per action, void step sizes, the editor, the spec."""

from __future__ import annotations

from pathlib import Path

import netmedic.clinic.fix as fix_module
from netmedic import clinic
from netmedic.clinic.fix import (
    ScenarioEditor,
    apply_plan,
    model_spec,
    plan_remedies,
)
from netmedic.doctor.finding import Finding
from netmedic.doctor.remedy import apply_remedy


def _finding(kind, where, remedy, step=0, severity="warning"):
    return Finding(kind, severity, step, where, "evidence", "why", "fix", remedy)


def test_the_value_most_findings_carry_wins_and_the_others_are_said_superseded():
    findings = [_finding("initial_loss_off", "loss", {"action": "set_init", "init": "he_normal"}),
                _finding("bad_init", "W1", {"action": "set_init", "init": "glorot_normal"}),
                _finding("bad_init", "W2", {"action": "set_init", "init": "glorot_normal"})]
    plan = {p.remedy["init"]: p for p in plan_remedies(findings)}
    assert plan["glorot_normal"].status == "apply"
    assert plan["glorot_normal"].sources == ("bad_init at W1, W2 (step 0)",)
    assert plan["he_normal"].status == "superseded"
    assert "superseded by set_init(init='glorot_normal') (2 findings)" in plan["he_normal"].reason


def test_step_sizes_measured_with_wrong_gradients_are_void():
    findings = [_finding("lr_too_low", "w_2", {"action": "set_lr", "lr": 10.0}),
                _finding("exploding_gradients", "w_2", {"action": "clip_grad_norm",
                                                        "max_norm": 3.0}),
                _finding("wrong_gradient", "w_1", {"action": "fix_gradient", "param": "w_1"},
                         step=None, severity="error")]
    statuses = {p.action: p.status for p in plan_remedies(findings)}
    assert statuses == {"fix_gradient": "apply", "set_lr": "void", "clip_grad_norm": "void"}
    config = {"lr": 0.1, "gradients": "hand-written"}
    done = apply_plan(plan_remedies(findings), config, default_lr=3e-3)
    assert config == {"lr": 3e-3, "gradients": "engine"}
    assert [a.outcome is not None for a in done] == [True, False, False]
    assert done[0].planned.locations == ("w_1",)


def test_without_wrong_gradients_lr_remedies_apply():
    config = {"lr": 0.01}
    apply_plan(plan_remedies([_finding("diverging_loss", "loss",
                                       {"action": "set_lr", "lr": 5e-4})]), config, 1e-3)
    assert config["lr"] == 5e-4


def test_the_editor_takes_the_rules_normalize_argument_and_says_unchanged_values():
    config = {"normalize": "none", "loss": "cross_entropy"}
    editor = ScenarioEditor(config, default_lr=1e-3)
    assert apply_remedy({"action": "normalize_inputs", "mode": "standard"}, editor).applied
    apply_remedy({"action": "set_loss", "loss": "cross_entropy"}, editor)
    assert config["normalize"] == "standard"
    assert editor.edits == ["normalize: 'none' → 'standard'", "loss already 'cross_entropy'"]


def test_model_spec_keeps_the_sizes_and_places_batch_norm_and_the_output():
    config = {"layers": ["in784", "fc30", "act", "fc10"], "activation": "tanh",
              "output": "sigmoid", "loss": "mse", "normalization": None}
    assert model_spec(config) == "cnn:in784-fc30-tanh-fc10-sigmoid"
    config.update(loss="cross_entropy", normalization="all")
    assert model_spec(config) == "cnn:in784-fc30-bn-tanh-fc10"


def test_no_scenario_has_fix_code_of_its_own():
    source = Path(fix_module.__file__).read_text()
    for name in clinic.names():
        assert name not in source and name.split("-")[1] not in source
