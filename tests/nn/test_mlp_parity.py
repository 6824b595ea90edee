"""A 784-256-128-10 MLP trained 100 steps by netmedic and by PyTorch from the same weights and
batches in float64: the losses agree to 1e-9."""

import numpy as np
import pytest
import torch

from netmedic import nn


@pytest.mark.parametrize(("optimizer", "activation"), [("momentum", "relu"), ("adam", "tanh")])
def test_mlp_100_steps_match_torch(optimizer, activation):
    rng = np.random.default_rng(0)
    model = nn.build_model(f"mlp:784-256-128-10:{activation}").init(rng, np.float64)
    dense = [layer for layer in model.layers if isinstance(layer, nn.Dense)]
    act = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}[activation]
    torch_model = torch.nn.Sequential(
        torch.nn.Linear(784, 256), act(), torch.nn.Linear(256, 128), act(),
        torch.nn.Linear(128, 10),
    ).double()
    with torch.no_grad():
        for mine, theirs in zip(dense, torch_model[::2], strict=True):
            theirs.weight.copy_(torch.tensor(mine.params["weight"].T))
            theirs.bias.copy_(torch.tensor(mine.params["bias"]))
    lr = 0.05 if optimizer == "momentum" else 1e-3
    opt = nn.make_optimizer(optimizer, model.parameters(), model.gradients(), lr=lr)
    torch_opt = (torch.optim.SGD(torch_model.parameters(), lr=lr, momentum=0.9)
                 if optimizer == "momentum" else torch.optim.Adam(torch_model.parameters(), lr=lr))
    loss_fn = nn.SoftmaxCrossEntropy()
    x_all = rng.uniform(size=(640, 784))
    y_all = (x_all @ rng.normal(size=(784, 10))).argmax(axis=1)  # learnable labels
    first = None
    for step in range(100):
        idx = rng.integers(0, 640, size=32)
        x, y = x_all[idx], y_all[idx]
        loss = loss_fn.forward(model.forward(x), y)
        model.backward(loss_fn.backward())
        opt.step()
        torch_opt.zero_grad()
        torch_loss = torch.nn.functional.cross_entropy(torch_model(torch.tensor(x)),
                                                       torch.tensor(y))
        torch_loss.backward()
        torch_opt.step()
        first = loss if first is None else first
        assert abs(loss - torch_loss.item()) <= 1e-9 * max(1.0, abs(loss)), (
            f"step {step}: netmedic {loss!r} vs torch {torch_loss.item()!r}"
        )
    assert loss < 0.8 * first, f"the run should have learned: loss {first:.3f} -> {loss:.3f}"
