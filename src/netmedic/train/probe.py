"""The engine's probe: every step, the model's tensors by layer name, handed to the Doctor.

Weights and gradients (``dense1.weight``…), pre-activations (each dense/conv output, the last one
being the logits), activations (each activation layer's output, with its kind from the layer,
so nothing is guessed), the input batch and its labels. The arrays are the engine's own buffers;
the doctor keeps statistics, never references.
"""

from __future__ import annotations

import math
from pathlib import Path

from rich.console import Console
from rich.text import Text

from netmedic.doctor import Doctor
from netmedic.doctor.finding import Finding
from netmedic.report.record import HistogramRecorder, commit_trace
from netmedic.report.rundata import ACTIVATIONS, TRACES
from netmedic.train.hooks import StepState
from netmedic.train.trainer import Trainer

PREACTIVATION_KINDS = ("dense", "conv")
#: full statistics (activations, zeros, saturation, update ratios) every 20th step; loss, gradient
#: norms and non-finite checks every step. Measured: ~0.08 ms a step on a 784-256-128-10 MLP at
#: batch 128, under a tenth of the step (the Doctor's own default, 10, costs ~0.13 ms).
ENGINE_STRIDE = 20
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
                                 trace=trace)
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

    def before_update(self, trainer: Trainer, state: StepState) -> bool:
        self.new_findings = self.doctor.observe(
            step=state.step, loss=state.loss, lr=state.lr, params=trainer.params,
            grads=trainer.grads, inputs=state.x, labels=state.y,
            activations={layer.name: layer.output for layer in self._activations},
            preactivations={layer.name: layer.output for layer in self._preactivations},
            activation_kinds=self._kinds,
        )
        # the doctor measured every gradient's norm: the global norm (for the guard) follows
        norms = [entry["norm"] for _, entry in self.doctor.history.recent[-1].role("grad")]
        state._grad_norm = math.sqrt(math.fsum(norm * norm for norm in norms))
        if self.histograms is not None:
            self._histogram(state.step)
        if self.console is not None:
            for finding in self.new_findings:
                if finding.is_alarm and (finding.kind, finding.where) not in self.known:
                    self.console.print(_alert(finding), soft_wrap=True)
        return True

    def _histogram(self, step: int) -> None:
        chosen = step in self._histogram_steps
        if not chosen and self._alarm_histograms < HISTOGRAM_ALARMS and any(
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


def _alert(finding: Finding) -> Text:
    style = "bold red" if finding.severity == "error" else "yellow"
    text = Text(f"doctor step {finding.step}: ", style=style)
    return text.append(f"{finding.kind} at {finding.where} — {finding.evidence}")
