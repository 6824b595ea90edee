"""The engine's probe: every step, the model's tensors by layer name, handed to the Doctor.

Weights and gradients (``dense1.weight``…), pre-activations (each dense/conv output, the last one
being the logits), activations (each activation layer's output, with its kind from the layer,
so nothing is guessed), the input batch and its labels. The arrays are the engine's own buffers;
the doctor keeps statistics, never references. Between the doctor's full steps it gets only the
loss and the global gradient norm the trainer computes anyway; on full steps also the
activations, pre-activations and the optimizer's last step as Δw (no copy of the weights).
"""

from __future__ import annotations

import operator
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.text import Text

from netmedic.doctor import Doctor
from netmedic.doctor.finding import Finding
from netmedic.report.record import HistogramRecorder, commit_trace
from netmedic.report.rundata import ACTIVATIONS, TRACES
from netmedic.train.hooks import StepState
from netmedic.train.trainer import Trainer

PREACTIVATION_KINDS = ("dense", "conv")
#: full statistics (activations, zeros, saturation, update ratios) every 50th step, and every
#: step of the first 50 (issue 4: "the full statistics every 10 steps at most", read as a cap on
#: how often); between them the loss and the non-finite check every step, from the global
#: gradient norm the trainer computes anyway, and a closer look at once wherever the loss or that
#: norm jumps (doctor.JUMP). bench/doctor_overhead.py measures stride 10 beside it.
ENGINE_STRIDE = 50
#: the rules judge those full steps in batches, every 50 steps (the first 10 steps, any
#: non-finite step and any jump at once; at each epoch's end, and whenever the guard is about
#: to trust a snapshot, too): same findings, same steps, less work per step.
ENGINE_JUDGE_EVERY = 50
#: with an ``out_dir``, activation histograms for the report at a handful of steps: the first,
#: the end of the first epoch, the middle, the last planned step, the first HISTOGRAM_ALARMS
#: steps with a new alarm, and each epoch's last step (only the latest kept). ~1 ms each.
HISTOGRAM_ALARMS = 2
PARTIAL_TRACE = "trace.partial.jsonl"  # streamed while training; trace.jsonl at the end


