"""BatchNorm (1d and 2d, train and eval, running statistics) and LayerNorm against PyTorch
autograd in float64, and against central differences."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from netmedic import nn
from netmedic.errors import BadInputError
from tests.nn._torch_compare import assert_close, numerical_grad

SHAPES = [(5, 3), (1, 3, 5, 7), (4, 1, 3, 3), (2, 3, 4, 5), (7, 6)]


def _batchnorm_pair(num_features, rng, momentum=0.1, affine=True):
    layer = nn.BatchNorm(num_features, momentum=momentum, affine=affine)
    layer.init_params(rng, np.float64)
    if affine:
        layer.params["weight"][:] = rng.normal(size=num_features)
        layer.params["bias"][:] = rng.normal(size=num_features)
    return layer


def _torch_batchnorm(layer, ndim):
    cls = torch.nn.BatchNorm1d if ndim == 2 else torch.nn.BatchNorm2d
    ref = cls(layer.num_features, eps=layer.eps, momentum=layer.momentum,
              affine=layer.affine).double()
    if layer.affine:
        with torch.no_grad():
            ref.weight.copy_(torch.tensor(layer.params["weight"]))
            ref.bias.copy_(torch.tensor(layer.params["bias"]))
    return ref


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_batchnorm_training_steps_and_eval_match_torch(shape, affine):
    rng = np.random.default_rng(len(shape) + shape[0])
    layer = _batchnorm_pair(shape[1], rng, affine=affine)
    ref = _torch_batchnorm(layer, len(shape))
    what = f"batchnorm {shape} affine={affine}"
    for step in range(3):  # the running statistics accumulate over several batches
        x = rng.normal(loc=2.0, scale=3.0, size=shape)
        out = layer.forward(x, training=True).copy()
        dout = rng.normal(size=shape)
        dx = layer.backward(dout).copy()
        ref.train()
        tx = torch.tensor(x, requires_grad=True)
        ref.zero_grad()
        tout = ref(tx)
        tout.backward(torch.tensor(dout))
        assert_close(out, tout, f"{what} step {step} forward")
        assert_close(dx, tx.grad, f"{what} step {step} dx")
        if affine:
            assert_close(layer.grads["weight"], ref.weight.grad, f"{what} step {step} dweight")
            assert_close(layer.grads["bias"], ref.bias.grad, f"{what} step {step} dbias")
        assert_close(layer.running["running_mean"], ref.running_mean, f"{what} running mean")
        assert_close(layer.running["running_var"], ref.running_var, f"{what} running var")

    x = rng.normal(size=shape)
    dout = rng.normal(size=shape)
    out = layer.forward(x, training=False).copy()
    dx = layer.backward(dout).copy()
    ref.eval()
    tx = torch.tensor(x, requires_grad=True)
    ref.zero_grad()
    tout = ref(tx)
    tout.backward(torch.tensor(dout))
    assert_close(out, tout, f"{what} eval forward")
    assert_close(dx, tx.grad, f"{what} eval dx")
    if affine:
        assert_close(layer.grads["weight"], ref.weight.grad, f"{what} eval dweight")
    assert_close(layer.running["running_var"], ref.running_var, f"{what} eval leaves stats")


def test_batchnorm_running_variance_is_unbiased_and_momentum_is_torchs():
    layer = nn.BatchNorm(1)
    x = np.array([[1.0], [2.0], [3.0], [6.0]])
    layer.forward(x)
    mean, unbiased = x.mean(), x.var(ddof=1)
    assert layer.running["running_mean"][0] == pytest.approx(0.1 * mean)
    assert layer.running["running_var"][0] == pytest.approx(0.9 + 0.1 * unbiased)


@pytest.mark.parametrize("shape", [(3, 4), (2, 2, 3, 3)], ids=str)
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_backward_matches_central_differences(shape, training):
    rng = np.random.default_rng(5)
    layer = _batchnorm_pair(shape[1], rng)
    layer.running["running_mean"][:] = rng.normal(size=shape[1])
    layer.running["running_var"][:] = rng.uniform(0.5, 2, size=shape[1])
    x, dout = rng.normal(size=shape), rng.normal(size=shape)
    layer.momentum = 0.0  # keep the running statistics fixed while differencing
    layer.forward(x, training)
    dx = layer.backward(dout).copy()
    analytic = {k: v.copy() for k, v in layer.grads.items()}
    numeric = numerical_grad(lambda v: layer.forward(v, training), x.copy(), dout)
    assert_close(dx, numeric, f"batchnorm dx (training={training})", tol=1e-7)
    for key, param in layer.params.items():
        numeric = numerical_grad(lambda _: layer.forward(x, training), param, dout)
        assert_close(analytic[key], numeric, f"batchnorm d{key}", tol=1e-7)


def test_batchnorm_refuses_a_single_value_per_channel_and_keeps_dtype():
    layer = nn.BatchNorm(3)
    with pytest.raises(BadInputError, match="more than one value per channel"):
        layer.forward(np.zeros((1, 3)))
    with pytest.raises(BadInputError, match=r"\(N, 3\) or \(N, 3, H, W\)"):
        layer.forward(np.zeros((4, 2)))
    layer.init_params(np.random.default_rng(0), np.float32)
    out = layer.forward(np.ones((4, 3, 2, 2), np.float32))
    assert out.dtype == np.float32 and layer.running["running_var"].dtype == np.float32
    layer.astype(np.float64)
    assert layer.running["running_mean"].dtype == np.float64
    assert layer.forward(np.ones((1, 3)), training=False).shape == (1, 3), "eval takes batch 1"


@pytest.mark.parametrize(("shape", "normalized"), [((4, 6), (6,)), ((2, 3, 4, 5), (3, 4, 5)),
                                                   ((3, 2, 5), (5,)), ((1, 7), (7,))], ids=str)
@pytest.mark.parametrize("affine", [True, False])
def test_layernorm_matches_torch(shape, normalized, affine):
    rng = np.random.default_rng(len(shape))
    layer = nn.LayerNorm(normalized, affine=affine)
    layer.init_params(rng, np.float64)
    tw = tb = None
    if affine:
        layer.params["weight"][...] = rng.normal(size=normalized)
        layer.params["bias"][...] = rng.normal(size=normalized)
        tw = torch.tensor(layer.params["weight"], requires_grad=True)
        tb = torch.tensor(layer.params["bias"], requires_grad=True)
    x, dout = rng.normal(loc=1.0, scale=2.0, size=shape), rng.normal(size=shape)
    out = layer.forward(x).copy()
    dx = layer.backward(dout).copy()
    tx = torch.tensor(x, requires_grad=True)
    tout = F.layer_norm(tx, normalized, tw, tb, eps=layer.eps)
    tout.backward(torch.tensor(dout))
    what = f"layernorm {shape} over {normalized}"
    assert_close(out, tout, f"{what} forward")
    assert_close(dx, tx.grad, f"{what} dx")
    if affine:
        assert_close(layer.grads["weight"], tw.grad, f"{what} dweight")
        assert_close(layer.grads["bias"], tb.grad, f"{what} dbias")
    assert np.array_equal(layer.forward(x, training=False), out), "no train/eval difference"


def test_layernorm_backward_matches_central_differences():
    rng = np.random.default_rng(9)
    layer = nn.LayerNorm((2, 3))
    layer.init_params(rng, np.float64)
    layer.params["weight"][...] = rng.normal(size=(2, 3))
    x, dout = rng.normal(size=(3, 2, 3)), rng.normal(size=(3, 2, 3))
    layer.forward(x)
    dx = layer.backward(dout).copy()
    analytic = {k: v.copy() for k, v in layer.grads.items()}
    assert_close(dx, numerical_grad(lambda v: layer.forward(v), x.copy(), dout),
                 "layernorm dx vs central differences", tol=1e-7)
    for key, param in layer.params.items():
        numeric = numerical_grad(lambda _: layer.forward(x), param, dout)
        assert_close(analytic[key], numeric, f"layernorm d{key}", tol=1e-7)
    with pytest.raises(BadInputError, match="trailing axes"):
        layer.forward(np.zeros((3, 3, 2)))
