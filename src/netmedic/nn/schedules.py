"""Learning-rate schedules, stepped once per optimizer step: ``schedule(step) -> lr``.

Each matches its ``torch.optim.lr_scheduler`` counterpart stepped every iteration:
``constant``; ``step`` (StepLR: × ``gamma`` every ``step_size`` steps); ``cosine``
(CosineAnnealingLR from ``base_lr`` to ``min_lr`` over ``total_steps``); any of them after a
``warmup`` of linearly rising LR (LinearLR from ``warmup_start`` × base_lr, then SequentialLR).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from netmedic.errors import BadInputError

SCHEDULE_NAMES = ("constant", "step", "cosine")


@dataclass(frozen=True)
class Schedule:
    name: str
    base_lr: float
    total_steps: int = 1
    step_size: int = 1
    gamma: float = 0.1
    min_lr: float = 0.0
    warmup_steps: int = 0
    warmup_start: float = 1.0 / 3.0  # PyTorch LinearLR's default start_factor

    def __post_init__(self) -> None:
        if self.name not in SCHEDULE_NAMES:
            raise BadInputError(
                f"unknown schedule {self.name!r}; expected one of {', '.join(SCHEDULE_NAMES)}"
            )

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            frac = step / self.warmup_steps
            return self.base_lr * (self.warmup_start + (1.0 - self.warmup_start) * frac)
        t = step - self.warmup_steps
        if self.name == "step":
            return self.base_lr * self.gamma ** (t // self.step_size)
        if self.name == "cosine":
            span = max(self.total_steps - self.warmup_steps, 1)
            t = min(t, span)
            cosine = (1 + math.cos(math.pi * t / span)) / 2
            return self.min_lr + (self.base_lr - self.min_lr) * cosine
        return self.base_lr
