"""Optimizers: in-place updates of named ``(param, grad)`` pairs, no allocation per step.

The update rules are PyTorch's (``torch.optim``, default options), so a run here and a run there
from the same weights and batches agree to rounding; tests check 20 steps of each in float64.
``weight_decay`` is the coupled L2 form (added to the gradient) except in :class:`AdamW`, where it
is decoupled (``p *= 1 - lr * wd``, Loshchilov & Hutter 2019).

Each step is computed into a scratch buffer per parameter, *signed as applied* (``p += step``, the
same floating-point result as ``p -= lr * …``), so :meth:`Optimizer.last_update` hands a watcher
w_t − w_{t−1} without copying the weights.
"""

from __future__ import annotations

import numpy as np

from netmedic.errors import BadInputError


class Optimizer:
    """Base: holds the live parameter and gradient arrays by name, and a scratch buffer each."""

    name = "optimizer"
    #: True: weight decay is L2 added to the gradient; AdamW decouples it
    coupled_weight_decay = True
    #: per-parameter state arrays, e.g. ("momentum",) or ("m", "v"); saved in checkpoints
    slots: tuple[str, ...] = ()

    def __init__(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray], lr: float,
                 weight_decay: float = 0.0) -> None:
        if not lr > 0:
            raise BadInputError(f"learning rate must be > 0; got {lr}")
        if params.keys() != grads.keys():
            raise ValueError("params and grads must have the same keys")
        self.params, self.grads = params, grads
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.steps = 0
        self._scratch = {k: np.empty_like(p) for k, p in params.items()}
        self._decayed = {k: np.empty_like(p) for k, p in params.items()} if weight_decay else {}
        self.state = {slot: {k: np.zeros_like(p) for k, p in params.items()} for slot in self.slots}
        self._stepped = False  # the scratch buffers hold the last step actually applied

    def step(self) -> None:
        """Apply one update to every parameter, in place."""
        self.steps += 1
        self._stepped = True
        for key, param in self.params.items():
            grad = self.grads[key]
            if self.weight_decay and self.coupled_weight_decay:
                grad = np.multiply(param, self.weight_decay, out=self._decayed[key])
                grad += self.grads[key]
            self._update(key, param, grad, self._scratch[key])

    def _update(self, key: str, param: np.ndarray, grad: np.ndarray, scratch: np.ndarray) -> None:
        """Compute this step into ``scratch`` (signed: ``param += scratch``) and apply it."""
        raise NotImplementedError

    def last_update(self, key: str) -> np.ndarray | None:
        """The last step applied to parameter group ``key``: w_t − w_{t−1}, same shape and dtype.

        A read-only view of the optimizer's own buffer (no copy; valid until the next
        :meth:`step`), or ``None`` before the first step and after :meth:`load_state_dict` (a
        restored state was not reached by that step). For :class:`AdamW` the decoupled weight
        decay is included (computed on this call, into a buffer of its own).
        """
        if not self._stepped:
            return None
        view = self._scratch[key].view()
        view.flags.writeable = False
        return view

    def state_dict(self) -> dict[str, np.ndarray]:
        """Flat arrays for an ``.npz`` checkpoint: ``"{slot}/{param}"`` plus ``"steps"``."""
        flat = {f"{slot}/{k}": v for slot, arrays in self.state.items() for k, v in arrays.items()}
        flat["steps"] = np.array(self.steps)
        return flat

    def load_state_dict(self, flat: dict[str, np.ndarray]) -> None:
        self.steps = int(flat["steps"])
        self._stepped = False
        for slot, arrays in self.state.items():
            for key, array in arrays.items():
                array[...] = flat[f"{slot}/{key}"]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(lr={self.lr:g}, weight_decay={self.weight_decay:g})"


class SGD(Optimizer):
    """``p -= lr * g``; with ``momentum`` μ: ``v = μ v + g``, ``p -= lr * v`` (Nesterov:
    ``p -= lr * (g + μ v)``) — PyTorch's form, without dampening."""

    name = "sgd"

    def __init__(self, params, grads, lr: float, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0) -> None:
        self.slots = ("momentum",) if momentum else ()
        super().__init__(params, grads, lr, weight_decay)
        self.momentum, self.nesterov = float(momentum), nesterov

    def _update(self, key, param, grad, scratch):
        if not self.momentum:
            np.multiply(grad, -self.lr, out=scratch)
            param += scratch
            return
        velocity = self.state["momentum"][key]
        velocity *= self.momentum
        velocity += grad
        if self.nesterov:
            np.multiply(velocity, self.momentum, out=scratch)
            scratch += grad
            scratch *= -self.lr
        else:
            np.multiply(velocity, -self.lr, out=scratch)
        param += scratch


