"""``netmedic clinic list`` and ``netmedic clinic run``: exit codes and what they print."""

from __future__ import annotations

import dataclasses
import json

import pytest

from netmedic import clinic
from netmedic.cli import main


@pytest.fixture
def short_budget(monkeypatch):
    """Seed 000 with a 2-epoch fixed run (its full budget and target are tested with the other
    scenarios in test_scenarios.py); ``target`` is set per test."""
    real = clinic.get

    def shortened(target: float):
        def get(name):
            scenario = real(name)
            return dataclasses.replace(scenario, target=target,
                                       budget={**scenario.budget, "epochs": 2})
        monkeypatch.setattr(clinic, "get", get)
    return shortened


def test_list_shows_every_scenario_with_its_question(capsys, wide_console):
    assert main(["clinic", "list"]) == 0
    out = capsys.readouterr().out
    for scenario in clinic.scenarios():
        assert scenario.name in out
        assert scenario.question[:40] in out
    assert "784-30-10 sigmoid" in out


def test_run_prints_the_diagnosis_and_the_gradient_table(capsys, wide_console):
    assert main(["clinic", "run", "seed-000-sigmoid-mlp"]) == 0
    out = capsys.readouterr().out
    assert "question:" in out and "tens of thousands" in out
    assert "nonfinite at A2 (step 1)" in out
    assert "bad_init at W1 (step 0)" in out
    assert "gradient check" in out and "4 of 4 gradients are wrong" in out
    assert "fixed:" not in out  # no --fix, no fixed run


def test_an_unknown_scenario_is_bad_usage(capsys, wide_console):
    assert main(["clinic", "run", "seed-999"]) == 2
    err = capsys.readouterr().err
    assert "'seed-999' is not a scenario" in err and "seed-000-sigmoid-mlp" in err


def test_run_fix_out_applies_remedies_and_writes_the_runs(tmp_path, capsys, wide_console,
                                                          short_budget):
    short_budget(target=0.5)
    out_dir = tmp_path / "clinic"
    assert main(["clinic", "run", "000", "--fix", "--out", str(out_dir)]) == 0
    out = capsys.readouterr().out
    assert "applied      set_init(init='glorot_normal')" in out
    assert "applied      fix_gradient() for W1, b1, W2, b2" in out
    assert "not applied  set_init(init='he_normal')" in out
    assert "2 epochs of batch 32" in out
    assert "fixed: test accuracy" in out and "reached the target 50%" in out
    saved = json.loads((out_dir / "clinic.json").read_text())
    assert saved["fixed"]["reached_target"] is True
    assert saved["first_detection"] == 0
    assert (out_dir / "trace.jsonl").exists() and (out_dir / "report.html").exists()
    assert (out_dir / "fixed" / "metrics.json").exists()
    assert (out_dir / "fixed" / "report.html").exists()
    assert main(["doctor", str(out_dir / "trace.jsonl")]) == 0


def test_a_fixed_run_that_misses_its_target_exits_1(capsys, wide_console, short_budget):
    short_budget(target=0.999)
    assert main(["clinic", "run", "000", "--fix"]) == 1
    assert "MISSED the target 100%" in capsys.readouterr().out
