"""Reading traces (format: :mod:`netmedic.doctor.trace` and the README): validation with
messages that name the file, the line and what was expected."""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from netmedic.doctor.history import Record
from netmedic.errors import BadInputError

ROLES = ("input", "param", "grad", "update", "act", "preact", "label")
ROLE_ALIASES = {"inputs": "input", "parameter": "param", "weight": "param", "params": "param",
                "gradient": "grad", "grads": "grad", "activation": "act", "acts": "act",
                "preactivation": "preact", "pre": "preact", "labels": "label", "updates": "update"}
SETTINGS = ("stride", "judge_every", "batch_axis", "num_classes", "history", "thresholds")
_NONFINITE = {"nan": math.nan, "NaN": math.nan, "inf": math.inf, "Infinity": math.inf,
              "+inf": math.inf, "-inf": -math.inf, "-Infinity": -math.inf}


def _open(path: Path, mode: str):
    return gzip.open(path, mode, encoding="utf-8") if path.suffix == ".gz" else \
        open(path, mode, encoding="utf-8")


def read_trace(path: str | Path) -> tuple[dict[str, Any], Iterator[Any]]:
    """``(settings, steps)``: for JSON lines, ``steps`` yields ``(Record, rich)``; for a folder
    of ``.npz``, keyword dicts for :meth:`Doctor.observe`. Raises BadInputError naming the file,
    the line and what was expected."""
    path = Path(path)
    if path.is_dir():
        return _read_folder(path)
    if not path.exists():
        raise BadInputError(f"{path}: no such file or folder")
    if path.suffix == ".npz":
        return {}, iter([_read_npz(path)])
    return _read_jsonl(path)


def _read_jsonl(path: Path) -> tuple[dict[str, Any], Iterator[tuple[Record, bool]]]:
    try:
        fh = _open(path, "rt")
        first = fh.readline()
    except (OSError, UnicodeDecodeError, EOFError) as err:
        raise BadInputError(f"{path}: cannot read it as a JSON-lines trace ({err})") from err
    settings: dict[str, Any] = {}
    head = _parse(first, path, 1) if first.strip() else None
    if isinstance(head, dict) and "netmedic_trace" in head:
        settings = {k: head.get(k) for k in SETTINGS}
        start, pending = 2, None
    else:
        start, pending = 1, head

    def steps() -> Iterator[tuple[Record, bool]]:
        with fh:
            line_no = start
            if pending is not None:
                yield _record(pending, path, 1)
                line_no = 2
            try:
                for line in fh:
                    if line.strip():
                        yield _record(_parse(line, path, line_no), path, line_no)
                    line_no += 1
            except EOFError:  # a .gz trace still being written (or cut off by a crash): its
                return  # complete lines so far are the trace

    return settings, steps()


def _parse(line: str, path: Path, line_no: int) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as err:
        raise BadInputError(f"{path}:{line_no}: not valid JSON ({err.msg} at column "
                            f"{err.colno}); expected one object per line like "
                            '{"step": 0, "loss": 2.3, "tensors": {"grad/W1": {"norm": 0.5}}}'
                            ) from err


