"""What the trainer tells its hooks, and when.

A hook is any object with some of these methods (missing ones are skipped):

- ``on_train_start(trainer)``
- ``before_update(trainer, state) -> bool``: gradients are computed, the update is not applied
  yet; return False to skip this step's update (the guard does, for non-finite gradients).
- ``after_update(trainer, state)``
- ``on_epoch_end(trainer, record)``: ``record`` is the epoch's entry of ``trainer.history``.
- ``on_train_end(trainer)``

The doctor's probe and the guard are hooks; the trainer is the only place that wires the engine
to the doctor (ARCHITECTURE.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from netmedic.nn.clip import global_norm

HOOK_METHODS = ("on_train_start", "before_update", "after_update", "on_epoch_end", "on_train_end")


@dataclass
class StepState:
    """One optimizer step as the hooks see it. ``step`` counts attempted steps from 0 and is
    never rewound by a rollback; ``x``/``y`` are the batch (views, valid during the call)."""

    step: int
    epoch: int
    loss: float
    lr: float
    x: np.ndarray
    y: np.ndarray
    grads: dict[str, np.ndarray]
    flat_grads: np.ndarray | None = field(default=None, repr=False)
    applied: bool = True
    #: the factor clipping by global norm scaled the gradients by before the update (1: none)
    clip_scale: float = 1.0
    _grad_norm: float | None = field(default=None, repr=False)

    @property
    def grad_norm(self) -> float:
        """Global L2 norm of the gradients before clipping (computed once, on first use)."""
        if self._grad_norm is None:
            grads = [self.flat_grads] if self.flat_grads is not None else self.grads.values()
            self._grad_norm = global_norm(grads)
        return self._grad_norm

    @property
    def finite(self) -> bool:
        return bool(np.isfinite(self.loss) and np.isfinite(self.grad_norm))
