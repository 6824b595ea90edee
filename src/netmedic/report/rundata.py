"""What a run directory holds, and how the report reads it.

==================  ========  ==================================================================
file                needed    what
==================  ========  ==================================================================
``metrics.json``    yes       a JSON object: ``findings`` (Finding dicts), ``guard_actions``,
                              ``test_accuracy``, ``val_accuracy``, ``samples_per_s``,
                              ``epochs``, ``steps``, ``train_loss``/``val_loss`` (per epoch),
                              ``history`` (per-epoch dicts with ``step``: steps done at its
                              end), ``config``, ``stop_reason``, ``title``, ``description``;
                              every key but the object itself is optional (API.md lists what
                              ``netmedic train`` writes; ``write_metrics`` writes one)
``trace.jsonl``     no        the doctor's per-step statistics, ``Doctor(trace=...)``: loss and
                              gradient norms every step, weights and updates every stride-th
                              (``.jsonl.gz`` or a ``trace/`` folder of ``.npz`` also work)
``activations.npz`` no        activation histograms at chosen steps
                              (:class:`~netmedic.report.record.HistogramRecorder`)
``samples.npz``     no        test images, labels, predictions
                              (:func:`~netmedic.report.record.save_samples`)
==================  ========  ==================================================================

Only a missing or unreadable ``metrics.json`` is an error; an optional file that is missing or
damaged is left out, and :attr:`RunData.notes` says why (the page shows it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from netmedic.doctor.finding import Finding
from netmedic.doctor.history import Record
from netmedic.errors import BadInputError

METRICS = "metrics.json"
TRACES = ("trace.jsonl", "trace.jsonl.gz", "trace")
ACTIVATIONS = "activations.npz"
SAMPLES = "samples.npz"
HISTOGRAM_KEYS = ("steps", "layers", "kinds", "counts", "edges", "zero_fraction",
                  "nonfinite_fraction", "size")
SAMPLE_KEYS = ("images", "labels", "predictions")


@dataclass
class RunData:
    """Everything the report shows about one run; ``None`` where a file was not there."""

    run_dir: Path
    metrics: dict[str, Any]
    findings: list[Finding]
    guard_actions: list[dict[str, Any]]
    records: list[Record] | None = None  # the trace, one record per step
    histograms: dict[str, np.ndarray] | None = None  # activations.npz
    samples: dict[str, np.ndarray] | None = None  # samples.npz
    notes: dict[str, str] = field(default_factory=dict)  # "trace"/"activations"/...: why absent

    @property
    def name(self) -> str:
        return self.run_dir.resolve().name or str(self.run_dir)


def load_run(run_dir: str | Path) -> RunData:
    """Read a run directory; raises :class:`BadInputError` when ``metrics.json`` is missing or
    is not a netmedic metrics file (the message names the file and what to do)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        what = "is a file, not a folder" if run_dir.exists() else "no such folder"
        raise BadInputError(f"{run_dir}: {what}; pass the --out folder of a `netmedic train` "
                            f"run (it holds {METRICS})")
    metrics = read_metrics(run_dir / METRICS)
    run = RunData(run_dir, metrics, _findings(metrics, run_dir / METRICS),
                  _guard_actions(metrics, run_dir / METRICS))
    run.records = _optional(run, "trace", _read_records)
    run.histograms = _optional(run, "activations", _read_histograms)
    run.samples = _optional(run, "samples", _read_samples)
    return run


