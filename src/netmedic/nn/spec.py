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
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netmedic.errors import BadInputError
from netmedic.nn.activations import ACTIVATIONS
from netmedic.nn.dense import Dense
from netmedic.nn.init import get_initializer
from netmedic.nn.layer import Layer
from netmedic.nn.losses import LOSSES
from netmedic.nn.model import Sequential

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
