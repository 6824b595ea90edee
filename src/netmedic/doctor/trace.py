"""Traces: a training run written to disk by any program, diagnosed by the same rules.

Two formats (the README has the full specification and a 20-line writer in C-like code):

- **JSON lines** (``*.jsonl``, or ``*.jsonl.gz``): one object per step,
  ``{"step": 3, "loss": 2.31, "lr": 0.1, "tensors": {"grad/W1": {"norm": 0.52}, ...}}``; only
  ``step``, ``loss`` and each tensor's ``norm`` are required. An optional first line
  ``{"netmedic_trace": 1, "stride": 10, ...}`` carries the doctor's settings.
- **a folder of .npz files**, one per step, of raw arrays: keys ``step``, ``loss``, ``lr``,
  ``param/W1``, ``grad/W1``, ``update/W1``, ``act/h1``, ``preact/z1``, ``input``, ``label``,
  ``kind/h1`` (an activation's kind, as a string); read with ``allow_pickle=False``. An optional
  ``trace.json`` holds the settings.

``Doctor(trace=PATH)`` writes either while it watches; :func:`diagnose_trace` replays one.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import weakref
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from netmedic.doctor.history import Record
from netmedic.doctor.trace_read import SETTINGS, read_trace

__all__ = ["TraceWriter", "diagnose_trace", "read_trace", "write_jsonl"]

FORMAT_VERSION = 1


# ---------------------------------------------------------------------------------- writing
def _plain(value: Any) -> Any:
    """JSON-safe: non-finite floats as the strings "nan", "inf", "-inf" (strict JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def record_line(record: Record) -> str:
    data = record.to_dict()
    try:  # the usual record, every number finite: no copy to make
        return json.dumps(data, separators=(",", ":"), allow_nan=False)
    except ValueError:
        return json.dumps(_plain(data), separators=(",", ":"))


def light_line(step: int, loss: float, lr: float | None, grad_norm: float) -> str:
    """:func:`record_line` (and its newline) of a step known by its loss, lr and global gradient
    norm alone (finite Python floats, an int step), without making its record."""
    lr_field = "" if lr is None else f'"lr":{float.__repr__(lr)},'
    return (f'{{"step":{int.__repr__(step)},"loss":{float.__repr__(loss)},{lr_field}'
            f'"grad_norm":{float.__repr__(grad_norm)},"tensors":{{}}}}\n')


def write_jsonl(path: str | Path, records: list[Record], settings: Mapping[str, Any],
                complete: bool = True) -> None:
    """Write a header line and one line per record."""
    with _open(Path(path), "wt") as fh:
        fh.write(json.dumps(_header(settings, complete)) + "\n")
        for record in records:
            fh.write(record_line(record) + "\n")


def _header(settings: Mapping[str, Any], complete: bool = True) -> dict[str, Any]:
    head = {"netmedic_trace": FORMAT_VERSION, **{k: settings.get(k) for k in SETTINGS}}
    if not complete:
        head["complete"] = False
    return head


def _open(path: Path, mode: str):
    return gzip.open(path, mode, encoding="utf-8") if path.suffix == ".gz" else \
        open(path, mode, encoding="utf-8")


class TraceWriter:
    """Streams a trace while the doctor watches: ``*.jsonl``/``*.jsonl.gz`` → statistics,
    anything else → a folder with one ``step_NNNNNNN.npz`` of raw arrays per observation."""

    def __init__(self, path: str | Path, settings: Mapping[str, Any]) -> None:
        self.path = Path(path)
        self.jsonl = self.path.name.endswith((".jsonl", ".jsonl.gz", ".json"))
        self._count = 0
        self._light: list[tuple] = []  # light steps whose lines are not written yet
        if self.jsonl:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = _open(self.path, "wt")
            self._fh.write(json.dumps(_header(settings)) + "\n")
            # a run that dies without close() keeps every line: written when the writer is
            # collected or the interpreter exits
            self._finalizer = weakref.finalize(self, _drain, self._light, self._fh, True)
        else:
            self.path.mkdir(parents=True, exist_ok=True)
            (self.path / "trace.json").write_text(json.dumps(_header(settings)) + "\n")
            self._fh = None

    def write(self, record: Record, arrays: Mapping[str, Any]) -> None:
        if self.jsonl:
            if self._fh is not None:
                _drain(self._light, self._fh)
                self._fh.write(record_line(record) + "\n")
        else:
            np.savez(self.path / f"step_{self._count:07d}.npz", **_flatten(record.step, arrays))
        self._count += 1

    def light(self, step: int, loss: float, lr: float | None, grad_norm: float) -> None:
        """The line of a light step (``Doctor.observe_light``: finite floats, an int step),
        as :func:`record_line` writes it for that step's record. Held, and written in order with
        the next record's line, at :meth:`flush` or :meth:`close`, every 256 steps, or when the
        writer is collected or the interpreter exits (one write of many lines, not one per
        training step; a process killed outright loses what is held, as it loses the file's
        own buffer). Nothing after :meth:`close`."""
        if self._fh is None:  # closed: nothing more is written
            return
        # as the record would hold them (a float subclass may say otherwise through __float__)
        self._light.append((step, float(loss), None if lr is None else float(lr),
                            float(grad_norm)))
        self._count += 1
        if len(self._light) >= _LIGHT_BATCH:
            _drain(self._light, self._fh)

    def flush(self) -> None:
        """Make everything written so far readable (a gzip stream gets a sync point)."""
        if self._fh is None:
            return
        _drain(self._light, self._fh)
        if isinstance(self._fh, io.TextIOWrapper) and isinstance(self._fh.buffer, gzip.GzipFile):
            self._fh.flush()
            self._fh.buffer.flush(zlib.Z_SYNC_FLUSH)
        else:
            self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._finalizer.detach()
            try:
                _drain(self._light, self._fh)
            finally:
                self._fh.close()
                self._fh = None


_LIGHT_BATCH = 256  # light lines held at most before they are written


def _drain(light: list[tuple], fh, flush: bool = False) -> None:
    """Write the held light lines (``flush``: and push them to the file: the writer is going)."""
    if light and not fh.closed:
        try:
            fh.write("".join([light_line(*step) for step in light]))
        finally:  # what could not be written is not tried again at every later line
            light.clear()
    if flush and not fh.closed:
        fh.flush()


def _flatten(step: int, arrays: Mapping[str, Any]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {"step": np.asarray(step)}
    if arrays.get("loss") is not None:
        out["loss"] = np.asarray(arrays["loss"], dtype=np.float64)
    if arrays.get("lr") is not None:
        out["lr"] = np.asarray(arrays["lr"], dtype=np.float64)
    if arrays.get("grad_norm") is not None:
        out["grad_norm"] = np.asarray(arrays["grad_norm"], dtype=np.float64)
    for role, arg in (("param", "params"), ("grad", "grads"), ("update", "updates"),
                      ("preact", "preactivations"), ("act", "activations"),
                      ("input", "inputs"), ("label", "labels")):
        value = arrays.get(arg)
        if value is None:
            continue
        if not isinstance(value, Mapping):
            out[role] = np.array(value)
            continue
        for name, a in value.items():
            out[f"{role}/{name}"] = np.array(a)
    for name, kind in (arrays.get("activation_kinds") or {}).items():
        out[f"kind/{name}"] = np.array(str(kind))
    return out


# ---------------------------------------------------------------------------------- replay
def diagnose_trace(path: str | Path, **overrides: Any):
    """Replay a trace through a fresh :class:`Doctor` (settings from the trace, then
    ``overrides``) and return it, finished: ``diagnose_trace("run.jsonl").findings``."""
    from netmedic.doctor.doctor import Doctor

    settings, steps = read_trace(path)
    kwargs = {k: v for k, v in settings.items()
              if k in SETTINGS and k != "thresholds" and v is not None}
    thresholds = dict(settings.get("thresholds") or {})
    kwargs.update({k: v for k, v in overrides.items() if v is not None})
    doctor = Doctor(**kwargs, **thresholds)
    for item in steps:
        if isinstance(item, tuple):
            doctor.observe_record(*item)
        else:
            doctor.observe(**item)
    doctor.finish()
    return doctor
