"""Fused losses against PyTorch in float64, and their stability at extreme logits."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from netmedic import nn
from tests.nn._torch_compare import assert_close, numerical_grad


def _logits_labels(seed, scale=2.0):
    rng = np.random.default_rng(seed)
    n, c = rng.integers(1, 20), rng.integers(2, 12)
    return rng.normal(scale=scale, size=(n, c)), rng.integers(0, c, size=n)


@pytest.mark.parametrize("seed", range(5))
def test_softmax_cross_entropy_matches_torch(seed):
    logits, labels = _logits_labels(seed)
    loss = nn.SoftmaxCrossEntropy()
    value = loss.forward(logits, labels)
    t = torch.tensor(logits, requires_grad=True)
    tl = F.cross_entropy(t, torch.tensor(labels))
    tl.backward()
    assert_close(value, tl, "cross-entropy")
    assert_close(loss.backward(), t.grad, "cross-entropy gradient")


@pytest.mark.parametrize("seed", range(5))
def test_mse_matches_torch_with_labels_and_targets(seed):
    out, labels = _logits_labels(seed)
    loss = nn.MSE()
    target = F.one_hot(torch.tensor(labels), out.shape[1]).double()
    t = torch.tensor(out, requires_grad=True)
    tl = F.mse_loss(t, target)
    tl.backward()
    assert_close(loss.forward(out, labels), tl, "mse from labels")
    assert_close(loss.backward(), t.grad, "mse gradient")
    assert_close(loss.forward(out, target.numpy()), tl, "mse from targets")


@pytest.mark.parametrize("seed", range(5))
def test_bce_with_logits_matches_torch(seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=4.0, size=(7, 3))
    target = rng.uniform(size=(7, 3))
    loss = nn.BCEWithLogits()
    t = torch.tensor(logits, requires_grad=True)
    tl = F.binary_cross_entropy_with_logits(t, torch.tensor(target))
    tl.backward()
    assert_close(loss.forward(logits, target), tl, "bce")
    assert_close(loss.backward(), t.grad, "bce gradient")


@pytest.mark.parametrize("cls", [nn.SoftmaxCrossEntropy, nn.MSE, nn.BCEWithLogits])
def test_loss_gradient_matches_central_differences(cls):
    logits, labels = _logits_labels(3)

    def value(z):
        return np.array(cls().forward(z, labels))

    loss = cls()
    loss.forward(logits, labels)
    numeric = numerical_grad(value, logits.copy(), np.array(1.0))
    assert_close(loss.backward(), numeric, f"{cls.__name__} vs central differences", tol=1e-7)


def test_cross_entropy_is_stable_for_huge_logits():
    logits = np.array([[1e4, 0.0, -1e4], [0.0, 1e4, 0.0]], dtype=np.float32)
    loss = nn.SoftmaxCrossEntropy()
    with np.errstate(all="raise"):
        value = loss.forward(logits, np.array([1, 1]))
    # the first example is wrong by a margin of 1e4, the second right
    assert value == pytest.approx(1e4 / 2)
    assert np.isfinite(loss.backward()).all()


def test_bad_target_shape_says_what_to_pass():
    with pytest.raises(ValueError, match=r"target shape \(3, 2\) does not match.*integer labels"):
        nn.MSE().forward(np.zeros((3, 4)), np.zeros((3, 2)))
