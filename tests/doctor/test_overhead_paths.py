"""The doctor's cheap paths (bench/doctor_overhead.py measures them; nothing here is timed):
the caller's own global gradient norm on light steps, the optimizer's last step as Δw, and the
engine probe wiring both. Each must tell the same story as the full path."""

from __future__ import annotations

import gc
import json
import math
import subprocess
import sys

import numpy as np
import pytest
from _loops import run

from netmedic import nn
from netmedic.data import load
from netmedic.doctor import Doctor, diagnose_trace
from netmedic.train import TrainConfig, Trainer
from netmedic.train.probe import DoctorHook
from tests._tiny import write_tiny_npz


class NormGivingDoctor(Doctor):
    """A loop that computes the global gradient norm anyway (for clipping) and passes it."""

    def observe(self, step, loss, lr=None, params=None, grads=None, **kwargs):
        with np.errstate(all="ignore"):
            squares = [float(np.dot(g.ravel(), g.ravel())) for g in (grads or {}).values()]
        return super().observe(step, loss, lr, params, grads, grad_norm=math.sqrt(sum(squares)),
                               **kwargs)


def _story(doctor: Doctor) -> list[tuple]:
    return [(f.kind, f.where, f.step, f.severity, f.evidence, f.fix, f.remedy)
            for f in doctor.findings]


@pytest.mark.parametrize("settings", [
    dict(sizes=(784, 128, 64, 10), lr=5.0, steps=120),  # blow-up: dead ReLUs, LR, exploding
    dict(lr=200.0, steps=40),  # goes non-finite
    dict(sign_bug="all", lr=0.01, steps=60),  # wrong_gradient from ⟨g, Δw⟩
    dict(bias=-10.0, steps=150, pass_acts=False),  # dead ReLUs from zero gradients
], ids=["lr 5", "nonfinite", "sign bug", "dead, no activations"])
def test_a_given_grad_norm_tells_the_same_story_as_measuring_every_gradient(settings):
    measured = run(**settings).doctor
    given = run(**settings, doctor=NormGivingDoctor()).doctor
    assert measured.findings, "the scenario must find something"
    assert _story(given) == _story(measured)


@pytest.mark.parametrize("suffix", ["run.jsonl", "arrays"])
def test_a_trace_of_light_steps_replays_to_the_same_records_and_findings(tmp_path, suffix):
    path = tmp_path / suffix
    live = run(sizes=(784, 64, 32, 10), lr=5.0, steps=40,
               doctor=NormGivingDoctor(trace=str(path))).doctor
    replay = diagnose_trace(path)
    assert live.findings and _story(replay) == _story(live)
    if suffix == "run.jsonl":  # statistics: every record round-trips, light ones included
        assert replay.history.records == live.history.records
        assert any(r.grad_norm is not None for r in replay.history.records)


def test_light_steps_keep_only_the_loss_and_the_given_norm():
    doctor = Doctor(stride=5)
    w = {"W": np.ones((4, 4))}
    for step in range(12):
        doctor.observe(step=step, loss=1.0, lr=0.1, params=w, grads=w, grad_norm=4.0)
    light = [r for r in doctor.history.records if r.step in (6, 7, 8, 9, 11)]
    assert all(r.tensors == {} and r.grad_norm == 4.0 for r in light)
    assert [r.step for r in doctor.history.full] == [0, 1, 2, 3, 4, 5, 10]
    assert doctor.history.full[-1].get("grad", "W")["norm"] == pytest.approx(4.0)
    assert all(r.global_grad_norm() == pytest.approx(4.0) for r in doctor.history.records)
    steps, norms = doctor.history.series("grad/W")  # per tensor: on full steps only
    assert list(steps) == [0, 1, 2, 3, 4, 5, 10]


