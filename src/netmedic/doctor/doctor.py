"""The Doctor: watch any training loop, step by step, and say what is wrong, where and since when.

::

    doctor = nm.Doctor()
    for step in range(steps):
        ...forward, loss, backward...
        doctor.observe(step=step, loss=loss, lr=lr,
                       params={"W1": W1, "b1": b1}, grads={"W1": dW1, "b1": db1},
                       activations={"h1": A1}, inputs=X_batch)
        ...update...
    print(doctor.summary())

The probe (this call) feeds the monitor (:mod:`~netmedic.doctor.monitor`), which keeps compact
statistics in a bounded history (:mod:`~netmedic.doctor.history`); the rules
(:mod:`~netmedic.doctor.rules`) turn that history into findings. A trace of the same statistics
(``Doctor(trace="run.jsonl")``) replays through the very same rules: ``netmedic doctor TRACE``.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import traceback
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from netmedic.doctor import present
from netmedic.doctor.finding import Finding
from netmedic.doctor.history import FIRST_KEEP, History, Record
from netmedic.doctor.monitor import Monitor, scalar
from netmedic.doctor.rules import DEFAULT_THRESHOLDS, RULES, RuleContext
from netmedic.doctor.stats import finite_entry

MAX_INTERNAL_ERRORS = 20  # tracebacks kept from failing rules (memory stays bounded)
#: between full observations, a loss or global gradient norm 10× that of the last full one makes
#: the step a full one (and judged at once): minibatch noise moves them 2–5× (issue 4), a blow-up
#: more — the doctor looks closely where the cheap signs jumped, not only on the stride
JUMP = 10.0
_LARGEST = sys.float_info.max  # a finite number is at most this (Inf and NaN are not)
_MAX_PENDING = 256  # light steps noted before they are made records (memory stays bounded)


class Doctor:
    """Watches a training run and reports :class:`~netmedic.doctor.finding.Finding` s.

    Parameters
    ----------
    batch_axis : the axis of activations/inputs/labels that indexes examples (0; seed 002 keeps
        examples in columns: 1).
    history : steps kept in memory for the rules (a ring buffer), and for plots (thinned evenly
        over the whole run); memory stays bounded whatever the run length.
    stride : the full statistics are computed on the first ``stride`` steps, then every
        ``stride``-th step (and on any step whose loss or gradients are not finite); the loss
        and the gradient norms (or the caller's ``grad_norm``) on every step. 1 = everything
        every step.
    judge_every : the rules judge the new full observations in batches, on the first full
        observation of each block of ``judge_every`` (default: ``stride``, i.e. every full one);
        the first 10 observations, any non-finite one and any jump (:data:`JUMP`) are judged at
        once. A batch is judged as if each full observation were judged in turn with the rules
        seeing the run as it was then (one pass of the rules over the whole batch when that
        finds nothing, step by step otherwise), so findings, steps and evidence are those of
        judging each on arrival (tested); a batch only reports them later (by at most
        ``judge_every + stride − 1`` observations), for less work per step; above ``stride``,
        that delay plus the longest rule window (``stall_window``) must fit in ``history``.
        :meth:`judge` judges the pending full steps at any time, :meth:`finish` everything.
    num_classes : for ``initial_loss_off`` and ``label_error``; inferred from the labels or the
        width of the last pre-activation (logits) when not given.
    trace : write a trace while watching: a path ending in ``.jsonl`` (per-tensor statistics,
        one line per step) or a folder (one ``.npz`` of raw arrays per step); see the README.
    **thresholds : any of :data:`~netmedic.doctor.rules.DEFAULT_THRESHOLDS`, e.g.
        ``Doctor(update_ratio_high=0.2)``.
    """

    def __init__(self, *, batch_axis: int = 0, history: int = 512, stride: int = 10,
                 judge_every: int | None = None, num_classes: int | None = None,
                 trace: str | None = None, **thresholds: float) -> None:
        unknown = sorted(set(thresholds) - set(DEFAULT_THRESHOLDS))
        if unknown:
            raise TypeError(f"unknown threshold(s) {', '.join(unknown)}; known: "
                            f"{', '.join(sorted(DEFAULT_THRESHOLDS))}")
        self.thresholds = {**DEFAULT_THRESHOLDS, **{k: float(v) for k, v in thresholds.items()}}
        self.batch_axis, self.stride, self.num_classes = batch_axis, stride, num_classes
        self.judge_every = stride if judge_every is None else int(judge_every)
        if self.judge_every < 1:
            raise ValueError(f"judge_every must be >= 1; got {judge_every}")
        window = int(self.thresholds["stall_window"])  # the longest look back of a rule
        if self.judge_every > stride and self.judge_every + stride - 1 + window > history:
            raise ValueError(
                f"judge_every={judge_every} with stride={stride} would let steps leave the "
                f"history ({history} steps) before the rules judge them with the {window}-step "
                f"windows they need; keep judge_every + stride - 1 + {window} <= history, or "
                "raise history")
        self.history = History(history)
        self._monitor = Monitor(batch_axis=batch_axis, stride=stride)
        self._findings: dict[tuple[str, str], Finding] = {}
        self._n = 0
        self._light_until = 0  # observations before this one may take the fast path...
        self._limits = (0.0, 0.0)  # ...with a loss and a grad_norm at most these (no jump)
        self._evaluated_n = -1
        self._reference = (0.0, 0.0)  # loss and global gradient norm of the last full step
        self._memo: dict = {}
        #: Tracebacks of rules that failed (a bug in netmedic, never the user's problem).
        self.internal_errors: list[str] = []
        self._trace = None
        if trace is not None:
            from netmedic.doctor.trace import TraceWriter

            self._trace = TraceWriter(trace, self.settings())

    # ------------------------------------------------------------------------------ watching
    def observe(self, step: int, loss: Any, lr: float | None = None,
                params: Mapping[str, np.ndarray] | None = None,
                grads: Mapping[str, np.ndarray] | None = None,
                activations: Mapping[str, np.ndarray] | None = None,
                preactivations: Mapping[str, np.ndarray] | None = None,
                inputs: np.ndarray | Mapping[str, np.ndarray] | None = None,
                activation_kinds: Mapping[str, str] | None = None,
                updates: Mapping[str, np.ndarray] | None = None,
                labels: np.ndarray | Mapping[str, np.ndarray] | None = None,
                grad_norm: float | None = None,
                prev_grad_dots: Mapping[str, float] | None = None) -> list[Finding]:
        """Look at one training step; return the findings that are new at this step.

        Parameters
        ----------
        step : the caller's step number (0-based count of optimizer steps attempted).
        loss : this step's loss (a number; an array of per-example losses is averaged).
        lr : the base learning rate used for this step's update (SGD, momentum or Adam).
        params : name -> array, *before* this step's update, in forward (layer) order.
        grads : same keys (a ``d`` prefix, ``dW1`` for ``W1``, is understood), any order.
        activations : name -> post-activation output, ``(N, ...)`` with the batch on
            ``batch_axis``, in layer order; kinds are inferred unless ``activation_kinds`` says.
        preactivations : name -> output of a dense/conv layer before its nonlinearity (the
            last one: the logits), in layer order.
        inputs : the batch fed to the network, ``(N, ...)`` (or a dict of named inputs).
        activation_kinds : name -> ``"relu"``, ``"sigmoid"``, ``"tanh"``, ``"softmax"`` or
            ``"other"``.
        updates : name -> the step that produced *these* params, w_t − w_{t−1} (the optimizer's
            last step); computed by the doctor (every ``stride`` steps) when not given.
        labels : the batch's targets, class indices ``(N,)`` or one-hot ``(N, C)``.
        grad_norm : optional, the global norm √Σ‖g‖² of ``grads`` when the caller computes it
            anyway (for clipping, or to skip non-finite steps; the engine does). On steps
            without the full statistics the doctor then keeps this one number instead of
            measuring every gradient: no pass over the arrays (per-tensor gradient norms come
            every ``stride`` steps). A non-finite value makes the step a full one, as a NaN
            anywhere in ``grads`` does, and so does a jump (:data:`JUMP`). Findings are the
            same as without it, but for what those closer looks add.
        prev_grad_dots : optional, with ``updates``: name -> ⟨g_{t−1}, Δw⟩, the previous step's
            gradient (before clipping) dotted with the update it produced, when the caller
            computes it right after its update (the engine does: both arrays are in cache then).
            Without it the doctor copies the gradients of the step before a full one.

        Never raises on NaN/Inf, never prints NumPy warnings, keeps no reference to the arrays.
        """
        new = self.observe_light(step, loss, lr, grad_norm)
        if new is not None:  # the usual step of a probe with its own norm: nothing more to do
            return new
        loss_value = scalar(loss, "loss")
        forced = self._alarming(loss_value, grad_norm)
        record = None if forced else self._monitor.light(self._n, step, loss_value, lr,
                                                         grad_norm, params, grads)
        full = record is None
        if full:
            record, full = self._monitor.measure(
                self._n, step, loss, lr, params, grads, activations, preactivations, inputs,
                activation_kinds, updates, labels, full=forced, prev_grad_dots=prev_grad_dots)
        if self._trace is not None:
            self._trace.write(record, dict(loss=loss, lr=lr, params=params, grads=grads,
                                           activations=activations, preactivations=preactivations,
                                           inputs=inputs, activation_kinds=activation_kinds,
                                           updates=updates, labels=labels,
                                           grad_norm=grad_norm))
        return self._accept(record, full, urgent=forced)

    def observe_light(self, step: int, loss: float, lr: float | None = None,
                      grad_norm: float | None = None) -> list[Finding] | None:
        """The cheap step, for a probe that computes the global gradient norm anyway: note this
        step from its loss, ``lr`` and ``grad_norm`` (floats, ``step`` an int) and return
        its findings (none: only full steps are judged) — or return ``None``, noting nothing,
        when it cannot: a full step (on the stride, a loss or norm that is not finite or jumped,
        see :meth:`wants_full`), a step whose arrays the doctor keeps for the next full one, a
        trace of raw arrays being written, numbers of other types. Then call :meth:`observe`.
        A JSON-lines trace gets the step's line (held, written with the next full step's; see
        ``TraceWriter.light``). The step goes
        into ``history.pending`` and becomes a record when the history is next read: it runs
        between two passes of the training over megabytes of arrays, which leave little of the
        doctor in cache, so it touches as little as it can."""
        n = self._n
        if not (n < self._light_until and type(step) is int and isinstance(loss, float)
                and isinstance(grad_norm, float) and (lr is None or isinstance(lr, float))
                and -_LARGEST <= loss <= self._limits[0]
                and 0.0 <= grad_norm <= self._limits[1]):
            return None
        if self._trace is not None:  # a JSON-lines trace (see _light_path): its line, held
            if lr is not None and not -_LARGEST <= lr <= _LARGEST:
                return None  # a non-finite lr is written as a string: the ordinary path
            self._trace.light(step, loss, lr, grad_norm)
        pending = self.history.pending
        pending.append((n, step, loss, lr, grad_norm))
        if len(pending) >= _MAX_PENDING:  # a long stride: memory stays bounded
            self.history.settle()
        self._n = n + 1
        return []

    def wants_full(self, loss: Any = None, grad_norm: float | None = None) -> bool:
        """Whether the next :meth:`observe`, given this ``loss`` and ``grad_norm``, computes the
        full statistics: on the stride, or when either is not finite (``None`` counts as
        finite) or has jumped :data:`JUMP`× above the last full observation's. Without
        arguments: whether the stride asks for them whatever the values.
        ``False`` means only the loss and ``grad_norm`` will be kept, so a probe may skip
        gathering activations and updates (and, when it is due, computing a global norm the
        doctor will measure per tensor anyway)."""
        if self._monitor.is_full(self._n):
            return True
        return (loss is not None or grad_norm is not None) and self._alarming(
            scalar(loss, "loss"), grad_norm)

    def _alarming(self, value: float | None, grad_norm: float | None) -> bool:
        """The loss ``value`` or ``grad_norm`` is not finite, or jumped JUMP× above the last
        full observation's (``None``: no sign)."""
        if value is not None and not math.isfinite(value):
            return True
        if grad_norm is not None and not math.isfinite(grad_norm):
            return True
        ref_loss, ref_norm = self._reference
        return (value is not None and ref_loss > 0 and value > JUMP * ref_loss) or (
            grad_norm is not None and ref_norm > 0 and grad_norm > JUMP * ref_norm)

    def observe_record(self, record: Record, rich: bool = False) -> list[Finding]:
        """Feed one step's *statistics* (a trace line) instead of arrays: the replay path.

        ``rich``: the record carries more than gradient norms, so the rules look at it even off
        the stride. ``record.n`` is reassigned to this doctor's count.
        """
        record.n, record.step = self._n, int(record.step)
        # the loss and the tensors, as the monitor decides it live; a non-finite grad_norm
        # alone names no tensor, but makes the step one to judge at once
        record.finite = (record.loss is None or math.isfinite(record.loss)) and all(
            map(finite_entry, record.tensors.values()))
        norm_ok = record.grad_norm is None or math.isfinite(record.grad_norm)
        on_stride = self._monitor.is_full(self._n)
        # rich off the stride: the live doctor was alarmed there (a jump, a NaN): judge at once
        urgent = (rich and not on_stride) or not norm_ok
        return self._accept(record, on_stride or rich or urgent or not record.finite,
                            urgent=urgent)

    def mark_discontinuity(self) -> None:
        """The parameters were changed outside the optimizer (a rollback, a reload): do not
        compute Δw across this gap (it is not a training step). Not needed with ``updates``."""
        self._monitor.forget_previous()

    def _accept(self, record: Record, full: bool, urgent: bool = False) -> list[Finding]:
        self.history.append(record, full)
        self._n += 1
        if full and record.finite:
            norm = record.global_grad_norm()
            self._reference = (record.loss or 0.0, norm or 0.0)
        if full:
            self._light_path()
        # on a fixed grid of observations (a judgement off the grid does not shift it), so no
        # full step waits more than judge_every + stride - 1 observations
        if full and (record.n < FIRST_KEEP or urgent or not record.finite
                     or record.n // self.judge_every > self._evaluated_n // self.judge_every):
            return self._evaluate()
        return []

    def _light_path(self) -> None:
        """After a full observation: up to which observation :meth:`observe_light` may note a
        step (the next full one, or the one before it when that one's arrays are kept), and
        the loss and norm above which a step is a jump (:data:`JUMP`)."""
        monitor, n = self._monitor, self._n
        until = n if n < monitor.stride else -(-n // monitor.stride) * monitor.stride
        if until and monitor.keeps_arrays(until - 1):
            until -= 1
        # a trace gets every line, in order (a run that dies without close() keeps them all):
        # a light step's line comes from observe_light; a folder of raw arrays needs the arrays
        self._light_until = 0 if self._trace is not None and not self._trace.jsonl else until
        ref_loss, ref_norm = self._reference  # JUMP × a huge one would be Inf: no limit at all
        self._limits = (min(JUMP * ref_loss, _LARGEST) if ref_loss > 0 else _LARGEST,
                        min(JUMP * ref_norm, _LARGEST) if ref_norm > 0 else _LARGEST)

    def judge(self) -> list[Finding]:
        """Run the rules now over the full steps not judged yet (with the losses up to each);
        the findings this made. The losses after the last full step wait for the next one (or
        :meth:`finish`), as they would had each full step been judged on arrival."""
        return self._evaluate(tail=False)

    def _evaluate(self, tail: bool = False) -> list[Finding]:
        """Judge what is new: each full step not judged yet in turn, the rules seeing the run as
        it was when that step was observed (``tail``: then the losses after the last one). So
        findings, steps and evidence are those of judging every full step on arrival, however
        the judgements are spaced.

        A batch is first judged in one pass (every rule over all its steps at once): the rules
        are causal and decide each step from the steps up to it, so when that pass makes no
        finding, judging the steps one by one would make none either, and it stands. When it
        makes any, it is undone and the steps are judged one by one."""
        pending = []
        for record in reversed(self.history.full):
            if record.n <= self._evaluated_n:
                break
            pending.append(record)
        pending.reverse()
        upto = [record.n for record in pending]
        if tail and max(upto, default=self._evaluated_n) < self._n - 1:
            upto.append(self._n - 1)
        shared: dict = {}  # lists and arrays made once for all of them
        if len(upto) > 1 and self._uniform(pending, shared) and self._quiet(upto[-1], shared):
            return []
        return [finding for n in upto for finding in self._evaluate_upto(n, shared)]

    def _context(self, upto_n: int, shared: dict) -> RuleContext:
        return RuleContext(self.history, self.thresholds, self._evaluated_n, self.num_classes,
                           dict(self._findings), self._memo, upto_n=upto_n, shared=shared)

    def _uniform(self, pending: list[Record], shared: dict) -> bool:
        """Whether the network looks the same to the rules from every step of the batch, as one
        pass over it assumes: the rules read its shape (the classes, the output layer) from the
        first steps and the step judged, so every step must carry the same activations,
        pre-activations and labels, with the same widths, and each activation's kind must be
        known from the steps before the batch."""
        layout = pending[-1].layout() if pending else ()
        if any(record.layout() != layout for record in pending):
            return False
        before = self._context(self._evaluated_n, shared)
        return all(before.activation_kind(name) for name, _ in pending[-1].role("act"))

    def _quiet(self, upto_n: int, shared: dict) -> bool:
        """Every rule once over the steps up to ``upto_n``; True (and judged) when none of them
        made a finding or failed, else False with the rules' running values as they were."""
        memo = dict(self._memo)  # what the rules set while passing (caches inside are pure)
        ctx = self._context(upto_n, shared)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for rule in RULES:
                try:
                    made = rule(ctx)
                except Exception:  # judged again step by step, which keeps the traceback
                    made = True
                if made:
                    self._memo.clear()
                    self._memo.update(memo)
                    return False
        self._evaluated_n = upto_n
        return True

    def _evaluate_upto(self, upto_n: int, shared: dict) -> list[Finding]:
        ctx = self._context(upto_n, shared)
        self._evaluated_n = upto_n
        new: list[Finding] = []
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for rule in RULES:
                try:
                    made = rule(ctx)
                except Exception:  # a netmedic bug must not stop the user's training
                    if len(self.internal_errors) < MAX_INTERNAL_ERRORS:
                        self.internal_errors.append(traceback.format_exc())
                    continue
                for finding in made:
                    key = (finding.kind, finding.where)
                    old = self._findings.get(key)
                    if old is None:
                        self._findings[key] = finding
                        new.append(finding)
                    else:
                        self._findings[key] = dataclasses.replace(old, evidence=finding.evidence)
                    ctx.findings = {**ctx.findings, key: self._findings[key]}
        return new

    def finish(self) -> list[Finding]:
        """Judge the steps since the last full one (the loss trend of the tail) and flush the
        trace; returns the findings this made. Called by :meth:`summary` and :meth:`verdict`;
        harmless to call twice, or mid-run."""
        new = self._evaluate(tail=True)
        if self._trace is not None:
            self._trace.flush()
        return new

    def close(self) -> None:
        """:meth:`finish`, then close the trace file (nothing more is written to it)."""
        self.finish()
        if self._trace is not None:
            self._trace.close()

    # ------------------------------------------------------------------------------ results
    @property
    def findings(self) -> list[Finding]:
        """All findings so far, one per (kind, where): first occurrence kept, evidence updated.

        The rules run on every full step; call :meth:`finish` (or :meth:`summary`) at the end so
        that the last steps' loss trend is judged too."""
        return list(self._findings.values())

    @property
    def alarms(self) -> list[Finding]:
        return [f for f in self._findings.values() if f.is_alarm]

    def summary(self) -> str:
        """Plain text: the verdict, then each finding with its evidence, explanation and fix."""
        self.finish()
        return present.summary_text(self.findings)

    def verdict(self) -> str:
        """One line: ``"no findings"``, or counts and names:
        ``"1 error, 2 warnings: nonfinite at dense3 (step 7); …"``."""
        self.finish()
        return present.verdict(self.findings)

    def settings(self) -> dict[str, Any]:
        """What a replay needs to reproduce this doctor's decisions (the trace header)."""
        changed = {k: v for k, v in self.thresholds.items() if v != DEFAULT_THRESHOLDS[k]}
        return {"stride": self.stride, "judge_every": self.judge_every,
                "batch_axis": self.batch_axis,
                "num_classes": self.num_classes, "history": self.history.capacity,
                "thresholds": changed}

    def write_trace(self, path: str) -> None:
        """Write the statistics held in memory as a JSON-lines trace (complete while the run
        fits in ``history`` steps; pass ``trace=`` to the constructor for any length)."""
        from netmedic.doctor.trace import write_jsonl

        write_jsonl(path, self.history.records, self.settings(), complete=self.history.complete)

    def __repr__(self) -> str:
        return (f"Doctor({self._n} steps observed, {len(self._findings)} findings, "
                f"stride={self.stride}, judge_every={self.judge_every})")
