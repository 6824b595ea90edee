"""The doctor's unit of output: one measured problem with its evidence and its fix."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

#: The fixed vocabulary of ``Finding.kind`` (../shared/API.md). Add a word only with a README entry.
KINDS = (
    "nonfinite",
    "exploding_gradients",
    "vanishing_gradients",
    "diverging_loss",
    "oscillating_loss",
    "stalled_loss",
    "dead_relu",
    "saturated_activation",
    "unscaled_input",
    "bad_init",
    "lr_too_high",
    "lr_too_low",
    "label_error",
    "initial_loss_off",
    "wrong_gradient",
)

SEVERITIES = ("info", "warning", "error")

#: Names of the machine-readable remedies the guard and ``clinic run --fix`` know how to apply.
REMEDY_ACTIONS = (
    "set_lr",
    "set_init",
    "normalize_inputs",
    "clip_grad_norm",
    "set_activation",
    "set_loss",
    "add_normalization",
    "fix_gradient",
    "set_dtype",
)


@dataclass(frozen=True)
class Finding:
    """One diagnosis: what (``kind``), how bad, when (``step``), where, the numbers, why, the fix.

    ``step`` is the 0-based count of optimizer steps attempted (never rewound by a rollback);
    ``None`` for findings made before training. ``remedy`` is the fix in machine form,
    ``{"action": NAME, ...}`` with NAME in :data:`REMEDY_ACTIONS`, or ``None``.
    """

    kind: str
    severity: str
    step: int | None
    where: str
    evidence: str
    explanation: str
    fix: str
    remedy: dict[str, Any] | None = field(default=None)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(
                f"unknown finding kind {self.kind!r}; expected one of {', '.join(KINDS)}"
            )
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}; expected one of {SEVERITIES}")
        if self.remedy is not None and self.remedy.get("action") not in REMEDY_ACTIONS:
            raise ValueError(
                f"unknown remedy action {self.remedy.get('action')!r}; "
                f"expected one of {', '.join(REMEDY_ACTIONS)}"
            )

    @property
    def is_alarm(self) -> bool:
        """True for warnings and errors."""
        return self.severity in ("warning", "error")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (the remedy's numbers as plain floats)."""
        d = asdict(self)
        if d["remedy"] is not None:
            d["remedy"] = {k: _plain(v) for k, v in d["remedy"].items()}
        return d


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):  # NumPy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None  # strict JSON has no NaN/Inf
    return value
