"""The clinic: each seed user's broken training, re-created, diagnosed and fixed.

A scenario (:class:`~netmedic.clinic.scenario.Scenario`, one small module each) re-creates a
seed's training in NumPy as its author wrote it, watched by the :class:`~netmedic.doctor.Doctor`
through ``observe`` with the seed's own names; its hand-written gradients, if any, go through
:func:`~netmedic.check_gradients`. ``fix`` applies the findings' remedies through the guard's
generic mechanism (:mod:`netmedic.clinic.fix`) and trains the fixed network.

::

    from netmedic import clinic
    result = clinic.run_scenario("seed-000-sigmoid-mlp", fix_it=True)
    result.kinds, result.first_detection, result.test_accuracy
"""

from __future__ import annotations

import importlib
from typing import Any

from netmedic.errors import BadInputError

#: scenario name -> module of this package defining ``SCENARIO``
REGISTRY = {
    "seed-000-sigmoid-mlp": "seed000_sigmoid_mlp",
    "seed-002-relu-mse": "seed002_relu_mse",
    "seed-003-deep-cnn": "seed003_deep_cnn",
    "seed-004-wide-sigmoid": "seed004_wide_sigmoid",
}


def names() -> list[str]:
    """Scenario names, in seed order."""
    return list(REGISTRY)


def get(name: str) -> Any:
    """The :class:`~netmedic.clinic.scenario.Scenario` called ``name`` (a unique prefix, or the
    seed number "000", works too)."""
    matches = [n for n in REGISTRY if n == name or n.startswith(name)
               or n.startswith(f"seed-{name}")]
    if len(matches) != 1:
        why = "is ambiguous" if matches else "is not a scenario"
        raise BadInputError(f"{name!r} {why}; the scenarios are {', '.join(REGISTRY)} "
                            "(`netmedic clinic list`)")
    return importlib.import_module(f"netmedic.clinic.{REGISTRY[matches[0]]}").SCENARIO


def scenarios() -> list[Any]:
    """Every scenario, in seed order."""
    return [get(name) for name in REGISTRY]


def __getattr__(name: str) -> Any:
    if name in ("run_scenario", "diagnose", "fix", "ClinicResult"):
        return getattr(importlib.import_module("netmedic.clinic.runner"), name)
    raise AttributeError(f"module 'netmedic.clinic' has no attribute {name!r}")


__all__ = ["REGISTRY", "ClinicResult", "diagnose", "fix", "get", "names", "run_scenario",
           "scenarios"]