def _number(value: Any, where: str, allow_none: bool = False) -> float | None:
    if value is None:
        if allow_none:
            return None
        return math.nan
    if isinstance(value, bool):
        raise BadInputError(f"{where}: expected a number, got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value in _NONFINITE:
        return _NONFINITE[value]
    raise BadInputError(f'{where}: expected a number (or "nan", "inf", "-inf"), got {value!r}')


def _record(obj: Any, path: Path, line_no: int) -> tuple[Record, bool]:
    at = f"{path}:{line_no}"
    if not isinstance(obj, dict):
        raise BadInputError(f"{at}: expected a JSON object per step, got {type(obj).__name__}")
    step = obj.get("step")
    if isinstance(step, bool) or not isinstance(step, int | float) or step != int(step):
        raise BadInputError(f'{at}: expected "step" as an integer, got {step!r}')
    if "loss" not in obj:
        raise BadInputError(f'{at}: expected a "loss" (a number, "nan", or null if unknown)')
    loss = _number(obj["loss"], f'{at}: "loss"', allow_none=True)
    lr = _number(obj.get("lr"), f'{at}: "lr"', allow_none=True)
    grad_norm = _number(obj.get("grad_norm"), f'{at}: "grad_norm"', allow_none=True)
    batch = obj.get("batch")
    tensors_in = obj.get("tensors", {})
    if not isinstance(tensors_in, dict):
        raise BadInputError(f'{at}: expected "tensors" as an object of name -> statistics')
    tensors: dict[str, dict[str, Any]] = {}
    rich = False
    for key, entry in tensors_in.items():
        if not isinstance(entry, dict):
            raise BadInputError(f'{at}: tensor "{key}": expected an object like {{"norm": 0.5}}')
        role, _, name = key.partition("/")
        if not name:
            role, name = entry.get("role"), key
            if role is None:
                raise BadInputError(f'{at}: tensor "{key}": expected a key "ROLE/NAME" (e.g. '
                                    f'"grad/{key}") or a "role" field; roles: {", ".join(ROLES)}')
        role = ROLE_ALIASES.get(role, role)
        if role not in ROLES:
            raise BadInputError(f'{at}: tensor "{key}": unknown role {role!r}; expected one of '
                                f"{', '.join(ROLES)}")
        if "norm" not in entry and role != "label":
            raise BadInputError(f'{at}: tensor "{key}": expected a "norm" (its L2 norm)')
        clean: dict[str, Any] = {}
        for field, value in entry.items():
            if field == "role":
                continue
            if field in ("kind", "dtype"):
                clean[field] = str(value)
            elif field == "shape":
                clean[field] = [int(v) for v in value]
            elif field == "rows_sum_to_one":
                clean[field] = bool(value)
            elif field in ("nan", "inf", "size", "width", "nonint", "rows"):
                clean[field] = int(_number(value, f'{at}: "{key}"."{field}"'))
            else:
                clean[field] = _number(value, f'{at}: "{key}"."{field}"')
        rich = rich or any(f != "norm" for f in clean)
        tensors[f"{role}/{name}"] = clean
    return Record(0, int(step), loss, lr, None if batch is None else int(batch), tensors,
                  grad_norm=grad_norm), rich


def _read_folder(path: Path) -> tuple[dict[str, Any], Iterator[dict[str, Any]]]:
    settings: dict[str, Any] = {}
    header = path / "trace.json"
    if header.exists():
        try:
            head = json.loads(header.read_text())
        except json.JSONDecodeError as err:
            raise BadInputError(f"{header}:{err.lineno}: not valid JSON ({err.msg})") from err
        settings = {k: head.get(k) for k in SETTINGS}
    files = sorted(path.glob("*.npz"))
    if not files:
        raise BadInputError(f"{path}: no .npz files; expected one file per step with keys like "
                            "step, loss, param/W1, grad/W1")
    return settings, (_read_npz(f) for f in files)


def _read_npz(path: Path) -> dict[str, Any]:
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError) as err:
        raise BadInputError(f"{path}: not a readable .npz file ({err})") from err
    if "step" not in arrays or "loss" not in arrays:
        raise BadInputError(f"{path}: expected keys 'step' and 'loss' (found: "
                            f"{', '.join(arrays) or 'none'})")
    kwargs: dict[str, Any] = {"step": int(arrays.pop("step")), "loss": arrays.pop("loss")}
    if "lr" in arrays:
        kwargs["lr"] = float(arrays.pop("lr"))
    if "grad_norm" in arrays:
        kwargs["grad_norm"] = float(arrays.pop("grad_norm"))
    groups = {"param": "params", "grad": "grads", "update": "updates", "act": "activations",
              "preact": "preactivations", "input": "inputs", "label": "labels",
              "kind": "activation_kinds"}
    for key, value in arrays.items():
        role, _, name = key.partition("/")
        role = ROLE_ALIASES.get(role, role)
        if role not in groups:
            raise BadInputError(f"{path}: key {key!r}: unknown role {role!r}; expected keys "
                                "like param/W1, grad/W1, update/W1, act/h1, preact/z1, input, "
                                "label, kind/h1")
        if not name and role in ("input", "label"):
            kwargs[groups[role]] = value
            continue
        kwargs.setdefault(groups[role], {})[name] = str(value) if role == "kind" else value
    return kwargs
