"""The training loop: minibatches, schedule, clipping, evaluation, early stopping, hooks.

One seed feeds everything through independent ``numpy.random.Generator`` streams (weights,
validation split, shuffling, augmentation), so a run is reproducible bit for bit and a resumed run
continues exactly where the uninterrupted one would be.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from netmedic.data import Dataset
from netmedic.nn import Penalty, Schedule, build_model, get_loss, make_optimizer, parse_model_spec
from netmedic.nn.clip import clip_grad_norm, clip_grad_value
from netmedic.train.augment import random_shifts
from netmedic.train.config import TrainConfig
from netmedic.train.hooks import HOOK_METHODS, StepState
from netmedic.train.inputs import prepare

EVAL_BATCH = 1000


class StopTraining(Exception):
    """Raised inside the loop to end training early; ``reason`` goes to the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Streams:
    """Independent random streams derived from one seed."""

    init: np.random.Generator
    split: np.random.Generator
    shuffle: np.random.Generator
    augment: np.random.Generator

    @classmethod
    def from_seed(cls, seed: int) -> Streams:
        return cls(*(np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)))


class Trainer:
    """Train ``config.model`` on ``dataset``; see :meth:`fit`.

    Attributes after :meth:`fit`: ``history`` (one dict per epoch), ``test_accuracy``,
    ``val_accuracy``, ``samples_per_s``, ``early_stopped``, ``stop_reason`` (why training was
    cut short by a problem; ``None`` when it was not).
    """

    def __init__(self, config: TrainConfig, dataset: Dataset, hooks: list[Any] = ()) -> None:
        self.config = config
        self.dataset = dataset
        self.dtype = np.dtype(config.dtype)
        spec = parse_model_spec(config.model)
        self.streams = Streams.from_seed(config.seed)
        self.model = build_model(spec, init=config.init).init(self.streams.init, self.dtype)
        self.loss_fn = get_loss(config.loss or spec.loss)
        self.arrays = prepare(dataset, self.model.input_shape, val_fraction=config.val_fraction,
                              normalize=config.normalize, dtype=self.dtype,
                              augment=config.augment, rng=self.streams.split)
        self.params = self.model.parameters()
        self.grads = self.model.gradients()
        # one vector for all parameters: the optimizer runs a few large operations per step
        self.optimizer = make_optimizer(config.optimizer, {"all": self.model.flat_params},
                                        {"all": self.model.flat_grads}, config.lr,
                                        config.weight_decay)
        n = len(self.arrays.y_train)
        self.steps_per_epoch = -(-n // config.batch_size)
        self.schedule = Schedule(
            config.schedule, config.lr, total_steps=config.epochs * self.steps_per_epoch,
            step_size=max(self.steps_per_epoch * max(config.epochs // 3, 1), 1),
            warmup_steps=int(config.warmup_epochs * self.steps_per_epoch),
        )
        self.penalty = Penalty(config.l1, config.l2)
        self.clip_norm = config.clip_norm
        self.hooks = list(hooks)
        # run state (all of it goes into the checkpoint)
        self.epoch = 0  # completed epochs
        self.step = 0  # attempted optimizer steps, never rewound
        self.lr_scale = 1.0  # the guard's LR changes, on top of the schedule
        self.history: list[dict[str, Any]] = []
        self.best_val_loss = float("inf")
        self.best_params: dict[str, np.ndarray] | None = None
        self.stale_epochs = 0
        self.early_stopped = False
        self.train_seconds = 0.0
        self.train_samples = 0
        self.stop_reason: str | None = None
        self.test_accuracy: float | None = None
        self.val_accuracy: float | None = None

    # ----------------------------------------------------------------- the controls the guard uses
    @property
    def lr(self) -> float:
        return self.schedule(self.step) * self.lr_scale

    @lr.setter
    def lr(self, value: float) -> None:
        self.lr_scale = value / self.schedule(self.step)

    def set_clip_norm(self, max_norm: float | None) -> None:
        self.clip_norm = max_norm

    def snapshot(self) -> dict[str, np.ndarray]:
        """A copy of parameters and optimizer state (in memory)."""
        state = {f"params/{k}": v.copy() for k, v in self.model.state().items()}
        state.update({f"opt/{k}": np.copy(v) for k, v in self.optimizer.state_dict().items()})
        return state

    def restore(self, snapshot: dict[str, np.ndarray]) -> None:
        self.model.load_state({k[7:]: v for k, v in snapshot.items() if k[:7] == "params/"})
        self.optimizer.load_state_dict({k[4:]: v for k, v in snapshot.items() if k[:4] == "opt/"})

    # --------------------------------------------------------------------------------- training
    def fit(self, progress: Any = None) -> Trainer:
        """Train until ``config.epochs`` are done, early stopping fires, or a hook stops it.

        ``progress``: an object with ``start(trainer)``, ``advance(trainer, state)``,
        ``epoch_end(trainer, record)``, ``stop()`` (see :mod:`netmedic.train.progress`), or None.
        """
        self.start()
        try:
            if progress:
                progress.start(self)
            while self.epoch < self.config.epochs and not self.early_stopped:
                self.train_epoch(progress)
        except StopTraining as stop:
            self.stop_reason = stop.reason
        finally:
            if progress:
                progress.stop()
        self._finish()
        self._call("on_train_end")
        return self

    def start(self) -> None:
        """Tell the hooks training starts (:meth:`fit` does; call it before :meth:`train_epoch`)."""
        self._call("on_train_start")

    def train_epoch(self, progress: Any = None) -> dict[str, Any]:
        """One epoch of steps, its validation, early-stopping bookkeeping and epoch hooks."""
        record = self._run_epoch(progress)
        self.early_stopped = self._early_stop(record)
        self._call("on_epoch_end", record)
        if progress:
            progress.epoch_end(self, record)
        return record

    def _run_epoch(self, progress: Any) -> dict[str, Any]:
        cfg, arrays = self.config, self.arrays
        order = self.streams.shuffle.permutation(len(arrays.y_train))
        x_epoch = arrays.x_train
        if arrays.raw_train is not None:
            shifted = random_shifts(arrays.raw_train, cfg.augment, self.streams.augment)
            x_epoch = arrays.normalizer.apply(shifted, self.dtype).reshape(arrays.x_train.shape)
        losses, correct, seen = [], 0, 0
        batches: dict[int, np.ndarray] = {}
        started = time.perf_counter()
        try:
            for start in range(0, len(order), cfg.batch_size):
                idx = order[start : start + cfg.batch_size]
                buf = batches.get(len(idx))
                if buf is None:
                    buf = batches[len(idx)] = np.empty((len(idx), *x_epoch.shape[1:]), self.dtype)
                # mode="clip": the indices are a permutation, always valid; the default
                # "raise" would gather into a temporary first and copy it into `buf`
                x = np.take(x_epoch, idx, axis=0, out=buf, mode="clip")
                y = arrays.y_train[idx]
                state, hits = self._step(x, y)
                losses.append(state.loss)
                correct += hits
                seen += len(idx)
                if progress:
                    progress.advance(self, state)
        finally:  # a stopped epoch's steps count in samples/s too
            seconds = time.perf_counter() - started
            self.train_seconds += seconds
            self.train_samples += seen
        self.epoch += 1
        return self._evaluate_epoch(losses, correct / seen, seen / seconds)

    def _step(self, x: np.ndarray, y: np.ndarray) -> tuple[StepState, int]:
        lr = self.lr
        with np.errstate(all="ignore"):  # overflow is the doctor's finding, not a warning
            out = self.model.forward(x, training=True)
            loss = self.loss_fn.forward(out, y)
            hits = int(np.count_nonzero(out.argmax(axis=1) == y)) if out.ndim == 2 else 0
            self.model.backward(self.loss_fn.backward())
            if self.penalty:
                loss += self.penalty.apply(self.params, self.grads)
        flat = self.model.flat_grads
        state = StepState(self.step, self.epoch, loss, lr, x, y, self.grads, flat)
        apply = all([self._call_one(h, "before_update", state) for h in self.hooks])
        if apply and not self.config.guard and not state.finite:
            self.step += 1
            raise StopTraining(f"non-finite loss or gradients at step {state.step}")
        state.applied = apply
        if apply:
            with np.errstate(all="ignore"):
                if self.config.clip_value:
                    clip_grad_value([flat], self.config.clip_value)
                if self.clip_norm:
                    state._grad_norm = norm = clip_grad_norm([flat], self.clip_norm)
                    if np.isfinite(norm) and self.clip_norm / (norm + 1e-6) < 1.0:
                        state.clip_scale = self.clip_norm / (norm + 1e-6)
                self.optimizer.lr = lr
                self.optimizer.step()
        self._call("after_update", state)
        self.step += 1
        return state, hits

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        """Mean loss and accuracy of the current parameters on ``(x, y)``, in eval mode."""
        total, correct = 0.0, 0
        with np.errstate(all="ignore"):
            for start in range(0, len(y), EVAL_BATCH):
                xb, yb = x[start : start + EVAL_BATCH], y[start : start + EVAL_BATCH]
                out = self.model.forward(xb, training=False)
                total += self.loss_fn.forward(out, yb) * len(yb)
                correct += int(np.count_nonzero(out.argmax(axis=1) == yb))
        return total / len(y), correct / len(y)

    def _evaluate_epoch(self, losses: list[float], train_acc: float, speed: float) -> dict:
        val_loss, val_acc = self.evaluate(self.arrays.x_val, self.arrays.y_val)
        record = {
            "epoch": self.epoch, "step": self.step, "train_loss": float(np.mean(losses)),
            "train_accuracy": train_acc, "val_loss": val_loss, "val_accuracy": val_acc,
            "lr": self.lr, "samples_per_s": speed,
        }
        self.history.append(record)
        return record

    def _early_stop(self, record: dict[str, Any]) -> bool:
        if np.isfinite(record["val_loss"]) and record["val_loss"] < self.best_val_loss:
            self.best_val_loss = record["val_loss"]
            self.best_params = {k: v.copy() for k, v in self.model.state().items()}
            self.stale_epochs = 0
            return False
        self.stale_epochs += 1
        return bool(self.config.patience) and self.stale_epochs >= self.config.patience

    def _finish(self) -> None:
        """Report on the best validated parameters (or the last healthy ones after a stop)."""
        if self.best_params is not None:
            self.model.load_state(self.best_params)
            _, self.val_accuracy = self.evaluate(self.arrays.x_val, self.arrays.y_val)
            _, self.test_accuracy = self.evaluate(self.arrays.x_test, self.arrays.y_test)

    @property
    def samples_per_s(self) -> float:
        return self.train_samples / self.train_seconds if self.train_seconds else 0.0

    # ------------------------------------------------------------------------------------ hooks
    def _call(self, method: str, *args: Any) -> None:
        for hook in self.hooks:
            self._call_one(hook, method, *args)

    def _call_one(self, hook: Any, method: str, *args: Any) -> Any:
        assert method in HOOK_METHODS, method
        fn = getattr(hook, method, None)
        result = fn(self, *args) if fn is not None else None
        return True if result is None else result
