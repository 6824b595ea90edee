"""Traces: the same findings replayed from a file as live; the format other languages write."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from _loops import run

from netmedic.cli import main
from netmedic.doctor import Doctor, diagnose_trace
from netmedic.errors import BadInputError

SCENARIOS = {
    "lr 5": dict(sizes=(784, 64, 32, 10), lr=5.0, steps=40),
    "sign bug": dict(sign_bug="all", lr=0.01, steps=40),
    "raw pixels, rand init": dict(raw=True, act="sigmoid", init="rand", lr=1e-3, steps=25,
                                  pass_preacts=True, pass_labels=True),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
@pytest.mark.parametrize("suffix", ["run.jsonl", "run.jsonl.gz", "arrays"])
def test_replayed_trace_gives_the_same_findings_as_the_live_run(tmp_path, name, suffix):
    path = tmp_path / suffix
    live = run(doctor=Doctor(trace=str(path)), **SCENARIOS[name]).doctor
    replay = diagnose_trace(path)
    assert [f.to_dict() for f in replay.findings] == [f.to_dict() for f in live.findings]
    assert live.findings  # every scenario here is broken
    assert replay.history.records == live.history.records  # the statistics round-trip exactly


def test_write_trace_after_the_run(tmp_path):
    live = run(**SCENARIOS["sign bug"]).doctor
    live.write_trace(str(tmp_path / "t.jsonl"))
    assert [f.to_dict() for f in diagnose_trace(tmp_path / "t.jsonl").findings] == \
        [f.to_dict() for f in live.findings]


def _haskell_style_trace(path, nan_at=None):
    """What seed 004's Haskell program would write: norms only, one line per step."""
    rng = np.random.default_rng(0)
    with open(path, "w") as fh:
        for step in range(30):
            loss = "nan" if nan_at is not None and step >= nan_at else 0.45 + 0.01 * rng.random()
            tensors = {}
            for layer in range(1, 6):  # gradients shrink ×30 per layer on the way back
                tensors[f"grad/W{layer}"] = {"norm": 0.2 * 30.0 ** (layer - 5)}
                tensors[f"param/W{layer}"] = {"norm": 10.0}
            fh.write(json.dumps({"step": step, "loss": loss, "lr": 0.1, "tensors": tensors}) + "\n")


def test_a_minimal_trace_of_norms_is_diagnosed(tmp_path):
    _haskell_style_trace(tmp_path / "h.jsonl")
    kinds = {f.kind: f for f in diagnose_trace(tmp_path / "h.jsonl").findings}
    assert kinds["vanishing_gradients"].where == "W1" and kinds["vanishing_gradients"].step == 2
    assert "lr_too_low" not in kinds  # the last layers move fine: not the LR's fault


def test_update_ratios_are_estimated_from_norms_and_lr_when_no_update_is_written(tmp_path):
    path = tmp_path / "slow.jsonl"
    with open(path, "w") as fh:
        for step in range(20):
            tensors = {f"{role}/W{i}": {"norm": norm} for i in (1, 2)
                       for role, norm in (("param", 10.0), ("grad", 1e-3))}
            fh.write(json.dumps({"step": step, "loss": 2.3, "lr": 1e-3, "tensors": tensors}) + "\n")
    f = next(f for f in diagnose_trace(path).findings if f.kind == "lr_too_low")
    assert "(estimated as lr·‖g‖/‖w‖, plain SGD)" in f.evidence and f.fix == "lr 0.001 → 0.1."


def test_trace_keys_may_also_carry_a_role_field_and_aliases(tmp_path):
    path = tmp_path / "t.jsonl"
    act = {"norm": 1, "min": 0, "max": 2, "zero_frac": 0.5}
    lines = [{"step": 0, "loss": 2.3, "tensors": {"W1": {"role": "gradient", "norm": 1.0}}},
             {"step": 1, "loss": None, "tensors": {"activation/h1": act}}]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    doctor = diagnose_trace(path)
    first, second = doctor.history.records
    assert "grad/W1" in first.tensors and "act/h1" in second.tensors and second.loss is None


@pytest.mark.parametrize("line,expected", [
    ('{"step": 0, "loss": 2.3, "tensors": {"grad/W1": {"norm": 1.0}}}\n{"step": 1, "loss": 2.2,',
     ":2: not valid JSON"),
    ('{"step": "zero", "loss": 2.3}', ':1: expected "step" as an integer'),
    ('{"step": 0}', ':1: expected a "loss"'),
    ('{"step": 0, "loss": 1, "tensors": {"grad/W1": {"max": 3}}}', 'expected a "norm"'),
    ('{"step": 0, "loss": 1, "tensors": {"weights/W1": {"norm": 3}}}', "unknown role 'weights'"),
    ('{"step": 0, "loss": 1, "tensors": {"W1": {"norm": 3}}}', 'a "role" field'),
    ('{"step": 0, "loss": "big"}', 'expected a number (or "nan", "inf", "-inf")'),
])
def test_malformed_traces_name_the_file_the_line_and_what_was_expected(tmp_path, line, expected):
    path = tmp_path / "bad.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(BadInputError, match="bad.jsonl") as err:
        diagnose_trace(path)
    assert expected in str(err.value)


def test_npz_folder_errors(tmp_path):
    with pytest.raises(BadInputError, match="no .npz files"):
        diagnose_trace(tmp_path)
    np.savez(tmp_path / "step_0.npz", loss=1.0)
    with pytest.raises(BadInputError, match="expected keys 'step' and 'loss'"):
        diagnose_trace(tmp_path)
    np.savez(tmp_path / "step_0.npz", loss=1.0, step=0, **{"weights/W": np.ones(3)})
    with pytest.raises(BadInputError, match="unknown role 'weights'"):
        diagnose_trace(tmp_path)


def test_cli_exit_codes_and_output(tmp_path, capsys):
    _haskell_style_trace(tmp_path / "h.jsonl", nan_at=20)
    assert main(["doctor", str(tmp_path / "h.jsonl")]) == 0
    out = capsys.readouterr().out
    assert "nonfinite at loss (step 20)" in out and "verdict: 1 error" in out
    assert main(["doctor", "--strict", str(tmp_path / "h.jsonl")]) == 1
    capsys.readouterr()
    assert main(["doctor", "--json", str(tmp_path / "h.jsonl")]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["findings"][0]["kind"] == "nonfinite"
    (tmp_path / "bad.jsonl").write_text('{"step": 0, "loss": 1}\n[1, 2]\n')
    assert main(["doctor", str(tmp_path / "bad.jsonl")]) == 2
    assert "bad.jsonl:2: expected a JSON object per step" in capsys.readouterr().err
    assert main(["doctor", str(tmp_path / "missing.jsonl")]) == 2


def test_healthy_trace_exits_0_even_with_strict(tmp_path):
    doctor = run(steps=60, doctor=Doctor(trace=str(tmp_path / "ok.jsonl"))).doctor
    assert doctor.findings == []
    assert main(["doctor", "--strict", str(tmp_path / "ok.jsonl")]) == 0


def test_nonfinite_values_are_written_as_strict_json(tmp_path):
    doctor = Doctor(trace=str(tmp_path / "t.jsonl"))
    doctor.observe(step=0, loss=float("inf"), grads={"W": np.array([np.nan, 1.0])})
    doctor.finish()
    lines = (tmp_path / "t.jsonl").read_text().splitlines()
    step = json.loads(lines[1], parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))
    assert step["loss"] == "inf" and step["tensors"]["grad/W"]["norm"] == "nan"
    assert math.isinf(diagnose_trace(tmp_path / "t.jsonl").history.records[0].loss)