def test_a_nonfinite_grad_norm_makes_the_step_a_full_one_that_names_the_gradient():
    doctor = Doctor(stride=10)
    w = np.ones((3, 3))
    for step in range(15):
        g = np.full((3, 3), np.nan) if step == 13 else np.ones((3, 3))
        norm = math.nan if step == 13 else 3.0
        assert doctor.wants_full(1.0, norm) == (step <= 10 or step == 13)
        doctor.observe(step=step, loss=1.0, params={"W": w}, grads={"W": g}, grad_norm=norm)
    assert 13 in [r.step for r in doctor.history.full]
    nonfinite = next(f for f in doctor.findings if f.kind == "nonfinite")
    assert (nonfinite.step, nonfinite.where) == (13, "W")
    assert "9 NaN of 9" in nonfinite.evidence


def test_wants_full_says_what_observe_will_do():
    doctor = Doctor(stride=4)
    values = [(1.0, 2.0), (np.float32(2.0), 1.0), (math.inf, 1.0), (1.0, math.inf),
              (np.array([1.0, np.nan]), 1.0), (None, 1.0)] * 4
    g = {"W": np.ones(2)}
    for step, (loss, norm) in enumerate(values):
        predicted = doctor.wants_full(loss, norm)
        assert doctor.wants_full() == (step < 4 or step % 4 == 0)
        doctor.observe(step=step, loss=loss, params=g, grads=g, grad_norm=norm)
        assert predicted == (doctor.history.full[-1].step == step), step


def test_observe_light_records_the_cheap_steps_and_declines_the_others():
    doctor = Doctor(stride=4)
    w, g = {"W": np.ones(2)}, {"W": np.full(2, 0.5)}
    for step in range(4):  # full: the first `stride` observations
        assert doctor.observe_light(step, 1.0, 0.1, 0.7) is None
        doctor.observe(step=step, loss=1.0, lr=0.1, params=w, grads=g)
    assert doctor.observe_light(4, 1.0, 0.1, 0.7) is None  # on the stride
    doctor.observe(step=4, loss=1.0, lr=0.1, params=w, grads=g, grad_norm=0.7)
    assert doctor.observe_light(5, 1.0, 0.1, None) is None  # no norm of its own
    assert doctor.observe_light(5, math.nan, 0.1, 0.7) is None  # not finite
    assert doctor.observe_light(5, 1.0, 0.1, 0.7 * 20) is None  # a jump
    assert doctor.observe_light(5, 0.9, 0.1, 0.7) == []
    record = doctor.history.recent[-1]
    assert (record.step, record.loss, record.grad_norm, record.tensors) == (5, 0.9, 0.7, {})
    assert doctor.history.full[-1].step == 4 and len(doctor.history) == 6
    assert doctor.observe_light(6, 0.9, 0.1, 0.7) == []
    # the step before a full one, from a caller that passes no `updates`: its arrays are needed
    assert doctor.observe_light(7, 0.9, 0.1, 0.7) is None
    assert len(doctor.history) == 7


# ------------------------------------------------------------------ Δw from the optimizer
OPTIMIZERS = {
    "sgd": lambda p, g: nn.SGD(p, g, lr=0.1),
    "sgd, weight decay": lambda p, g: nn.SGD(p, g, lr=0.1, weight_decay=0.05),
    "momentum": lambda p, g: nn.make_optimizer("momentum", p, g, lr=0.05),
    "nesterov": lambda p, g: nn.make_optimizer("nesterov", p, g, lr=0.05, weight_decay=0.01),
    "adam": lambda p, g: nn.Adam(p, g, lr=0.01),
    "adamw": lambda p, g: nn.AdamW(p, g, lr=0.01, weight_decay=0.1),
    "rmsprop": lambda p, g: nn.RMSprop(p, g, lr=0.01),
}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_the_optimizers_last_update_is_the_change_of_the_weights(name):
    rng = np.random.default_rng(0)
    params = {"w": rng.normal(size=(5, 4)), "b": rng.normal(size=4)}
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    opt = OPTIMIZERS[name](params, grads)
    assert opt.last_update("w") is None  # no step taken yet
    for _ in range(5):
        for g in grads.values():
            g[...] = rng.normal(size=g.shape)
        before = {k: v.copy() for k, v in params.items()}
        opt.step()
        for k in params:
            step = opt.last_update(k)
            np.testing.assert_allclose(step, params[k] - before[k], rtol=1e-12, atol=1e-15,
                                       err_msg=f"{name} {k}: last_update vs w_t - w_(t-1)")
            assert not step.flags.writeable
    opt.load_state_dict(opt.state_dict())  # a restored state was not reached by that step
    assert opt.last_update("w") is None


