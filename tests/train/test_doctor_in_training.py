"""The doctor, preflight and guard inside a real training run (the trainer is what wires them)."""

import json

import numpy as np
import pytest
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


def _guarded_trainer(tiny_npz, hooks, **overrides):
    from netmedic.data import load
    from netmedic.train.trainer import Trainer

    values = dict(data=str(tiny_npz), model="mlp:64-32-10:relu", epochs=3, batch_size=8,
                  augment=0, lr=0.01, optimizer="sgd", schedule="constant", guard=True,
                  patience=0)
    values.update(overrides)
    return Trainer(TrainConfig(**values), load(str(tiny_npz), progress=False), hooks=hooks)


@pytest.mark.parametrize("with_doctor", [False, True])
def test_a_guard_stop_ends_training_at_that_step(tiny_npz, with_doctor):
    from netmedic.doctor.guard import Guard
    from netmedic.train.guard_hook import GuardHook
    from netmedic.train.probe import DoctorHook

    doctor = DoctorHook() if with_doctor else None
    guard = GuardHook(doctor, guard=Guard(max_rollbacks=0))
    trainer = _guarded_trainer(tiny_npz, [h for h in (doctor, guard) if h], lr=1e6)
    with np.errstate(all="ignore"):
        trainer.fit()
    stop = [a for a in guard.guard.actions if a["action"] == "stop"]
    assert stop and stop[0]["step"] < 5 < trainer.steps_per_epoch
    assert trainer.step - stop[0]["step"] <= 1  # not one forward pass more
    assert trainer.stop_reason.startswith("the guard stopped training")


def test_the_guard_hears_pending_judgements_before_it_trusts_a_snapshot(tiny_npz):
    """A doctor that judges in batches: at the step the guard would trust its candidate, the
    pending steps are judged first; an alarm then rolls back to the older, trusted state and
    the step's update (its gradients belong to the state rolled back) is not applied."""
    from netmedic.doctor.finding import Finding
    from netmedic.doctor.guard import Guard
    from netmedic.train.guard_hook import GuardHook

    class BatchedDoctor:
        def __init__(self):
            self.new_findings, self.judged_at, self.doctor = [], [], self

        def before_update(self, trainer, state):
            self.new_findings, self.step = [], state.step
            return True

        def judge(self):
            self.judged_at.append(self.step)
            alarm = Finding("lr_too_high", "error", self.step - 2, "dense1", "measured", "why",
                            "fix", {"action": "set_lr", "lr": 0.001})
            self.new_findings = [alarm] if self.step >= 10 else []
            return self.new_findings

        def mark_discontinuity(self):
            pass

    doctor = BatchedDoctor()
    guard = GuardHook(doctor, guard=Guard(snapshot_every=5))
    applied = []

    class Applied:
        def after_update(self, trainer, state):
            applied.append((state.step, state.applied))

    trainer = _guarded_trainer(tiny_npz, [doctor, guard, Applied()])
    trainer.start()
    x, y = trainer.arrays.x_train[:8], trainer.arrays.y_train[:8]
    for _ in range(12):
        trainer._step(x, y)
    assert doctor.judged_at == [5, 10]  # each time a candidate was about to be trusted
    rollback = next(a for a in guard.guard.actions if a["action"] == "rollback")
    assert rollback["step"] == 10 and "back to the state of step 0" in rollback["reason"]
    assert (10, False) in applied and (9, True) in applied


def test_an_alarm_judged_at_a_promotion_step_stops_that_promotion(tiny_npz):
    """The engine's doctor judges on multiples of 50 steps, where the guard also trusts its
    next snapshot: the findings of that judgement reach the guard first. The LR jumps ×50 at
    step 60 (say a schedule restart) and kills the ReLUs: the rollback goes to the snapshot of
    step 50, taken before the damage, not to the one of step 100."""
    from netmedic.train.guard_hook import GuardHook
    from netmedic.train.probe import DoctorHook

    class Boost:
        def before_update(self, trainer, state):
            if state.step == 60:
                trainer.lr_scale *= 50
            return True

    doctor = DoctorHook()
    guard = GuardHook(doctor)
    trainer = _guarded_trainer(tiny_npz, [Boost(), doctor, guard], batch_size=2, epochs=1)
    with np.errstate(all="ignore"):
        trainer.fit()
    rollback = next(a for a in guard.guard.actions if a["action"] == "rollback")
    assert "back to the state of step 50" in rollback["reason"], guard.guard.actions
