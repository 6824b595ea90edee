"""The training doctor: measure a run, and name the layer, the step, the evidence and the fix.

- :class:`Doctor` — watch any training loop (``observe`` every step);
- :class:`Finding` — its unit of output (kinds: :data:`KINDS`);
- :func:`check_data` — data checks before training;
- :func:`diagnose_trace` / :func:`read_trace` — the same diagnosis for a run written as a trace
  by a program in any language (``netmedic doctor TRACE``).
"""

from __future__ import annotations

import importlib
from typing import Any

from netmedic.doctor.doctor import Doctor
from netmedic.doctor.finding import KINDS, REMEDY_ACTIONS, Finding

_LAZY = {
    "check_data": "netmedic.doctor.check_data",
    "diagnose_trace": "netmedic.doctor.trace",
    "read_trace": "netmedic.doctor.trace",
}

__all__ = ["KINDS", "REMEDY_ACTIONS", "Doctor", "Finding", *_LAZY]


def __getattr__(name: str) -> Any:
    # check_data lives in its own module (written separately); imported on first use.
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'netmedic.doctor' has no attribute {name!r}")
