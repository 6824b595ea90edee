"""Apply a Finding's ``remedy`` to whatever can take it: one generic mechanism, no per-case code.

A remedy is ``{"action": NAME, **arguments}`` with NAME in
:data:`~netmedic.doctor.finding.REMEDY_ACTIONS`. :func:`apply_remedy` calls the *target's method
of that name* with the arguments it accepts. The target is anything with such methods:

- a live training run, through a controller following :class:`TrainingControl` (the guard);
- a run configuration, through :class:`ConfigEditor` (``clinic run --fix``: restart with it).

Argument names (the doctor writes them, these methods read them):

======================  =================================================================
action                  arguments
======================  =================================================================
``set_lr``              ``lr`` (the new value) or ``factor`` (a multiplier)
``clip_grad_norm``      ``max_norm`` (global L2 norm, as in PyTorch's ``clip_grad_norm_``)
``set_init``            ``init`` (a name of :mod:`netmedic.nn.init`, e.g. ``"he_normal"``)
``normalize_inputs``    ``mode`` (``"unit"`` or ``"standard"``, as ``--normalize``)
``set_activation``      ``activation`` (``"relu"``, ``"tanh"``...)
``set_loss``            ``loss`` (``"cross_entropy"``...)
``add_normalization``   ``where`` (the layer), optional
``fix_gradient``        ``where`` (the parameter whose gradient is wrong)
``set_dtype``           ``dtype`` (``"float64"``...)
======================  =================================================================

Every method may also take ``where``; arguments a method does not accept are left out and said.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from netmedic.doctor.finding import REMEDY_ACTIONS

#: Remedies that change the model, the data or the numerics: a running trainer cannot apply them,
#: a restart with an edited configuration can (``clinic run --fix``).
RESTART_ACTIONS = (
    "set_init",
    "normalize_inputs",
    "set_activation",
    "set_loss",
    "add_normalization",
    "fix_gradient",
    "set_dtype",
)


@runtime_checkable
class TrainingControl(Protocol):
    """What the guard needs from a running trainer. Method names are remedy action names.

    ``snapshot`` copies the parameters and the optimizer's state (moments, step count) into memory;
    ``restore`` puts such a copy back and must leave ``lr`` and clipping as they are (the guard
    owns those). A controller may also define any other action of
    :data:`~netmedic.doctor.finding.REMEDY_ACTIONS` as a method (``set_init(init=...)``...);
    remedies it lacks are reported as needing a restart.
    """

    @property
    def lr(self) -> float:
        """The learning rate the next step will use."""
        ...

    def set_lr(self, lr: float) -> None:
        """Use ``lr`` from the next step on."""
        ...

    def clip_grad_norm(self, max_norm: float) -> None:
        """From the next step on, scale gradients whose global L2 norm exceeds ``max_norm``."""
        ...

    def snapshot(self) -> object:
        """An in-memory copy of parameters and optimizer state."""
        ...

    def restore(self, snapshot: object) -> None:
        """Put back a copy made by :meth:`snapshot`."""
        ...


@dataclass(frozen=True)
class RemedyOutcome:
    """What became of one remedy: ``status`` is ``"applied"``, ``"needs_restart"`` or
    ``"unsupported"``; ``message`` says it in words."""

    action: str
    status: str
    message: str

    @property
    def applied(self) -> bool:
        return self.status == "applied"


def apply_remedy(remedy: Mapping[str, Any], target: object) -> RemedyOutcome:
    """Call ``target.<remedy["action"]>(**arguments)``; never silently drop a remedy.

    ``remedy``: ``{"action": NAME, ...}`` as in ``Finding.remedy``. ``target``: a
    :class:`TrainingControl`, a :class:`ConfigEditor`, or any object with methods named after
    actions. A target without the method gets ``"needs_restart"`` for the actions in
    :data:`RESTART_ACTIONS` and ``"unsupported"`` otherwise. Exceptions from the method propagate.
    """
    action = remedy.get("action")
    if action not in REMEDY_ACTIONS:
        raise ValueError(
            f"unknown remedy action {action!r}; expected one of {', '.join(REMEDY_ACTIONS)}"
        )
    arguments = {k: v for k, v in remedy.items() if k != "action"}
    method = getattr(target, action, None)
    if not callable(method):
        described = _describe(action, arguments)
        if action in RESTART_ACTIONS:
            return RemedyOutcome(action, "needs_restart",
                                 f"{described} needs a restart: it cannot be applied mid-run")
        return RemedyOutcome(action, "unsupported", f"{described}: {type(target).__name__} "
                                                    f"has no {action}() to apply it")
    accepted, ignored = _split_arguments(method, arguments)
    method(**accepted)
    message = _describe(action, accepted)
    if ignored:
        message += f" (ignored {', '.join(sorted(ignored))})"
    return RemedyOutcome(action, "applied", message)


class ConfigEditor:
    """Applies remedies to a run configuration (a dict keyed like ``netmedic train``'s options).

    ``apply_remedy({"action": "set_init", "init": "he_normal"}, ConfigEditor(config))`` sets
    ``config["init"] = "he_normal"``; ``edits`` lists what changed, for the user.
    """

    def __init__(self, config: MutableMapping[str, Any]) -> None:
        self.config = config
        self.edits: list[str] = []

    def __repr__(self) -> str:
        return f"ConfigEditor({dict(self.config)!r})"

    def _set(self, key: str, value: Any) -> None:
        old = self.config.get(key)
        self.config[key] = value
        self.edits.append(f"{key}: {old!r} → {value!r}")

    def set_lr(self, lr: float | None = None, factor: float | None = None) -> None:
        if lr is None:
            lr = float(self.config["lr"]) * (factor if factor is not None else 0.1)
        self._set("lr", lr)

    def clip_grad_norm(self, max_norm: float) -> None:
        self._set("clip_norm", max_norm)

    def set_init(self, init: str) -> None:
        self._set("init", init)

    def normalize_inputs(self, mode: str = "unit") -> None:
        self._set("normalize", mode)

    def set_activation(self, activation: str) -> None:
        self._set("activation", activation)

    def set_loss(self, loss: str) -> None:
        self._set("loss", loss)

    def add_normalization(self, where: str | None = None) -> None:
        self._set("normalization", where or "all")

    def fix_gradient(self, where: str | None = None) -> None:
        # Nothing to edit: a wrong gradient is a bug in code; say so instead of pretending.
        self.edits.append(f"gradient of {where or 'a parameter'} must be fixed in code "
                          "(run `netmedic gradcheck`)")

    def set_dtype(self, dtype: str) -> None:
        self._set("dtype", dtype)


def _split_arguments(method: Any, arguments: dict[str, Any]) -> tuple[dict, set[str]]:
    """The arguments ``method`` accepts, and the names it does not."""
    try:
        parameters = inspect.signature(method).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature: pass everything
        return arguments, set()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return arguments, set()
    names = {p.name for p in parameters}
    return ({k: v for k, v in arguments.items() if k in names},
            {k for k in arguments if k not in names})


def _describe(action: str, arguments: Mapping[str, Any]) -> str:
    shown = ", ".join(f"{k}={_short(v)}" for k, v in arguments.items())
    return f"{action}({shown})"


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else repr(value)
