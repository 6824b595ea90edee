"""The ``cnn`` compact grammar and the JSON layer types: what they build, and what their errors
say."""

import json
from pathlib import Path

import numpy as np
import pytest

from netmedic import nn
from netmedic.errors import BadInputError
from netmedic.nn.init import glorot_normal, glorot_uniform, he_normal

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "seed003_cnn.json"
SEED003 = ("cnn:c16k3-relu-c16k3-relu-c32k3s2-relu-c32k3-relu-c64k3s2-relu"
           "-fc256-relu-fc128-relu-fc10")


def _summary(model):
    return [(layer.name, type(layer).__name__, {k: v.shape for k, v in layer.params.items()})
            for layer in model.layers]


def test_default_cnn_is_the_documented_network_and_outputs_n_by_10():
    model = nn.build_model("cnn").init(np.random.default_rng(0))
    names = [layer.name for layer in model.layers]
    assert names == ["conv1", "relu1", "maxpool1", "conv2", "relu2", "maxpool2", "flatten1",
                     "dense1", "relu3", "dense2"]
    params = {k: v.shape for k, v in model.parameters().items()}
    assert params == {"conv1.weight": (32, 1, 5, 5), "conv1.bias": (32,),
                      "conv2.weight": (64, 32, 5, 5), "conv2.bias": (64,),
                      "dense1.weight": (3136, 128), "dense1.bias": (128,),
                      "dense2.weight": (128, 10), "dense2.bias": (10,)}
    assert model.input_shape == (1, 28, 28)
    out = model.forward(np.zeros((3, 1, 28, 28), np.float32))
    assert out.shape == (3, 10) and out.dtype == np.float32
    spelled = nn.build_model("cnn:c32k5p2-relu-pool2-c64k5p2-relu-pool2-fc128-relu-fc10")
    assert _summary(spelled.init(np.random.default_rng(0))) == _summary(model)
    assert nn.parse_model_spec("cnn").num_outputs == 10


def test_seed003_example_json_matches_its_compact_form():
    from_json = nn.build_model(str(EXAMPLE)).init(np.random.default_rng(0))
    compact = nn.build_model(SEED003).init(np.random.default_rng(0))
    assert _summary(from_json) == _summary(compact)
    convs = [layer for layer in from_json.layers if isinstance(layer, nn.Conv2D)]
    denses = [layer for layer in from_json.layers if isinstance(layer, nn.Dense)]
    assert len(convs) == 5 and len(denses) == 3, "5 conv + 2 hidden + the softmax layer"
    assert all(layer.init is glorot_normal for layer in convs + denses), "the seed's init"
    assert from_json.forward(np.zeros((2, 1, 28, 28), np.float32)).shape == (2, 10)


def test_every_token_builds_the_right_layer_and_shape():
    spec = "cnn:in3x9x9-c4k3s2p1-bn-relu-avgpool2s1-drop0.25-c6k1-tanh-pool2-ln-gap-fc5-sigmoid-fc3"
    model = nn.build_model(spec).init(np.random.default_rng(0), np.float64)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Conv2D", "BatchNorm", "ReLU", "AvgPool2D", "Dropout", "Conv2D", "Tanh",
                     "MaxPool2D", "LayerNorm", "GlobalAvgPool", "Dense", "Sigmoid", "Dense"]
    conv1, conv2 = model.layers[0], model.layers[5]
    assert (conv1.stride, conv1.padding, conv1.kernel_size) == (2, 1, (3, 3))
    assert conv1.init is he_normal and conv2.init is glorot_uniform, "init follows activation"
    assert model.layers[3].stride == 1 and model.layers[4].p == 0.25
    assert model.layers[8].normalized_shape == (6, 2, 2)
    assert model.forward(np.ones((2, 3, 9, 9))).shape == (2, 3)
    flat = nn.build_model("cnn:in12-fc8-bn-drop0.5-fc2")
    assert [layer.kind for layer in flat.layers] == ["dense", "batchnorm", "dropout", "dense"]


def test_init_option_reaches_conv_layers():
    model = nn.build_model("cnn", init="glorot_normal")
    assert model.layers[0].init is glorot_normal and model.layers[7].init is glorot_normal


@pytest.mark.parametrize(("spec", "says"), [
    ("cnn:c32k5-foo-fc10", r"token 2 'foo' not understood; expected one of c<filters>k<kernel>"),
    ("cnn:", r"expected cnn or cnn:TOKENS joined by '-'"),
    ("cnn:c32k5:relu", r"expected cnn or cnn:TOKENS"),
    ("cnn:in3x8x8-c4k9", r"token 1 'c4k9': .*does not fit its input 8×8"),
    ("cnn:c8k3-pool2-pool2-pool2-pool2-pool2", r"token 6 'pool2': .*does not fit its input 1×1"),
    ("cnn:c8k3-fc10-pool2", r"token 3 'pool2': a maxpool layer needs image input \(C, H, W\)"),
    ("cnn:c8k3-drop1.5", r"token 2 'drop1.5' not understood"),
    ("cnn:c8k3-relu6", r"token 2 'relu6' not understood"),
])
def test_grammar_errors_say_what_and_where(spec, says):
    with pytest.raises(BadInputError, match=says):
        nn.build_model(spec)


def test_json_errors_name_the_bad_option(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"input_shape": [1, 8, 8], "layers": [
        {"type": "conv", "filters": 4, "kernel": 3, "pad": 1}, {"type": "dense", "units": 2}]}))
    with pytest.raises(BadInputError, match="conv layer takes options filters, kernel.*got pad"):
        nn.build_model(str(path))
    path.write_text(json.dumps({"input_shape": [1, 8, 8], "layers": [
        {"type": "conv", "filters": 4, "kernel": 3}, {"type": "dense", "units": 2}]}))
    with pytest.raises(BadInputError, match="put a flatten layer before it"):
        nn.build_model(str(path))
