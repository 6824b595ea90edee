"""The trainer: learning, determinism, resume, early stopping, checkpoints and metrics.json."""

import json

import numpy as np
import pytest
from rich.console import Console

from netmedic.train import TrainConfig, Trainer, run_training
from netmedic.train import checkpoint as ckpt

QUIET = Console(quiet=True)


def config(tiny_npz, tmp_path, **overrides):
    values = dict(data=str(tiny_npz), model="mlp:64-32-10:relu", epochs=4, batch_size=32,
                  augment=0, lr=0.01, out=str(tmp_path / "run"))
    values.update(overrides)
    return TrainConfig(**values)


def train(cfg, **kwargs):
    return run_training(cfg, console=QUIET, progress=False, **kwargs)


def test_training_learns_and_writes_metrics(tiny_npz, tmp_path):
    result = train(config(tiny_npz, tmp_path, epochs=6))
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert m["test_accuracy"] > 0.9, m
    assert 0 <= m["val_accuracy"] <= 1 and m["epochs"] == 6 and m["seed"] == 0
    assert len(m["train_loss"]) == 6 and m["train_loss"][-1] < m["train_loss"][0]
    assert m["samples_per_s"] > 0 and m["findings"] == [] and m["guard_actions"] == []
    assert (tmp_path / "run" / "checkpoint.npz").exists()
    assert result.exit_code == 0


def test_same_seed_bit_identical_other_seed_different(tiny_npz, tmp_path):
    a = train(config(tiny_npz, tmp_path, out=str(tmp_path / "a"), augment=1)).trainer.params
    b = train(config(tiny_npz, tmp_path, out=str(tmp_path / "b"), augment=1)).trainer.params
    c = train(config(tiny_npz, tmp_path, out=str(tmp_path / "c"), seed=1)).trainer.params
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["dense1.weight"], c["dense1.weight"])


class _InterruptAfter:
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, trainer, record):
        if record["epoch"] == self.epoch:
            raise KeyboardInterrupt


@pytest.mark.parametrize("optimizer", ["adam", "momentum"])
def test_resumed_run_equals_uninterrupted_run(tiny_npz, tmp_path, optimizer):
    whole = train(config(tiny_npz, tmp_path, out=str(tmp_path / "whole"), patience=0, augment=1,
                         optimizer=optimizer))
    cut = config(tiny_npz, tmp_path, out=str(tmp_path / "cut"), patience=0, augment=1,
                 optimizer=optimizer)
    # user hooks run before the checkpoint writer: interrupted at the end of epoch 3, the run
    # keeps the epoch-2 checkpoint, as after a Ctrl-C in the middle of epoch 3
    with pytest.raises(KeyboardInterrupt):
        run_training(cut, console=QUIET, progress=False, hooks=[_InterruptAfter(3)])
    state, _ = ckpt.read(tmp_path / "cut")
    assert state["epoch"] == 2, "the epoch-3 checkpoint must not have been written"
    resumed = run_training(None, resume=tmp_path / "cut", console=QUIET, progress=False)
    assert resumed.trainer.epoch == 4 and resumed.trainer.step == whole.trainer.step
    for key, value in whole.trainer.params.items():
        assert np.array_equal(value, resumed.trainer.params[key]), key
    assert resumed.metrics["train_loss"] == whole.metrics["train_loss"]


def test_early_stopping_reports_the_best_epoch(tiny_npz, tmp_path):
    # lr so high that validation loss gets worse after the first epochs
    result = train(config(tiny_npz, tmp_path, epochs=30, patience=2, optimizer="sgd", lr=3.0,
                          guard=False, schedule="constant"))
    trainer = result.trainer
    if trainer.stop_reason is None:
        assert trainer.early_stopped and trainer.epoch < 30
        best = min(h["val_loss"] for h in trainer.history)
        assert trainer.best_val_loss == best


def test_non_finite_step_without_guard_stops_with_exit_1_and_keeps_checkpoint(tiny_npz, tmp_path):
    cfg = config(tiny_npz, tmp_path, epochs=5, normalize="none", optimizer="sgd", lr=1e30,
                 schedule="constant", guard=False, init="uniform(0, 1)")
    result = train(cfg)
    assert result.trainer.stop_reason.startswith("non-finite loss or gradients at step")
    assert result.exit_code == 1
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert m["stop_reason"] == result.trainer.stop_reason


def test_float64_run_keeps_float64(tiny_npz, tmp_path):
    result = train(config(tiny_npz, tmp_path, dtype="float64", epochs=1))
    assert all(p.dtype == np.float64 for p in result.trainer.params.values())
    assert result.trainer.arrays.x_train.dtype == np.float64


def test_hooks_see_every_step_before_the_update(tiny_npz, tmp_path):
    seen = []

    class Recorder:
        def before_update(self, trainer, state):
            seen.append((state.step, state.loss, state.grad_norm, state.lr))

    cfg = config(tiny_npz, tmp_path, epochs=1)
    trainer = Trainer(cfg, __import__("netmedic").data.load(str(tiny_npz)), hooks=[Recorder()])
    trainer.fit()
    assert [s[0] for s in seen] == list(range(trainer.steps_per_epoch))
    assert all(np.isfinite(s[1]) and s[2] > 0 for s in seen)


def test_skipped_update_leaves_parameters_alone(tiny_npz, tmp_path):
    class SkipAll:
        def before_update(self, trainer, state):
            return False

    cfg = config(tiny_npz, tmp_path, epochs=1)
    trainer = Trainer(cfg, __import__("netmedic").data.load(str(tiny_npz)), hooks=[SkipAll()])
    before = {k: v.copy() for k, v in trainer.params.items()}
    trainer.fit()
    assert all(np.array_equal(before[k], v) for k, v in trainer.params.items())


def test_resume_without_checkpoint_says_what_to_pass(tmp_path):
    with pytest.raises(ValueError, match="no checkpoint at .*pass the --out folder"):
        run_training(None, resume=tmp_path, console=QUIET, progress=False)


def test_model_size_must_match_data(tiny_npz, tmp_path):
    with pytest.raises(ValueError, match=r"64 values\) but the model expects 784 inputs"):
        train(config(tiny_npz, tmp_path, model="mlp:784-10"))


def test_resume_is_exact_for_batchnorm_and_dropout(tiny_npz, tmp_path):
    model = "cnn:in1x8x8-c4k3p1-bn-relu-pool2-drop0.3-fc10"
    whole = train(config(tiny_npz, tmp_path, out=str(tmp_path / "whole"), model=model,
                         patience=0))
    cut = config(tiny_npz, tmp_path, out=str(tmp_path / "cut"), model=model, patience=0)
    with pytest.raises(KeyboardInterrupt):
        run_training(cut, console=QUIET, progress=False, hooks=[_InterruptAfter(3)])
    resumed = run_training(None, resume=tmp_path / "cut", console=QUIET, progress=False)
    for key, value in whole.trainer.model.state().items():
        assert np.array_equal(value, resumed.trainer.model.state()[key]), key
    assert any(key.endswith("running_mean") for key in whole.trainer.model.state())
