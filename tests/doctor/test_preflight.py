"""Preflight on plain NumPy models: unscaled data, a loss far from ln C, a collapsing deep
sigmoid stack, gradient bugs that cannot overfit, a too-high LR, and a healthy model."""

from __future__ import annotations

import math

import numpy as np
import pytest

import netmedic as nm
from netmedic.doctor.preflight import preflight
from netmedic.doctor.preflight.overfit import gradient_direction
from netmedic.doctor.preflight.propagation import infer_kind
from netmedic.errors import UserCodeError

C = 10


class MLP:
    """A plain-NumPy MLP classifier (softmax cross-entropy, mean over the batch), examples in
    rows; ``bug`` breaks its backward pass the ways hand-written backprop breaks."""

    def __init__(self, sizes, *, activation="relu", std=None, seed=0, bug=None):
        rng = np.random.default_rng(seed)
        self.activation, self.bug, self.params = activation, bug, {}
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), 1):
            scale = std if std is not None else math.sqrt(2.0 / fan_in)
            self.params[f"W{i}"] = rng.normal(0.0, scale, (fan_in, fan_out))
            self.params[f"b{i}"] = np.zeros(fan_out)
        self.depth = len(sizes) - 1

    def _act(self, z):
        if self.activation == "relu":
            return np.maximum(z, 0)
        return 1 / (1 + np.exp(-z))

    def forward(self, params, x):
        hidden, a = {}, x
        with np.errstate(all="ignore"):
            for i in range(1, self.depth):
                a = self._act(a @ params[f"W{i}"] + params[f"b{i}"])
                hidden[f"h{i}"] = a
            logits = a @ params[f"W{self.depth}"] + params[f"b{self.depth}"]
        return hidden, logits

    def loss(self, params, x, y):
        _, logits = self.forward(params, x)
        with np.errstate(all="ignore"):
            shifted = logits - logits.max(axis=1, keepdims=True)
            log_prob = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return float(-log_prob[np.arange(len(y)), y].mean())

    def grads(self, params, x, y):
        hidden, logits = self.forward(params, x)
        with np.errstate(all="ignore"):
            prob = np.exp(logits - logits.max(axis=1, keepdims=True))
            prob /= prob.sum(axis=1, keepdims=True)
            delta = prob
            delta[np.arange(len(y)), y] -= 1
            delta /= len(y)
            if self.bug == "summed":
                delta *= len(y)  # a sum over the batch for a loss that is a mean
            out, inputs = {}, [x, *hidden.values()]
            for i in range(self.depth, 0, -1):
                out[f"W{i}"] = inputs[i - 1].T @ delta
                out[f"b{i}"] = delta.sum(axis=0)
                if i > 1:
                    a = inputs[i - 1]
                    slope = (a > 0) if self.activation == "relu" else a * (1 - a)
                    delta = (delta @ params[f"W{i}"].T) * slope
        if self.bug == "sign":  # seed 000: (y − p) instead of (p − y)
            out = {k: -g for k, g in out.items()}
        return out

    def overfit_step(self, x, y, lr):
        """SGD on a copy of the parameters, as the trainer hands preflight a copy."""
        params = {k: v.copy() for k, v in self.params.items()}

        def step():
            loss = self.loss(params, x, y)
            for name, g in self.grads(params, x, y).items():
                params[name] -= lr * g
            return loss

        return step

    def preflight(self, x, y, *, lr=0.5, batch=16, **options):
        xb, yb = x[:batch], y[:batch]
        return preflight(
            x=x, y=y, num_classes=C, params=self.params,
            loss=lambda p: self.loss(p, xb, yb), grads=lambda p: self.grads(p, xb, yb),
            forward_activations=lambda p: self.forward(p, xb)[0],
            overfit_step=self.overfit_step(xb, yb, lr), **options)


