"""dead_relu, saturated_activation, unscaled_input, bad_init, label_error."""

from __future__ import annotations

import numpy as np
from _loops import mnist
from _scenarios import dead_bias, lr_5, raw_sigmoid_rand, shifted_labels

from netmedic.doctor import Doctor


def _get(doctor, kind, where=None):
    found = [f for f in doctor.findings if f.kind == kind and where in (None, f.where)]
    return found[0] if found else None


def test_dead_relu_from_a_huge_negative_bias_is_blamed_on_the_init():
    f = _get(dead_bias().doctor, "dead_relu")
    assert (f.where, f.step) == ("h1", 1)
    assert "100% of h1's 64 units output 0 for all 64 examples" in f.evidence
    assert "dead from the first step" in f.explanation
    assert f.remedy == {"action": "set_init", "init": "he_normal"}


def test_relus_killed_by_lr_5_are_blamed_on_the_lr():
    f = _get(lr_5().doctor, "dead_relu", "h1")
    assert f.step == 4 and "of the units were silent at the start" in f.evidence
    assert "died during training" in f.explanation
    assert f.remedy["action"] == "set_lr" and f.remedy["lr"] < 5


def test_dead_relu_from_zero_gradients_when_no_activations_are_given():
    doctor = Doctor()
    rng = np.random.default_rng(0)
    for step in range(8):
        g = rng.standard_normal((20, 10))
        if step >= 4:
            g[:, :9] = 0  # 9 of 10 units stopped passing any gradient
        doctor.observe(step=step, loss=2.3, lr=0.1, params={"W1": np.ones((20, 10))},
                       grads={"W1": g})
    f = _get(doctor, "dead_relu")
    assert (f.where, f.step) == ("W1", 5) and "90% of grad W1 is exactly 0" in f.evidence


def test_saturated_sigmoid_from_raw_pixels_is_blamed_on_the_inputs():
    f = _get(raw_sigmoid_rand().doctor, "saturated_activation")
    assert (f.where, f.step) == ("h1", 1)
    assert "of h1's outputs are < 0.01 or > 0.99" in f.evidence
    assert "The inputs reach 255" in f.explanation
    assert f.remedy == {"action": "normalize_inputs", "mode": "unit"}


def test_raw_pixels_are_unscaled_input():
    f = _get(raw_sigmoid_rand().doctor, "unscaled_input")
    assert (f.where, f.step) == ("inputs", 0)
    assert "range [0, 255]" in f.evidence and "Divide by 255" in f.fix


def test_standardized_inputs_up_to_10_are_not_unscaled():
    x, _ = mnist(256)
    z = (x - x.mean()) / x.std()  # one mean and std over all pixels: |z| up to ~2.8...
    z[0, 0] = 9.5  # ...and an outlier below 10
    doctor = Doctor()
    doctor.observe(step=0, loss=2.3, inputs=z, grads={"W": np.ones(3)})
    assert _get(doctor, "unscaled_input") is None


def test_bad_init_rand_weights_are_not_centred():
    f = _get(raw_sigmoid_rand().doctor, "bad_init", "W1")
    assert f.step == 0 and "W1 has mean 0.5" in f.evidence and "not centred on 0" in f.evidence
    assert "np.random.rand" in f.explanation
    assert f.remedy == {"action": "set_init", "init": "glorot_normal"}  # a sigmoid network


def _first_step(params, x):
    doctor = Doctor()
    grads = {k: np.ones_like(v) for k, v in params.items()}
    doctor.observe(step=0, loss=2.3, params=params, grads=grads, inputs=x)
    return doctor


def test_bad_init_seed_002_uniform_half_is_too_large_for_fan_in_784():
    rng = np.random.default_rng(0)
    x = rng.random((784, 16))  # seed 002 keeps examples in columns
    params = {"w_1": rng.uniform(-0.5, 0.5, (128, 784)), "b_1": rng.uniform(-0.5, 0.5, (128, 1)),
              "w_2": rng.uniform(-0.1, 0.1, (10, 128))}
    doctor = Doctor(batch_axis=1)
    doctor.observe(step=0, loss=2.3, params=params,
                   grads={k: np.ones_like(v) for k, v in params.items()}, inputs=x)
    f = _get(doctor, "bad_init", "w_1")
    assert "w_1 has std 0.28" in f.evidence and "for fan-in 784" in f.evidence
    assert "× the he normal std 0.0505" in f.evidence
    assert _get(doctor, "bad_init", "w_2") is None  # 0.058 for fan-in 128: fine


def test_bad_init_all_equal_weights_never_break_symmetry():
    x = np.ones((4, 30))
    doctor = _first_step({"W1": np.zeros((30, 20)), "W2": np.zeros((20, 3))}, x)
    f = _get(doctor, "bad_init", "W1")
    assert "all 600 entries of W1 equal 0" in f.evidence and "symmetry" in f.explanation
    assert _get(doctor, "bad_init", "W2") is None  # a zero last layer is a known, fine choice


def test_he_and_glorot_inits_are_fine():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 100))
    params = {"W1": rng.standard_normal((100, 50)) * np.sqrt(2 / 100),
              "W2": rng.standard_normal((50, 50)) * np.sqrt(1 / 50),
              "W3": rng.uniform(-1, 1, (50, 10)) / np.sqrt(50)}  # PyTorch's default
    assert _first_step(params, x).findings == []


def test_labels_beyond_the_output_width():
    f = _get(shifted_labels(), "label_error")
    assert (f.severity, f.where, f.step) == ("error", "labels", 0)
    assert "labels go up to 10 but the output has 10 units (classes 0..9)" in f.evidence
    assert "labels 1..C instead of 0..C-1" in f.explanation


def test_one_hot_labels_encoded_twice():
    doctor = Doctor(num_classes=10)
    y = np.eye(10)[[1, 2, 3, 4]] + np.eye(10)[[5, 6, 7, 8]]  # two ones per row
    doctor.observe(step=0, loss=2.3, grads={"W": np.ones(3)}, labels=y, inputs=np.ones((4, 3)))
    f = _get(doctor, "label_error")
    assert "rows sum to between 2 and 2, not 1" in f.evidence


def test_a_confident_sigmoid_output_is_not_a_saturated_hidden_layer():
    """Logistic regression trained to confidence: its one sigmoid output is meant to saturate."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 5))
    y = (x[:, 0] > 0).astype(float)
    w = np.zeros(5)
    doctor = Doctor()
    for step in range(200):
        p = 1 / (1 + np.exp(-(x @ w)))
        loss = -np.mean(y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12))
        g = x.T @ (p - y) / 64
        doctor.observe(step=step, loss=loss, lr=2.0, params={"w": w}, grads={"w": g},
                       activations={"p": p[:, None]}, labels=y)
        w = w - 2.0 * g
    doctor.finish()
    assert doctor.history.series("act/p", "sat_frac")[1][-1] > 0.5
    assert _get(doctor, "saturated_activation") is None, doctor.summary()