def read_metrics(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise BadInputError(f"{path}: not found; a run directory holds {METRICS} (written by "
                            f"`netmedic train --out {path.parent}`); pass such a folder")
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise BadInputError(f"{path}:{err.lineno}: not valid JSON ({err.msg}); the file may be "
                            "truncated: train again, or restore it") from err
    except (OSError, UnicodeDecodeError) as err:
        raise BadInputError(f"{path}: cannot read it ({err})") from err
    if not isinstance(metrics, dict):
        raise BadInputError(f"{path}: expected a JSON object like {{\"test_accuracy\": 0.97, "
                            f"\"findings\": []}}, got a {type(metrics).__name__}")
    return metrics


def _findings(metrics: dict[str, Any], path: Path) -> list[Finding]:
    raw = metrics.get("findings") or []
    if not isinstance(raw, list):
        raise BadInputError(f'{path}: "findings" must be a list of finding objects')
    findings = []
    for i, item in enumerate(raw):
        try:
            findings.append(Finding(**item))
        except (TypeError, ValueError) as err:
            raise BadInputError(f'{path}: "findings"[{i}] is not a finding ({err}); expected '
                                "kind, severity, step, where, evidence, explanation, fix, "
                                "remedy") from err
    return findings


def _guard_actions(metrics: dict[str, Any], path: Path) -> list[dict[str, Any]]:
    raw = metrics.get("guard_actions") or []
    if not isinstance(raw, list) or not all(isinstance(a, dict) and "action" in a for a in raw):
        raise BadInputError(f'{path}: "guard_actions" must be a list of '
                            '{"step": N, "action": NAME, "reason": TEXT} objects')
    return raw


def _optional(run: RunData, what: str, read: Any) -> Any:
    """``read(run_dir)``, or ``None`` with a note when the file is missing or damaged."""
    try:
        value, note = read(run.run_dir)
    except BadInputError as err:
        value, note = None, f"could not be read: {err}"
    except (OSError, ValueError, KeyError) as err:
        value, note = None, f"could not be read ({type(err).__name__}: {err})"
    if note:
        run.notes[what] = note
    return value


def _read_records(run_dir: Path) -> tuple[list[Record] | None, str]:
    from netmedic.doctor.trace import diagnose_trace, read_trace

    path = next((run_dir / name for name in TRACES if (run_dir / name).exists()), None)
    if path is None:
        return None, (f"{run_dir / TRACES[0]} is missing (`netmedic train` writes it; a training "
                      "loop of your own: `Doctor(trace=\"RUN/trace.jsonl\")`)")
    if path.is_dir():  # raw arrays per step: the doctor measures them
        return diagnose_trace(path).history.records, ""
    records: list[Record] = []
    _, steps = read_trace(path)
    try:
        records.extend(record for record, _ in steps)
    except BadInputError as err:
        if not records:
            raise
        return records, f"only its first {len(records)} steps could be read: {err}"
    return (records, "") if records else (None, f"{path} holds no steps")


def _read_histograms(run_dir: Path) -> tuple[dict[str, np.ndarray] | None, str]:
    path = run_dir / ACTIVATIONS
    if not path.exists():
        return None, (f"{path} is missing (`netmedic train` writes it; a loop of your own: "
                      "netmedic.report.HistogramRecorder)")
    arrays = _read_npz(path, HISTOGRAM_KEYS)
    if not arrays["steps"].size or not arrays["layers"].size:
        return None, f"{path} holds no histogram"
    return arrays, ""


def _read_samples(run_dir: Path) -> tuple[dict[str, np.ndarray] | None, str]:
    path = run_dir / SAMPLES
    if not path.exists():
        return None, (f"{path} is missing (`netmedic train` writes it for image data; a loop "
                      "of your own: netmedic.report.save_samples)")
    arrays = _read_npz(path, SAMPLE_KEYS)
    if arrays["images"].ndim not in (3, 4) or not len(arrays["images"]):
        return None, f"{path}: expected images shaped (N, H, W), got {arrays['images'].shape}"
    return arrays, ""


def _read_npz(path: Path, required: tuple[str, ...]) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError) as err:
        raise BadInputError(f"{path}: not a readable .npz file ({err})") from err
    missing = [k for k in required if k not in arrays]
    if missing:
        raise BadInputError(f"{path}: missing {', '.join(missing)} (found: "
                            f"{', '.join(arrays) or 'nothing'})")
    return arrays
