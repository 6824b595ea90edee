"""The monitor: turns one step's arrays into a :class:`~netmedic.doctor.history.Record`.

Cost model (a 784-256-128-10 MLP step takes about 1 ms; the doctor's budget is ~2% of it):

- every step: the loss, and the global gradient norm. A caller that has it already (the engine
  does, for clipping and the guard) passes ``grad_norm=``: O(1) work here, no pass over the
  gradients. Otherwise one BLAS dot per gradient (NaN/Inf anywhere makes it non-finite, and
  only then are NaN and Inf counted);
- on *full* steps — the first ``stride`` observations, then every ``stride``-th, and any step
  whose loss or gradients are not finite — every statistic of every tensor given, but for two
  that cost passes over the largest arrays and that only one rule reads, in one situation:
  parameters' and pre-activations' min/max (the first FIRST_KEEP observations and non-finite
  steps) and gradients' fraction of zeros (only when no activations are given);
- the step Δw = w_t − w_{t−1}: the caller's ``updates`` when given (the engine hands over its
  optimizer's last step: views, no copy). Otherwise the parameters are copied into preallocated
  buffers on the observation *before* a full one — only while the caller is not passing
  ``updates`` on its full steps. The previous gradients (for ⟨g_{t−1}, Δw⟩) are copied there too,
  unless the caller passes those products itself (``prev_grad_dots``: the engine computes them
  right after its update, while both arrays are still in cache).

Nothing the caller passed is referenced after :meth:`Monitor.measure` returns.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from netmedic.doctor import stats
from netmedic.doctor.history import FIRST_KEEP, Record
from netmedic.errors import BadInputError

Arrays = Mapping[str, Any]
_PLAIN_NUMBERS = frozenset({float, int, np.float32, np.float64})
KNOWN_KINDS = ("relu", "sigmoid", "tanh", "softmax", "other")


class Monitor:
    """Measures steps. ``stride``: full statistics every ``stride`` observations (1 = all)."""

    def __init__(self, batch_axis: int = 0, stride: int = 10) -> None:
        if stride < 1:
            raise ValueError(f"stride must be >= 1; got {stride}")
        self.batch_axis, self.stride = batch_axis, stride
        self._kinds: dict[str, str] = {}  # activation kinds inferred so far
        self._names: dict[tuple[str, ...], list[tuple[str, str]]] = {}  # grad keys -> param names
        self._params_seen: set[str] = set()
        self._prev_n = -2  # observation index of the buffered gradients below
        self._prev_params_n = -2  # ...and of the buffered parameters
        self._prev_params: dict[str, np.ndarray] = {}
        self._prev_grads: dict[str, np.ndarray] = {}
        self._scratch: dict[str, np.ndarray] = {}
        self._updates_given = False  # the caller passed `updates` on its last full step
        self._dots_given = False  # ...and `prev_grad_dots`

    def forget_previous(self) -> None:
        """Drop the buffered previous step (no Δw across a rollback or reload)."""
        self._prev_n = self._prev_params_n = -2

    def is_full(self, n: int) -> bool:
        return n < self.stride or n % self.stride == 0

    def keeps_arrays(self, n: int) -> bool:
        """Observation ``n`` comes before a full one and the caller has not been passing what
        its Δw and ⟨g_{t−1}, Δw⟩ need: this one's parameters or gradients are copied."""
        return self.is_full(n + 1) and not (self._updates_given and self._dots_given)

    def light(self, n: int, step: int, loss_value: float | None, lr: Any, grad_norm: Any,
              params: Arrays | None, grads: Arrays | None) -> Record | None:
        """The record of a step without full statistics, given the caller's global gradient
        norm: the loss (already a float), lr and that norm (``Record.grad_norm``; no per-tensor
        entries), O(1) work but on the step before a full one. ``None`` when :meth:`measure`
        must look: full statistics due, no ``grad_norm``, or the loss or the norm not finite."""
        if grad_norm is None or self.is_full(n):
            return None
        norm = scalar(grad_norm, "grad_norm")
        if not math.isfinite(norm) or (loss_value is not None and not math.isfinite(loss_value)):
            return None
        if self.is_full(n + 1):
            params = _as_dict(params, "params")
            self._buffer(n, params, dict(self._grad_names(_as_dict(grads, "grads"), params)))
        return Record(n, int(step), loss_value, scalar(lr, "lr"), None, {}, grad_norm=norm)

    def measure(self, n: int, step: int, loss: Any, lr: Any = None, params: Arrays | None = None,
                grads: Arrays | None = None, activations: Arrays | None = None,
                preactivations: Arrays | None = None, inputs: Any = None,
                activation_kinds: Mapping[str, str] | None = None, updates: Arrays | None = None,
                labels: Any = None, full: bool = False,
                prev_grad_dots: Mapping[str, float] | None = None) -> tuple[Record, bool]:
        """One observation -> ``(record, full)``; silent on NaN/Inf (``np.errstate`` inside).
        ``full``: take the full statistics whatever the stride (the caller saw a NaN or a
        jump)."""
        with np.errstate(all="ignore"):
            return self._measure(n, step, scalar(loss, "loss"), lr, params, grads, activations,
                                 preactivations, inputs, activation_kinds, updates, labels, full,
                                 prev_grad_dots)

    def _measure(self, n, step, loss_value, lr, params, grads, activations, preactivations,
                 inputs, activation_kinds, updates, labels, forced,
                 prev_grad_dots) -> tuple[Record, bool]:
        params = _as_dict(params, "params")
        grad_pairs = self._grad_names(_as_dict(grads, "grads"), params)
        lr_value = scalar(lr, "lr")
        grad_entries = {name: stats.norm_entry(g) for name, g in grad_pairs}
        finite = (loss_value is None or math.isfinite(loss_value)) and all(
            math.isfinite(e["norm"]) for e in grad_entries.values())
        full = forced or self.is_full(n) or not finite
        batch = None
        if not full:
            tensors = {f"grad/{name}": entry for name, entry in grad_entries.items()}
        else:
            tensors, batch, finite = self._full(
                n, params, dict(grad_pairs), grad_entries, activations, preactivations, inputs,
                activation_kinds, updates, labels, finite, prev_grad_dots)
            self._updates_given = bool(updates)
            # a closer look off the stride (a jump) comes without them: keep the last answer
            if prev_grad_dots is not None or not self._updates_given:
                self._dots_given = prev_grad_dots is not None
        if self.is_full(n + 1):
            self._buffer(n, params, dict(grad_pairs))
        return Record(n, int(step), loss_value, lr_value, batch, tensors, finite=finite), full

    # ------------------------------------------------------------------------------ full steps
    def _full(self, n, params, grads, grad_entries, activations, preactivations, inputs,
              activation_kinds, updates, labels, finite,
              prev_grad_dots) -> tuple[dict[str, Any], int | None, bool]:
        axis = self.batch_axis
        tensors: dict[str, Any] = {}
        batch = None
        for name, x in _named(inputs, "inputs").items():
            x = np.asarray(x)
            tensors[f"input/{name}"] = stats.input_entry(x, axis)
            batch = batch or stats.batch_size(x, axis)
        # parameters' min/max: two passes over the largest arrays, read by the rules only at the
        # start (baselines) and when something is not finite (what overflowed): only then
        baseline = n < FIRST_KEEP
        for name, w in params.items():
            tensors[f"param/{name}"] = stats.param_entry(
                w, first=name not in self._params_seen, ranges=baseline)
            self._params_seen.add(name)
        pre = list(_as_dict(preactivations, "preactivations").items())
        act = list(_as_dict(activations, "activations").items())
        given = dict(activation_kinds or {})
        for i in range(max(len(pre), len(act))):
            if i < len(pre):
                name, z = pre[i]
                z = np.asarray(z)
                tensors[f"preact/{name}"] = stats.preactivation_entry(z, axis, baseline)
                batch = batch or stats.batch_size(z, axis)
            if i < len(act):
                name, a = act[i]
                a = np.asarray(a)
                kind = given.get(name) or self._kinds.get(name)
                entry = stats.activation_entry(a, kind, axis)
                if kind is None and entry.get("kind"):
                    self._kinds[name] = entry["kind"]
                tensors[f"act/{name}"] = entry
                batch = batch or stats.batch_size(a, axis)
        # gradients: no min/max (no rule needs them, they cost 2 passes); the fraction of exact
        # zeros only without activations (the dead-ReLU rule's fallback is its only reader)
        zeros = not act
        for name, g in grads.items():
            entry = grad_entries[name]
            entry["size"] = int(np.size(g))
            if zeros and math.isfinite(entry["norm"]):
                entry["zero_frac"] = stats.zero_fraction(g)
            tensors[f"grad/{name}"] = entry
        tensors.update(self._updates(n, params, grads, updates, prev_grad_dots))
        for name, y in _named(labels, "labels").items():
            tensors[f"label/{name}"] = stats.label_entry(y, axis)
        finite = finite and all(map(stats.finite_entry, tensors.values()))
        if not baseline and not finite:  # what grew too large: the ranges, now they matter
            for name, w in params.items():
                stats.range_entry(w, tensors[f"param/{name}"])
            for name, z in pre:
                stats.range_entry(z, tensors[f"preact/{name}"])
        return tensors, batch, finite

    def _updates(self, n: int, params: Arrays, grads: Arrays, updates: Arrays | None,
                 dots: Mapping[str, float] | None) -> dict:
        """``update/NAME`` entries for the step that led to this step's parameters; ``dots``:
        the caller's ⟨g_{t−1}, Δw⟩ by name (else from the buffered previous gradients)."""
        have_prev = self._prev_n == n - 1
        have_params = self._prev_params_n == n - 1
        given = dict(self._grad_names(_as_dict(updates, "updates"), params)) if updates else None
        out: dict[str, Any] = {}
        for name in (params if params else grads):
            prev_grad = self._prev_grads.get(name) if have_prev else None
            if given is not None:
                if name not in given:
                    continue
                delta = np.asarray(given[name])
            elif have_params and name in params and name in self._prev_params:
                w = np.asarray(params[name])
                before = self._prev_params[name]
                if before.shape != w.shape:
                    continue
                delta = self._scratch.get(name)
                if delta is None or delta.shape != w.shape or delta.dtype != before.dtype:
                    delta = self._scratch[name] = np.empty_like(before)
                np.subtract(w, before, out=delta, casting="unsafe")
            else:
                continue
            grad = grads.get(name)
            dot = None if dots is None else dots.get(name)
            entry = out[f"update/{name}"] = stats.update_entry(
                delta, None if grad is None else np.asarray(grad),
                prev_grad if dot is None else None)
            if dot is not None:
                entry["dot_prev_grad"] = float(dot)
        return out

    def _buffer(self, n: int, params: Arrays, grads: Arrays) -> None:
        """Copy this step's gradients for the next, full, step's ⟨g_{t−1}, Δw⟩ unless the caller
        has been passing those products, and its parameters for that step's Δw unless the caller
        has been passing ``updates``."""
        if not self._dots_given:
            _copy_into(self._prev_grads, grads)
            self._prev_n = n
        if not self._updates_given:
            _copy_into(self._prev_params, params)
            self._prev_params_n = n

    def _grad_names(self, grads: Arrays, params: Arrays) -> list[tuple[str, Any]]:
        """Gradients keyed by their parameter's name (``dW1`` -> ``W1``), in parameter order."""
        keys = tuple(grads)
        names = self._names.get(keys)
        if names is None:
            mapped = []
            for key in keys:
                name = key
                if params and key not in params and key[:1] == "d" and key[1:] in params:
                    name = key[1:]
                mapped.append((name, key))
            if params:
                order = {name: i for i, name in enumerate(params)}
                mapped.sort(key=lambda pair: order.get(pair[0], len(order)))
            names = self._names[keys] = mapped
        return [(name, grads[key]) for name, key in names]


