"""Model specs: a compact string for the CLI, a small JSON file for anything else.

Compact form ``mlp:784-256-128-10:relu`` — layer sizes, then the hidden activation (``relu``,
``sigmoid``, ``tanh``, ``leaky_relu`` or ``elu``; default ``relu``); the last layer gives logits.

JSON form (a file path ending in ``.json``)::

    {"input_shape": [784],
     "loss": "cross_entropy",                      # or "mse", "bce"; optional
     "init": "he_normal",                          # default for every dense layer; optional
     "layers": [{"type": "dense", "units": 30, "init": "uniform(0, 1)"},
                {"type": "sigmoid"},
                {"type": "dense", "units": 10}]}

Layer types are the keys of :data:`LAYER_BUILDERS`; options are the layer's keyword arguments.
Without an explicit init a dense layer followed by a ReLU-like activation gets ``he_normal``,
any other ``glorot_uniform`` (He et al. 2015; Glorot & Bengio 2010).

Compact form ``cnn`` — the default CNN on ``(1, 28, 28)`` images, the same as
``cnn:c32k5p2-relu-pool2-c64k5p2-relu-pool2-fc128-relu-fc10``. ``cnn:TOKENS`` chains any of
these tokens with ``-``:

    in3x32x32      input shape C×H×W (or one number, flat input); first token only; default 1x28x28
    c32k5s2p1      conv: 32 filters, 5×5 kernel, then optional stride (default 1), zero padding (0)
    pool2 pool3s2  max pool 2×2 (stride = kernel unless ``s`` says); ``maxpool2`` is the same
    avgpool2       average pool, same options
    gap            global average pool: (C, H, W) -> (C,)
    bn  ln         batch norm (per channel, 1d or 2d) / layer norm (over all of an example's axes)
    drop0.5        dropout with p = 0.5
    flatten        explicit; inserted automatically before the first fc on image-shaped input
    fc128          dense layer of 128 units; the last one gives the logits
    relu sigmoid tanh leaky_relu elu

e.g. seed 003's 5 conv + 2 hidden + softmax network (``examples/seed003_cnn.json``) is
``cnn:c16k3-relu-c16k3-relu-c32k3s2-relu-c32k3-relu-c64k3s2-relu-fc256-relu-fc128-relu-fc10``.
JSON layer types and options: ``conv`` (``filters``, ``kernel``, ``stride`` 1, ``padding`` 0,
``bias`` true, ``init``, ``bias_init``), ``maxpool``/``avgpool`` (``kernel``, ``stride``),
``global_avgpool``, ``flatten``, ``batchnorm`` (``eps`` 1e-5, ``momentum`` 0.1), ``layernorm``
(``eps``), ``dropout`` (``p`` 0.5). A conv layer's default init is ``he_normal``, or
``glorot_uniform`` when a sigmoid or tanh follows it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netmedic.errors import BadInputError
from netmedic.nn.activations import ACTIVATIONS
from netmedic.nn.conv import Conv2D
from netmedic.nn.dense import Dense
from netmedic.nn.dropout import Dropout
from netmedic.nn.init import get_initializer
from netmedic.nn.layer import Layer
from netmedic.nn.losses import LOSSES
from netmedic.nn.model import Sequential
from netmedic.nn.norm import BatchNorm, LayerNorm
from netmedic.nn.pool import AvgPool2D, GlobalAvgPool, MaxPool2D
from netmedic.nn.reshape import Flatten

HIDDEN_ACTIVATIONS = ("relu", "sigmoid", "tanh", "leaky_relu", "elu")
_RELU_LIKE = ("relu", "leaky_relu", "elu")

Shape = tuple[int, ...]
#: type -> builder(options, input_shape, next_type) -> (layer, output_shape)
LayerBuilder = Callable[[dict[str, Any], Shape, "str | None"], tuple[Layer, Shape]]


@dataclass
class ModelSpec:
    """What to build: the input shape (without batch), layer configs, the loss, the source text."""

    input_shape: Shape
    layers: list[dict[str, Any]]
    loss: str = "cross_entropy"
    init: str | None = None
    text: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def num_outputs(self) -> int:
        units = [cfg["units"] for cfg in self.layers if cfg["type"] == "dense"]
        return units[-1] if units else math.prod(self.input_shape)


def _build_dense(options: dict[str, Any], in_shape: Shape, next_type: str | None):
    if len(in_shape) != 1:
        raise BadInputError(
            f"a dense layer needs flat input, got shape {in_shape}; put a flatten layer before it"
        )
    default = "he_normal" if next_type in _RELU_LIKE else "glorot_uniform"
    layer = Dense(
        in_shape[0],
        int(options["units"]),
        init=get_initializer(options.get("init") or default),
        bias_init=get_initializer(options.get("bias_init", "zeros")),
    )
    return layer, (layer.out_features,)


def _activation_builder(kind: str) -> LayerBuilder:
    def build(options: dict[str, Any], in_shape: Shape, next_type: str | None):
        return ACTIVATIONS[kind](**options), in_shape

    return build


LAYER_BUILDERS: dict[str, LayerBuilder] = {"dense": _build_dense}
LAYER_BUILDERS.update({kind: _activation_builder(kind) for kind in ACTIVATIONS})

#: compact-form prefixes ("mlp:...") -> parser(text) -> ModelSpec; other modules may add theirs
COMPACT_PARSERS: dict[str, Callable[[str], ModelSpec]] = {}


def _parse_mlp(text: str) -> ModelSpec:
    parts = text.split(":")
    example = "mlp:784-256-128-10:relu"
    if len(parts) not in (2, 3):
        raise BadInputError(f"model spec {text!r}: expected the form {example}")
    try:
        sizes = [int(s) for s in parts[1].split("-")]
    except ValueError:
        sizes = []
    if len(sizes) < 2 or min(sizes) < 1:
        raise BadInputError(
            f"model spec {text!r}: layer sizes must be two or more positive integers joined by "
            f"'-', e.g. {example}"
        )
    activation = parts[2] if len(parts) == 3 else "relu"
    if activation not in HIDDEN_ACTIVATIONS:
        raise BadInputError(
            f"model spec {text!r}: unknown hidden activation {activation!r}; "
            f"expected one of {', '.join(HIDDEN_ACTIVATIONS)}"
        )
    layers: list[dict[str, Any]] = []
    for units in sizes[1:-1]:
        layers += [{"type": "dense", "units": units}, {"type": activation}]
    layers.append({"type": "dense", "units": sizes[-1]})
    return ModelSpec(input_shape=(sizes[0],), layers=layers, text=text)


COMPACT_PARSERS["mlp"] = _parse_mlp


def _options(kind: str, options: dict[str, Any], allowed: str) -> dict[str, Any]:
    unknown = sorted(set(options) - set(allowed.split()))
    if unknown:
        raise BadInputError(f"a {kind} layer takes options {allowed.replace(' ', ', ')}; "
                            f"got {', '.join(unknown)}")
    return options


def _image(kind: str, in_shape: Shape) -> Shape:
    if len(in_shape) != 3:
        raise BadInputError(f"a {kind} layer needs image input (C, H, W), got shape {in_shape}; "
                            "put it before the flatten / first fc layer")
    return in_shape


def _fits(layer: Conv2D | MaxPool2D | AvgPool2D, in_shape: Shape) -> tuple[Layer, Shape]:
    out_shape = layer.output_shape(in_shape)
    if min(out_shape[1:]) < 1:
        raise BadInputError(f"{layer!r} does not fit its input {in_shape[1]}×{in_shape[2]}: "
                            f"the output would be {out_shape[1]}×{out_shape[2]}")
    return layer, out_shape


def _build_conv(options: dict[str, Any], in_shape: Shape, next_type: str | None):
    o = _options("conv", options, "filters kernel stride padding bias init bias_init")
    default = "glorot_uniform" if next_type in ("sigmoid", "tanh") else "he_normal"
    kernel = o["kernel"]
    layer = Conv2D(_image("conv", in_shape)[0], int(o["filters"]),
                   int(kernel) if isinstance(kernel, int | float) else tuple(kernel),
                   stride=int(o.get("stride", 1)), padding=int(o.get("padding", 0)),
                   bias=bool(o.get("bias", True)), init=get_initializer(o.get("init") or default),
                   bias_init=get_initializer(o.get("bias_init", "zeros")))
    return _fits(layer, in_shape)


def _pool_builder(cls: type[MaxPool2D] | type[AvgPool2D]) -> LayerBuilder:
    def build(options: dict[str, Any], in_shape: Shape, next_type: str | None):
        o = _options(cls.kind, options, "kernel stride")
        layer = cls(int(o.get("kernel", 2)), o.get("stride"))
        return _fits(layer, _image(cls.kind, in_shape))

    return build


def _build_global_avgpool(options: dict[str, Any], in_shape: Shape, next_type: str | None):
    _options("global_avgpool", options, "")
    return GlobalAvgPool(), _image("global_avgpool", in_shape)[:1]


def _build_flatten(options: dict[str, Any], in_shape: Shape, next_type: str | None):
    _options("flatten", options, "")
    return Flatten(), (math.prod(in_shape),)


def _build_batchnorm(options: dict[str, Any], in_shape: Shape, next_type: str | None):
    o = _options("batchnorm", options, "eps momentum affine")
    if len(in_shape) not in (1, 3):
        raise BadInputError(f"a batchnorm layer needs (C,) or (C, H, W) input, got {in_shape}")
    return BatchNorm(in_shape[0], **o), in_shape


def _build_layernorm(options: dict[str, Any], in_shape: Shape, next_type: str | None):
    return LayerNorm(in_shape, **_options("layernorm", options, "eps affine")), in_shape


def _build_dropout(options: dict[str, Any], in_shape: Shape, next_type: str | None):
    return Dropout(float(_options("dropout", options, "p").get("p", 0.5))), in_shape


LAYER_BUILDERS.update({
    "conv": _build_conv, "maxpool": _pool_builder(MaxPool2D), "avgpool": _pool_builder(AvgPool2D),
    "global_avgpool": _build_global_avgpool, "flatten": _build_flatten,
    "batchnorm": _build_batchnorm, "layernorm": _build_layernorm, "dropout": _build_dropout,
})

DEFAULT_CNN = "cnn:c32k5p2-relu-pool2-c64k5p2-relu-pool2-fc128-relu-fc10"
_CNN_TOKENS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], dict[str, Any]]]] = [
    (re.compile(r"c(\d+)k(\d+)(?:s(\d+))?(?:p(\d+))?"), lambda m: {
        "type": "conv", "filters": int(m[1]), "kernel": int(m[2]),
        "stride": int(m[3] or 1), "padding": int(m[4] or 0)}),
    (re.compile(r"(max|avg)?pool(\d+)(?:s(\d+))?"), lambda m: {
        "type": f"{m[1] or 'max'}pool", "kernel": int(m[2]), "stride": int(m[3] or m[2])}),
    (re.compile(r"fc(\d+)"), lambda m: {"type": "dense", "units": int(m[1])}),
    (re.compile(r"drop(0|1|0?\.\d+|1\.0*)"), lambda m: {"type": "dropout", "p": float(m[1])}),
    (re.compile(r"gap|flatten|bn|ln|" + "|".join(HIDDEN_ACTIVATIONS)), lambda m: {
        "type": {"gap": "global_avgpool", "bn": "batchnorm", "ln": "layernorm"}.get(m[0], m[0])}),
]
_CNN_HELP = ("c<filters>k<kernel>[s<stride>][p<padding>], pool<k>[s<stride>], "
             "avgpool<k>[s<stride>], gap, bn, ln, drop<p>, flatten, fc<units>, "
             + ", ".join(HIDDEN_ACTIVATIONS))


def _parse_cnn(text: str) -> ModelSpec:
    """``cnn`` or ``cnn:TOKENS`` (grammar in the module docstring) -> ModelSpec."""
    body = DEFAULT_CNN.split(":", 1)[1] if text == "cnn" else text.partition(":")[2]
    tokens = body.split("-") if body else []
    shape: Shape = (1, 28, 28)
    if tokens and (m := re.fullmatch(r"in(\d+)(?:x(\d+)x(\d+))?", tokens[0])):
        shape = tuple(int(d) for d in m.groups() if d is not None)
        tokens = tokens[1:]
    if not tokens or text.count(":") > 1:
        raise BadInputError(f"model spec {text!r}: expected cnn or cnn:TOKENS joined by '-', e.g. "
                            f"{DEFAULT_CNN}; tokens are {_CNN_HELP}")
    layers: list[dict[str, Any]] = []
    in_shape = shape
    for i, token in enumerate(tokens, start=1):
        config = next((make(m) for pattern, make in _CNN_TOKENS if (m := pattern.fullmatch(token))),
                      None)
        if config is None:
            raise BadInputError(f"model spec {text!r}: token {i} {token!r} not understood; "
                                f"expected one of {_CNN_HELP}")
        configs = [config]
        if config["type"] == "dense" and len(shape) != 1:
            configs.insert(0, {"type": "flatten"})  # the implicit flatten before the first fc
        for cfg in configs:
            try:  # build once to check the shapes now, with the token in the message
                options = {k: v for k, v in cfg.items() if k != "type"}
                _, shape = LAYER_BUILDERS[cfg["type"]](options, shape, None)
            except BadInputError as err:
                raise BadInputError(f"model spec {text!r}: token {i} {token!r}: {err}") from None
        layers += configs
    return ModelSpec(input_shape=in_shape, layers=layers, text=text)


COMPACT_PARSERS["cnn"] = _parse_cnn


def _parse_json(path: Path) -> ModelSpec:
    try:
        doc = json.loads(path.read_text())
    except OSError as err:
        raise BadInputError(f"model spec file {path}: cannot read it ({err.strerror})") from None
    except json.JSONDecodeError as err:
        raise BadInputError(
            f"model spec file {path}: not valid JSON at line {err.lineno}, column {err.colno} "
            f"({err.msg})"
        ) from None
    if not isinstance(doc, dict) or "layers" not in doc or "input_shape" not in doc:
        raise BadInputError(
            f"model spec file {path}: expected an object with 'input_shape' (e.g. [784]) and "
            "'layers' (a list of {\"type\": ...}); see the README's model spec section"
        )
    layers = doc["layers"]
    for i, cfg in enumerate(layers):
        if not isinstance(cfg, dict) or cfg.get("type") not in LAYER_BUILDERS:
            found = cfg.get("type") if isinstance(cfg, dict) else cfg
            raise BadInputError(
                f"model spec file {path}: layer {i} has type {found!r}; expected one of "
                f"{', '.join(sorted(LAYER_BUILDERS))}"
            )
    loss = doc.get("loss", "cross_entropy")
    if loss not in LOSSES:
        raise BadInputError(
            f"model spec file {path}: unknown loss {loss!r}; expected one of {', '.join(LOSSES)}"
        )
    shape = doc["input_shape"]
    shape = tuple(shape) if isinstance(shape, list) else (int(shape),)
    return ModelSpec(input_shape=shape, layers=layers, loss=loss, init=doc.get("init"),
                     text=str(path))


def parse_model_spec(text: str) -> ModelSpec:
    """A :class:`ModelSpec` from ``mlp:...``, another registered compact form, or a JSON file."""
    prefix = text.split(":", 1)[0]
    if prefix in COMPACT_PARSERS:
        return COMPACT_PARSERS[prefix](text)
    if text.endswith(".json"):
        return _parse_json(Path(text))
    forms = ", ".join(f"{p}:..." for p in COMPACT_PARSERS)
    raise BadInputError(
        f"model spec {text!r} not understood; expected {forms} (e.g. mlp:784-256-128-10:relu) "
        "or the path of a .json spec file"
    )


def build_model(spec: ModelSpec | str, init: str | None = None) -> Sequential:
    """An un-initialised :class:`Sequential` for ``spec``; ``init`` overrides every dense/conv
    layer's initializer. Call ``.init(rng, dtype)`` on the result."""
    if isinstance(spec, str):
        spec = parse_model_spec(spec)
    init = init or spec.init
    shape, layers = spec.input_shape, []
    for i, cfg in enumerate(spec.layers):
        options = {k: v for k, v in cfg.items() if k != "type"}
        if init and "init" not in cfg and cfg["type"] in ("dense", "conv"):
            options["init"] = init
        next_type = spec.layers[i + 1]["type"] if i + 1 < len(spec.layers) else None
        try:
            layer, shape = LAYER_BUILDERS[cfg["type"]](options, shape, next_type)
        except (TypeError, KeyError) as err:
            raise BadInputError(
                f"model spec {spec.text or ''}: layer {i} ({cfg['type']}) has bad options "
                f"{options}: {err}"
            ) from None
        layers.append(layer)
    return Sequential(layers, spec.input_shape)