class Adam(Optimizer):
    """Kingma & Ba 2015 with bias correction; β = (0.9, 0.999), ε = 1e-8 (PyTorch defaults)."""

    name = "adam"
    slots = ("m", "v")

    def __init__(self, params, grads, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        super().__init__(params, grads, lr, weight_decay)
        self.beta1, self.beta2 = betas
        self.eps = eps

    def _update(self, key, param, grad, scratch):
        m, v = self.state["m"][key], self.state["v"][key]
        b1, b2 = self.beta1, self.beta2
        m *= b1
        np.multiply(grad, 1 - b1, out=scratch)
        m += scratch
        v *= b2
        np.multiply(grad, grad, out=scratch)
        scratch *= 1 - b2
        v += scratch
        step_size = self.lr / (1 - b1**self.steps)
        np.sqrt(v, out=scratch)
        scratch /= np.sqrt(1 - b2**self.steps)
        scratch += self.eps
        np.divide(m, scratch, out=scratch)
        scratch *= -step_size
        param += scratch


class AdamW(Adam):
    """Adam with decoupled weight decay (PyTorch default ``weight_decay=0.01``)."""

    name = "adamw"
    coupled_weight_decay = False

    def __init__(self, params, grads, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.01) -> None:
        super().__init__(params, grads, lr, betas, eps, weight_decay)
        self._decayed = {}  # here: buffers for last_update (step + decay)
        self._decay = 1.0

    def step(self) -> None:
        self._decay = decay = 1.0 - self.lr * self.weight_decay
        for param in self.params.values():
            param *= decay
        super().step()

    def last_update(self, key: str) -> np.ndarray | None:
        """Adam's step plus the decay: w_t − w_{t−1} = s + (d − 1)·w_{t−1}, with
        w_{t−1} = (w_t − s) / d (d = 1 − lr·wd, s the Adam step)."""
        step = super().last_update(key)
        if step is None or self._decay == 1.0:
            return step
        if self._decay == 0.0:  # lr·wd = 1 zeroed the weights: w_{t−1} cannot be recovered
            return None
        total = self._decayed.get(key)
        if total is None:
            total = self._decayed[key] = np.empty_like(step)
        np.subtract(self.params[key], step, out=total)
        total *= (self._decay - 1.0) / self._decay
        total += step
        view = total.view()
        view.flags.writeable = False
        return view


class RMSprop(Optimizer):
    """``v = α v + (1 - α) g²``, ``p -= lr * g / (sqrt(v) + ε)``; α = 0.99, ε = 1e-8 (PyTorch)."""

    name = "rmsprop"
    slots = ("v",)

    def __init__(self, params, grads, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, grads, lr, weight_decay)
        self.alpha, self.eps = alpha, eps

    def _update(self, key, param, grad, scratch):
        v = self.state["v"][key]
        v *= self.alpha
        np.multiply(grad, grad, out=scratch)
        scratch *= 1 - self.alpha
        v += scratch
        np.sqrt(v, out=scratch)
        scratch += self.eps
        np.divide(grad, scratch, out=scratch)
        scratch *= -self.lr
        param += scratch


OPTIMIZER_NAMES = ("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop")


def make_optimizer(name: str, params: dict[str, np.ndarray], grads: dict[str, np.ndarray],
                   lr: float, weight_decay: float = 0.0) -> Optimizer:
    """The CLI's optimizer names: ``sgd``, ``momentum`` (0.9), ``nesterov``, ``adam``, ``adamw``,
    ``rmsprop``. For ``adamw`` the weight decay is decoupled; for the others it is L2 in the
    gradient."""
    if name == "sgd":
        return SGD(params, grads, lr, weight_decay=weight_decay)
    if name in ("momentum", "nesterov"):
        return SGD(params, grads, lr, 0.9, nesterov=name == "nesterov", weight_decay=weight_decay)
    if name == "adam":
        return Adam(params, grads, lr, weight_decay=weight_decay)
    if name == "adamw":
        return AdamW(params, grads, lr, weight_decay=weight_decay)
    if name == "rmsprop":
        return RMSprop(params, grads, lr, weight_decay=weight_decay)
    raise BadInputError(f"unknown optimizer {name!r}; expected one of {', '.join(OPTIMIZER_NAMES)}")