def _tiny_trainer(tmp_path, hooks, **overrides) -> Trainer:
    path = write_tiny_npz(tmp_path / "tiny.npz")
    values = dict(data=str(path), model="mlp:64-32-10:relu", epochs=2, batch_size=32,
                  augment=0, lr=0.05, optimizer="momentum", schedule="constant", guard=False)
    values.update(overrides)
    trainer = Trainer(TrainConfig(**values), load(str(path), progress=False), hooks=hooks)
    trainer.start()
    return trainer


class _Weights:
    """Copies of the weights and gradients the doctor saw, step by step."""

    def __init__(self) -> None:
        self.params: list[dict[str, np.ndarray]] = []
        self.grads: list[dict[str, np.ndarray]] = []

    def before_update(self, trainer, state) -> bool:
        self.params.append({k: v.copy() for k, v in trainer.params.items()})
        self.grads.append({k: v.copy() for k, v in trainer.grads.items()})
        return True


@pytest.mark.parametrize(("clip_norm", "optimizer"),
                         [(None, "momentum"), (0.05, "momentum"), (None, "adamw")])
def test_the_engine_probe_hands_over_the_optimizers_step_as_delta_w(tmp_path, clip_norm,
                                                                    optimizer):
    """Δw from the optimizer, ⟨g_{t−1}, Δw⟩ computed by the probe right after the update
    (with the gradient as computed, before clipping scaled it), no copies by the doctor; the
    probe slices the optimizer's buffers once and reads them afresh every step (AdamW's decay:
    a buffer of its own, recomputed on each call)."""
    seen = _Weights()
    doctor = Doctor(stride=3)
    decay = {"weight_decay": 0.1} if optimizer == "adamw" else {}
    trainer = _tiny_trainer(tmp_path, [seen, DoctorHook(doctor)], clip_norm=clip_norm,
                            optimizer=optimizer, **decay)
    x, y = trainer.arrays.x_train[:32], trainer.arrays.y_train[:32]
    for _ in range(12):
        trainer._step(x, y)
    measured = [r for r in doctor.history.full if r.get("update", "dense1.weight")]
    assert [r.step for r in measured] == [1, 2, 3, 6, 9]  # every full step after the first
    for record in measured:
        t = record.step
        for name in ("dense1.weight", "dense2.bias"):
            delta = (seen.params[t][name] - seen.params[t - 1][name]).astype(np.float64)
            entry = record.get("update", name)
            assert entry["norm"] == pytest.approx(np.linalg.norm(delta), rel=1e-4)
            assert entry["dot_grad"] == pytest.approx(
                float(np.sum(seen.grads[t][name] * delta)), rel=1e-3, abs=1e-12)
            assert entry["dot_prev_grad"] == pytest.approx(
                float(np.sum(seen.grads[t - 1][name] * delta)), rel=1e-3, abs=1e-12)
    light = [r for r in doctor.history.records if r not in doctor.history.full]
    assert light and all(r.tensors == {} and r.grad_norm > 0 for r in light)
    if clip_norm:
        assert all(r.grad_norm > clip_norm for r in light)  # every step was clipped


