"""The numerical core against torch autograd (float64), kink detection, localisation, factors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from netmedic.doctor.gradcheck import check_gradients
from netmedic.doctor.gradcheck.explain import describe_factor
from netmedic.doctor.gradcheck.localize import diagnose, infer_layers
from netmedic.doctor.gradcheck.numerical import LossCounter, directional, draw_direction


def _torch_mlp(seed: int = 0):
    """A tanh MLP with softmax cross-entropy written in torch; loss(params) takes NumPy arrays."""
    rng = np.random.default_rng(seed)
    x = torch.tensor(rng.normal(size=(7, 6)))
    labels = torch.tensor(rng.integers(0, 3, 7))
    params = {
        "W1": rng.normal(0, 0.5, (6, 5)),
        "b1": rng.normal(0, 0.1, 5),
        "W2": rng.normal(0, 0.5, (5, 3)),
        "b2": rng.normal(0, 0.1, 3),
    }

    def torch_loss(p):
        h = torch.tanh(x @ p["W1"] + p["b1"])
        return torch.nn.functional.cross_entropy(h @ p["W2"] + p["b2"], labels)

    def loss(p):
        with torch.no_grad():
            return float(torch_loss({k: torch.tensor(v) for k, v in p.items()}))

    def autograd(p):
        tp = {k: torch.tensor(v, requires_grad=True) for k, v in p.items()}
        torch_loss(tp).backward()
        return {k: t.grad.numpy() for k, t in tp.items()}

    return loss, autograd, params


def test_directional_derivative_matches_torch_autograd():
    loss, autograd, params = _torch_mlp()
    base = {k: v.astype(np.float64) for k, v in params.items()}
    truth = autograd(base)
    counter = LossCounter(loss, base)
    rng = np.random.default_rng(0)
    for name in base:
        v = draw_direction(rng, base[name].shape, base[name].size)
        probe = directional(counter, name, v, 1e-4 * float(np.sqrt(np.mean(base[name] ** 2))))
        exact = float(np.vdot(truth[name], v))
        assert abs(probe.value - exact) <= 1e-8 * abs(exact) + 1e-12, (
            f"{name}: netmedic {probe.value!r} vs torch {exact!r}"
        )
        assert probe.error < 1e-6 * abs(exact)  # the error bar is honest and small
        assert abs(probe.jump) < 1e-6 * abs(exact)  # smooth: no kink


def test_check_gradients_accepts_torch_autograd_and_flags_a_tampered_one():
    loss, autograd, params = _torch_mlp(1)
    assert check_gradients(loss, autograd, params).ok
    tampered = check_gradients(
        loss, lambda p: {**autograd(p), "W1": autograd(p)["W1"] * 0.5}, params
    )
    assert tampered.results["W1"].pattern == "scaled"
    assert tampered.results["W1"].scale == pytest.approx(0.5, rel=1e-6)


def test_kink_shows_as_a_jump_in_one_sided_derivatives():
    base = {"w": np.array([0.0, 1.0])}
    counter = LossCounter(lambda p: float(np.abs(p["w"][0]) + p["w"][1] ** 2), base)
    probe = directional(counter, "w", np.array([1.0, 0.0]), 1e-3)
    assert probe.value == pytest.approx(0.0, abs=1e-12)  # the central difference averages the sides
    assert probe.jump == pytest.approx(2.0, rel=1e-9)  # right − left derivative of |x| at 0


def test_float32_loss_is_detected_by_the_noise_probe():
    base = {"w": np.linspace(0.1, 1.0, 50)}
    counter = LossCounter(lambda p: float(np.sum(np.sin(p["w"].astype(np.float32)))), base)
    counter.estimate_noise(np.random.default_rng(0))
    assert counter.eps == np.finfo(np.float32).eps or counter.measured_noise > 1e-9


def test_infer_layers_from_names():
    layers = infer_layers(["W2", "b2", "W1", "b1"])
    assert [(lay.label, lay.weight, lay.bias) for lay in layers] == [
        ("1", "W1", "b1"),
        ("2", "W2", "b2"),
    ]
    dotted = infer_layers(["dense1.weight", "dense1.bias", "dense2.weight", "dense2.bias"])
    assert [lay.weight for lay in dotted] == ["dense1.weight", "dense2.weight"]
    sequential = infer_layers(["layers.0.weight", "layers.0.bias", "layers.2.weight"])
    assert [lay.index for lay in sequential] == [0, 2]
    assert infer_layers(["w_1", "b_1", "w_2", "b_2"])[1].bias == "b_2"
    engine = infer_layers(["conv1.weight", "conv1.bias", "conv2.weight", "dense1.weight"])
    assert [lay.label for lay in engine] == ["conv1", "conv2", "dense1"]  # the order given
    assert infer_layers(["conv2.weight", "conv1.weight", "dense1.weight"]) is None  # ambiguous
    assert infer_layers(["weights", "bias"]) is None


def test_diagnosis_without_layer_names_falls_back_to_the_table():
    text, hints = diagnose(None, {"a": "wrong", "b": "ok"}, {})
    assert text is None and hints == {}
    shared, _ = diagnose(None, {"a": "scaled", "b": "scaled"}, {"a": 8.0, "b": 8.0})
    assert "same factor k = 8" in shared


def test_diagnosis_names_the_step_where_the_error_enters():
    layers = infer_layers(["W1", "b1", "W2", "b2", "W3", "b3"])
    patterns = {"W1": "wrong", "b1": "wrong", "W2": "wrong", "b2": "wrong", "W3": "ok", "b3": "ok"}
    text, hints = diagnose(layers, patterns, {})
    assert "backward step from layer 3 to layer 2" in text and "W3ᵀ" in text
    assert "inherited from layer 2" in hints["W1"]


@pytest.mark.parametrize(
    ("k", "n", "c", "phrase"),
    [
        (32, 32, 10, "summed over the batch of 32 but the loss is a mean"),
        (1 / 32, 32, 10, "divided by the batch size N = 32 twice"),
        (-32, 32, 10, "the sign is flipped"),
        (2, 32, 10, "factor 2"),
        (0.5, 32, 10, "factor 2 of the square is missing"),
        (10, 32, 10, "divides by the number of outputs C = 10"),
        (3.7, 32, 10, "constant factor 3.7"),
        (64, 32, 10, "summed over the batch of 32"),
        (25, None, None, "batch of 25 (if your batch has that many examples)"),
    ],
)
def test_factors_are_named(k, n, c, phrase):
    why, fix = describe_factor(k, n, c)
    assert phrase in why and fix


def test_engine_cnn_with_max_pool_through_gradcheck_model():
    """The engine's layers (conv, ReLU, max-pool ties) pass through the lead's wrapper."""
    import netmedic.nn.spec as spec
    import netmedic.train.callables as callables
    rng = np.random.default_rng(0)
    model = spec.build_model("cnn:in1x12x12-c4k3p1-relu-pool2-c6k3p1-relu-pool2-fc16-relu-fc10")
    model.init(rng, np.float32)
    x, y = rng.random((8, 1, 12, 12)), rng.integers(0, 10, 8)
    report = callables.gradcheck_model(model, x, y)
    assert report.ok, report
    assert report.results["conv1.weight"].layer == "conv1"
