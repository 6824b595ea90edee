"""Inverted dropout: identity in eval, the expected fraction kept, 1/(1-p) scaling, masks from
the passed Generator only (same seed, same mask), and PyTorch's expectation semantics."""

import numpy as np
import pytest

from netmedic import nn
from netmedic.errors import BadInputError


def test_eval_is_the_identity():
    x = np.random.default_rng(0).normal(size=(4, 3, 5, 5))
    layer = nn.Dropout(0.5, rng=np.random.default_rng(1))
    out = layer.forward(x, training=False)
    assert np.array_equal(out, x)
    dout = np.ones_like(x)
    assert np.array_equal(layer.backward(dout), dout)
    assert layer.mask is None


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_training_keeps_the_expected_fraction_scaled_by_one_over_keep(p):
    x = np.ones((200, 500))
    layer = nn.Dropout(p, rng=np.random.default_rng(2))
    out = layer.forward(x, training=True)
    kept = out != 0
    # 100,000 Bernoulli draws: the kept fraction is within 5 standard deviations of 1 - p
    sd = np.sqrt(p * (1 - p) / x.size)
    assert abs(kept.mean() - (1 - p)) < 5 * sd, f"kept {kept.mean():.4f}, expected {1 - p}"
    assert np.allclose(out[kept], 1 / (1 - p)), "survivors are scaled by 1/(1-p)"
    assert np.array_equal(kept, layer.mask)
    assert abs(out.mean() - 1.0) < 5 * sd / (1 - p), "the expected output equals the input"
    dout = np.random.default_rng(3).normal(size=x.shape)
    dx = layer.backward(dout)
    assert np.array_equal(dx[~kept], np.zeros((~kept).sum()))
    assert np.allclose(dx[kept], dout[kept] / (1 - p)), "backward uses the same mask and scale"


def test_same_seed_same_mask_and_no_global_rng():
    x = np.ones((8, 16), np.float32)
    global_state = np.random.get_state()[1].copy()  # noqa: NPY002 -- checking it stays untouched
    first = nn.Dropout(0.3, rng=np.random.default_rng(42)).forward(x).copy()
    second = nn.Dropout(0.3, rng=np.random.default_rng(42)).forward(x).copy()
    other = nn.Dropout(0.3, rng=np.random.default_rng(43)).forward(x).copy()
    assert np.array_equal(first, second)
    assert not np.array_equal(first, other)
    assert first.dtype == np.float32
    legacy = np.random.get_state()[1]  # noqa: NPY002
    assert np.array_equal(legacy, global_state), "never touches the global np.random"


def test_model_gives_dropout_a_child_stream_without_changing_other_weights():
    spec = "cnn:in1x6x6-c2k3-relu-drop0.5-fc4"
    plain = nn.build_model("cnn:in1x6x6-c2k3-relu-fc4").init(np.random.default_rng(7))
    model = nn.build_model(spec).init(np.random.default_rng(7))
    again = nn.build_model(spec).init(np.random.default_rng(7))
    for key, value in plain.parameters().items():
        assert np.array_equal(model.parameters()[key], value), f"{key} changed by dropout"
    x = np.ones((3, 1, 6, 6), np.float32)
    model.forward(x)
    again.forward(x)
    dropout = model.layers[2]
    assert dropout.name == "dropout1" and dropout.rng is not None
    assert np.array_equal(dropout.mask, again.layers[2].mask), "same seed, same masks"
    first_mask = dropout.mask.copy()
    model.forward(x)
    assert not np.array_equal(first_mask, dropout.mask), "a fresh mask every step"


def test_edge_probabilities_and_errors():
    x = np.random.default_rng(0).normal(size=(3, 4))
    assert np.array_equal(nn.Dropout(0.0).forward(x), x), "p = 0 needs no generator"
    assert np.array_equal(nn.Dropout(1.0, rng=np.random.default_rng(0)).forward(x), 0 * x)
    with pytest.raises(BadInputError, match=r"in \[0, 1\]; got 1.5"):
        nn.Dropout(1.5)
    with pytest.raises(RuntimeError, match="no random generator"):
        nn.Dropout(0.5).forward(x)
