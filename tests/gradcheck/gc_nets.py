"""Hand-written NumPy backprops with known bugs, for the gradient checker's tests.

Each builder returns ``(loss, grads, params, batch_size)``: ``loss(params) -> float`` and
``grads(params) -> dict`` written the way people write them by hand, with one or more bugs
switched on by name. ``CASES`` lists the suite with the pattern expected for every parameter;
run this file to print the suite's classification accuracy and false-alarm count.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Net = tuple[Callable, Callable, dict[str, np.ndarray], int]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


def _softmax(z: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def mlp_softmax(
    bugs: frozenset[str] = frozenset(),
    *,
    act: str = "sigmoid",
    n: int = 16,
    sizes: tuple[int, ...] = (20, 12, 5),
    x_scale: float = 1.0,
    loss_scale: float = 1.0,
    l2: float = 0.0,
    seed: int = 0,
) -> Net:
    """Examples in rows; hidden ``act`` (sigmoid | tanh | relu); softmax + mean cross-entropy.

    Bugs: sign (y − p), sum (no 1/N), sigma_on_z (σ'(z) = z(1 − z) on pre-activations),
    transpose_w1, no_l2 (penalty in the loss, not in dW), bias_not_summed (db1 per example),
    softmax_axis (backward uses a softmax over the batch axis), b2_twice (db2 / N again),
    zero_w2, factor2 (output error doubled).
    """
    rng = np.random.default_rng(seed)
    d_in, hidden, classes = sizes
    x = rng.normal(size=(n, d_in)) * x_scale
    labels = rng.integers(0, classes, n)
    y = np.eye(classes)[labels]
    params = {
        "W1": rng.normal(0, 1 / np.sqrt(d_in), (d_in, hidden)),
        "b1": rng.normal(0, 0.1, hidden),
        "W2": rng.normal(0, 1 / np.sqrt(hidden), (hidden, classes)),
        "b2": np.zeros(classes),
    }
    f, df = {
        "sigmoid": (_sigmoid, lambda z, a: a * (1 - a)),
        "tanh": (np.tanh, lambda z, a: 1 - a**2),
        "relu": (lambda z: np.maximum(z, 0), lambda z, a: (z > 0).astype(float)),
    }[act]

    def forward(p):
        z1 = x @ p["W1"] + p["b1"]
        a1 = f(z1)
        z2 = a1 @ p["W2"] + p["b2"]
        return z1, a1, z2

    def loss(p):
        _, _, z2 = forward(p)
        logp = z2 - z2.max(1, keepdims=True)
        logp = logp - np.log(np.exp(logp).sum(1, keepdims=True))
        data = -np.mean(np.sum(y * logp, axis=1))
        return loss_scale * (data + 0.5 * l2 * (np.sum(p["W1"] ** 2) + np.sum(p["W2"] ** 2)))

    def grads(p):
        z1, a1, z2 = forward(p)
        prob = _softmax(z2, axis=0 if "softmax_axis" in bugs else 1)
        dz2 = (y - prob) if "sign" in bugs else (prob - y)
        if "sum" not in bugs:
            dz2 = dz2 / n
        if "factor2" in bugs:
            dz2 = 2 * dz2
        dz2 = loss_scale * dz2
        dw2 = a1.T @ dz2
        db2 = dz2.sum(axis=0)
        da1 = dz2 @ p["W2"].T
        deriv = z1 * (1 - z1) if "sigma_on_z" in bugs else df(z1, a1)
        dz1 = da1 * deriv
        dw1 = x.T @ dz1
        db1 = dz1 if "bias_not_summed" in bugs else dz1.sum(axis=0)
        if "no_l2" not in bugs:
            dw1 = dw1 + loss_scale * l2 * p["W1"]
            dw2 = dw2 + loss_scale * l2 * p["W2"]
        if "transpose_w1" in bugs:
            dw1 = dw1.T
        if "b2_twice" in bugs:
            db2 = db2 / n
        if "zero_w2" in bugs:
            dw2 = np.zeros_like(dw2)
        return {"W1": dw1, "b1": db1, "W2": dw2, "b2": db2}

    return loss, grads, params, n


def columns_mse(bugs: frozenset[str] = frozenset(), *, n: int = 12, seed: int = 1) -> Net:
    """Seed 002's layout: examples in columns, W (out, in), b (out, 1), ReLU hidden, sigmoid(αz)
    output, loss = mean over examples of Σ_outputs (y − a)².

    Bugs: seed002 (their real output error: (2/n)·Σ_batch (y − a), summed over the examples and
    sign-flipped), bias_not_summed (db1 one column per example), transpose_w2, sign.
    """
    rng = np.random.default_rng(seed)
    d_in, hidden, out, alpha = 15, 9, 4, 0.5
    x = rng.uniform(0, 1, (d_in, n))
    y = np.eye(out)[:, rng.integers(0, out, n)]
    params = {
        "w_1": rng.uniform(-0.5, 0.5, (hidden, d_in)),
        "b_1": rng.uniform(-0.5, 0.5, (hidden, 1)),
        "w_2": rng.uniform(-0.5, 0.5, (out, hidden)),
        "b_2": rng.uniform(-0.5, 0.5, (out, 1)),
    }

    def forward(p):
        z1 = p["w_1"] @ x + p["b_1"]
        a1 = np.maximum(0, z1)
        z2 = p["w_2"] @ a1 + p["b_2"]
        return z1, a1, z2, _sigmoid(alpha * z2)

    def loss(p):
        a2 = forward(p)[3]
        return float(np.mean(np.sum((y - a2) ** 2, axis=0)))

    def grads(p):
        z1, a1, z2, a2 = forward(p)
        if "seed002" in bugs:
            da2 = (2 / n) * np.sum(y - a2, axis=1).reshape(-1, 1)
        else:
            da2 = (2 / n) * ((y - a2) if "sign" in bugs else (a2 - y))
        dz2 = da2 * alpha * a2 * (1 - a2)
        dw2 = dz2 @ a1.T
        db2 = dz2.sum(axis=1, keepdims=True)
        dz1 = (p["w_2"].T @ dz2) * (z1 > 0)
        dw1 = dz1 @ x.T
        db1 = dz1 if "bias_not_summed" in bugs else dz1.sum(axis=1, keepdims=True)
        if "transpose_w2" in bugs:
            dw2 = dw2.T
        return {"w_1": dw1, "b_1": db1, "w_2": dw2, "b_2": db2}

    return loss, grads, params, n


def relu_kinks(
    bugs: frozenset[str] = frozenset(), *, mode: str = "exact", n: int = 10, seed: int = 2
) -> Net:
    """A ReLU MLP whose pre-activations sit on or next to the kink.

    mode "exact": a third of the examples are all-zero rows and b1 = 0, so those rows' hidden
    pre-activations are exactly 0 (relu'(0) taken as 0). mode "near": b1 is set so that every
    unit's pre-activation on example 0 is ±1e-9. Bug: sign.
    """
    rng = np.random.default_rng(seed)
    d_in, hidden, classes = 8, 6, 3
    x = rng.normal(size=(n, d_in))
    w1 = rng.normal(0, 0.5, (d_in, hidden))
    if mode == "exact":
        x[: n // 3] = 0.0
        b1 = np.zeros(hidden)
    else:
        b1 = -(x[0] @ w1) + 1e-9 * rng.choice([-1.0, 1.0], hidden)
    labels = rng.integers(0, classes, n)
    y = np.eye(classes)[labels]
    params = {
        "W1": w1,
        "b1": b1,
        "W2": rng.normal(0, 0.5, (hidden, classes)),
        "b2": np.zeros(classes),
    }

    def forward(p):
        z1 = x @ p["W1"] + p["b1"]
        a1 = np.maximum(z1, 0)
        return z1, a1, a1 @ p["W2"] + p["b2"]

    def loss(p):
        z2 = forward(p)[2]
        logp = z2 - z2.max(1, keepdims=True)
        logp -= np.log(np.exp(logp).sum(1, keepdims=True))
        return -np.mean(np.sum(y * logp, axis=1))

    def grads(p):
        z1, a1, z2 = forward(p)
        dz2 = (_softmax(z2, 1) - y) / n
        if "sign" in bugs:
            dz2 = -dz2
        dz1 = (dz2 @ p["W2"].T) * (z1 > 0)
        return {"W1": x.T @ dz1, "b1": dz1.sum(0), "W2": a1.T @ dz2, "b2": dz2.sum(0)}

    return loss, grads, params, n


def maxpool_ties(*, n: int = 8, seed: int = 3) -> Net:
    """tanh units in identical pairs, max-pooled over each pair: every window is a tie.

    The backward pass routes the gradient to the first of the tied units, as max-pool code does.
    """
    rng = np.random.default_rng(seed)
    d_in, pairs, classes = 6, 4, 3
    x = rng.normal(size=(n, d_in))
    half = rng.normal(0, 0.5, (d_in, pairs))
    params = {
        "W1": np.repeat(half, 2, axis=1),
        "b1": np.repeat(rng.normal(0, 0.1, pairs), 2),
        "W2": rng.normal(0, 0.5, (pairs, classes)),
        "b2": np.zeros(classes),
    }
    y = np.eye(classes)[rng.integers(0, classes, n)]

    def forward(p):
        h = np.tanh(x @ p["W1"] + p["b1"]).reshape(n, pairs, 2)
        first = np.argmax(h, axis=2)
        return h, first, h.max(axis=2) @ p["W2"] + p["b2"]

    def loss(p):
        z2 = forward(p)[2]
        return -np.mean(np.sum(y * np.log(_softmax(z2, 1)), axis=1))

    def grads(p):
        h, first, z2 = forward(p)
        dz2 = (_softmax(z2, 1) - y) / n
        dpool = dz2 @ p["W2"].T
        dh = np.zeros_like(h)
        np.put_along_axis(dh, first[..., None], dpool[..., None], axis=2)
        dz1 = dh.reshape(n, 2 * pairs) * (1 - h.reshape(n, 2 * pairs) ** 2)
        return {"W1": x.T @ dz1, "b1": dz1.sum(0), "W2": h.max(axis=2).T @ dz2, "b2": dz2.sum(0)}

    return loss, grads, params, n


def square_linear(bugs: frozenset[str] = frozenset(), *, n: int = 10, seed: int = 4) -> Net:
    """A linear map with a square weight, ``loss = mean ‖x W + b − t‖² / 2``. Bug: transpose."""
    rng = np.random.default_rng(seed)
    d = 5
    x, t = rng.normal(size=(n, d)), rng.normal(size=(n, d))
    params = {"W1": rng.normal(size=(d, d)), "b1": rng.normal(size=d)}

    def loss(p):
        return 0.5 * np.mean(np.sum((x @ p["W1"] + p["b1"] - t) ** 2, axis=1))

    def grads(p):
        r = (x @ p["W1"] + p["b1"] - t) / n
        dw = x.T @ r
        return {"W1": dw.T if "transpose" in bugs else dw, "b1": r.sum(0)}

    return loss, grads, params, n


def in_float32(net: Net) -> Net:
    """The same backprop run in float32 (parameters cast on entry), the loss returned as a float."""
    loss, grads, params, n = net

    def cast(p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {k: v.astype(np.float32) for k, v in p.items()}

    def loss32(p):
        return float(loss(cast(p)))

    def grads32(p):
        return {k: v.astype(np.float32) for k, v in grads(cast(p)).items()}

    return loss32, grads32, cast(params), n


@dataclass(frozen=True)
class Case:
    """One backprop of the suite and the pattern expected for each of its parameters."""

    name: str
    build: Callable[[], Net]
    expected: dict[str, str]
    control: bool = False  # a correct backprop: any non-ok verdict is a false alarm


def _all(pattern: str, names: tuple[str, ...] = ("W1", "b1", "W2", "b2")) -> dict[str, str]:
    return dict.fromkeys(names, pattern)


def _mlp(*bugs: str, **kw) -> Callable[[], Net]:
    return lambda: mlp_softmax(frozenset(bugs), **kw)


_OK, _COLS = _all("ok"), ("w_1", "b_1", "w_2", "b_2")
CASES = [
    Case("correct sigmoid MLP", _mlp(), _OK, True),
    Case("correct tanh MLP", _mlp(act="tanh"), _OK, True),
    Case("correct ReLU MLP", _mlp(act="relu"), _OK, True),
    Case("tiny gradients (inputs 1e-8)", _mlp(x_scale=1e-8), _OK, True),
    Case("tiny gradients (loss ×1e-8)", _mlp(loss_scale=1e-8), _OK, True),
    Case("huge gradients (raw 0..255 inputs)", _mlp(x_scale=255.0, act="tanh"), _OK, True),
    Case("huge gradients (loss ×1e6)", _mlp(loss_scale=1e6), _OK, True),
    Case("correct with L2 term", _mlp(l2=1e-2), _OK, True),
    Case("ReLU exactly at kinks", lambda: relu_kinks(), _OK, True),
    Case("ReLU 1e-9 from kinks", lambda: relu_kinks(mode="near"), _OK, True),
    Case("max-pool ties", lambda: maxpool_ties(), _OK, True),
    Case("examples in columns (seed 002 layout)", lambda: columns_mse(), _all("ok", _COLS), True),
    Case("square weight", lambda: square_linear(), {"W1": "ok", "b1": "ok"}, True),
    Case("float32 forward pass", lambda: in_float32(mlp_softmax(act="tanh")), _OK, True),
    Case("sign flip", _mlp("sign"), _all("sign_flipped")),
    Case("sign flip at 1e-9 scale", _mlp("sign", loss_scale=1e-9), _all("sign_flipped")),
    Case("sum instead of mean", _mlp("sum"), _all("scaled")),
    Case("transposed dW1", _mlp("transpose_w1"), {**_OK, "W1": "transposed"}),
    Case(
        "transposed square dW",
        lambda: square_linear(frozenset({"transpose"})),
        {"W1": "transposed", "b1": "ok"},
    ),
    Case(
        "sigma'(z) as z(1-z) on pre-activations",
        _mlp("sigma_on_z"),
        {"W1": "wrong", "b1": "wrong", "W2": "ok", "b2": "ok"},
    ),
    Case(
        "forgotten L2 term",
        _mlp("no_l2", l2=1e-2),
        {"W1": "wrong", "b1": "ok", "W2": "wrong", "b2": "ok"},
    ),
    Case("bias gradient not summed", _mlp("bias_not_summed"), {**_OK, "b1": "shape"}),
    Case("softmax over the wrong axis", _mlp("softmax_axis"), _all("wrong")),
    Case("bias divided by N twice", _mlp("b2_twice"), {**_OK, "b2": "scaled"}),
    Case("zero gradient", _mlp("zero_w2"), {**_OK, "W2": "zero"}),
    Case("factor 2", _mlp("factor2"), _all("scaled")),
    Case(
        "sign flip + transposed dW1",
        _mlp("sign", "transpose_w1"),
        {"W1": "transposed", "b1": "sign_flipped", "W2": "sign_flipped", "b2": "sign_flipped"},
    ),
    Case(
        "sum + sigma'(z) bug",
        _mlp("sum", "sigma_on_z"),
        {"W1": "wrong", "b1": "wrong", "W2": "scaled", "b2": "scaled"},
    ),
    Case(
        "sign flip + bias not summed",
        _mlp("sign", "bias_not_summed"),
        {"W1": "sign_flipped", "b1": "shape", "W2": "sign_flipped", "b2": "sign_flipped"},
    ),
    Case(
        "seed 002's output error", lambda: columns_mse(frozenset({"seed002"})), _all("wrong", _COLS)
    ),
    Case(
        "columns: bias not summed",
        lambda: columns_mse(frozenset({"bias_not_summed"})),
        {**_all("ok", _COLS), "b_1": "shape"},
    ),
    Case(
        "columns: transposed dW2 + sign",
        lambda: columns_mse(frozenset({"transpose_w2", "sign"})),
        {"w_1": "sign_flipped", "b_1": "sign_flipped", "w_2": "transposed", "b_2": "sign_flipped"},
    ),
    Case(
        "ReLU at kinks + sign flip", lambda: relu_kinks(frozenset({"sign"})), _all("sign_flipped")
    ),
    Case(
        "float32: sigma'(z) bug",
        lambda: in_float32(mlp_softmax(frozenset({"sigma_on_z"}))),
        {"W1": "wrong", "b1": "wrong", "W2": "ok", "b2": "ok"},
    ),
]


def score(cases: list[Case] = CASES) -> tuple[int, int, int, list[str]]:
    """(parameters right, parameters total, false alarms on controls, lines describing misses)."""
    from netmedic.doctor.gradcheck import check_gradients

    right = total = alarms = 0
    misses = []
    for case in cases:
        loss, grads, params, n = case.build()
        report = check_gradients(loss, grads, params, batch_size=n)
        for name, want in case.expected.items():
            got = report.results[name].pattern
            total += 1
            right += got == want
            alarms += case.control and got != "ok"
            if got != want:
                misses.append(f"{case.name}: {name} is {got}, expected {want}")
    return right, total, alarms, misses


if __name__ == "__main__":
    right, total, alarms, misses = score()
    controls = sum(len(c.expected) for c in CASES if c.control)
    print(
        f"{len(CASES)} backprops, {total} parameters: {right}/{total} classified right "
        f"({right / total:.1%}); false alarms on {controls} correct-control parameters: {alarms}"
    )
    for line in misses:
        print("  miss:", line)
    sys.exit(0 if right == total and alarms == 0 else 1)
