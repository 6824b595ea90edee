"""netmedic: find out why a neural network's training blows up, and fix it.

Public surface (../shared/API.md): :class:`Doctor`, :class:`Finding`, :func:`check_data`,
:func:`check_gradients`, :func:`preflight`, and the :mod:`netmedic.data` and :mod:`netmedic.nn`
packages. Names are imported on first use so ``import netmedic`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Doctor": "netmedic.doctor",
    "Finding": "netmedic.doctor.finding",
    "check_data": "netmedic.doctor.check_data",
    "check_gradients": "netmedic.doctor.gradcheck",
    "preflight": "netmedic.doctor.preflight",
}
_SUBPACKAGES = ("data", "nn", "doctor", "train", "report")

__all__ = [*_EXPORTS, *_SUBPACKAGES]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    if name in _SUBPACKAGES:
        return importlib.import_module(f"netmedic.{name}")
    raise AttributeError(f"module 'netmedic' has no attribute {name!r}")
