"""Every optimizer and schedule: 20 steps side by side with torch.optim, float64, to 1e-10."""

import numpy as np
import pytest
import torch

from netmedic import nn
from tests.nn._torch_compare import assert_close

OPTIMIZERS = {
    "sgd": (lambda p, g: nn.SGD(p, g, lr=0.1), lambda t: torch.optim.SGD(t, lr=0.1)),
    "sgd_wd": (
        lambda p, g: nn.SGD(p, g, lr=0.1, weight_decay=0.05),
        lambda t: torch.optim.SGD(t, lr=0.1, weight_decay=0.05),
    ),
    "momentum": (
        lambda p, g: nn.make_optimizer("momentum", p, g, lr=0.05),
        lambda t: torch.optim.SGD(t, lr=0.05, momentum=0.9),
    ),
    "nesterov": (
        lambda p, g: nn.make_optimizer("nesterov", p, g, lr=0.05, weight_decay=0.01),
        lambda t: torch.optim.SGD(t, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
    ),
    "adam": (lambda p, g: nn.Adam(p, g, lr=0.01), lambda t: torch.optim.Adam(t, lr=0.01)),
    "adam_wd": (
        lambda p, g: nn.Adam(p, g, lr=0.01, weight_decay=0.1),
        lambda t: torch.optim.Adam(t, lr=0.01, weight_decay=0.1),
    ),
    "adamw": (lambda p, g: nn.AdamW(p, g, lr=0.01), lambda t: torch.optim.AdamW(t, lr=0.01)),
    "rmsprop": (lambda p, g: nn.RMSprop(p, g, lr=0.01), lambda t: torch.optim.RMSprop(t, lr=0.01)),
}


def _problem(seed):
    """A small quadratic-plus-tanh objective whose gradients change every step."""
    rng = np.random.default_rng(seed)
    params = {"w": rng.normal(size=(4, 3)), "b": rng.normal(size=3)}
    target = rng.normal(size=(5, 3))
    x = rng.normal(size=(5, 4))

    def grads_numpy(p):
        z = np.tanh(x @ p["w"] + p["b"])
        dz = 2 * (z - target) * (1 - z**2) / z.size
        return {"w": x.T @ dz, "b": dz.sum(0)}

    def loss_torch(tp):
        z = torch.tanh(torch.tensor(x) @ tp["w"] + tp["b"])
        return ((z - torch.tensor(target)) ** 2).mean()

    return params, grads_numpy, loss_torch


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizer_matches_torch_for_20_steps(name):
    make_mine, make_theirs = OPTIMIZERS[name]
    params, grads_numpy, loss_torch = _problem(0)
    tparams = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    mine, theirs = make_mine(params, grads), make_theirs(list(tparams.values()))
    for step in range(20):
        for k, g in grads_numpy(params).items():
            grads[k][...] = g
        theirs.zero_grad()
        loss_torch(tparams).backward()
        mine.step()
        theirs.step()
        for k in params:
            assert_close(params[k], tparams[k], f"{name} step {step} param {k}")


def test_optimizer_updates_in_place_without_new_arrays():
    params, grads_numpy, _ = _problem(1)
    grads = grads_numpy(params)
    ids = {k: id(v) for k, v in params.items()}
    opt = nn.Adam(params, grads, lr=0.1)
    before = {k: v.copy() for k, v in params.items()}
    opt.step()
    assert {k: id(v) for k, v in params.items()} == ids
    assert not np.allclose(before["w"], params["w"])


def test_optimizer_state_round_trips():
    params, grads_numpy, _ = _problem(2)
    grads = grads_numpy(params)
    a = nn.Adam(params, grads, lr=0.1)
    a.step()
    a.step()
    state = {k: v.copy() for k, v in a.state_dict().items()}
    b = nn.Adam({k: v.copy() for k, v in params.items()}, grads, lr=0.1)
    b.load_state_dict(state)
    a.step()
    b.step()
    assert np.array_equal(a.params["w"], b.params["w"])


def test_unknown_optimizer_names_the_choices():
    with pytest.raises(ValueError, match="unknown optimizer 'adagrad'; expected one of sgd"):
        nn.make_optimizer("adagrad", {}, {}, lr=0.1)


def _torch_lrs(make_scheduler, steps, lr=0.1):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    sched = make_scheduler(opt)
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


SCHEDULES = {
    "constant": (
        nn.Schedule("constant", 0.1),
        lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda s: 1.0),
    ),
    "step": (
        nn.Schedule("step", 0.1, step_size=7, gamma=0.5),
        lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=7, gamma=0.5),
    ),
    "cosine": (
        nn.Schedule("cosine", 0.1, total_steps=20, min_lr=0.001),
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=20, eta_min=0.001),
    ),
    "warmup_cosine": (
        nn.Schedule("cosine", 0.1, total_steps=20, warmup_steps=5),
        lambda o: torch.optim.lr_scheduler.SequentialLR(
            o,
            [
                torch.optim.lr_scheduler.LinearLR(o, start_factor=1 / 3, total_iters=5),
                torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=15),
            ],
            milestones=[5],
        ),
    ),
}


@pytest.mark.parametrize("name", SCHEDULES)
def test_schedule_matches_torch(name):
    mine, make = SCHEDULES[name]
    theirs = _torch_lrs(make, 20)
    assert_close(np.array([mine(s) for s in range(20)]), np.array(theirs), f"{name} schedule")


def test_clip_grad_norm_matches_torch():
    rng = np.random.default_rng(0)
    grads = [rng.normal(size=(3, 4)), rng.normal(size=5)]
    tensors = [torch.tensor(g.copy(), requires_grad=True) for g in grads]
    for t, g in zip(tensors, grads, strict=True):
        t.grad = torch.tensor(g.copy())
    norm = nn.clip_grad_norm(grads, 1.5)
    tnorm = torch.nn.utils.clip_grad_norm_(tensors, 1.5)
    assert_close(norm, tnorm, "norm before clipping")
    for g, t in zip(grads, tensors, strict=True):
        assert_close(g, t.grad, "clipped gradient")
    nn.clip_grad_value(grads, 0.01)
    assert max(np.abs(g).max() for g in grads) <= 0.01


def test_penalty_adds_l1_l2_to_weights_only():
    params = {"dense1.weight": np.array([[1.0, -2.0]]), "dense1.bias": np.array([3.0])}
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    value = nn.Penalty(l1=0.1, l2=0.5).apply(params, grads)
    assert value == pytest.approx(0.1 * 3 + 0.25 * 5)
    assert grads["dense1.weight"].tolist() == [[0.1 + 0.5, -0.1 - 1.0]]
    assert grads["dense1.bias"].tolist() == [0.0]


def test_global_norm_survives_float32_squares_overflowing():
    huge = np.full(4, 1e20, dtype=np.float32)
    assert nn.global_norm([huge]) == pytest.approx(2e20, rel=1e-6)
    assert np.isinf(nn.global_norm([np.array([np.inf], np.float32)]))
    assert np.isnan(nn.global_norm([np.array([np.nan, 1.0], np.float32)]))