def test_after_a_skipped_step_delta_w_is_zero_and_after_a_rollback_there_is_none(tmp_path):
    class SkipAt:
        def before_update(self, trainer, state) -> bool:
            return state.step != 4

    doctor = Doctor(stride=5)
    trainer = _tiny_trainer(tmp_path, [DoctorHook(doctor), SkipAt()])
    x, y = trainer.arrays.x_train[:32], trainer.arrays.y_train[:32]
    for _ in range(6):
        trainer._step(x, y)
    assert doctor.history.full[-1].step == 5
    assert doctor.history.full[-1].get("update", "dense1.weight")["norm"] == 0.0
    trainer.restore(trainer.snapshot())  # what the guard's rollback does
    for _ in range(5):
        trainer._step(x, y)
    assert doctor.history.full[-1].step == 10
    assert doctor.history.full[-1].get("update", "dense1.weight") is not None
    snapshot = trainer.snapshot()
    for _ in range(4):
        trainer._step(x, y)
    trainer.restore(snapshot)
    trainer._step(x, y)  # step 15: full, right after the rollback
    assert doctor.history.full[-1].step == 15
    assert doctor.history.full[-1].role("update") == []


def test_the_probes_gradient_dot_is_for_the_next_step_only(tmp_path):
    """⟨g_{t−1}, Δw_t⟩ is computed right after step t−1; a probe that did not watch the steps
    in between (detached, as bench/doctor_overhead.py does) must not hand it to a later step."""
    hook = DoctorHook(Doctor(stride=1))
    trainer = _tiny_trainer(tmp_path, [hook])
    x, y = trainer.arrays.x_train[:32], trainer.arrays.y_train[:32]
    for _ in range(3):
        trainer._step(x, y)
    trainer.hooks = []
    trainer._step(x, y)  # a step the doctor does not see
    trainer.hooks = [hook]
    for _ in range(2):
        trainer._step(x, y)
    steps = {r.step: r.get("update", "dense1.weight") for r in hook.doctor.history.full}
    assert sorted(steps) == [0, 1, 2, 4, 5]
    assert "dot_prev_grad" in steps[2] and "dot_prev_grad" in steps[5]
    assert "dot_prev_grad" not in steps[4] and "dot_grad" in steps[4]


def test_the_engine_probe_finds_what_a_probe_measuring_everything_finds(tmp_path):
    """A blow-up on the engine, watched through the cheap path and through the plain one
    (every gradient measured, Δw from the doctor's own copies of the weights)."""

    class PlainHook(DoctorHook):
        def before_update(self, trainer, state):
            self.new_findings = self.doctor.observe(
                step=state.step, loss=state.loss, lr=state.lr, params=trainer.params,
                grads=trainer.grads, inputs=state.x, labels=state.y,
                activations={layer.name: layer.output for layer in self._activations},
                preactivations={layer.name: layer.output for layer in self._preactivations},
                activation_kinds=self._kinds)
            return True

    stories = []
    for hook in (DoctorHook(Doctor(num_classes=10)), PlainHook(Doctor(num_classes=10))):
        trainer = _tiny_trainer(tmp_path, [hook], lr=3.0, guard=True)  # never stops
        with np.errstate(all="ignore"):
            for start in range(0, 600, 32):
                trainer._step(trainer.arrays.x_train[start:start + 32],
                              trainer.arrays.y_train[start:start + 32])
        stories.append([(f.kind, f.where, f.step) for f in hook.findings()])
    assert stories[0], "lr 3 must be diagnosed"
    assert stories[0] == stories[1]


def test_judging_in_batches_finds_the_same_findings_at_the_same_steps(tmp_path):
    stories = []
    for judge_every in (1, 50):
        hook = DoctorHook(Doctor(num_classes=10, stride=2, judge_every=judge_every))
        trainer = _tiny_trainer(tmp_path, [hook], lr=3.0, guard=True)  # never stops
        with np.errstate(all="ignore"):
            for start in range(0, 600, 32):
                trainer._step(trainer.arrays.x_train[start:start + 32],
                              trainer.arrays.y_train[start:start + 32])
        stories.append([(f.kind, f.where, f.step, f.evidence) for f in hook.findings()])
    assert stories[0], "lr 3 must be diagnosed"
    assert stories[0] == stories[1]


