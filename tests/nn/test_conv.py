"""Conv2D against PyTorch autograd (float64) on random shapes, and against central differences."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from netmedic import nn
from tests.nn._torch_compare import assert_close, numerical_grad

# (N, C_in, H, W, C_out, kernel, stride, padding, bias): batch 1, channels 1 and 3, odd sizes,
# stride 2, padding 0/1/2, a rectangular kernel, a 1×1 kernel, a kernel as large as the input
CASES = [
    (1, 1, 7, 7, 2, 3, 1, 0, True),
    (2, 3, 9, 7, 4, 3, 2, 1, True),
    (1, 3, 5, 5, 3, 5, 1, 2, False),
    (3, 1, 11, 8, 5, 4, 2, 2, True),
    (2, 3, 6, 9, 2, (3, 2), 1, 1, True),
    (2, 2, 5, 5, 3, 1, 2, 0, True),
    (1, 3, 4, 4, 2, 4, 1, 0, True),
    (2, 3, 8, 8, 6, 5, 3, 2, True),
]


def _random_case(seed):
    rng = np.random.default_rng(100 + seed)
    kernel, stride, padding = int(rng.integers(1, 6)), int(rng.integers(1, 3)), int(rng.integers(3))
    h, w = (int(v) for v in rng.integers(max(kernel - 2 * padding, 1), 12, size=2))
    return (int(rng.integers(1, 4)), int(rng.choice([1, 3])), h, w, int(rng.integers(1, 6)),
            kernel, stride, padding, bool(rng.integers(2)))


def _check_against_torch(case, seed, order=None):
    n, c_in, h, w, c_out, kernel, stride, padding, bias = case
    rng = np.random.default_rng(seed)
    layer = nn.Conv2D(c_in, c_out, kernel, stride=stride, padding=padding, bias=bias)
    if order is not None:  # force one of the two internal layouts (CHWN or CNHW)
        layer._order = order
    layer.init_params(rng, np.float64)
    if bias:
        layer.params["bias"][:] = rng.normal(size=c_out)
    x = rng.normal(size=(n, c_in, h, w))
    out = layer.forward(x).copy()
    dout = rng.normal(size=out.shape)
    dx = layer.backward(dout).copy()

    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(layer.params["weight"], requires_grad=True)
    tb = torch.tensor(layer.params["bias"], requires_grad=True) if bias else None
    tout = F.conv2d(tx, tw, tb, stride=stride, padding=padding)
    tout.backward(torch.tensor(dout))
    what = f"conv {case} internal order {layer._order}"
    assert_close(out, tout, f"{what} forward")
    assert_close(dx, tx.grad, f"{what} dx")
    assert_close(layer.grads["weight"], tw.grad, f"{what} dW")
    if bias:
        assert_close(layer.grads["bias"], tb.grad, f"{what} db")
    else:
        assert "bias" not in layer.params and "bias" not in layer.grads


@pytest.mark.parametrize("order", [(1, 2, 3, 0), (1, 0, 2, 3)], ids=["CHWN", "CNHW"])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_conv_matches_torch_on_chosen_shapes(case, order):
    _check_against_torch(case, seed=0, order=order)


@pytest.mark.parametrize("seed", range(8))
def test_conv_matches_torch_on_random_shapes(seed):
    _check_against_torch(_random_case(seed), seed)


def test_conv_backward_matches_central_differences():
    rng = np.random.default_rng(3)
    layer = nn.Conv2D(2, 3, 3, stride=2, padding=1)
    layer.init_params(rng, np.float64)
    layer.params["bias"][:] = rng.normal(size=3)
    x = rng.normal(size=(2, 2, 5, 4))
    dout = rng.normal(size=layer.forward(x).shape)
    layer.backward(dout)
    dx = layer.backward(dout).copy()  # twice: gradients are overwritten, not accumulated
    analytic = {k: v.copy() for k, v in layer.grads.items()}
    numeric_dx = numerical_grad(lambda v: layer.forward(v), x.copy(), dout)
    assert_close(dx, numeric_dx, "conv dx vs central differences", tol=1e-7)
    for key, param in layer.params.items():
        numeric = numerical_grad(lambda _: layer.forward(x), param, dout)
        assert_close(analytic[key], numeric, f"conv d{key} vs central differences", tol=1e-7)


def test_conv_reuses_buffers_across_batch_sizes():
    rng = np.random.default_rng(4)
    layer = nn.Conv2D(3, 4, 3, padding=1)
    layer.init_params(rng, np.float64)
    x_full, x_last = rng.normal(size=(5, 3, 6, 6)), rng.normal(size=(2, 3, 6, 6))
    want_full = layer.forward(x_full).copy()
    want_last = layer.forward(x_last).copy()
    assert np.array_equal(layer.forward(x_full), want_full)
    assert np.array_equal(layer.forward(x_last), want_last)
    assert np.array_equal(layer.forward(x_full), want_full), "padding border must stay zero"


def test_conv_as_first_layer_skips_the_input_gradient():
    rng = np.random.default_rng(5)
    model = nn.build_model("cnn:in1x6x6-c2k3-relu-fc3").init(rng, np.float64)
    conv = model.layers[0]
    assert conv.needs_input_grad is False
    x = rng.normal(size=(2, 1, 6, 6))
    out = conv.forward(x)
    dout = rng.normal(size=out.shape)
    assert conv.backward(dout) is None
    tx, tw = torch.tensor(x), torch.tensor(conv.params["weight"], requires_grad=True)
    F.conv2d(tx, tw, torch.tensor(conv.params["bias"])).backward(torch.tensor(dout))
    assert_close(conv.grads["weight"], tw.grad, "first-layer conv dW")


def test_conv_float32_and_init_fans():
    seen = {}

    def spy(shape, fan_in, fan_out, rng):
        seen.update(shape=shape, fan_in=fan_in, fan_out=fan_out)
        return np.ones(shape)

    layer = nn.Conv2D(3, 8, (5, 3), init=spy)
    layer.init_params(np.random.default_rng(0), np.float32)
    assert seen == {"shape": (8, 3, 5, 3), "fan_in": 3 * 15, "fan_out": 8 * 15}, "PyTorch's fans"
    out = layer.forward(np.ones((2, 3, 7, 7), np.float32))
    assert out.dtype == np.float32 and out.shape == (2, 8, 3, 5)
    assert layer.backward(np.ones_like(out)).dtype == np.float32
    assert "conv" in repr(layer) and "5×3" in repr(layer)


def test_large_eval_batches_run_in_chunks_with_the_same_result(monkeypatch):
    from netmedic.nn import conv as conv_module

    rng = np.random.default_rng(6)
    layer = nn.Conv2D(3, 4, 3, stride=2, padding=1)
    layer.init_params(rng, np.float64)
    x = rng.normal(size=(7, 3, 6, 5))
    whole = layer.forward(x, training=True).copy()
    monkeypatch.setattr(conv_module, "EVAL_COLS_BUDGET", 2 * 27 * 3 * 3)  # 2 examples a chunk
    assert_close(layer.forward(x, training=False), whole, "chunked eval forward", tol=1e-13)
    with pytest.raises(RuntimeError, match="forward\\(x, training=True\\) first"):
        layer.backward(np.ones_like(whole))
    layer.forward(x[:2], training=False)  # fits the budget: one chunk, backward allowed
    assert layer.backward(np.ones((2, 4, 3, 3))).shape == (2, 3, 6, 5)
