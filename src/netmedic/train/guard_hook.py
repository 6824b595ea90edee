"""Wires :class:`netmedic.doctor.guard.Guard` into the trainer (guard on by default)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.console import Console

from netmedic.doctor.guard import Guard
from netmedic.train.hooks import StepState
from netmedic.train.trainer import StopTraining, Trainer


class TrainerControl:
    """The trainer seen through the guard's ``TrainingControl`` protocol (remedy names)."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer

    @property
    def lr(self) -> float:
        return self.trainer.lr

    def set_lr(self, lr: float) -> None:
        self.trainer.lr = lr

    def clip_grad_norm(self, max_norm: float) -> None:
        self.trainer.set_clip_norm(max_norm)

    def snapshot(self) -> object:
        return self.trainer.snapshot()

    def restore(self, snapshot: object) -> None:
        self.trainer.restore(snapshot)


class GuardHook:
    """Runs after the doctor's hook each step: the guard sees the doctor's new findings."""

    def __init__(self, doctor_hook: Any = None, console: Console | None = None,
                 guard: Guard | None = None) -> None:
        self.doctor_hook = doctor_hook
        self.console = console
        self.guard = guard or Guard(on_action=self._print)
        self._control: TrainerControl | None = None

    def _print(self, action: dict[str, Any]) -> None:
        if self.console is not None:
            self.console.print(f"[yellow]guard[/] step {action['step']}: {action['action']} — "
                               f"{action['reason']}", soft_wrap=True)

    def on_train_start(self, trainer: Trainer) -> None:
        self._control = TrainerControl(trainer)

    def before_update(self, trainer: Trainer, state: StepState) -> bool:
        if self.doctor_hook is not None and self.guard.promotion_due:
            # a snapshot is trusted only after the doctor has judged every step since it was
            # taken: what it finds may show the snapshot is already part of the trouble
            rollbacks = self.guard.rollbacks
            self.doctor_hook.judge()  # what this step's observation judged is in there too
            self._acting(self.guard.after_step, state.step, self._new_findings(), self._control)
            self._stop_if_stopped()
            if self.guard.rollbacks != rollbacks:
                return False  # this step's gradients belong to the parameters rolled back
        return self._acting(self.guard.before_update, state.step, state.loss, state.grad_norm,
                            self._control)

    def after_update(self, trainer: Trainer, state: StepState) -> None:
        self._acting(self.guard.after_step, state.step, self._new_findings(), self._control)
        self._stop_if_stopped()  # the guard may have stopped in before_update, too

    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> None:
        # the doctor's judgement of the epoch's last steps, then the validation split
        self._acting(self.guard.after_step, trainer.step - 1, self._new_findings(), self._control)
        self._acting(self.guard.on_validation, record["epoch"], record["val_loss"],
                     record["val_accuracy"], self._control)
        self._stop_if_stopped()

    def _new_findings(self) -> list:
        return self.doctor_hook.new_findings if self.doctor_hook is not None else []

    def _acting(self, method: Callable[..., Any], *args: Any) -> Any:
        """Call a guard method; tell the doctor when the guard jumped the parameters back
        (that jump is no training step)."""
        before = len(self.guard.actions)
        result = method(*args)
        if len(self.guard.actions) > before and self.doctor_hook is not None and any(
                a["action"] == "rollback" for a in self.guard.actions[before:]):
            self.doctor_hook.doctor.mark_discontinuity()
        return result

    def _stop_if_stopped(self) -> None:
        if self.guard.stopped:
            raise StopTraining(f"the guard stopped training: {self.guard.stop_reason}")

    @property
    def actions(self) -> list[dict[str, Any]]:
        return list(self.guard.actions)
