"""The engine's probe: every step, the model's tensors by layer name, handed to the Doctor.

Weights and gradients (``dense1.weight``…), pre-activations (each dense/conv output, the last one
being the logits), activations (each activation layer's output, with its kind from the layer,
so nothing is guessed), the input batch and its labels. The arrays are the engine's own buffers;
the doctor keeps statistics, never references.
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from netmedic.doctor import Doctor
from netmedic.doctor.finding import Finding
from netmedic.train.hooks import StepState
from netmedic.train.trainer import Trainer

PREACTIVATION_KINDS = ("dense", "conv")


class DoctorHook:
    """Trainer hook: ``Doctor.observe`` before each update; ``new_findings`` for the guard."""

    def __init__(self, doctor: Doctor | None = None, console: Console | None = None) -> None:
        self.doctor = doctor
        self.console = console
        self.new_findings: list[Finding] = []

    def on_train_start(self, trainer: Trainer) -> None:
        if self.doctor is None:
            self.doctor = Doctor(num_classes=trainer.dataset.num_classes)
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
        if self.console is not None:
            for finding in self.new_findings:
                if finding.is_alarm:
                    self.console.print(_alert(finding), soft_wrap=True)
        return True

    def findings(self) -> list[Finding]:
        """All findings of the run (after judging the last steps)."""
        self.doctor.finish()
        return self.doctor.findings


def _alert(finding: Finding) -> Text:
    style = "bold red" if finding.severity == "error" else "yellow"
    text = Text(f"doctor step {finding.step}: ", style=style)
    return text.append(f"{finding.kind} at {finding.where} — {finding.evidence}")