def _copy_into(buffers: dict[str, np.ndarray], arrays: Arrays) -> None:
    for name, a in arrays.items():
        a = np.asarray(a)
        buf = buffers.get(name)
        if buf is None or buf.shape != a.shape or buf.dtype != a.dtype:
            buffers[name] = np.array(a, copy=True)
        else:
            np.copyto(buf, a)


def _as_dict(arrays: Any, what: str) -> Mapping[str, Any]:
    if arrays is None:
        return {}
    if not isinstance(arrays, Mapping):
        raise BadInputError(
            f"{what} must be a dict of NumPy arrays keyed by name, like {{'W1': W1, 'b1': b1}}; "
            f"got {type(arrays).__name__}")
    return arrays


def _named(arrays: Any, default: str) -> Mapping[str, Any]:
    """One array (named ``default``) or a dict of arrays."""
    if arrays is None:
        return {}
    if isinstance(arrays, Mapping):
        return arrays
    return {default: arrays}


def scalar(value: Any, what: str) -> float | None:
    """A float from a number, a 0-d array, or the mean of per-example values; ``None`` stays.
    Silent on NaN/Inf."""
    if value is None:
        return None
    if type(value) in _PLAIN_NUMBERS:  # the usual case, every step: skip NumPy's conversion
        return float(value)
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise BadInputError(f"{what} must be a number; got {type(value).__name__}") from err
    if a.size == 1:
        return float(a.reshape(()))
    if a.size == 0:
        return None
    with np.errstate(all="ignore"):
        return float(np.mean(a))
