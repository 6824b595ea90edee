"""Preflight for an engine run: the trainer's model and data handed to the doctor as callables."""

from __future__ import annotations

from netmedic.doctor.finding import Finding
from netmedic.doctor.preflight import preflight
from netmedic.train.callables import model_callables, overfit_step
from netmedic.train.trainer import Trainer

PREFLIGHT_BATCH = 256  # examples for the initial loss and the activation spread at init
OVERFIT_BATCH = 16  # examples the model must be able to memorise


def run_preflight(trainer: Trainer) -> list[Finding]:
    """``check_data`` on the raw training data, initial loss vs ln C, signal propagation at init
    and overfitting one small batch — on copies, so the run itself is untouched."""
    arrays = trainer.arrays
    x, y = arrays.x_train[:PREFLIGHT_BATCH], arrays.y_train[:PREFLIGHT_BATCH]
    calls = model_callables(trainer.model, trainer.loss_fn, x, y)
    classifier = trainer.loss_fn.name == "cross_entropy"
    return preflight(
        x=arrays.x_train, y=arrays.y_train,  # what the model is fed: after --normalize
        num_classes=trainer.dataset.num_classes if classifier else None,
        params=calls.params, loss=calls.loss, grads=calls.grads,
        forward_activations=calls.forward_activations, activation_kinds=calls.activation_kinds,
        overfit_step=overfit_step(trainer.model, trainer.loss_fn, x[:OVERFIT_BATCH],
                                  y[:OVERFIT_BATCH]),
    )
