"""A scenario's trace replays through ``netmedic doctor`` to the same diagnosis."""

from __future__ import annotations

import json

import pytest

from netmedic import clinic
from netmedic.cli import main
from netmedic.doctor import diagnose_trace


def _triples(findings) -> set[tuple]:
    return {(f.kind, f.where, f.step) for f in findings}


@pytest.mark.parametrize("name", clinic.names())
def test_the_trace_gives_the_same_diagnosis(runs, name):
    result = runs(name)
    replayed = diagnose_trace(runs.trace(name))
    assert _triples(replayed.findings) == _triples(result.doctor.findings)


def test_netmedic_doctor_on_a_clinic_trace(runs, capsys):
    result = runs("seed-000-sigmoid-mlp")
    assert main(["doctor", str(runs.trace("seed-000-sigmoid-mlp")), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert {(f["kind"], f["where"]) for f in printed["findings"]} == \
        {(f.kind, f.where) for f in result.doctor.findings}
