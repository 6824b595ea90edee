"""The doctor, preflight and guard inside a real training run (the trainer is what wires them)."""

import json

import numpy as np
from rich.console import Console

from netmedic.train import TrainConfig, run_training
from netmedic.train import checkpoint as ckpt

QUIET = Console(quiet=True)


def run(tiny_npz, tmp_path, **overrides):
    values = dict(data=str(tiny_npz), model="mlp:64-32-10:relu", epochs=4, batch_size=32,
                  augment=0, lr=0.01, out=str(tmp_path / "run"))
    values.update(overrides)
    return run_training(TrainConfig(**values), console=QUIET, progress=False)


def test_healthy_run_has_no_findings_and_no_guard_actions(tiny_npz, tmp_path):
    result = run(tiny_npz, tmp_path)
    assert result.findings == [] and result.metrics["guard_actions"] == []
    assert result.verdict == "no findings"


def test_without_guard_a_blow_up_stops_with_an_error_finding(tiny_npz, tmp_path):
    result = run(tiny_npz, tmp_path, optimizer="sgd", lr=1e30, schedule="constant",
                 guard=False, epochs=3)
    assert result.exit_code == 1
    errors = [f for f in result.findings if f.severity == "error"]
    assert errors and errors[0].kind == "nonfinite", result.findings
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["stop_reason"].startswith("non-finite loss or gradients at step")
    assert any(f["kind"] == "nonfinite" for f in metrics["findings"])


def test_last_healthy_checkpoint_survives_a_later_blow_up(tiny_npz, tmp_path):
    """Two healthy epochs, then an LR that blows up: checkpoint.npz still holds epoch 2."""
    run(tiny_npz, tmp_path, epochs=2, patience=0)
    result = run_training(None, resume=tmp_path / "run",
                          overrides={"epochs": 4, "lr": 1e30, "optimizer": "sgd",
                                     "guard": False},
                          console=QUIET, progress=False)
    assert result.exit_code == 1
    state, arrays = ckpt.read(tmp_path / "run")
    assert state["epoch"] == 2
    assert all(np.isfinite(v).all() for k, v in arrays.items() if k.startswith("params/"))
    assert result.metrics["test_accuracy"] is not None


def test_guard_repairs_a_diverging_run_and_logs_what_it_did(tiny_npz, tmp_path):
    result = run(tiny_npz, tmp_path, optimizer="sgd", lr=20.0, schedule="constant",
                 epochs=6, patience=0)
    actions = result.metrics["guard_actions"]
    assert actions, "an LR of 20 must make the guard act"
    assert {"step", "action", "reason"} == set(actions[0])
    assert {a["action"] for a in actions} <= {"skip_step", "rollback", "set_lr",
                                              "clip_grad_norm", "stop"}
    assert any(a["action"] == "set_lr" for a in actions)
    assert result.trainer.lr < 20.0
    if result.trainer.stop_reason is None:
        assert np.isfinite(result.metrics["train_loss"][-1])
        assert result.metrics["test_accuracy"] > 0.5


def test_preflight_flags_raw_pixels_and_saturating_init(tiny_npz, tmp_path):
    result = run(tiny_npz, tmp_path, model="mlp:64-30-10:sigmoid", init="uniform(0, 1)",
                 normalize="none", optimizer="sgd", epochs=1)
    preflight = [f for f in result.findings if f.step is None]
    kinds = {f.kind for f in preflight}
    assert "unscaled_input" in kinds, preflight
    unscaled = next(f for f in preflight if f.kind == "unscaled_input")
    assert "255" in unscaled.evidence and unscaled.remedy["action"] == "normalize_inputs"


def test_strict_turns_warnings_into_exit_1(tiny_npz, tmp_path):
    result = run(tiny_npz, tmp_path, normalize="none", strict=True, epochs=1)
    assert any(f.is_alarm for f in result.findings)
    assert result.exit_code == 1


def test_pixels_near_1e20_overflow_float32_and_the_first_tensor_is_named(tiny_npz, tmp_path):
    """The foundation of issue 4's second scenario: an .npz of huge pixels, --normalize none."""
    with np.load(tiny_npz) as npz:
        arrays = {k: npz[k] for k in npz.files}
    for key in ("x_train", "x_test"):
        arrays[key] = arrays[key].astype(np.float32) * np.float32(1e20 / 255)
    huge = tmp_path / "huge.npz"
    np.savez(huge, **arrays)
    result = run(huge, tmp_path, normalize="none", optimizer="sgd", guard=False, epochs=2)
    assert result.exit_code == 1
    first = next(f for f in result.findings if f.kind == "nonfinite")
    assert first.severity == "error" and first.step is not None
    assert first.where.startswith("dense"), first  # a layer, not the loss that inherited it
    assert "Inherited from it" in first.evidence or "inherit" in first.explanation.lower()
    state, arrays = ckpt.read(tmp_path / "run")
    assert state["epoch"] == 0, "the initial state is the last healthy checkpoint"
    assert all(np.isfinite(v).all() for k, v in arrays.items() if k.startswith("params/"))
