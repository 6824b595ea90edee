"""What a run writes for its report, besides ``metrics.json``: NumPy only, cheap, atomic.

- :class:`HistogramRecorder` keeps histograms of activations at a handful of chosen steps and
  writes them to ``activations.npz``;
- :func:`save_samples` writes ``samples.npz``: some test images with their labels and the
  model's predictions (the first ones, plus some it got wrong);
- :func:`commit_trace` turns the doctor's streamed ``trace.partial.jsonl`` into ``trace.jsonl``
  (appending to the earlier part of a resumed run).

Any training loop can call these (``netmedic train`` does; a hand-written loop or a clinic
scenario can too); :func:`netmedic.report.write_report` reads what they wrote.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from netmedic import atomic

HISTOGRAM_BINS = 40  # enough to see a shape, few enough that 8 overlaid curves stay readable
SAMPLES_SHOWN = 24  # the first test images, whatever the model made of them
SAMPLES_WRONG = 8  # ...plus up to this many misclassified ones from the rest of the pool


class HistogramRecorder:
    """Histograms of activations at chosen steps; ``save`` writes them as one ``.npz``.

    Each capture stores, per layer: ``HISTOGRAM_BINS`` counts of the finite *nonzero* values
    between their own min and max (a ReLU's exact zeros would dwarf everything else), the
    fraction of exact zeros, the fraction of NaN/Inf and the number of values. Nothing of the
    caller's arrays is kept. One capture of a 128×512 activation costs about a millisecond.
    """

    def __init__(self, bins: int = HISTOGRAM_BINS) -> None:
        self.bins = bins
        self.captures: dict[int, dict[str, dict[str, Any]]] = {}
        self.kinds: dict[str, str] = {}
        self._rolling: int | None = None  # a capture that the next rolling one replaces

    def capture(self, step: int, activations: Mapping[str, np.ndarray],
                kinds: Mapping[str, str] | None = None, rolling: bool = False) -> None:
        """Histogram every array of ``activations`` (name -> array, any shape) at ``step``.

        ``rolling=True``: keep only the latest rolling capture (e.g. each epoch's last step, so
        that a run cut short still has its last state) unless that step was also chosen.
        """
        step = int(step)
        if rolling and self._rolling is not None and self._rolling != step:
            self.captures.pop(self._rolling, None)
        if rolling:
            if step in self.captures:
                return
            self._rolling = step
        elif self._rolling == step:
            self._rolling = None
        self.kinds.update({k: str(v) for k, v in (kinds or {}).items()})
        self.captures[step] = {name: histogram(a, self.bins) for name, a in activations.items()}

    def __len__(self) -> int:
        return len(self.captures)

    def arrays(self) -> dict[str, np.ndarray]:
        """The ``activations.npz`` arrays (see :func:`netmedic.report.rundata.load_histograms`)."""
        steps = sorted(self.captures)
        layers = list(dict.fromkeys(n for s in steps for n in self.captures[s]))
        shape = (len(steps), len(layers))
        counts = np.zeros((*shape, self.bins), np.int64)
        edges = np.zeros((*shape, self.bins + 1), np.float64)
        zeros, nonfinite, size = np.zeros(shape), np.zeros(shape), np.zeros(shape, np.int64)
        for i, step in enumerate(steps):
            for j, name in enumerate(layers):
                h = self.captures[step].get(name)
                if h is None:
                    continue
                counts[i, j], edges[i, j] = h["counts"], h["edges"]
                zeros[i, j], nonfinite[i, j], size[i, j] = h["zeros"], h["nonfinite"], h["size"]
        return {"steps": np.array(steps, np.int64), "layers": np.array(layers, dtype=str),
                "kinds": np.array([self.kinds.get(n, "") for n in layers], dtype=str),
                "counts": counts, "edges": edges, "zero_fraction": zeros,
                "nonfinite_fraction": nonfinite, "size": size}

    def save(self, path: str | Path, keep_before: int | None = None) -> Path | None:
        """Write ``path`` atomically (nothing when no capture was made). ``keep_before``: a
        resumed run keeps the earlier file's captures of steps before this one."""
        path = Path(path)
        if keep_before is not None and path.exists():
            self._merge_earlier(path, keep_before)
        if not self.captures:
            return None
        return atomic.savez(path, self.arrays())

    def _merge_earlier(self, path: Path, keep_before: int) -> None:
        try:
            with np.load(path, allow_pickle=False) as old:
                arrays = {k: old[k] for k in old.files}
        except (OSError, ValueError):
            return  # an unreadable earlier file is replaced
        if arrays["counts"].shape[-1] != self.bins:
            return
        layers = [str(n) for n in arrays["layers"]]
        for kind, name in zip(arrays["kinds"], layers, strict=True):
            if str(kind):
                self.kinds.setdefault(name, str(kind))
        for i, step in enumerate(arrays["steps"].tolist()):
            if step >= keep_before or step in self.captures:
                continue
            self.captures[step] = {
                name: {"counts": arrays["counts"][i, j], "edges": arrays["edges"][i, j],
                       "zeros": float(arrays["zero_fraction"][i, j]),
                       "nonfinite": float(arrays["nonfinite_fraction"][i, j]),
                       "size": int(arrays["size"][i, j])}
                for j, name in enumerate(layers) if arrays["size"][i, j] > 0}


def histogram(a: np.ndarray, bins: int = HISTOGRAM_BINS) -> dict[str, Any]:
    """``counts``/``edges`` of the finite nonzero values of ``a``; ``zeros``, ``nonfinite``:
    fractions of all values; ``size``: number of values. Silent on NaN/Inf."""
    v = np.asarray(a).ravel()
    size = int(v.size)
    if v.dtype.kind not in "fc":
        v = v.astype(np.float64)
    finite = np.isfinite(v)
    nonfinite = size - int(np.count_nonzero(finite))
    values = v[finite] if nonfinite else v
    nonzero = values[values != 0]
    zeros = int(values.size - nonzero.size)
    if nonzero.size:
        values64 = nonzero.astype(np.float64)
        lo, hi = float(values64.min()), float(values64.max())
        if lo == hi:  # one value: a bin of width 1e-3·|value| (or 1) around it
            half = abs(lo) * 5e-4 or 0.5
            lo, hi = lo - half, hi + half
        counts, edges = np.histogram(values64, bins=bins, range=(lo, hi))
    else:
        counts, edges = np.zeros(bins, np.int64), np.linspace(0.0, 1.0, bins + 1)
    return {"counts": counts.astype(np.int64), "edges": edges, "size": size,
            "zeros": zeros / size if size else 0.0,
            "nonfinite": nonfinite / size if size else 0.0}


def save_samples(path: str | Path, images: np.ndarray, labels: np.ndarray,
                 predictions: np.ndarray, *, shown: int = SAMPLES_SHOWN,
                 wrong: int = SAMPLES_WRONG, class_names: tuple[str, ...] | None = None) -> Path:
    """Write ``samples.npz``: the first ``shown`` examples and up to ``wrong`` misclassified
    ones from the rest, with their labels and predictions.

    Parameters
    ----------
    images : (N, H, W), (N, 1, H, W) or (N, H, W, 3) pixels, any dtype (uint8 as stored, or
        floats; the plot scales each image to its own range); (N, D) rows are not images.
    labels : (N,) int true classes.
    predictions : (N,) int predicted classes, or (N, C) scores/logits (argmax; the softmax of
        the winning class is kept as ``confidence``).
    """
    images, labels = np.asarray(images), np.asarray(labels).astype(np.int64).ravel()
    if images.ndim == 4 and images.shape[1] in (1, 3) and images.shape[-1] not in (1, 3):
        images = np.moveaxis(images, 1, -1)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim not in (3, 4) or len(images) != len(labels):
        raise ValueError(f"save_samples: expected images (N, H, W) and labels (N,); got "
                         f"{images.shape} and {labels.shape}")
    scores = np.asarray(predictions)
    confidence = np.full(len(labels), np.nan)
    if scores.ndim == 2:
        with np.errstate(all="ignore"):
            logits = scores.astype(np.float64)
            pred = np.argmax(np.nan_to_num(logits, nan=-np.inf), axis=1)
            shifted = logits - np.max(logits, axis=1, keepdims=True)
            probs = np.exp(shifted) / np.sum(np.exp(shifted), axis=1, keepdims=True)
            confidence = probs[np.arange(len(pred)), pred]
    else:
        pred = scores.astype(np.int64).ravel()
    first = np.arange(min(shown, len(labels)))
    rest = np.flatnonzero(pred[len(first):] != labels[len(first):])[:wrong] + len(first)
    index = np.concatenate([first, rest]).astype(np.int64)
    arrays = {"images": images[index], "labels": labels[index], "predictions": pred[index],
              "confidence": confidence[index], "index": index,
              "first": np.array(len(first), np.int64), "pool": np.array(len(labels), np.int64)}
    if class_names:
        arrays["class_names"] = np.array(class_names, dtype=str)
    return atomic.savez(Path(path), arrays)


def commit_trace(partial: str | Path, final: str | Path, keep_before: int | None = None) -> Path:
    """Make the streamed trace ``partial`` the run's ``final`` trace, atomically.

    ``keep_before``: a resumed run; the lines of the earlier ``final`` with a step before this
    one come first (the earlier run's steps after its checkpoint are dropped: they were
    redone). Without it, a rename (after an fsync).
    """
    partial, final = Path(partial), Path(final)
    if keep_before is None or not final.exists():
        with open(partial, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(partial, final)
        return final
    new_lines = partial.read_text(encoding="utf-8").splitlines()
    head = new_lines[:1] if new_lines and '"netmedic_trace"' in new_lines[0] else []
    kept = [line for line in final.read_text(encoding="utf-8").splitlines()
            if _line_step(line) is not None and _line_step(line) < keep_before]
    text = "\n".join([*head, *kept, *new_lines[len(head):]]) + "\n"
    atomic.write_text(final, text)
    partial.unlink()
    return final


def _line_step(line: str) -> int | None:
    try:
        step = json.loads(line).get("step")
    except (ValueError, AttributeError):
        return None
    return step if isinstance(step, int) else None


def clear_run_files(run_dir: str | Path) -> None:
    """Remove the report inputs a *fresh* run into ``run_dir`` will write again
    (``trace.jsonl``, its partial, ``activations.npz``, ``samples.npz``), so that an earlier
    run's data never shows up in this run's report."""
    for name in ("trace.jsonl", "trace.partial.jsonl", "activations.npz", "samples.npz"):
        Path(run_dir, name).unlink(missing_ok=True)


def write_metrics(run_dir: str | Path, findings: Any, *, guard_actions: Any = (),
                  **numbers: Any) -> Path:
    """A ``metrics.json`` for a run ``netmedic train`` did not make (a clinic scenario, a loop
    of your own): the findings (``Finding`` objects or their dicts), the guard's actions, and
    any of the numbers the report shows — ``title``, ``description``, ``test_accuracy``,
    ``val_accuracy``, ``samples_per_s``, ``epochs``, ``steps``, ``seed``, ``train_loss`` and
    ``val_loss`` (lists per epoch), ``history``, ``config``, ``stop_reason``. Atomic."""
    doc = {**numbers,
           "findings": [f if isinstance(f, dict) else f.to_dict() for f in findings],
           "guard_actions": list(guard_actions)}
    return atomic.write_json(Path(run_dir) / "metrics.json", doc)
