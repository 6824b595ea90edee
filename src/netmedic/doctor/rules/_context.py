"""What a rule sees: the history, the thresholds, what was already reported, and helpers.

Rules are *causal*: a rule deciding about record ``r`` uses only records up to ``r``, so its
findings do not depend on when the doctor happened to evaluate it (live, or replaying a trace).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from netmedic.doctor.finding import Finding
from netmedic.doctor.history import History, Record
from netmedic.doctor.stats import infer_activation_kind

BASELINE_STEPS = 5  # the initial loss and gradient norms are medians/minima over the first 5 steps


@dataclass
class RuleContext:
    """Inputs of every rule. ``since_n``: records with ``n > since_n`` are new to the rules."""

    history: History
    th: Mapping[str, float]
    since_n: int
    num_classes: int | None = None
    findings: Mapping[tuple[str, str], Finding] = field(default_factory=dict)

    # ------------------------------------------------------------------------------ records
    @cached_property
    def records(self) -> list[Record]:
        return list(self.history.recent)

    @cached_property
    def new(self) -> list[Record]:
        return [r for r in self.records if r.n > self.since_n]

    @property
    def first(self) -> list[Record]:
        return self.history.first

    def before(self, record: Record) -> list[Record]:
        """Recent records up to and including ``record``."""
        return [r for r in self.records if r.n <= record.n]

    def reported(self, kind: str) -> list[Finding]:
        return [f for (k, _), f in self.findings.items() if k == kind]

    # ------------------------------------------------------------------------------ loss
    @cached_property
    def loss_series(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(n, steps, losses)`` of the recent records with a finite loss."""
        rows = [(r.n, r.step, r.loss) for r in self.records if r.loss_finite]
        if not rows:
            empty = np.zeros(0)
            return empty.astype(np.int64), empty.astype(np.int64), empty
        n, steps, losses = zip(*rows, strict=True)
        return np.array(n), np.array(steps), np.array(losses, dtype=float)

    def initial_loss(self, upto_n: int, window: int = BASELINE_STEPS) -> float:
        """Median of the first ``window`` finite losses observed up to observation ``upto_n``."""
        values = [r.loss for r in self.first if r.loss_finite and r.n <= upto_n][:window]
        return float(np.median(values)) if values else math.nan

    # ------------------------------------------------------------------------------ model
    @cached_property
    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        shapes: dict[str, tuple[int, ...]] = {}
        for record in self.first + self.records[:1]:
            for name, entry in record.role("param"):
                if "shape" in entry and name not in shapes:
                    shapes[name] = tuple(entry["shape"])
        return shapes

    def is_weight(self, name: str) -> bool:
        """A weight (matrix or kernel), not a bias or a scale vector."""
        shape = self.param_shapes.get(name)
        if shape is not None:
            return math.prod(shape) > max(shape, default=1)
        last = name.rsplit(".", 1)[-1].lower()
        return not (last.startswith("b") or "bias" in last or last.startswith("db"))

    def weights(self, record: Record, role: str = "grad") -> list[str]:
        """Names of the weights that ``record`` has ``role`` entries for, in forward order."""
        return [name for name, _ in record.role(role) if self.is_weight(name)]

    @staticmethod
    def layer(name: str) -> str:
        """The layer a parameter belongs to: ``dense1.weight`` -> ``dense1``; ``W1`` stays."""
        return name.rsplit(".", 1)[0] if "." in name else name

    def activation_kind(self, name: str) -> str | None:
        """The kind the caller gave or the first one the values revealed."""
        for record in self.first + self.records:
            entry = record.get("act", name)
            if entry is not None:
                kind = entry.get("kind") or infer_activation_kind(entry)
                if kind:
                    return kind
        return None

    def activation_kinds(self) -> set[str]:
        names = {name for r in self.first + self.records[-1:] for name, _ in r.role("act")}
        return {k for k in (self.activation_kind(n) for n in names) if k}

    @cached_property
    def classes(self) -> int | None:
        """Number of classes: given, else the width of one-hot labels, of the last
        pre-activation (the logits), or of a final softmax."""
        if self.num_classes:
            return self.num_classes
        for record in self.first + self.records[-1:]:
            labels = [e.get("width", 1) for _, e in record.role("label")]
            if labels and labels[0] > 1:
                return int(labels[0])
            pre = [e.get("width") for _, e in record.role("preact")]
            if pre and pre[-1] and pre[-1] > 1:
                return int(pre[-1])
            acts = list(record.role("act"))
            if acts and self.activation_kind(acts[-1][0]) == "softmax":
                return int(acts[-1][1].get("width", 0)) or None
        return None

    def output_activation(self) -> str | None:
        """The last activation when it looks like the network's output (softmax, or narrower than
        the one before it, or as wide as the number of classes): not judged as a hidden layer."""
        for record in self.first[-1:] + self.records[-1:]:
            acts = list(record.role("act"))
            if not acts:
                continue
            name, entry = acts[-1]
            if self.activation_kind(name) == "softmax":
                return name
            if self.classes and entry.get("width") == self.classes:
                return name
            if len(acts) >= 2 and entry.get("width", 0) < acts[-2][1].get("width", 0):
                return name
            return None
        return None

    # ------------------------------------------------------------------------------ updates
    def lr_at(self, record: Record) -> float | None:
        if record.lr is not None:
            return record.lr
        for r in reversed(self.before(record)):
            if r.lr is not None:
                return r.lr
        return None

    def update_ratios(self, record: Record) -> tuple[dict[str, float], bool]:
        """``‖Δw‖ / ‖w‖`` per weight at ``record``, and whether it was *estimated*.

        Measured from ``update/`` entries when present; otherwise, for a trace with only norms,
        estimated as ``lr · ‖g‖ / ‖w‖`` (exact for plain SGD, said so in the evidence).
        """
        ratios: dict[str, float] = {}
        for name, entry in record.role("update"):
            param = record.get("param", name)
            if param and self.is_weight(name) and param["norm"] > 0:
                ratios[name] = entry["norm"] / param["norm"]
        if ratios or record.n == 0:
            return ratios, False
        lr = self.lr_at(record)
        if lr is None or any(True for _ in record.role("update")):
            return ratios, False
        for name, entry in record.role("grad"):
            param = record.get("param", name)
            if param and self.is_weight(name) and param["norm"] > 0:
                ratios[name] = abs(lr) * entry["norm"] / param["norm"]
        return ratios, True

    def step_samples(self, upto: Record) -> list[dict[str, float]]:
        """One sample per record (up to ``upto``) with update dot products and a previous loss:
        ``step``, ``dloss`` (loss change over the step), ``p_end`` = Σ⟨g_t, Δw⟩,
        ``p_start`` = Σ⟨g_{t−1}, Δw⟩ (NaN if unknown), ``p`` (their mean), ``ratio`` (median
        update/weight ratio)."""
        out = []
        previous: Record | None = None
        for record in self.before(upto):
            entries = [e for _, e in record.role("update") if "dot_grad" in e]
            if entries and previous is not None and previous.n == record.n - 1 and \
                    record.loss_finite and previous.loss_finite:
                p_end = sum(e["dot_grad"] for e in entries)
                starts = [e.get("dot_prev_grad") for e in entries]
                p_start = sum(starts) if None not in starts else math.nan
                p = p_end if math.isnan(p_start) else 0.5 * (p_start + p_end)
                ratios, _ = self.update_ratios(record)
                out.append({"step": record.step, "dloss": record.loss - previous.loss,
                            "p_end": p_end, "p_start": p_start, "p": p,
                            "ratio": float(np.median(list(ratios.values()))) if ratios else math.nan})
            previous = record
        return out
