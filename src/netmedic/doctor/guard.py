"""The guard: keeps a training run alive by acting on what goes wrong; each action bounded, logged.

The trainer calls three methods; the guard acts through a controller following
:class:`~netmedic.doctor.remedy.TrainingControl` and applies every change with
:func:`~netmedic.doctor.remedy.apply_remedy`, the mechanism ``clinic run --fix`` uses too::

    before_update(step, loss, grad_norm, control) -> bool   # every step, before the update
    after_step(step, findings, control)                     # every step, the doctor's new findings
    on_validation(epoch, val_loss, val_accuracy, control)   # every epoch, on the validation split

State machine (``step`` = 0-based count of optimizer steps attempted, never rewound)::

    WATCHING ── finite loss, finite ‖g‖, loss not diverging ─► apply the update; every
       │        SNAPSHOT_EVERY such steps the *candidate* snapshot becomes *trusted* and a new
       │        candidate is taken (a snapshot is trusted once the steps after it were healthy
       │        too: trouble is often brewing before anything sees it). A healthy validation
       │        epoch promotes the same way. Any alarm finding discards the candidate.
       ├─ non-finite ‖g‖, finite loss ─► skip_step (the batch is bad, the state is not);
       │        more than max_consecutive_skips in a row ─► TROUBLE; more than max_skips ─► STOP
       ├─ non-finite loss; median loss of the last LOSS_WINDOW steps > DIVERGENCE_FACTOR × its
       │  best; validation loss non-finite or blown up; validation accuracy collapsed ─► TROUBLE
       ├─ alarm finding first seen at a step before the last rollback, or at a skipped step ─►
       │        ignored: it describes a state or an update that is gone
       ├─ alarm finding, remedy set_lr ─► lower the LR (to the remedy's lr, else ×lr_factor);
       │        also roll back if it is an error or the loss has not improved on the trusted
       │        snapshot's (nothing to lose)
       ├─ alarm finding, remedy clip_grad_norm ─► clip at the clip_percentile of the gradient
       │        norms of steps confirmed healthy (never raising an existing threshold); an
       │        error also goes to TROUBLE
       └─ any other remedy ─► applied if the controller can, else kept in ``deferred`` with
                "needs a restart" in ``notes`` (``clinic run --fix`` applies it to a config)
    TROUBLE ── rollback to the trusted snapshot (≤ max_rollbacks) then set_lr ×lr_factor
               (≥ min_lr); beyond either bound ─► STOP
    STOP    ── absorbing: restores the trusted (last healthy) snapshot, records ``stop`` with the
               reason; ``before_update`` returns False from then on; ``stopped`` is True.

Each action is recorded as ``{"step": int, "action": str, "reason": str}`` in ``actions``
(``metrics.json`` ``guard_actions``); ``on_action`` is called with it as it happens.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from netmedic.doctor.finding import Finding
from netmedic.doctor.remedy import TrainingControl, apply_remedy
from netmedic.doctor.rules._robust import median

MAX_ROLLBACKS = 3  # a fourth rollback means lowering the LR is not the cure: stop and say so
LR_FACTOR = 0.1  # issue 4: "lower the LR ×0.1" (one decade, as in LR range tests)
MIN_LR_FACTOR = 1e-4  # LR floor = start LR × 1e-4: four decades; below that the run cannot learn
MAX_CONSECUTIVE_SKIPS = 3  # a 4th non-finite gradient in a row blames the state, not the batch
MAX_SKIPS = 20  # skipping more than 20 updates in all hides a real problem
SNAPSHOT_EVERY = 50  # healthy steps between snapshots: at most ~2×50 steps of work are lost
LOSS_WINDOW = 5  # median of 5: one noisy minibatch (2–5× jumps happen, issue 4) cannot trip it
DIVERGENCE_FACTOR = 4.0  # smoothed loss 4× its best: far beyond minibatch noise of a median
MIN_RISE = 0.5  # and risen by half the starting loss: a 1e-4 loss tripling is noise, not a blow-up
VAL_BLOWUP_FACTOR = 2.0  # validation loss doubling its best (and MIN_RISE) between epochs
VAL_ACCURACY_DROP = 0.2  # 20 points of validation accuracy lost: overfitting never does that
CLIP_PERCENTILE = 90.0  # AutoClip (Seetharaman et al. 2020) clips at a percentile of past norms
GRAD_HISTORY = 1000  # bounded history of healthy gradient norms
MIN_GRAD_HISTORY = 10  # fewer norms than this give no stable percentile
MAX_CLIP_CHANGES = 3  # the clip threshold is set or lowered at most 3 times

Action = dict[str, Any]


class Guard:
    """Skips, rolls back, lowers the LR and clips, within bounds; see the module docstring."""

    def __init__(self, *, max_rollbacks: int = MAX_ROLLBACKS, lr_factor: float = LR_FACTOR,
                 min_lr: float | None = None, max_consecutive_skips: int = MAX_CONSECUTIVE_SKIPS,
                 max_skips: int = MAX_SKIPS, snapshot_every: int = SNAPSHOT_EVERY,
                 divergence_factor: float = DIVERGENCE_FACTOR,
                 val_blowup_factor: float = VAL_BLOWUP_FACTOR,
                 clip_percentile: float = CLIP_PERCENTILE, max_clip_changes: int = MAX_CLIP_CHANGES,
                 on_action: Callable[[Action], None] | None = None) -> None:
        """``min_lr`` defaults to the LR at the first step × ``MIN_LR_FACTOR``; ``on_action`` is
        called with each action dict as it is recorded (the trainer prints it)."""
        self.max_rollbacks, self.lr_factor, self.min_lr = max_rollbacks, lr_factor, min_lr
        self.max_consecutive_skips, self.max_skips = max_consecutive_skips, max_skips
        self.snapshot_every, self.divergence_factor = snapshot_every, divergence_factor
        self.val_blowup_factor, self.clip_percentile = val_blowup_factor, clip_percentile
        self.max_clip_changes, self.on_action = max_clip_changes, on_action
        self.actions: list[Action] = []
        self.notes: list[str] = []  # remedies not applied, and why ("needs a restart")
        self.deferred: list[Finding] = []  # findings whose remedy needs a restart
        self.stopped, self.stop_reason = False, None
        self.rollbacks = self.skips = self.clip_changes = 0
        self.clip_norm: float | None = None
        self._started = False
        self._trusted: tuple[int, object, float] | None = None  # (step, snapshot, loss then)
        self._candidate: tuple[int, object, float] | None = None
        self._since_candidate = self._consecutive_skips = 0
        self._losses: deque[float] = deque(maxlen=LOSS_WINDOW)
        self._loss_now = math.inf  # median of the recent losses: the current state's loss
        self._best_loss = self._best_val = math.inf
        self._start_loss: float | None = None
        self._best_val_accuracy = -math.inf
        self._norms: deque[float] = deque(maxlen=GRAD_HISTORY)  # steps confirmed healthy
        self._pending_norms: list[float] = []  # steps since the candidate snapshot
        self._handled: set[tuple] = set()
        self._skipped: set[int] = set()  # steps whose update was skipped (at most max_skips)
        self._last_step = self._last_rollback_step = self._last_trouble_step = -1

    def __repr__(self) -> str:
        return (f"Guard(rollbacks={self.rollbacks}/{self.max_rollbacks}, skips={self.skips}, "
                f"clip_norm={self.clip_norm}, stopped={self.stopped})")

    @property
    def last_healthy_step(self) -> int | None:
        """The step of the trusted snapshot (what a rollback or a stop returns to)."""
        return None if self._trusted is None else self._trusted[0]

    @property
    def promotion_due(self) -> bool:
        """The next healthy step trusts the candidate snapshot (a watcher whose alarms come in
        batches delivers them before that step: see ``GuardHook``)."""
        return self._candidate is not None and self._since_candidate >= self.snapshot_every

    @property
    def grad_norm_history(self) -> tuple[float, ...]:
        """Gradient norms of the steps confirmed healthy (what clipping is measured on)."""
        return tuple(self._norms)

    def start(self, control: TrainingControl) -> None:
        """Take the first trusted snapshot (the initial state); done lazily by the first step."""
        if not self._started:
            self._started = True
            self.min_lr = self.min_lr if self.min_lr is not None else control.lr * MIN_LR_FACTOR
            self._trusted = (max(self._last_step, 0), control.snapshot(), math.inf)

    def before_update(self, step: int, loss: float, grad_norm: float,
                      control: TrainingControl) -> bool:
        """Call after the backward pass, before the update: True means apply the update.

        ``loss``: this minibatch's loss at the current parameters; ``grad_norm``: the global L2
        norm of the gradients before any clipping.
        """
        self._last_step = step
        self.start(control)
        if self.stopped:
            return False
        loss, grad_norm = float(loss), float(grad_norm)
        if not math.isfinite(loss):
            self._trouble(step, f"loss is {loss} at step {step}", control)
            return False
        if not math.isfinite(grad_norm):
            self._skip(step, grad_norm, control)
            return False
        self._consecutive_skips = 0
        if self._start_loss is None:
            self._start_loss = loss  # the scale of this problem's loss, for MIN_RISE
        self._losses.append(loss)
        self._loss_now = median(self._losses)  # (statistics.median costs more than a step)
        if self._trusted is not None and self._trusted[2] == math.inf:
            self._trusted = (*self._trusted[:2], self._loss_now)  # the first state's loss
        if len(self._losses) == LOSS_WINDOW:
            if (reason := self._diverging()) is not None:
                self._trouble(step, reason, control)
                return False
        self._healthy_step(step, grad_norm, control)
        return True

    def after_step(self, step: int, findings: Iterable[Finding],
                   control: TrainingControl) -> None:
        """Call after the doctor observed the step, with the findings new this step."""
        self._last_step = max(self._last_step, step)
        for finding in findings:
            key = (finding.kind, finding.where, finding.step)
            if self.stopped or key in self._handled or not finding.is_alarm:
                continue
            self._handled.add(key)
            if finding.step is not None and (finding.step <= self._last_rollback_step
                                             or finding.step in self._skipped):
                continue  # about the state before a rollback, or an update never applied
            self._candidate = None  # an alarm: the state since the candidate is suspect
            if finding.remedy is not None:
                self._act_on(step, finding, control)

    def on_validation(self, epoch: int, val_loss: float, val_accuracy: float | None,
                      control: TrainingControl) -> None:
        """Call after each epoch's evaluation on the validation split (never the test set)."""
        step = max(self._last_step, 0)
        self.start(control)
        if self.stopped:
            return
        val_loss = float(val_loss)
        scale = self._start_loss if self._start_loss is not None else val_loss
        where = f"validation loss after epoch {epoch}"
        if not math.isfinite(val_loss):
            self._trouble(step, f"{where} is {val_loss}", control)
        elif (val_loss > self.val_blowup_factor * self._best_val
              and val_loss - self._best_val > MIN_RISE * scale):
            self._trouble(step, f"{where} is {val_loss:.4g}, ×{val_loss / self._best_val:.1f} "
                                f"its best ({self._best_val:.4g})", control)
        elif (val_accuracy is not None
              and val_accuracy < self._best_val_accuracy - VAL_ACCURACY_DROP):
            self._trouble(step, f"validation accuracy after epoch {epoch} fell to "
                                f"{val_accuracy:.1%} from {self._best_val_accuracy:.1%}", control)
        else:
            self._best_val = min(self._best_val, val_loss)
            if val_accuracy is not None:
                self._best_val_accuracy = max(self._best_val_accuracy, val_accuracy)
            self._promote(step, control)

    def summary(self) -> str:
        """One line for the end of training."""
        counts = {a: sum(x["action"] == a for x in self.actions)
                  for a in ("skip_step", "rollback", "set_lr", "clip_grad_norm")}
        done = ", ".join(f"{n} {a}" for a, n in counts.items() if n) or "no action needed"
        tail = f"; stopped: {self.stop_reason}" if self.stopped else ""
        return f"guard: {done}{tail}"

    # -- decisions -------------------------------------------------------------------------------

    def _diverging(self) -> str | None:
        smoothed = self._loss_now
        best = min(self._best_loss, self._start_loss or math.inf)  # a loss high from step 0 counts
        self._best_loss = min(self._best_loss, smoothed)
        if (smoothed > self.divergence_factor * best
                and smoothed - best > MIN_RISE * self._start_loss):
            return (f"training loss diverging: median of the last {LOSS_WINDOW} steps "
                    f"{smoothed:.4g}, ×{smoothed / best:.1f} its best ({best:.4g})")
        return None

    def _healthy_step(self, step: int, grad_norm: float, control: TrainingControl) -> None:
        if self._candidate is None or self._since_candidate >= self.snapshot_every:
            self._promote(step, control)
        self._pending_norms.append(grad_norm)
        self._since_candidate += 1

    def _promote(self, step: int, control: TrainingControl) -> None:
        """The candidate survived: trust it, keep its steps' norms, take a new candidate."""
        if self._candidate is not None:
            self._trusted = self._candidate
            self._norms.extend(self._pending_norms)
        self._candidate, self._since_candidate = (step, control.snapshot(), self._loss_now), 0
        self._pending_norms = []

    def _act_on(self, step: int, finding: Finding, control: TrainingControl) -> None:
        remedy = finding.remedy or {}
        said = f"{finding.kind} at {finding.where} (step {finding.step})"
        no_progress = self._trusted is not None and not self._loss_now < self._trusted[2]
        must_roll_back = finding.severity == "error" or no_progress
        if remedy["action"] == "set_lr":
            target = remedy.get("lr")
            if target is None and remedy.get("factor") is not None:
                target = control.lr * float(remedy["factor"])
            if target is not None and not float(target) < control.lr:
                self.notes.append(f"step {step}: {said} asks lr {control.lr:.3g} → "
                                  f"{float(target):.3g}; the guard only lowers the LR")
            elif must_roll_back:
                self._trouble(step, said, control, target_lr=target)
            else:
                self._lower_lr(step, said, control, target)
        elif remedy["action"] == "clip_grad_norm":
            self._clip(step, said, remedy.get("max_norm"), control)
            if finding.severity == "error" and not self.stopped:
                self._trouble(step, said, control)
        else:
            outcome = apply_remedy(remedy, control)
            self.notes.append(f"step {step}: {said}: {outcome.message}")
            if not outcome.applied:
                self.deferred.append(finding)

    # -- actions ---------------------------------------------------------------------------------

    def _record(self, step: int, action: str, reason: str) -> None:
        entry = {"step": int(step), "action": action, "reason": reason}
        self.actions.append(entry)
        if self.on_action is not None:
            self.on_action(entry)

    def _skip(self, step: int, grad_norm: float, control: TrainingControl) -> None:
        self.skips += 1
        self._consecutive_skips += 1
        if self.skips > self.max_skips:
            self._stop(step, f"gradient norm {grad_norm} at step {step}; already skipped "
                             f"{self.max_skips} updates (max_skips)", control)
        elif self._consecutive_skips > self.max_consecutive_skips:
            self._trouble(step, f"{self._consecutive_skips} non-finite gradients in a row "
                                f"(‖g‖ = {grad_norm} at step {step})", control)
        else:
            self._skipped.add(step)
            self._record(step, "skip_step", f"gradient norm is {grad_norm} at step {step}: update "
                                            f"skipped ({self.skips}/{self.max_skips})")

    def _trouble(self, step: int, reason: str, control: TrainingControl,
                 target_lr: float | None = None) -> None:
        """Roll back to the trusted snapshot and lower the LR, once per step, within bounds."""
        if self._last_trouble_step == step or self.stopped:
            return
        self._last_trouble_step = step
        if self.rollbacks >= self.max_rollbacks:
            self._stop(step, f"{reason}; already rolled back {self.rollbacks} times "
                             f"(max_rollbacks={self.max_rollbacks})", control)
            return
        assert self._trusted is not None, "start() takes the first snapshot"
        lr = control.lr
        control.restore(self._trusted[1])
        apply_remedy({"action": "set_lr", "lr": lr}, control)  # restore() must not change the LR
        self.rollbacks += 1
        self._last_rollback_step = step
        self._candidate, self._pending_norms, self._consecutive_skips = None, [], 0
        self._losses.clear()
        self._loss_now = self._trusted[2]
        if math.isfinite(self._trusted[2]):  # the trajectory's best is now the restored state's
            self._best_loss = self._trusted[2]
        self._record(step, "rollback", f"{reason}: back to the state of step {self._trusted[0]} "
                                       f"(rollback {self.rollbacks}/{self.max_rollbacks})")
        self._lower_lr(step, f"after rollback {self.rollbacks}", control, target_lr)

    def _lower_lr(self, step: int, reason: str, control: TrainingControl,
                  target: float | None = None) -> None:
        old = control.lr
        floor = self.min_lr if self.min_lr is not None else 0.0
        if old <= floor * (1 + 1e-9):
            self._stop(step, f"{reason}; lr {old:.3g} is already at its floor "
                             f"{floor:.3g} (min_lr)", control)
            return
        new = max(float(target) if target is not None else old * self.lr_factor, floor)
        apply_remedy({"action": "set_lr", "lr": new}, control)
        self._record(step, "set_lr", f"{reason}: lr {old:.3g} → {new:.3g}")

    def _clip(self, step: int, reason: str, suggested: float | None,
              control: TrainingControl) -> None:
        norms = list(self._norms) if len(self._norms) >= MIN_GRAD_HISTORY else \
            [*self._norms, *self._pending_norms]
        if len(norms) >= MIN_GRAD_HISTORY or (norms and suggested is None):
            threshold = float(np.percentile(norms, self.clip_percentile))
            source = (f"the {self.clip_percentile:g}th percentile of {len(norms)} healthy "
                      f"gradient norms (median {float(np.median(norms)):.3g})")
        elif suggested is not None:
            threshold, source = float(suggested), "the doctor's suggestion (too few healthy steps)"
        else:
            self.notes.append(f"step {step}: {reason}: no healthy gradient norm to clip at yet")
            return
        if self.clip_norm is not None and threshold >= self.clip_norm:
            self.notes.append(f"step {step}: {reason}: already clipping at {self.clip_norm:.3g}")
            return
        if self.clip_changes >= self.max_clip_changes:
            self._stop(step, f"{reason}; clipping already changed {self.clip_changes} times "
                             f"(max_clip_changes)", control)
            return
        apply_remedy({"action": "clip_grad_norm", "max_norm": threshold}, control)
        self.clip_changes += 1
        self.clip_norm = threshold
        self._record(step, "clip_grad_norm", f"{reason}: clipping gradients at global norm "
                                             f"{threshold:.3g}, {source}")

    def _stop(self, step: int, reason: str, control: TrainingControl) -> None:
        if self._trusted is not None:
            control.restore(self._trusted[1])
            reason += f"; parameters restored to those of step {self._trusted[0]}"
        self.stopped, self.stop_reason = True, reason
        self._record(step, "stop", reason)


def format_actions(actions: Iterable[Action]) -> str:
    """The actions as lines for a terminal: ``step 12  rollback  reason``."""
    return "\n".join(f"step {a['step']:>6}  {a['action']:<14}  {a['reason']}" for a in actions)
