"""Small CNNs trained side by side by netmedic and by PyTorch from the same weights and batches in
float64 with SGD + momentum: the losses agree to 1e-9 at every step."""

import numpy as np
import pytest
import torch

from netmedic import nn


def _torch_twin(model: nn.Sequential) -> torch.nn.Sequential:
    """The same network in PyTorch, float64, holding a copy of ``model``'s current weights."""
    modules = []
    for layer in model.layers:
        if isinstance(layer, nn.Conv2D):
            module = torch.nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size,
                                     layer.stride, layer.padding, bias=layer.bias)
            tensors = {"weight": layer.params["weight"], "bias": layer.params.get("bias")}
        elif isinstance(layer, nn.Dense):
            module = torch.nn.Linear(layer.in_features, layer.out_features)
            tensors = {"weight": layer.params["weight"].T, "bias": layer.params["bias"]}
        elif isinstance(layer, nn.BatchNorm):
            module = torch.nn.BatchNorm2d(layer.num_features, eps=layer.eps,
                                          momentum=layer.momentum)
            tensors = dict(layer.params)
        else:
            module = {nn.ReLU: torch.nn.ReLU, nn.Flatten: torch.nn.Flatten}.get(type(layer))
            if isinstance(layer, nn.MaxPool2D | nn.AvgPool2D):
                cls = torch.nn.MaxPool2d if isinstance(layer, nn.MaxPool2D) else torch.nn.AvgPool2d
                module = cls(layer.kernel_size, layer.stride)
            else:
                module = module()
            tensors = {}
        module = module.double()
        with torch.no_grad():
            for key, value in tensors.items():
                if value is not None:
                    getattr(module, key).copy_(torch.tensor(np.ascontiguousarray(value)))
        modules.append(module)
    return torch.nn.Sequential(*modules)


def _learnable_batches(rng, shape, steps, batch=16, classes=10):
    templates = rng.normal(size=(classes, *shape))  # one noisy pattern per class: learnable
    y_all = rng.integers(0, classes, size=256)
    x_all = templates[y_all] + rng.normal(scale=0.5, size=(256, *shape))
    for _ in range(steps):
        idx = rng.integers(0, 256, size=batch)
        yield x_all[idx], y_all[idx]


def _train_side_by_side(spec, steps, lr, seed=0):
    rng = np.random.default_rng(seed)
    model = nn.build_model(spec).init(rng, np.float64)
    twin = _torch_twin(model)
    opt = nn.make_optimizer("momentum", model.parameters(), model.gradients(), lr=lr)
    torch_opt = torch.optim.SGD(twin.parameters(), lr=lr, momentum=0.9)
    loss_fn = nn.SoftmaxCrossEntropy()
    losses = []
    for step, (x, y) in enumerate(_learnable_batches(rng, model.input_shape, steps)):
        loss = loss_fn.forward(model.forward(x), y)
        model.backward(loss_fn.backward())
        opt.step()
        torch_opt.zero_grad()
        torch_loss = torch.nn.functional.cross_entropy(twin(torch.tensor(x)), torch.tensor(y))
        torch_loss.backward()
        torch_opt.step()
        assert abs(loss - torch_loss.item()) <= 1e-9 * max(1.0, abs(loss)), (
            f"{spec} step {step}: netmedic {loss!r} vs torch {torch_loss.item()!r}"
        )
        losses.append(loss)
    return model, twin, losses


def test_two_conv_cnn_50_steps_match_torch():
    spec = "cnn:in1x12x12-c6k5p2-relu-pool2-c8k3p1-relu-pool2-fc16-relu-fc10"
    model, twin, losses = _train_side_by_side(spec, steps=50, lr=0.05)
    assert np.mean(losses[-10:]) < 0.8 * np.mean(losses[:10]), f"did not learn: {losses}"
    mine = model.parameters()["conv1.weight"]
    theirs = twin[0].weight.detach().numpy()
    assert np.abs(mine - theirs).max() <= 1e-9 * np.abs(theirs).max(), "conv1 weights drifted"


@pytest.mark.parametrize("spec", [
    "cnn:in3x9x9-c4k3s2p1-bn-relu-c5k3p1-relu-avgpool2-fc10",
    "cnn:in1x10x10-c4k3-bn-relu-pool3s2-fc10",
])
def test_cnn_with_batchnorm_stride_and_pools_matches_torch(spec):
    model, twin, _ = _train_side_by_side(spec, steps=20, lr=0.02, seed=1)
    bn = next(layer for layer in model.layers if isinstance(layer, nn.BatchNorm))
    torch_bn = next(m for m in twin if isinstance(m, torch.nn.BatchNorm2d))
    for key in ("running_mean", "running_var"):
        theirs = getattr(torch_bn, key).numpy()
        assert np.abs(bn.running[key] - theirs).max() <= 1e-9 * np.abs(theirs).max(), key
    x = np.random.default_rng(2).normal(size=(5, *model.input_shape))
    twin.eval()
    mine, theirs = model.forward(x, training=False), twin(torch.tensor(x)).detach().numpy()
    assert np.abs(mine - theirs).max() <= 1e-9 * np.abs(theirs).max(), "eval outputs differ"