class DoctorHook:
    """Trainer hook: ``Doctor.observe`` before each update; ``new_findings`` for the guard."""

    def __init__(self, doctor: Doctor | None = None, console: Console | None = None,
                 out_dir: Path | None = None) -> None:
        """``out_dir``: also write the report's data there (the doctor's ``trace.jsonl``,
        ``activations.npz``), on :meth:`save`."""
        self.doctor = doctor
        self.console = console
        self.out_dir = out_dir
        self.new_findings: list[Finding] = []
        #: (kind, where) already told to the user (by preflight): not announced again live
        self.known: set[tuple[str, str]] = set()
        self.histograms: HistogramRecorder | None = None
        self._histogram_steps: frozenset[int] = frozenset()
        self._first_step = 0

    def on_train_start(self, trainer: Trainer) -> None:
        self._first_step = trainer.step
        if self.doctor is None:
            trace = None if self.out_dir is None else str(self.out_dir / PARTIAL_TRACE)
            self.doctor = Doctor(num_classes=trainer.dataset.num_classes, stride=ENGINE_STRIDE,
                                 judge_every=ENGINE_JUDGE_EVERY, trace=trace)
        if self.out_dir is not None:
            self.histograms = HistogramRecorder()
            self._alarm_histograms = 0
            self._epoch_steps = trainer.steps_per_epoch
            last = trainer.config.epochs * trainer.steps_per_epoch - 1
            self._histogram_steps = frozenset({trainer.step, (trainer.step + last) // 2, last,
                                               trainer.step + trainer.steps_per_epoch - 1})
        layers = trainer.model.layers
        self._activations = [layer for layer in layers if hasattr(layer, "saturation")]
        self._preactivations = [layer for layer in layers if layer.kind in PREACTIVATION_KINDS]
        self._kinds = {layer.name: layer.saturation for layer in self._activations}
        self._spans = _update_spans(trainer)
        self._views: tuple[list, dict] = ([], {})  # the optimizer's buffers -> their slices
        self._stepped = False  # the previous step's update was applied
        self._prev_dots: dict[str, float] | None = None  # ⟨g_{t−1}, Δw_t⟩ for a full step
        self._dots_step = -1  # ...the step they are for (the next one the trainer takes)

    def before_update(self, trainer: Trainer, state: StepState) -> bool:
        # one global norm per step, shared with the trainer's non-finite check and the guard:
        # the doctor keeps it on light steps; on full ones it measures every gradient anyway
        doctor = self.doctor
        due = doctor.wants_full()
        new = None if due else doctor.observe_light(state.step, state.loss, state.lr,
                                                    state.grad_norm)
        norm = None if due else state.grad_norm
        if new is not None:  # the usual step: the loss and the norm only
            self.new_findings = new
        elif not (due or doctor.wants_full(state.loss, norm)):
            # a light step all the same, which the doctor could not note in passing: it keeps
            # the parameters and gradients (its next step is a full one) or writes a trace of
            # raw arrays
            self.new_findings = doctor.observe(step=state.step, loss=state.loss, lr=state.lr,
                                               params=trainer.params, grads=trainer.grads,
                                               grad_norm=norm)
        else:
            self.new_findings = doctor.observe(
                step=state.step, loss=state.loss, lr=state.lr, params=trainer.params,
                grads=trainer.grads, inputs=state.x, labels=state.y,
                activation_kinds=self._kinds, grad_norm=norm,
                activations={layer.name: layer.output for layer in self._activations},
                preactivations={layer.name: layer.output for layer in self._preactivations},
                updates=self._updates(trainer),
                prev_grad_dots=self._prev_dots if self._dots_step == state.step else None)
            # per-tensor norms, rescaled where a float32 square overflows: finite when every
            # gradient is, unlike one float32 dot over them all (|g| ~ 1e20 overflows)
            state._grad_norm = doctor.history.recent[-1].global_grad_norm()
        self._prev_dots = None
        if self.histograms is not None:
            self._histogram(state.step)
        self._announce()
        return True

    def after_update(self, trainer: Trainer, state: StepState) -> None:
        self._stepped = state.applied
        if self.doctor.wants_full() and not trainer.config.clip_value:
            self._prev_dots = self._update_dots(trainer, state)
            self._dots_step = state.step + 1

    def _update_dots(self, trainer: Trainer, state: StepState) -> dict[str, float] | None:
        """⟨g, Δw⟩ per parameter for the update just applied, while both are in cache: what
        the doctor would otherwise get by copying every gradient for its next full step. The
        gradient as computed, before the trainer's clipping by norm scaled it."""
        steps = self._updates(trainer)
        if steps is None:
            return None
        scale = 1.0 / state.clip_scale  # undo the clip
        with np.errstate(all="ignore"):
            return {name: float(np.dot(trainer.grads[name].reshape(-1), step.reshape(-1))) * scale
                    for name, step in steps.items()}

    def on_epoch_end(self, trainer: Trainer, record: dict) -> None:
        """Judge the epoch's last steps before the guard looks at the validation split."""
        self.new_findings = []
        self.judge()

    def judge(self) -> list[Finding]:
        """Have the doctor judge the steps not judged yet (the guard asks before it trusts a
        snapshot); what it finds is added to ``new_findings`` and announced."""
        new = self.doctor.judge()
        self.new_findings = [*self.new_findings, *new]
        self._announce(new)
        return new

    def _announce(self, findings: list[Finding] | None = None) -> None:
        if self.console is not None:
            for finding in self.new_findings if findings is None else findings:
                if finding.is_alarm and (finding.kind, finding.where) not in self.known:
                    self.console.print(_alert(finding), soft_wrap=True)

    def _updates(self, trainer: Trainer) -> dict[str, np.ndarray] | None:
        """w_t − w_{t−1} by parameter name: views of the optimizer's last step (no copy); zeros
        when that step was skipped; None when the optimizer did not bring the parameters here
        (first step, rollback, resume: the doctor then measures no Δw). The optimizer hands
        out views of the same buffers step after step: they are sliced by parameter once, and
        again only when the buffers change (this runs twice a step at stride 1)."""
        if self._spans is None:
            return None
        steps = {key: trainer.optimizer.last_update(key) for key in trainer.optimizer.params}
        if any(step is None for step in steps.values()):
            return None
        if not self._stepped:  # skipped: the parameters are the ones that step started from
            steps = {key: np.zeros_like(step) for key, step in steps.items()}
        bases = [step.base for step in steps.values()]
        cached, views = self._views
        if self._stepped and len(bases) == len(cached) and all(map(operator.is_, bases, cached)):
            return dict(views)  # the caller's own dict: the cached one stays as it is
        views = {name: steps[key].reshape(-1)[start : start + size].reshape(shape)
                 for name, (key, start, size, shape) in self._spans.items()}
        if self._stepped and all(base is not None for base in bases):
            self._views = (bases, dict(views))
        return views

    def _histogram(self, step: int) -> None:
        chosen = step in self._histogram_steps
        if not chosen and self.new_findings and self._alarm_histograms < HISTOGRAM_ALARMS and any(
                f.is_alarm for f in self.new_findings):
            self._alarm_histograms += 1
            chosen = True
        if chosen or (step + 1) % self._epoch_steps == 0:
            self.histograms.capture(step, {layer.name: layer.output for layer in
                                           self._activations}, self._kinds, rolling=not chosen)

    def save(self) -> None:
        """Close the doctor's trace and write ``trace.jsonl`` and ``activations.npz`` into
        ``out_dir`` (a resumed run's files continue the earlier ones), atomically."""
        if self.out_dir is None or self.doctor is None:
            return
        self.doctor.close()
        resumed = self._first_step or None
        partial = self.out_dir / PARTIAL_TRACE
        if partial.exists():
            commit_trace(partial, self.out_dir / TRACES[0], keep_before=resumed)
        if self.histograms is not None:
            self.histograms.save(self.out_dir / ACTIVATIONS, keep_before=resumed)

    def findings(self) -> list[Finding]:
        """All findings of the run (after judging the last steps)."""
        self.doctor.finish()
        return self.doctor.findings


def _update_spans(trainer: Trainer) -> dict[str, tuple[str, int, int, tuple]] | None:
    """Where each parameter lies in the optimizer's groups (the trainer passes one flat vector,
    ``{"all": model.flat_params}``): name -> (group, offset, size, shape); None if one does
    not lie in any group."""
    spans = {}
    groups = [(key, g, g.__array_interface__["data"][0]) for key, g in
              trainer.optimizer.params.items() if g.flags.c_contiguous]
    for name, param in trainer.params.items():
        start = param.__array_interface__["data"][0]
        for key, group, base in groups:
            if (param.flags.c_contiguous and param.dtype == group.dtype
                    and base <= start and start + param.nbytes <= base + group.nbytes):
                spans[name] = (key, (start - base) // group.itemsize, param.size, param.shape)
                break
        else:
            return None
    return spans


def _alert(finding: Finding) -> Text:
    style = "bold red" if finding.severity == "error" else "yellow"
    text = Text(f"doctor step {finding.step}: ", style=style)
    return text.append(f"{finding.kind} at {finding.where} — {finding.evidence}")