def test_a_nonfinite_step_is_judged_at_once_whatever_the_cadence():
    doctor = Doctor(judge_every=100)
    w, g = np.ones(4), np.full(4, 0.1)
    for step in range(30):
        assert doctor.observe(step=step, loss=1.0, lr=0.1, params={"w": w},
                              grads={"w": g}) == [] or step < 10
    g = np.array([0.1, np.nan, 0.1, 0.1])
    new = doctor.observe(step=30, loss=1.0, lr=0.1, params={"w": w}, grads={"w": g})
    assert [(f.kind, f.where, f.step) for f in new] == [("nonfinite", "w", 30)]


def test_a_jump_between_full_steps_gets_a_full_look_judged_at_once():
    doctor = Doctor(stride=25, judge_every=50)
    w, g = {"w": np.ones((4, 4))}, {"w": np.full((4, 4), 0.1)}
    for step in range(30):
        doctor.observe(step=step, loss=1.0, lr=0.1, params=w, grads=g, grad_norm=0.4)
    assert not doctor.wants_full(1.0, 0.4 * 5)  # minibatch noise: no closer look
    assert doctor.wants_full(1.0, 0.4 * 20) and doctor.wants_full(20.0, 0.4)
    new = doctor.observe(step=30, loss=1.0, lr=0.1, params=w,
                         grads={"w": np.full((4, 4), 200.0)}, grad_norm=800.0)
    assert doctor.history.full[-1].step == 30
    assert doctor.history.full[-1].get("grad", "w")["norm"] == pytest.approx(800.0)
    assert [(f.kind, f.step) for f in new] == [("exploding_gradients", 30)]


def _cadence_records():
    """The loss falls, then jumps back up at step 100 while the steps stay large: lr_too_high
    only once the divergence it quotes as harm has happened."""
    from netmedic.doctor.history import Record

    rng = np.random.default_rng(1)
    for step in range(160):
        loss = max(2.3 * 0.7 ** step, 0.5) if step < 100 else 2.0
        loss *= 1 + 0.01 * rng.standard_normal()
        yield Record(0, step, loss, 0.1, 32, {
            "param/W1": {"norm": 10.0, "shape": [10, 10], "size": 100},
            "param/W2": {"norm": 10.0, "shape": [10, 10], "size": 100},
            "grad/W1": {"norm": 1.0}, "grad/W2": {"norm": 1.0},
            "update/W1": {"norm": 2.0}, "update/W2": {"norm": 2.0}})


def test_a_batch_is_judged_step_by_step_as_the_run_was_then():
    """A rule must not see what another rule found at a later step of the same batch."""
    stories = []
    for judge_every in (1, 50):
        doctor = Doctor(stride=1, judge_every=judge_every, num_classes=10)
        for record in _cadence_records():
            doctor.observe_record(record, rich=True)
        doctor.finish()
        stories.append(sorted((f.step, f.kind, f.where, f.evidence) for f in doctor.findings))
    assert ("lr_too_high" in {kind for _, kind, _, _ in stories[0]}) and stories[0] == stories[1]
    high = next(step for step, kind, _, _ in stories[1] if kind == "lr_too_high")
    diverging = next(step for step, kind, _, _ in stories[1] if kind == "diverging_loss")
    assert high >= 100 and diverging >= 100


@pytest.mark.parametrize("settings", [
    dict(lr=0.1, steps=300),  # healthy: no finding, every batch stands after one pass
    dict(sizes=(784, 128, 64, 10), lr=5.0, steps=120),  # blow-up: LR, dead ReLUs, divergence
    dict(sign_bug="all", lr=0.01, steps=60),  # wrong_gradient
    dict(bias=-10.0, steps=150),  # dead from the start
    dict(lr=200.0, steps=40),  # non-finite
], ids=["healthy", "lr 5", "sign bug", "dead bias", "nonfinite"])
def test_judging_a_batch_in_one_pass_finds_what_judging_each_step_finds(settings):
    stories = [_story(run(**settings, doctor=Doctor(stride=1, judge_every=every,
                                                    num_classes=10)).doctor)
               for every in (1, 50)]
    assert stories[0] == stories[1]
    assert bool(stories[0]) == (settings != dict(lr=0.1, steps=300))


