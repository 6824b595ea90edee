"""Dense and every activation: forward and backward against PyTorch autograd (float64) on
random shapes, and against central differences."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from netmedic import nn
from tests.nn._torch_compare import assert_close, numerical_grad

ACTIVATIONS = {
    "relu": (nn.ReLU, {}, F.relu),
    "leaky_relu": (nn.LeakyReLU, {"slope": 0.1}, lambda t: F.leaky_relu(t, 0.1)),
    "elu": (nn.ELU, {"alpha": 1.3}, lambda t: F.elu(t, 1.3)),
    "sigmoid": (nn.Sigmoid, {}, torch.sigmoid),
    "tanh": (nn.Tanh, {}, torch.tanh),
    "identity": (nn.Identity, {}, lambda t: t),
    "softmax": (nn.Softmax, {}, lambda t: torch.softmax(t, dim=-1)),
}


@pytest.mark.parametrize("seed", range(5))
def test_dense_matches_torch(seed):
    rng = np.random.default_rng(seed)
    n, d_in, d_out = rng.integers(1, 17), rng.integers(1, 40), rng.integers(1, 30)
    layer = nn.Dense(d_in, d_out)
    layer.init_params(rng, np.float64)
    layer.params["bias"][:] = rng.normal(size=d_out)
    x, dout = rng.normal(size=(n, d_in)), rng.normal(size=(n, d_out))

    out = layer.forward(x).copy()
    dx = layer.backward(dout)

    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(layer.params["weight"].T.copy(), requires_grad=True)  # torch is (out, in)
    tb = torch.tensor(layer.params["bias"], requires_grad=True)
    tout = F.linear(tx, tw, tb)
    tout.backward(torch.tensor(dout))
    assert_close(out, tout, "dense forward")
    assert_close(dx, tx.grad, "dense dx")
    assert_close(layer.grads["weight"], tw.grad.T, "dense dW")
    assert_close(layer.grads["bias"], tb.grad, "dense db")


def test_dense_first_layer_skips_input_gradient():
    rng = np.random.default_rng(0)
    model = nn.build_model("mlp:6-4-3").init(rng, np.float64)
    assert model.layers[0].needs_input_grad is False and model.layers[2].needs_input_grad
    model.forward(rng.normal(size=(2, 6)))
    assert model.layers[0].backward(np.ones((2, 4))) is None


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("seed", range(3))
def test_activation_matches_torch(name, seed):
    cls, kwargs, torch_fn = ACTIVATIONS[name]
    rng = np.random.default_rng(seed)
    shape = tuple(rng.integers(1, 9, size=rng.integers(2, 4)))
    x = rng.normal(scale=3.0, size=shape)
    x[np.abs(x) < 1e-3] = 0.5  # keep away from the kink of relu-likes
    dout = rng.normal(size=shape)
    layer = cls(**kwargs)
    out = layer.forward(x).copy()
    dx = layer.backward(dout).copy()

    tx = torch.tensor(x, requires_grad=True)
    tout = torch_fn(tx)
    tout.backward(torch.tensor(dout))
    assert_close(out, tout, f"{name} forward")
    assert_close(dx, tx.grad, f"{name} backward")
    assert np.array_equal(layer.forward(x), out), "forward must not depend on earlier calls"


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_backward_matches_central_differences(name):
    cls, kwargs, _ = ACTIVATIONS[name]
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 5))
    x[np.abs(x) < 1e-2] = 0.3
    dout = rng.normal(size=(3, 5))
    layer = cls(**kwargs)
    layer.forward(x)
    analytic = layer.backward(dout).copy()
    numeric = numerical_grad(lambda v: cls(**kwargs).forward(v), x.copy(), dout)
    assert_close(analytic, numeric, f"{name} vs central differences", tol=1e-7)


def test_sigmoid_is_silent_and_exact_at_extremes():
    with np.errstate(all="raise"):
        out = nn.Sigmoid().forward(np.array([[-1000.0, 0.0, 1000.0]], dtype=np.float32))
    assert out.tolist() == [[0.0, 0.5, 1.0]]


def test_activation_keeps_its_input_intact():
    x = np.array([[-1.0, 2.0]])
    nn.ReLU().forward(x)
    assert x.tolist() == [[-1.0, 2.0]], "the probe needs the pre-activation"


def test_float32_stays_float32():
    rng = np.random.default_rng(0)
    model = nn.build_model("mlp:8-5-3:tanh").init(rng)
    out = model.forward(rng.normal(size=(4, 8)).astype(np.float32))
    assert out.dtype == np.float32
    assert all(p.dtype == np.float32 for p in model.parameters().values())
    with pytest.raises(TypeError, match="never mixes precisions"):
        model.forward(np.zeros((4, 8)))
