"""Small, seeded, hand-written NumPy training loops (the way the seeds' users write them).

``run(...)`` trains an MLP with manual backprop and calls ``Doctor.observe`` every step, passing
only what a user would: params, grads, activations by their own names (``W1``, ``h1``), inputs.
Every knob a seed got wrong is a parameter: raw inputs, rand() init, a flipped gradient sign,
a huge LR, a negative bias, deep sigmoid stacks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources

import numpy as np

from netmedic.doctor import Doctor

_MNIST: dict[str, np.ndarray] = {}


def mnist(n: int = 2000, raw: bool = False, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` examples of the embedded mnist-mini, flattened ``(n, 784)`` float32, labels int64."""
    if not _MNIST:
        with resources.files("netmedic.data").joinpath("mnist_mini.npz").open("rb") as fh:
            data = np.load(fh)
            _MNIST["x"], _MNIST["y"] = data["x_train"], data["y_train"]
    idx = np.random.default_rng(seed).permutation(len(_MNIST["y"]))[:n]
    x = _MNIST["x"][idx].reshape(n, -1).astype(np.float32)
    return (x if raw else x / 255.0), _MNIST["y"][idx]


def _act(name: str, z: np.ndarray) -> np.ndarray:
    if name == "relu":
        return np.maximum(z, 0)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    return np.tanh(z)


def _act_grad(name: str, a: np.ndarray) -> np.ndarray:
    if name == "relu":
        return (a > 0).astype(a.dtype)
    if name == "sigmoid":
        return a * (1 - a)
    return 1 - a * a


@dataclass
class Run:
    doctor: Doctor
    losses: list[float] = field(default_factory=list)
    params: dict[str, np.ndarray] = field(default_factory=dict)

    def kinds(self) -> list[str]:
        return [f.kind for f in self.doctor.findings]

    def get(self, kind: str):
        found = [f for f in self.doctor.findings if f.kind == kind]
        return found[0] if found else None


def run(sizes=(784, 64, 10), act="relu", steps=200, lr=0.1, optimizer="sgd", batch=64,
        init="he", init_scale=1.0, bias=0.0, raw=False, sign_bug=None, seed=0, n=2000,
        doctor: Doctor | None = None, pass_acts=True, pass_inputs=True, pass_labels=False,
        pass_preacts=False, stride=10, data=None, softmax_act=False, dtype=np.float32,
        engine_names=False) -> Run:
    """Train; ``sign_bug``: a parameter name (or "all") whose gradient is negated, as in seed 000.
    ``batch=None``: full-batch gradient descent.

    ``init``: "he" (std sqrt(2/fan_in)), "glorot", "rand" (np.random.rand: [0, 1)) or a float std.
    """
    rng = np.random.default_rng(seed)
    x, y = data if data is not None else mnist(n, raw=raw, seed=seed)
    x = x.astype(dtype)
    params: dict[str, np.ndarray] = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
        if init == "he":
            w = rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)
        elif init == "glorot":
            w = rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / (fan_in + fan_out))
        elif init == "rand":
            w = rng.random((fan_in, fan_out))
        else:
            w = rng.standard_normal((fan_in, fan_out)) * float(init)
        params[f"W{i}"] = (w * init_scale).astype(dtype)
        params[f"b{i}"] = np.full(fan_out, bias if i < len(sizes) - 1 else 0.0, dtype=dtype)
    depth = len(sizes) - 1
    state = {k: np.zeros_like(v) for k, v in params.items()}
    state2 = {k: np.zeros_like(v) for k, v in params.items()}
    doctor = doctor or Doctor(stride=stride)
    out = Run(doctor)
    for step in range(steps):
        idx = np.arange(len(y)) if batch is None else rng.integers(0, len(y), batch)
        xb, yb = x[idx], y[idx]
        with np.errstate(all="ignore"):  # the user's NaN is the doctor's business, not a warning
            loss, grads, acts, pre, probs = _forward_backward(params, act, depth, xb, yb, sign_bug)
        activations = {f"h{i}": acts[i] for i in range(1, depth)} if pass_acts else None
        if activations is not None and softmax_act:
            activations[f"h{depth}"] = probs
        preacts = {f"z{i + 1}": z for i, z in enumerate(pre)} if pass_preacts else None
        if engine_names:  # what netmedic.nn's probe passes: dense1.weight, relu1, dense1
            doctor.observe(step=step, loss=loss, lr=lr, params=_engine(params),
                           grads=_engine(grads), inputs=xb, labels=yb,
                           activations={f"{act}{i}": acts[i] for i in range(1, depth)},
                           preactivations={f"dense{i + 1}": z for i, z in enumerate(pre)},
                           activation_kinds={f"{act}{i}": act for i in range(1, depth)})
        else:
            doctor.observe(step=step, loss=loss, lr=lr, params=params, grads=grads,
                           activations=activations, inputs=xb if pass_inputs else None,
                           preactivations=preacts, labels=yb if pass_labels else None)
        out.losses.append(loss)
        with np.errstate(all="ignore"):
            _update(params, grads, optimizer, lr, state, state2, step)
    out.params = params
    doctor.finish()
    return out


def _engine(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    names = {"W": "weight", "b": "bias"}
    order = sorted(arrays, key=lambda k: (int(k[1:]), k[0] == "b"))
    return {f"dense{k[1:]}.{names[k[0]]}": arrays[k] for k in order}


def _forward_backward(params, act, depth, xb, yb, sign_bug):
    batch = len(yb)
    acts, pre = [xb], []
    for i in range(1, depth + 1):
        z = acts[-1] @ params[f"W{i}"] + params[f"b{i}"]
        pre.append(z)
        if i < depth:
            acts.append(_act(act, z))
    logits = pre[-1]
    shifted = logits - logits.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = float(-logp[np.arange(batch), yb].mean())
    probs = np.exp(logp)
    delta = probs.copy()
    delta[np.arange(batch), yb] -= 1
    delta /= batch
    grads: dict[str, np.ndarray] = {}
    for i in range(depth, 0, -1):
        grads[f"W{i}"] = acts[i - 1].T @ delta
        grads[f"b{i}"] = delta.sum(axis=0)
        if i > 1:
            delta = (delta @ params[f"W{i}"].T) * _act_grad(act, acts[i - 1])
    if sign_bug is not None:
        for k in grads:
            if sign_bug == "all" or k == sign_bug:
                grads[k] = -grads[k]
    return loss, grads, acts, pre, probs


def _update(params, grads, optimizer, lr, state, state2, step):
    for k, g in grads.items():
        if optimizer == "sgd":
            params[k] -= lr * g
        elif optimizer == "ascent":  # the update-sign bug: w + lr·g
            params[k] += lr * g
        elif optimizer == "momentum":
            state[k] = 0.9 * state[k] + g
            params[k] -= lr * state[k]
        else:
            t = step + 1
            state[k] = 0.9 * state[k] + 0.1 * g
            state2[k] = 0.999 * state2[k] + 0.001 * g * g
            m_hat, v_hat = state[k] / (1 - 0.9**t), state2[k] / (1 - 0.999**t)
            params[k] -= lr * m_hat / (np.sqrt(v_hat) + 1e-8)