def test_a_quiet_batch_is_judged_by_one_pass_of_the_rules(monkeypatch):
    import netmedic.doctor.doctor as doctor_module

    calls = []
    first = doctor_module.RULES[0]

    def counted(ctx):
        calls.append(ctx.upto_n)
        return first(ctx)

    monkeypatch.setattr(doctor_module, "RULES", (counted, *doctor_module.RULES[1:]))
    doctor = run(lr=0.1, steps=300, doctor=Doctor(stride=1, judge_every=50, num_classes=10)).doctor
    doctor.finish()
    assert doctor.findings == [] and doctor.internal_errors == []
    # the first 10 steps one by one, then each batch once, up to the first step of the next
    # block of 50 (10–50, 51–100, …), and the last steps at the end
    assert calls == [*range(10), *range(50, 300, 50), 299]


def _changing_shape(case: str):
    """Records whose tensors change in the middle of a batch: the rules read the network's
    shape (the classes, the output layer) from the step they judge."""
    from netmedic.doctor.history import Record

    rng = np.random.default_rng(0)
    for step in range(170 if case == "logits once" else 80):
        tensors = {"grad/W1": {"norm": 1.0}, "grad/W2": {"norm": 1.0}}
        loss = 2.3 * 0.99 ** step
        if case == "labels, then logits once":  # labels up to 7 for a 5-way output, at step 20
            if step >= 10:
                tensors["label/y"] = {"rows": 32, "width": 1, "min": 0.0, "max": 7.0}
            if step == 20:
                tensors["preact/logits"] = {"norm": 5.0, "size": 160, "width": 5}
        elif case == "logits once":  # stalled at chance level, which only step 120 tells
            loss = 10.0 if step < 5 else 2.3 * (1 + 0.01 * rng.standard_normal())
            if step == 120:
                tensors["preact/logits"] = {"norm": 5.0, "size": 320, "width": 10}
        elif step >= 10:  # a saturated hidden sigmoid; the last step of the batch lacks h2
            tensors["act/h1"] = {"kind": "sigmoid", "sat_frac": 0.9, "width": 32, "norm": 1.0,
                                 "size": 1024}
            if step != 50:
                tensors["act/h2"] = {"kind": "sigmoid", "sat_frac": 0.0, "width": 64,
                                     "norm": 1.0, "size": 2048}
        yield Record(0, step, loss, 0.1, 32, tensors)


@pytest.mark.parametrize("case, expected", [
    ("labels, then logits once", (20, "label_error")),
    ("logits once", (120, "stalled_loss")),
    ("output layer missing once", (11, "saturated_activation")),
])
def test_a_batch_whose_steps_show_the_network_differently_is_judged_step_by_step(case,
                                                                                  expected):
    stories = []
    for judge_every in (1, 50):
        doctor = Doctor(stride=1, judge_every=judge_every,
                        num_classes=32 if case == "output layer missing once" else None)
        for record in _changing_shape(case):
            doctor.observe_record(record, rich=True)
        doctor.finish()
        stories.append(sorted((f.step, f.kind, f.where, f.evidence) for f in doctor.findings))
    assert [story[:2] for story in stories[0]] == [expected]
    assert stories[1] == stories[0]


def test_judge_every_must_leave_the_rules_their_history():
    with pytest.raises(ValueError, match="judge_every=16 with stride=1 would let steps leave"):
        Doctor(stride=1, judge_every=16, history=64)
    Doctor(stride=50, judge_every=50)  # the engine's: no delay beyond the stride
    Doctor(stride=1, judge_every=50)  # 50 + 100 <= 512
    Doctor(stride=10, history=16)  # the default cadence judges each full step on arrival


