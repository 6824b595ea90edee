"""Max/avg/global pooling and Flatten against PyTorch autograd (float64) and central differences."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from netmedic import nn
from tests.nn._torch_compare import assert_close, numerical_grad

# (N, C, H, W, kernel, stride): the 2×2 fast path on even and odd sizes, overlapping windows,
# stride > kernel, batch 1, channels 1 and 3
CASES = [
    (2, 3, 8, 6, 2, 2),
    (1, 1, 7, 9, 2, 2),
    (2, 3, 9, 7, 3, 2),
    (1, 3, 6, 5, 2, 1),
    (3, 1, 9, 9, 3, 3),
    (2, 2, 10, 7, 2, 3),
    (1, 1, 4, 4, 4, 4),
]
POOLS = {"max": (nn.MaxPool2D, F.max_pool2d), "avg": (nn.AvgPool2D, F.avg_pool2d)}


def _check(kind, x, kernel, stride, dout_seed=0):
    cls, torch_fn = POOLS[kind]
    layer = cls(kernel, stride)
    out = layer.forward(x).copy()
    dout = np.random.default_rng(dout_seed).normal(size=out.shape)
    dx = layer.backward(dout).copy()
    tx = torch.tensor(x, requires_grad=True)
    tout = torch_fn(tx, kernel, stride)
    tout.backward(torch.tensor(dout))
    what = f"{kind}pool k={kernel} s={stride} x{x.shape}"
    assert_close(out, tout, f"{what} forward")
    assert_close(dx, tx.grad, f"{what} dx")
    return dx


@pytest.mark.parametrize("kind", POOLS)
@pytest.mark.parametrize("case", CASES, ids=str)
def test_pool_matches_torch(kind, case):
    n, c, h, w, kernel, stride = case
    x = np.random.default_rng(sum(case)).normal(size=(n, c, h, w))
    _check(kind, x, kernel, stride)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("kind", POOLS)
def test_pool_matches_torch_on_random_shapes(kind, seed):
    rng = np.random.default_rng(seed)
    kernel, stride = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    shape = (int(rng.integers(1, 4)), int(rng.choice([1, 3])), *rng.integers(kernel, 12, size=2))
    _check(kind, rng.normal(size=shape), kernel, stride)


@pytest.mark.parametrize(("kernel", "stride"), [(2, 2), (3, 2), (2, 1)])
def test_maxpool_ties_go_to_the_first_maximum_like_torch(kernel, stride):
    # few distinct values and exact zeros (as after a ReLU): most windows hold ties
    rng = np.random.default_rng(7)
    x = np.maximum(rng.integers(-2, 3, size=(2, 3, 7, 8)), 0).astype(np.float64)
    dx = _check("max", x, kernel, stride)
    if kernel == stride:  # disjoint windows: exactly one pixel per window receives the gradient
        out_shape = nn.MaxPool2D(kernel, stride).forward(x).shape
        assert np.count_nonzero(dx) == np.prod(out_shape)


def test_maxpool_propagates_nan_like_torch():
    x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    x[0, 0, 0, 0] = np.nan
    for kernel, stride in [(2, 2), (3, 1)]:
        out = nn.MaxPool2D(kernel, stride).forward(x)
        want = F.max_pool2d(torch.tensor(x), kernel, stride).numpy()
        assert np.isnan(out[0, 0, 0, 0]) and np.array_equal(np.isnan(out), np.isnan(want))


@pytest.mark.parametrize("kind", POOLS)
@pytest.mark.parametrize(("kernel", "stride"), [(2, 2), (3, 2)])
def test_pool_backward_matches_central_differences(kind, kernel, stride):
    rng = np.random.default_rng(11)
    x = rng.permutation(2 * 2 * 5 * 5).reshape(2, 2, 5, 5) / 7.0  # distinct: no kinks
    layer = POOLS[kind][0](kernel, stride)
    dout = rng.normal(size=layer.forward(x).shape)
    analytic = layer.backward(dout).copy()
    numeric = numerical_grad(lambda v: layer.forward(v), x.copy(), dout, h=1e-4)
    assert_close(analytic, numeric, f"{kind}pool vs central differences", tol=1e-7)


def test_pool_output_shapes_and_stride_default():
    layer = nn.MaxPool2D(3)
    assert layer.stride == 3 and layer.output_shape((4, 10, 8)) == (4, 3, 2)
    out = layer.forward(np.zeros((2, 4, 10, 8), np.float32))
    assert out.shape == (2, 4, 3, 2) and out.dtype == np.float32
    assert "kernel=3×3" in repr(layer)


def test_global_avgpool_and_flatten_match_torch():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 4, 5, 7))
    dout = rng.normal(size=(3, 4))
    gap, flat = nn.GlobalAvgPool(), nn.Flatten()
    out = gap.forward(x).copy()
    dx = gap.backward(dout)
    tx = torch.tensor(x, requires_grad=True)
    tout = tx.mean(dim=(2, 3))
    tout.backward(torch.tensor(dout))
    assert_close(out, tout, "global avg pool forward")
    assert_close(dx, tx.grad, "global avg pool dx")

    y = flat.forward(x)
    assert_close(y, torch.flatten(torch.tensor(x), 1), "flatten forward")
    assert np.shares_memory(y, x), "flatten of a contiguous array is a view"
    assert flat.backward(y).shape == x.shape
    numeric = numerical_grad(lambda v: nn.GlobalAvgPool().forward(v), x.copy(), dout)
    assert_close(gap.backward(dout), numeric, "global avg pool vs central differences", tol=1e-7)
