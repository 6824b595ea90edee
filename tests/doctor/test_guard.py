"""The guard, driven by a plain-NumPy training loop through a tiny controller; and apply_remedy."""

from __future__ import annotations

import math

import numpy as np
import pytest

from netmedic.doctor.finding import Finding
from netmedic.doctor.guard import Guard, format_actions
from netmedic.doctor.remedy import ConfigEditor, TrainingControl, apply_remedy

GUARD_ACTIONS = {"skip_step", "rollback", "set_lr", "clip_grad_norm", "stop"}


class MLPRun:
    """A 2-layer tanh MLP with a naive softmax (it overflows, like seed 000's) trained by SGD on
    three Gaussian blobs; it is the guard's controller (``TrainingControl``)."""

    def __init__(self, lr: float, seed: int = 0, n: int = 600, d: int = 8, hidden: int = 32,
                 classes: int = 3) -> None:
        rng = np.random.default_rng(seed)
        centers = rng.normal(0.0, 1.0, (classes, d))
        self.y = rng.integers(0, classes, n)
        self.x = centers[self.y] + rng.normal(0.0, 1.0, (n, d))
        self.params = {
            "W1": rng.normal(0.0, np.sqrt(1.0 / d), (d, hidden)), "b1": np.zeros(hidden),
            "W2": rng.normal(0.0, np.sqrt(1.0 / hidden), (hidden, classes)),
            "b2": np.zeros(classes),
        }
        self.lr, self.max_norm, self.rng = lr, None, rng

    def __repr__(self) -> str:
        return f"MLPRun(lr={self.lr}, max_norm={self.max_norm})"

    def set_lr(self, lr: float) -> None:
        self.lr = lr

    def clip_grad_norm(self, max_norm: float) -> None:
        self.max_norm = max_norm

    def snapshot(self) -> dict[str, np.ndarray]:
        return {k: v.copy() for k, v in self.params.items()}

    def restore(self, snapshot: dict[str, np.ndarray]) -> None:
        for k, v in snapshot.items():
            self.params[k][...] = v

    def loss_and_grads(self, xb, yb):
        p, n = self.params, len(yb)
        with np.errstate(all="ignore"):
            h = np.tanh(xb @ p["W1"] + p["b1"])
            e = np.exp(h @ p["W2"] + p["b2"])
            prob = e / e.sum(axis=1, keepdims=True)
            loss = float(-np.mean(np.log(prob[np.arange(n), yb])))
            dz = prob.copy()
            dz[np.arange(n), yb] -= 1
            dz /= n
            dh = dz @ p["W2"].T * (1 - h**2)
            grads = {"W1": xb.T @ dh, "b1": dh.sum(0), "W2": h.T @ dz, "b2": dz.sum(0)}
            norm = math.sqrt(sum(float(np.sum(g * g)) for g in grads.values()))
        return loss, grads, norm

    def update(self, grads, norm: float) -> float:
        scale = self.max_norm / norm if self.max_norm is not None and norm > self.max_norm else 1
        with np.errstate(all="ignore"):
            for k, g in grads.items():
                self.params[k] -= self.lr * scale * g
        return norm * scale

    def full_loss(self) -> float:
        return self.loss_and_grads(self.x, self.y)[0]