def test_a_nonfinite_grad_norm_line_does_not_hide_the_nan_after_it(tmp_path):
    path = tmp_path / "t.jsonl"
    lines = [{"netmedic_trace": 1, "stride": 10},
             {"step": 0, "loss": 2.3, "tensors": {"grad/W": {"norm": 1.0}}},
             {"step": 1, "loss": 2.2, "tensors": {"grad/W": {"norm": 1.0}}},
             {"step": 2, "loss": 2.1, "grad_norm": "inf", "tensors": {}},
             {"step": 3, "loss": 2.0, "tensors": {"grad/W": {"norm": "nan", "nan": 4,
                                                             "size": 100}}}]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    found = [(f.kind, f.where, f.step) for f in diagnose_trace(path).findings]
    assert ("nonfinite", "W", 3) in found


def test_a_replayed_record_may_number_its_step_with_any_integral_number():
    from netmedic.doctor.history import Record

    doctor = Doctor(stride=1)
    for step in (np.float64(0.0), 1.0, np.int32(2)):
        doctor.observe_record(Record(0, step, 1.0, 0.1, None, {"grad/W": {"norm": 1.0}}))
    _, steps, _ = doctor.history.loss_window()
    assert steps.tolist() == [0, 1, 2] and doctor.history.recent[0].step == 0


def test_light_steps_noted_in_passing_stay_bounded_and_in_order():
    doctor = Doctor(stride=1000, history=64)
    w = {"W": np.ones(2)}
    for step in range(1001):  # the first 1000 observations are full, and the 1000th
        doctor.observe(step=step, loss=1.0, lr=0.1, params=w, grads=w, updates=w,
                       prev_grad_dots={"W": 0.0}, grad_norm=1.0)
    for step in range(1001, 1999):
        assert doctor.observe_light(step, 1.0 + step / 1000, 0.1, 0.5) == []
        assert len(doctor.history.pending) <= 256
    assert [r.step for r in doctor.history.recent] == list(range(1999 - 64, 1999))
    assert doctor.history.recent[-1].loss == 1.0 + 1998 / 1000
    assert doctor.observe_light(1999, 1.0, 0.1, 0.5) == []
    assert doctor.observe_light(2000, 1.0, 0.1, 0.5) is None  # on the stride


@pytest.mark.parametrize("what", ["loss", "grad_norm"])
def test_after_a_huge_but_finite_step_an_infinite_one_is_still_nonfinite(what):
    """JUMP × a reference near the largest float is Inf: the cheap path must not take Inf."""
    doctor, w = Doctor(stride=10), {"W": np.ones(3)}
    for step in range(11):
        big = 1e200 if step == 10 else 1.0
        doctor.observe(step=step, loss=big if what == "loss" else 1.0, lr=0.1, params=w,
                       grads={"W": np.full(3, big if what == "grad_norm" else 1.0)})
    loss, norm = (math.inf, 1.0) if what == "loss" else (1.0, math.inf)
    assert doctor.observe_light(11, loss, 0.1, norm) is None
    found = doctor.observe(step=11, loss=loss, lr=0.1, params=w,
                           grads={"W": np.full(3, 1.0 if what == "loss" else np.inf)},
                           grad_norm=norm)
    assert [(f.kind, f.step) for f in found] == [("nonfinite", 11)]


def test_a_held_history_and_a_trace_see_every_step_at_once(tmp_path):
    path = tmp_path / "run.jsonl"
    traced, plain = Doctor(stride=10, trace=str(path)), Doctor(stride=10)
    held = plain.history
    w = {"W": np.ones(3)}
    for step in range(18):
        for doctor in (traced, plain):
            doctor.observe(step=step, loss=1.0, lr=0.1, params=w, grads=w, updates=w,
                           prev_grad_dots={"W": 0.0}, grad_norm=1.0)
        assert held.recent[-1].step == step and len(held) == step + 1
        traced._trace.flush()  # a trace is written as the steps come, light ones included
        assert len(path.read_text().splitlines()) == 1 + step + 1
    assert traced.history.records == plain.history.records


