"""The boundary with the user's code: calling ``loss``/``grads``, framing errors, matching keys.

Everything the user wrote is called through :func:`call_user`, so an exception in their code
becomes :class:`~netmedic.errors.UserCodeError` (CLI exit 3) whose message shows *their*
traceback, with netmedic's own frames removed.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from netmedic.errors import BadInputError, UserCodeError

#: Frames of the gradient checker and its CLI command are hidden: they only called the user.
_OWN_FILES = (
    str(Path(__file__).resolve().parent),
    str(Path(__file__).resolve().parents[2] / "cli" / "gradcheck.py"),
)


def user_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` without the checker's own frames, most recent call last."""
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if not str(Path(frame.filename).resolve()).startswith(_OWN_FILES)
    ]
    lines = ["Traceback of your code (most recent call last):\n"]
    lines += traceback.format_list(frames)
    lines += traceback.format_exception_only(type(exc), exc)
    return "".join(lines).rstrip()


def call_user(fn: Callable[..., Any], *args: Any, what: str) -> Any:
    """``fn(*args)``; an exception becomes :class:`UserCodeError` saying it came from ``what``."""
    try:
        return fn(*args)
    except Exception as exc:  # anything the user's code raises is theirs, shown as theirs
        hint = ""
        if isinstance(exc, ValueError) and "read-only" in str(exc):
            hint = (
                " (netmedic hands your code copies of the parameters; do not modify them in place)"
            )
        raise UserCodeError(
            f"your {what} raised {type(exc).__name__}: {exc}{hint}\n\n{user_traceback(exc)}"
        ) from exc


def as_loss_value(value: Any, where: str) -> float:
    """The user's loss as a Python float; a non-scalar is bad input with a message saying so."""
    array = np.asarray(value)
    if array.size != 1 or not np.issubdtype(array.dtype, np.number):
        raise BadInputError(
            f"loss(params) must return one number; at {where} it returned "
            f"{type(value).__name__} with shape {array.shape}. If it is one loss per example, "
            "return their mean (or sum): loss = per_example.mean()"
        )
    return float(array.reshape(()))


def loss_epsilon(value: Any) -> float:
    """Machine epsilon of the loss's own dtype: float32 losses carry 2**-23 relative round-off."""
    dtype = np.asarray(value).dtype
    if np.issubdtype(dtype, np.floating) and np.finfo(dtype).eps > np.finfo(np.float64).eps:
        return float(np.finfo(dtype).eps)
    return float(np.finfo(np.float64).eps)


def upcast_params(params: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Float64 copies of ``params`` (the caller's arrays are never touched)."""
    if not isinstance(params, Mapping) or not params:
        got = "an empty dict" if isinstance(params, Mapping) else type(params).__name__
        raise BadInputError(
            f"params must be a non-empty dict of NumPy arrays, e.g. {{'W1': W1, 'b1': b1}}; "
            f"got {got}"
        )
    out = {}
    for name, value in params.items():
        array = np.asarray(value)
        if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
            raise BadInputError(f"params[{name!r}] is not numeric (dtype {array.dtype})")
        out[str(name)] = np.array(array, dtype=np.float64, copy=True)
        if not np.all(np.isfinite(out[str(name)])):
            raise BadInputError(
                f"params[{name!r}] holds NaN or Inf; check gradients at finite values"
            )
    return out


def match_grads(
    raw: Any, names: list[str]
) -> tuple[dict[str, np.ndarray], dict[str, str], list[str]]:
    """Pair the arrays ``grads(params)`` returned with parameter names.

    Returns ``(grads by param name, the key used for each, notes for the user)``. Keys equal to
    the parameter name win; ``dW1`` (or ``d_W1``) is accepted for ``W1``. A tuple or list is
    paired by position with the order of ``params``.
    """
    notes: list[str] = []
    if isinstance(raw, (tuple, list)):
        if len(raw) != len(names):
            raise BadInputError(
                f"grads(params) returned a {type(raw).__name__} of {len(raw)} arrays but params "
                f"has {len(names)} ({', '.join(names)}); return a dict with the keys of params"
            )
        notes.append(
            f"grads returned a {type(raw).__name__}; its arrays were paired by position with "
            f"params ({', '.join(names)}). A dict with the same keys is safer."
        )
        raw = dict(zip(names, raw, strict=True))
    if not isinstance(raw, Mapping):
        raise BadInputError(
            f"grads(params) must return a dict like params ({', '.join(names)}); "
            f"it returned {type(raw).__name__}"
        )
    keys = {str(k): k for k in raw}
    grads: dict[str, np.ndarray] = {}
    used: dict[str, str] = {}
    missing = []
    for name in names:
        key = next((k for k in (name, f"d{name}", f"d_{name}") if k in keys), None)
        if key is None:
            missing.append(name)
            continue
        used[name] = key
        grads[name] = np.array(raw[keys[key]], dtype=np.float64, copy=True)
    if missing:
        raise BadInputError(
            f"grads(params) returned no gradient for {', '.join(missing)} "
            f"(its keys: {', '.join(keys) or 'none'}); return one entry per parameter, "
            f"keyed like params ({', '.join(names)}) or with a 'd' prefix (d{names[0]})"
        )
    renamed = [f"{key} → {name}" for name, key in used.items() if key != name]
    if renamed:
        notes.append(
            f"gradient keys matched to parameters by their 'd' prefix: {', '.join(renamed)}"
        )
    extra = sorted(set(keys) - set(used.values()))
    if extra:
        notes.append(f"grads returned keys that match no parameter, ignored: {', '.join(extra)}")
    return grads, used, notes