def train(run, guard, steps, batch=32, nan_grad_at=(), findings_at=None, val_every=None):
    """The trainer's loop with the guard wired in; returns per-step (loss, applied, norm)."""
    findings_at = findings_at or {}
    log = []
    for step in range(steps):
        idx = run.rng.integers(0, len(run.y), batch)
        loss, grads, norm = run.loss_and_grads(run.x[idx], run.y[idx])
        if step in nan_grad_at:  # a bad batch: one NaN in the gradients
            grads["W1"][0, 0], norm = np.nan, math.nan
        applied = guard.before_update(step, loss, norm, run) if guard else True
        if applied:
            run.update(grads, norm)
        log.append((loss, applied, norm))
        if guard is not None:
            guard.after_step(step, findings_at.get(step, []), run)
            if val_every and (step + 1) % val_every == 0:
                guard.on_validation((step + 1) // val_every, run.full_loss(), None, run)
            if guard.stopped:
                break
    return log


def finding(kind, severity, step, remedy, where="W1"):
    return Finding(kind=kind, severity=severity, step=step, where=where, evidence="measured",
                   explanation="why", fix="what", remedy=remedy)


def assert_api_shape(actions):
    for action in actions:
        assert set(action) == {"step", "action", "reason"}
        assert type(action["step"]) is int and action["step"] >= 0
        assert action["action"] in GUARD_ACTIONS
        assert isinstance(action["reason"], str) and action["reason"]


def test_the_controller_follows_the_protocol():
    assert isinstance(MLPRun(0.1), TrainingControl)


def test_a_nan_run_is_rolled_back_with_a_lower_lr_and_recovers():
    unguarded = MLPRun(lr=100.0)
    initial = unguarded.full_loss()
    train(unguarded, None, 60)
    assert math.isnan(unguarded.full_loss())  # the scenario is real: without the guard, NaN

    run, printed = MLPRun(lr=100.0), []
    guard = Guard(on_action=printed.append)
    log = train(run, guard, 400, val_every=50)
    assert guard.actions[:2] == [
        {"step": 2, "action": "rollback",
         "reason": "loss is nan at step 2: back to the state of step 0 (rollback 1/3)"},
        {"step": 2, "action": "set_lr", "reason": "after rollback 1: lr 100 → 10"},
    ]
    assert printed == guard.actions  # on_action saw each one as it happened
    assert_api_shape(guard.actions)
    steps = [a["step"] for a in guard.actions]
    assert steps == sorted(steps)  # steps count attempts and are never rewound
    assert [a["action"] for a in guard.actions].count("rollback") == guard.rollbacks >= 1
    assert run.lr <= 10.0 and not guard.stopped
    final = run.full_loss()
    assert math.isfinite(final) and final < 0.5 * initial
    assert len(log) == 400
    assert "rollback" in guard.summary() and "stopped" not in guard.summary()


def test_non_finite_gradients_are_skipped_and_leave_the_parameters_alone():
    run, before = MLPRun(lr=0.5), {}

    class Spy(Guard):
        def before_update(self, step, loss, grad_norm, control):
            before[step] = control.snapshot()
            return super().before_update(step, loss, grad_norm, control)

    guard = Spy()
    # the doctor's finding about step 10's NaN gradients: the skip already dealt with them
    nonfinite = finding("nonfinite", "error", 10, {"action": "clip_grad_norm"}, where="dW1")
    log = train(run, guard, 40, nan_grad_at={10, 11}, findings_at={10: [nonfinite]})
    assert guard.actions == [
        {"step": 10, "action": "skip_step",
         "reason": "gradient norm is nan at step 10: update skipped (1/20)"},
        {"step": 11, "action": "skip_step",
         "reason": "gradient norm is nan at step 11: update skipped (2/20)"},
    ]
    assert [applied for _, applied, _ in log[9:13]] == [True, False, False, True]
    for name in run.params:  # steps 10 and 11 changed nothing
        np.testing.assert_array_equal(before[10][name], before[12][name])
    assert all(np.all(np.isfinite(p)) for p in run.params.values())


def test_non_finite_gradients_in_a_row_escalate_to_a_rollback():
    run, guard = MLPRun(lr=0.5), Guard(max_consecutive_skips=2)
    train(run, guard, 80, nan_grad_at={60, 61, 62})
    assert [(a["step"], a["action"]) for a in guard.actions] == [
        (60, "skip_step"), (61, "skip_step"), (62, "rollback"), (62, "set_lr")]
    assert guard.actions[2]["reason"].startswith("3 non-finite gradients in a row")
    assert run.lr == pytest.approx(0.05)


def test_too_many_skips_stop_the_run():
    run, guard = MLPRun(lr=0.5), Guard(max_skips=2)
    train(run, guard, 40, nan_grad_at={5, 15, 25})
    assert guard.actions[-1]["action"] == "stop" and guard.actions[-1]["step"] == 25
    assert "already skipped 2 updates (max_skips)" in guard.stop_reason


def test_exploding_gradients_turn_on_clipping_at_a_measured_percentile():
    histories = []  # the history when each action was taken
    run = MLPRun(lr=0.5)
    guard = Guard(snapshot_every=20, on_action=lambda _: histories.append(guard.grad_norm_history))
    clip = {"action": "clip_grad_norm", "max_norm": 123.0}
    log = train(run, guard, 150,
                findings_at={120: [finding("exploding_gradients", "warning", 120, clip)]})
    clipping = [a for a in guard.actions if a["action"] == "clip_grad_norm"]
    assert guard.actions == clipping and clipping[0]["step"] == 120  # a warning: no rollback
    history = histories[guard.actions.index(clipping[0])]
    assert len(history) >= 80  # norms of steps confirmed healthy, not the doctor's 123
    assert guard.clip_norm == pytest.approx(np.percentile(history, 90))
    assert run.max_norm == guard.clip_norm
    measured = [norm for _, applied, norm in log[:120] if applied]  # before the finding
    assert np.median(measured) < guard.clip_norm < max(measured)
    assert set(history) <= set(measured)
    assert "clipping gradients at global norm" in clipping[0]["reason"]
    assert f"the 90th percentile of {len(history)} healthy gradient norms" in clipping[0]["reason"]
    assert clipping[0]["reason"].startswith("exploding_gradients at W1 (step 120)")


def test_an_exploding_gradients_error_also_rolls_back():
    run, guard = MLPRun(lr=0.5), Guard(snapshot_every=20)
    error = finding("exploding_gradients", "error", 90, {"action": "clip_grad_norm"})
    train(run, guard, 100, findings_at={90: [error]})
    assert [a["action"] for a in guard.actions] == ["clip_grad_norm", "rollback", "set_lr"]
    assert guard.actions[1]["reason"] == ("exploding_gradients at W1 (step 90): back to the "
                                          "state of step 60 (rollback 1/3)")


def test_the_rollback_bound_stops_the_run_on_the_last_healthy_state():
    run, guard = MLPRun(lr=1e4), Guard(max_rollbacks=2, lr_factor=0.5)
    initial = run.snapshot()
    train(run, guard, 100)
    assert [a["action"] for a in guard.actions] == ["rollback", "set_lr", "rollback", "set_lr",
                                                   "stop"]
    assert guard.stopped and guard.actions[-1]["reason"] == guard.stop_reason
    assert "already rolled back 2 times (max_rollbacks=2)" in guard.stop_reason
    assert guard.stop_reason.endswith("parameters restored to those of step 0")
    for name, value in initial.items():
        np.testing.assert_array_equal(run.params[name], value)
    assert guard.before_update(99, 1.0, 1.0, run) is False  # stopped is absorbing
    assert_api_shape(guard.actions)


def test_the_lr_floor_stops_the_run():
    run, guard = MLPRun(lr=100.0), Guard(min_lr=50.0, max_rollbacks=5)
    train(run, guard, 100)
    assert guard.actions[1]["reason"] == "after rollback 1: lr 100 → 50"
    assert guard.actions[-1]["action"] == "stop"
    assert "lr 50 is already at its floor 50 (min_lr)" in guard.stop_reason


def test_a_validation_blow_up_rolls_back():
    run, guard = MLPRun(lr=0.5), Guard(snapshot_every=20)
    train(run, guard, 100, val_every=50)
    good = run.full_loss()
    run.params["W2"] *= 30.0  # something broke the weights between epochs
    guard.on_validation(3, run.full_loss(), 0.33, run)
    assert [a["action"] for a in guard.actions] == ["rollback", "set_lr"]
    assert guard.actions[0]["reason"].startswith("validation loss after epoch 3 is")
    assert f"its best ({good:.4g})" in guard.actions[0]["reason"]
    assert run.full_loss() < 2 * good


def test_a_validation_accuracy_collapse_rolls_back():
    run, guard = MLPRun(lr=0.5), Guard()
    guard.on_validation(1, 0.30, 0.91, run)
    guard.on_validation(2, 0.31, 0.90, run)
    assert guard.actions == []
    guard.on_validation(3, 0.40, 0.35, run)
    assert guard.actions[0]["reason"].startswith(
        "validation accuracy after epoch 3 fell to 35.0% from 91.0%")


def test_set_lr_remedies_lower_the_lr_and_roll_back_on_errors():
    run, guard = MLPRun(lr=0.5), Guard(snapshot_every=20)
    findings = {
        100: [finding("lr_too_high", "error", 100, {"action": "set_lr", "lr": 0.2})],
        101: [finding("lr_too_low", "warning", 101, {"action": "set_lr", "lr": 5.0})],
        140: [finding("oscillating_loss", "warning", 95, {"action": "set_lr", "factor": 0.1})],
    }
    train(run, guard, 150, findings_at=findings)
    assert [(a["step"], a["action"]) for a in guard.actions] == [(100, "rollback"),
                                                                 (100, "set_lr")]
    assert guard.actions[1]["reason"] == "after rollback 1: lr 0.5 → 0.2"
    assert run.lr == 0.2  # the remedy's own number
    assert "the guard only lowers the LR" in guard.notes[0]  # lr_too_low: not mid-run
    assert len(guard.notes) == 1  # the step-95 finding describes the state before the rollback


def test_a_set_lr_warning_on_an_improving_run_only_lowers_the_lr():
    run, guard = MLPRun(lr=0.5), Guard(snapshot_every=200)
    warning = finding("lr_too_high", "warning", 3, {"action": "set_lr", "factor": 0.5})
    train(run, guard, 4, findings_at={3: [warning]})
    assert guard.actions == [{"step": 3, "action": "set_lr",
                              "reason": "lr_too_high at W1 (step 3): lr 0.5 → 0.25"}]


def test_restart_remedies_are_deferred_and_said():
    run, guard = MLPRun(lr=0.5), Guard()
    init = finding("bad_init", "warning", 5, {"action": "set_init", "init": "he_normal"})
    train(run, guard, 10, findings_at={5: [init], 6: [init]})
    assert guard.actions == [] and guard.deferred == [init]
    assert guard.notes == ["step 5: bad_init at W1 (step 5): set_init(init='he_normal') needs a "
                           "restart: it cannot be applied mid-run"]


def test_a_healthy_noisy_run_needs_no_action():
    run, guard = MLPRun(lr=0.1, seed=3), Guard()
    initial = run.full_loss()
    log = train(run, guard, 800, batch=4, val_every=100)
    losses = [loss for loss, _, _ in log]
    assert max(losses[400:]) > 3 * np.median(losses[400:])  # the minibatch loss does jump
    assert guard.actions == [] and guard.summary() == "guard: no action needed"
    assert run.full_loss() < 0.5 * initial


def test_format_actions_prints_one_line_per_action():
    actions = [{"step": 2, "action": "rollback", "reason": "loss is nan"}]
    assert format_actions(actions) == "step      2  rollback        loss is nan"


def test_apply_remedy_edits_a_config_for_a_restart():
    config = {"lr": 0.5, "init": "uniform(-0.5, 0.5)"}
    editor = ConfigEditor(config)
    outcome = apply_remedy({"action": "set_init", "init": "he_normal", "where": "dense1"},
                           editor)
    assert outcome.applied and outcome.message == "set_init(init='he_normal') (ignored where)"
    apply_remedy({"action": "set_lr", "factor": 0.1}, editor)
    apply_remedy({"action": "normalize_inputs", "mode": "unit"}, editor)
    assert config == {"lr": pytest.approx(0.05), "init": "he_normal", "normalize": "unit"}
    assert editor.edits[0] == "init: 'uniform(-0.5, 0.5)' → 'he_normal'"


def test_apply_remedy_says_what_a_target_cannot_do():
    class LrOnly:
        lr = 0.1

        def set_lr(self, lr):
            self.lr = lr

    target = LrOnly()
    assert apply_remedy({"action": "set_lr", "lr": 0.01}, target).applied and target.lr == 0.01
    clip = apply_remedy({"action": "clip_grad_norm", "max_norm": 1.0}, target)
    assert clip.status == "unsupported"
    assert clip.message == "clip_grad_norm(max_norm=1): LrOnly has no clip_grad_norm() to apply it"
    dtype = apply_remedy({"action": "set_dtype", "dtype": "float64"}, target)
    assert dtype.status == "needs_restart" and "needs a restart" in dtype.message
    with pytest.raises(ValueError, match="unknown remedy action 'reboot'"):
        apply_remedy({"action": "reboot"}, target)