def test_a_light_step_writes_the_trace_line_its_record_would(tmp_path):
    """observe_light writes a JSON-lines trace's line itself: byte for byte the line the
    ordinary path writes from the step's record (NumPy floats, no lr, odd values included)."""
    class Ordinary(Doctor):
        def observe_light(self, *args, **kwargs):
            return None

    texts = []
    for cls in (Doctor, Ordinary):
        path = tmp_path / f"{cls.__name__}.jsonl"
        doctor = cls(stride=5, trace=str(path))
        rng = np.random.default_rng(0)
        w = {"W": np.ones((3, 3))}
        for step in range(60):
            g = {"W": rng.normal(size=(3, 3))}
            loss = [float(rng.lognormal()), np.float64(-0.0), 1e-300, -2.5][step % 4]
            lr = [0.1 * 0.97**step, None, np.float64(1 / 3)][step % 3]
            doctor.observe(step=step, loss=loss, lr=lr, params=w, grads=g, updates=g,
                           prev_grad_dots={"W": -0.1},
                           grad_norm=float(np.linalg.norm(g["W"])))
        doctor.close()
        texts.append(path.read_text())
    light = [line for line in texts[0].splitlines() if '"tensors":{}' in line]
    assert len(light) > 30 and "np.float64" not in texts[0]
    assert texts[0] == texts[1]


_DYING_RUN = """
import sys
import numpy as np
from netmedic.doctor import Doctor
doctor = Doctor(stride=10, trace=sys.argv[1])
w = {"W": np.ones(2)}
for step in range(25):
    doctor.observe(step=step, loss=1.0 / (step + 1), lr=0.1, params=w, grads=w, updates=w,
                   prev_grad_dots={"W": -0.5}, grad_norm=2.0)
raise RuntimeError("the user's loop dies here")
"""


def test_a_trace_keeps_every_line_when_the_run_dies_without_close(tmp_path):
    """Light steps' lines are written in batches; a run that dies (an uncaught exception, no
    close()) or a doctor that is dropped still leaves every line on disk."""
    path = tmp_path / "run.jsonl"
    done = subprocess.run([sys.executable, "-c", _DYING_RUN, str(path)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1 and "the user's loop dies here" in done.stderr
    steps = [json.loads(line)["step"] for line in path.read_text().splitlines()[1:]]
    assert steps == list(range(25))

    dropped = tmp_path / "dropped.jsonl"
    doctor = Doctor(stride=10, trace=str(dropped))
    w = {"W": np.ones(2)}
    for step in range(25):
        doctor.observe(step=step, loss=1.0, lr=0.1, params=w, grads=w, updates=w,
                       prev_grad_dots={"W": -0.5}, grad_norm=2.0)
    del doctor
    gc.collect()
    assert len(dropped.read_text().splitlines()) == 1 + 25


def test_a_trace_takes_no_light_lines_after_close_and_the_values_the_record_holds(tmp_path):
    class Loss(float):  # a float whose value, asked for as a number, is another one
        def __float__(self):
            return 2.0

    path = tmp_path / "run.jsonl"
    doctor = Doctor(stride=5, trace=str(path))
    w = {"W": np.ones(2)}
    for step in range(600):
        if step == 12:
            doctor.close()
        doctor.observe(step=step, loss=Loss(1.0) if step == 7 else 1.0, lr=0.1, params=w,
                       grads=w, updates=w, prev_grad_dots={"W": 0.0}, grad_norm=1.0)
    lines = [json.loads(line) for line in path.read_text().splitlines()[1:]]
    assert [line["step"] for line in lines] == list(range(12))  # closed: nothing more, no error
    assert lines[7] == {"step": 7, "loss": 2.0, "lr": 0.1, "grad_norm": 1.0, "tensors": {}}
    assert doctor.history.first[7].loss == 2.0