def blobs(n=512, d=32, seed=0):
    """Standardized inputs of C separable clusters, balanced labels."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % C
    centers = rng.normal(0.0, 1.0, (C, d))
    x = centers[y] + rng.normal(0.0, 0.5, (n, d))
    return (x - x.mean()) / x.std(), y


def by_kind(findings):
    return {f.kind: f for f in findings}


def test_a_healthy_model_has_no_findings():
    x, y = blobs()
    model = MLP([32, 64, 64, C])
    assert model.preflight(x, y, gradcheck=True) == []
    assert nm.preflight is preflight  # the lazy export


def test_raw_pixel_inputs_are_unscaled_and_blow_up_the_initial_loss():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (512, 32)).astype(np.float64)
    y = np.arange(512) % C
    model = MLP([32, 64, C])
    found = by_kind(preflight(x=x, y=y, num_classes=C, params=model.params,
                              loss=lambda p: model.loss(p, x[:64], y[:64])))
    assert found["unscaled_input"].where == "inputs"
    off = found["initial_loss_off"]
    initial = model.loss(model.params, x[:64], y[:64])
    assert initial > 20 * math.log(C)
    assert off.explanation.startswith(
        f"a fresh softmax classifier over 10 classes should start near ln 10 = 2.30; yours "
        f"starts at {initial:.3g}: the initial logits are far too large: init scale or "
        "unscaled inputs. Here: your inputs are unscaled (see unscaled_input)")
    assert off.remedy == {"action": "normalize_inputs", "mode": "unit"}
    assert off.fix == "scale the inputs (--normalize unit: pixels / 255)"


def test_an_initial_loss_far_above_ln_c_blames_the_init():
    x, y = blobs()
    model = MLP([32, 64, C], std=1.0)  # N(0, 1) weights whatever the fan-in
    initial = model.loss(model.params, x[:16], y[:16])
    found = by_kind(model.preflight(x, y))
    off = found["initial_loss_off"]
    assert (off.severity, off.step, off.where) == ("warning", None, "loss")
    assert off.evidence == f"loss at init = {initial:.3g}, ×{initial / math.log(C):.1f} the " \
                           "expected 2.3"
    assert "Here: the initial weights are too large for the layer widths" in off.explanation
    assert off.remedy == {"action": "set_init", "init": "glorot_normal"}


def test_an_initial_loss_below_ln_c_is_suspicious():
    x, y = blobs()
    found = preflight(params={}, loss=lambda p: 0.2, num_classes=C)
    assert [f.kind for f in found] == ["initial_loss_off"]
    assert "lower than an untrained model can be" in found[0].explanation


def test_a_deep_sigmoid_stack_collapses_at_init():
    x, y = blobs()
    model = MLP([32, 64, 64, 64, 64, 64, C], activation="sigmoid", std=0.1)
    hidden, _ = model.forward(model.params, x[:64])
    stds = [float(np.std(a, axis=0).mean()) for a in hidden.values()]
    found = [f for f in preflight(params=model.params,
                                  forward_activations=lambda p: model.forward(p, x[:64])[0])]
    assert [f.kind for f in found] == ["vanishing_gradients"]
    vanishing = found[0]
    first_low = next(i for i, s in enumerate(stds) if s < 0.1 * stds[0])
    assert vanishing.where == f"h{first_low + 1}"
    assert vanishing.evidence.startswith(
        "std per layer: " + ", ".join(f"h{i} {s:.2g}" for i, s in enumerate(stds, 1)))
    assert "a deep sigmoid stack loses signal at every layer" in vanishing.explanation
    assert vanishing.remedy == {"action": "set_activation", "activation": "relu"}


def test_saturated_sigmoids_and_growing_relus_at_init():
    x, y = blobs()
    sigmoid = MLP([32, 64, C], activation="sigmoid", std=3.0)
    found = preflight(params=sigmoid.params,
                      forward_activations=lambda p: sigmoid.forward(p, x[:64])[0])
    assert [f.kind for f in found] == ["saturated_activation"]
    assert found[0].where == "h1"
    assert found[0].evidence.endswith("of h1's sigmoid outputs are below 0.01 or above 0.99 "
                                      "at init")
    relu = MLP([32, 64, 64, 64, C], std=1.0)  # ×√(64/2) ≈ 5.7 per layer
    grown = preflight(params=relu.params, forward_activations=relu.forward(relu.params, x)[0])
    assert [(f.kind, f.where) for f in grown] == [("bad_init", "h3")]
    assert grown[0].remedy == {"action": "set_init", "init": "he_normal"}


def test_a_sign_flipped_gradient_cannot_overfit_and_is_named():
    x, y = blobs()
    model = MLP([32, 64, C], bug="sign")
    found = by_kind(model.preflight(x, y))
    wrong = found["wrong_gradient"]
    assert (wrong.severity, wrong.where) == ("error", "grads")
    assert wrong.evidence.startswith("overfitting one small batch: loss 2.")
    assert "the loss changes at -1× the rate" in wrong.evidence
    assert "the gradient's sign is flipped, so every update climbs the loss" in wrong.explanation
    assert "netmedic gradcheck" in wrong.fix and wrong.remedy == {"action": "fix_gradient"}


def test_a_gradient_summed_over_the_batch_is_named_by_its_factor():
    x, y = blobs()
    model = MLP([32, 64, C], bug="summed")
    wrong = by_kind(model.preflight(x, y, lr=0.5))["wrong_gradient"]
    assert wrong.explanation.endswith("because the gradient is ×16 too large for the loss (k = "
                                      "16: a sum over a batch of 16 where the loss is a mean?)")


def test_a_correct_gradient_with_a_huge_lr_is_lr_too_high_not_a_bug():
    x, y = blobs()
    model = MLP([32, 64, C])
    found = model.preflight(x, y, lr=300.0)
    assert [f.kind for f in found] == ["lr_too_high"]
    assert "the gradient is right along its own direction" in found[0].explanation
    assert found[0].remedy == {"action": "set_lr", "factor": 0.1}


def test_a_model_that_cannot_fit_stalls_without_blaming_the_gradient():
    x, y = blobs()
    model = MLP([32, C])
    found = model.preflight(x, y, lr=1e-4)  # too low an LR to memorize in 200 steps
    assert [f.kind for f in found] == ["stalled_loss"]
    assert found[0].evidence.startswith("overfitting one small batch: loss ")
    assert "in 200 steps (target 0.1" in found[0].evidence
    assert "Its gradient is right along its own direction" in found[0].explanation


def test_the_direction_probe_reads_the_gradient_pattern():
    x, y = blobs()
    right, flipped = MLP([32, 16, C]), MLP([32, 16, C], bug="sign")
    for model, expected in ((right, 1.0), (flipped, -1.0)):
        measured = gradient_direction(lambda p, m=model: m.loss(p, x[:16], y[:16]),
                                      lambda p, m=model: m.grads(p, x[:16], y[:16]),
                                      model.params)
        assert measured.ratio == pytest.approx(expected, abs=0.05)


def test_activation_kinds_are_inferred_from_values():
    z = np.random.default_rng(0).normal(size=(64, 8))
    assert infer_kind(np.maximum(z, 0)) == "relu"
    assert infer_kind(1 / (1 + np.exp(-z))) == "sigmoid"
    assert infer_kind(np.tanh(z)) == "tanh"
    assert infer_kind(3 * z) == "other"


def test_the_users_error_is_shown_as_theirs():
    def loss(params):
        raise KeyError("W3")

    with pytest.raises(UserCodeError, match=r"your loss\(params\) raised KeyError: 'W3'"):
        preflight(params={}, loss=loss, num_classes=C)


def test_gradcheck_rejections_become_wrong_gradient_findings(monkeypatch):
    import sys
    import types
    from dataclasses import dataclass

    @dataclass
    class Result:  # API.md's GradResult
        name: str
        pattern: str
        rel_error: float
        scale: float | None
        explanation: str
        fix: str

    calls = []

    def check_gradients(loss, grads, params, batch_size=None):
        calls.append(sorted(params))
        return types.SimpleNamespace(ok=False, results={
            "W1": Result("W1", "ok", 1e-9, None, "", ""),
            "W2": Result("W2", "transposed", 1.4, None, "dW2 is the transpose of the true "
                         "gradient", "return dW2.T")})

    fake = types.ModuleType("netmedic.doctor.gradcheck")
    fake.check_gradients = check_gradients
    monkeypatch.setitem(sys.modules, "netmedic.doctor.gradcheck", fake)
    params = {"W1": np.ones((2, 2)), "W2": np.ones((2, 2))}
    found = preflight(params=params, loss=lambda p: 2.3, grads=lambda p: p, num_classes=C,
                      gradcheck=True)
    assert calls == [["W1", "W2"]]
    assert [(f.kind, f.where, f.severity) for f in found] == [("wrong_gradient", "W2", "error")]
    assert found[0].evidence == "gradient check of W2: pattern transposed, relative error 1.4"
    assert found[0].explanation == "dW2 is the transpose of the true gradient"
    assert found[0].remedy == {"action": "fix_gradient", "where": "W2"}
