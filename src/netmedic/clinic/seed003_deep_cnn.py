"""Seed 003: a Theano CNN (5 conv + 2 hidden + softmax) whose cost explodes to NaN at lr 0.01.

The asker's network (../shared/seeds/003_*.txt): ``cv0 → relu → … → cv4 → relu → hid1 → relu →
hid2 → relu → logistic softmax``, 3×3 filters, weights ``randn · sqrt(2 / (fan_in + fan_out))``
(glorot_normal), biases zero, cost ``-mean(log(p_y_given_x)[arange(n), y])``, plain SGD
``param - learning_rate * grad`` at 0.01, trained on 66 patches of one image. Their gradients
came from Theano's autodiff, so the engine's verified backprop plays Theano here (the same
layers as ``examples/seed003_cnn.json``; two stride-2 convolutions stand in for the pooling the
question does not show), and no gradient check applies.

Setting, chosen to be faithful to the post and to really diverge:

- 66 mnist-mini images stand for the 66 patches, one example per SGD step ("stochastic
  gradient"), as the raw float32 pixel values 0..255 a patch cut from an image has. Their
  first cost, 4.70 ≈ ln 110 for ~110 classes, says the initial logits were small: with raw
  pixels that is exactly what glorot_normal's shrinking gives (the signal falls ~40× over 7
  ReLU layers), and ours starts at 9.5 for 10 classes;
- the cost then explodes step after step (9.5, 372, 1.3e3, 6.9e9, 3.2e35, NaN: theirs per
  epoch, 4.7, 4.5e7, 7.5e31, NaN) and, as they found, it depends on the seed: weight seeds 0
  and 3 blow up, 1 and 2 do not. We use seed 0.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from netmedic.clinic.scenario import BrokenRun, Scenario, fmt, max_abs, mnist_train
from netmedic.doctor import Doctor
from netmedic.nn import build_model, get_loss
from netmedic.nn.spec import ModelSpec, parse_model_spec

PATCHES = 66  # "stochastic gradient with 66 patches"
STEPS_AFTER_NAN = 3  # steps run once the cost is NaN: everything after is NaN as well
#: engine layer -> the seed's name for it (layer0 = cv0 … layer8 = the softmax layer)
SEED_NAMES = {"conv1": "cv0", "conv2": "cv1", "conv3": "cv2", "conv4": "cv3", "conv5": "cv4",
              "dense1": "hid1", "dense2": "hid2", "dense3": "softmax"}
LAYERS = ["c16k3", "act", "c16k3", "act", "c32k3s2", "act", "c32k3", "act", "c64k3s2", "act",
          "fc256", "act", "fc128", "act", "fc10"]


def _seed_name(engine_name: str) -> str:
    """``conv1.weight`` -> ``cv0.W`` (Theano layers hold ``W`` and ``b``)."""
    layer, param = engine_name.split(".")
    return f"{SEED_NAMES[layer]}.{'W' if param == 'weight' else 'b'}"


def their_network(config: dict[str, Any]) -> ModelSpec:
    """The seed's layers as an engine spec (hidden activations from ``config``)."""
    tokens = [config["activation"] if t == "act" else t for t in config["layers"]]
    return parse_model_spec("cnn:" + "-".join(tokens))


def train(config: dict[str, Any], doctor: Doctor) -> BrokenRun:
    """SGD over the 66 patches, one per step, until the cost has been NaN for a few steps."""
    images, y = mnist_train(PATCHES)
    x = images.astype(np.float32)  # raw pixel values, as a patch of an image has them
    model = build_model(their_network(config), init=config["init"])
    model.init(np.random.default_rng(0), np.float32)
    cost_fn = get_loss("cross_entropy")  # Theano turns log(softmax) into a stable log-softmax
    params, grads = model.parameters(), model.gradients()
    relus = [layer for layer in model.layers if layer.kind == config["activation"]]
    act_names = [SEED_NAMES[layer.name] for layer in model.layers
                 if layer.kind in ("conv", "dense")][: len(relus)]
    learning_rate, losses, sizes, nan_steps = config["lr"], [], [], 0
    for step in range(config["steps"]):
        i = step % PATCHES
        xb, yb = x[i : i + 1], y[i : i + 1]
        sizes.append(max_abs({"cv0.W": params["conv1.weight"],
                              "softmax.W": params["dense3.weight"]}))
        with np.errstate(all="ignore"):
            logits = model.forward(xb)
            cost = float(cost_fn.forward(logits, yb))
            model.backward(cost_fn.backward())
        doctor.observe(step=step, loss=cost, lr=learning_rate,
                       params={_seed_name(k): v for k, v in params.items()},
                       grads={_seed_name(k): v for k, v in grads.items()},
                       activations={n: layer.output for n, layer in zip(act_names, relus,
                                                                         strict=True)},
                       activation_kinds=dict.fromkeys(act_names, "relu"),
                       preactivations={"softmax": logits}, inputs=xb, labels=yb)
        with np.errstate(all="ignore"):  # updates = [(p, p - learning_rate * g) ...]
            for k in params:
                params[k] -= learning_rate * grads[k]
        losses.append(cost)
        nan_steps += not math.isfinite(cost)
        if nan_steps > STEPS_AFTER_NAN:
            break
    facts = ["cost per SGD step: " + ", ".join(fmt(c) for c in losses),
             "max |cv0.W| before each step: " + ", ".join(fmt(s["cv0.W"]) for s in sizes)]
    return BrokenRun(losses, facts)


SCENARIO = Scenario(
    name="seed-003-deep-cnn",
    seed="003",
    question="My 5-conv + 2-hidden CNN's cost explodes to NaN by epoch 4 at lr 0.01, and "
             "differently on every run: is it my initialization?",
    recreates="their Theano CNN (5 conv 3×3 + fc256 + fc128 + softmax, glorot_normal, "
              "SGD lr 0.01) on 66 raw-pixel mnist-mini images, one per step",
    choices="66 digits for their 66 patches, raw pixels 0..255, one example per SGD step, "
            "weight seed 0 (seeds 0 and 3 diverge, 1 and 2 do not: their 'different every run')",
    config={
        "layers": LAYERS, "activation": "relu", "output": None, "loss": "cross_entropy",
        "init": "glorot_normal", "normalize": "none", "normalization": None,
        "dtype": "float32", "lr": 0.01, "clip_norm": None, "gradients": "engine",
        "optimizer": "sgd", "batch_size": 1, "steps": 4 * PATCHES,
    },
    budget={"optimizer": "adam", "lr": 1e-3, "batch_size": 32, "epochs": 3},
    target=0.97,
    train=train,
    expected=("unscaled_input", "diverging_loss", "exploding_gradients", "nonfinite"),
)
