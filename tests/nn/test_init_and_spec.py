"""Initializers' statistics, determinism, and model specs with their error messages."""

import json

import numpy as np
import pytest

from netmedic import nn
from netmedic.errors import BadInputError

EXPECTED_STD = {
    "he_normal": lambda fi, fo: np.sqrt(2 / fi),
    "he_uniform": lambda fi, fo: np.sqrt(6 / fi) / np.sqrt(3),
    "glorot_normal": lambda fi, fo: np.sqrt(2 / (fi + fo)),
    "glorot_uniform": lambda fi, fo: np.sqrt(6 / (fi + fo)) / np.sqrt(3),
    "lecun_normal": lambda fi, fo: np.sqrt(1 / fi),
}


@pytest.mark.parametrize("name", EXPECTED_STD)
def test_initializer_has_the_documented_std(name):
    init = nn.get_initializer(name)
    w = init((400, 300), 400, 300, np.random.default_rng(0))
    assert w.shape == (400, 300)
    assert w.std() == pytest.approx(EXPECTED_STD[name](400, 300), rel=0.02)
    assert abs(w.mean()) < 0.01 * w.std() * 10


def test_parameterised_initializers_parse():
    w = nn.get_initializer("uniform(-0.5, 0.5)")((100, 100), 100, 100, np.random.default_rng(0))
    assert -0.5 <= w.min() and w.max() <= 0.5 and w.std() == pytest.approx(1 / np.sqrt(12), 0.03)
    w = nn.get_initializer("normal(0.01)")((100, 100), 100, 100, np.random.default_rng(0))
    assert w.std() == pytest.approx(0.01, rel=0.03)
    assert not nn.get_initializer("zeros")((3,), 1, 1, np.random.default_rng(0)).any()


def test_unknown_initializer_lists_the_known_ones():
    with pytest.raises(BadInputError, match="unknown initializer 'xavier'.*he_normal.*uniform"):
        nn.get_initializer("xavier")


def test_same_seed_same_weights_other_seed_other_weights():
    a = nn.build_model("mlp:20-10-3").init(np.random.default_rng(5))
    b = nn.build_model("mlp:20-10-3").init(np.random.default_rng(5))
    c = nn.build_model("mlp:20-10-3").init(np.random.default_rng(6))
    pa, pb, pc = a.parameters(), b.parameters(), c.parameters()
    assert all(np.array_equal(pa[k], pb[k]) for k in pa)
    assert not np.array_equal(pa["dense1.weight"], pc["dense1.weight"])


def test_mlp_spec_builds_named_layers_with_fitting_init():
    model = nn.build_model("mlp:784-30-10:sigmoid").init(np.random.default_rng(0))
    assert [layer.name for layer in model.layers] == ["dense1", "sigmoid1", "dense2"]
    assert list(model.parameters()) == ["dense1.weight", "dense1.bias", "dense2.weight",
                                        "dense2.bias"]
    # glorot for a sigmoid layer: std sqrt(2 / (784 + 30))
    assert model.parameters()["dense1.weight"].std() == pytest.approx(np.sqrt(2 / 814), rel=0.05)
    relu = nn.build_model("mlp:784-300-10").init(np.random.default_rng(0))
    assert relu.parameters()["dense1.weight"].std() == pytest.approx(np.sqrt(2 / 784), rel=0.05)


@pytest.mark.parametrize(("spec", "message"), [
    ("mlp:784", "two or more positive integers"),
    ("mlp:784-x-10", "two or more positive integers"),
    ("mlp:784-10:swish", "unknown hidden activation 'swish'; expected one of relu, sigmoid"),
    ("resnet50", "not understood; expected mlp:"),
])
def test_bad_spec_says_what_is_expected(spec, message):
    with pytest.raises(BadInputError, match=message):
        nn.parse_model_spec(spec)


def test_json_spec_builds_seed000_network(tmp_path):
    path = tmp_path / "seed000.json"
    path.write_text(json.dumps({
        "input_shape": [784], "loss": "cross_entropy",
        "layers": [{"type": "dense", "units": 30, "init": "uniform(0, 1)"}, {"type": "sigmoid"},
                   {"type": "dense", "units": 10, "init": "uniform(0, 1)"}],
    }))
    model = nn.build_model(str(path)).init(np.random.default_rng(0))
    w = model.parameters()["dense1.weight"]
    assert w.shape == (784, 30) and w.min() >= 0 and w.max() <= 1


def test_json_spec_errors_name_the_file_and_the_problem(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(BadInputError, match=r"bad.json: not valid JSON at line 1"):
        nn.parse_model_spec(str(bad))
    bad.write_text(json.dumps({"input_shape": [4], "layers": [{"type": "lstm"}]}))
    with pytest.raises(BadInputError, match=r"layer 0 has type 'lstm'; expected one of"):
        nn.parse_model_spec(str(bad))
    with pytest.raises(BadInputError, match="cannot read it"):
        nn.parse_model_spec(str(tmp_path / "missing.json"))


def test_parameters_are_views_of_one_vector_and_copies_are_independent():
    import copy

    model = nn.build_model("mlp:6-4-3").init(np.random.default_rng(0))
    params = model.parameters()
    assert sum(p.size for p in params.values()) == model.flat_params.size
    model.flat_params[:] = 7.0
    assert all((p == 7.0).all() for p in params.values())
    model.layers[0].grads["weight"][...] = 1.0
    assert model.flat_grads[:24].sum() == 24.0
    twin = copy.deepcopy(model)
    twin.flat_params[:] = 0.0
    assert all((p == 0.0).all() for p in twin.parameters().values())
    assert (model.flat_params == 7.0).all(), "a copy must not share storage with the original"
