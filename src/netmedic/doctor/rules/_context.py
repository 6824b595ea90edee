"""What a rule sees: the history, the thresholds, what was already reported, and helpers.

Rules are *causal*: a rule deciding about record ``r`` uses only records up to ``r``, so its
findings do not depend on when the doctor happened to evaluate it (live, or replaying a trace).
And a rule decides about *every* record new to it (``ctx.new``, or each new loss), not only the
latest: the doctor judges a batch of steps by one pass of the rules when that pass finds nothing
(``Doctor._quiet``), which is exact only under these two properties.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from itertools import chain

import numpy as np

from netmedic.doctor.finding import Finding
from netmedic.doctor.history import FIRST_KEEP, History, Record
from netmedic.doctor.rules._robust import median, nice
from netmedic.doctor.stats import infer_activation_kind

BASELINE_STEPS = 5  # the initial loss and gradient norms are medians/minima over the first 5 steps
LOOKBACK = 64  # full records a rule may look back over (bounded work per evaluation)


@dataclass
class RuleContext:
    """Inputs of every rule. ``since_n``: records with ``n > since_n`` are new to the rules;
    ``upto_n``: records observed after it are not seen at all (a judgement of a batch of steps
    runs the rules once per full step, each seeing the run as it was then)."""

    history: History
    th: Mapping[str, float]
    since_n: int
    num_classes: int | None = None
    findings: Mapping[tuple[str, str], Finding] = field(default_factory=dict)
    #: running values a rule carries from one evaluation to the next (each step is processed
    #: exactly once, in order, so what it holds does not depend on when rules ran)
    memo: dict = field(default_factory=dict)
    upto_n: int | None = None
    #: lists and arrays made once per judgement and shared by its evaluations (each one cuts
    #: them at its ``upto_n``)
    shared: dict = field(default_factory=dict)

    def _held(self, key: str, make):
        value = self.shared.get(key)
        if value is None:
            value = self.shared[key] = make()
        return value

    def _upto(self, records: list[Record]) -> list[Record]:
        """``records`` (in observation order) without those observed after ``upto_n``."""
        if self.upto_n is None or not records or records[-1].n <= self.upto_n:
            return records
        return records[: bisect.bisect_right(records, self.upto_n, key=_observation)]

    # ------------------------------------------------------------------------------ records
    @cached_property
    def records(self) -> list[Record]:
        """Every recent record (most hold only gradient norms)."""
        return self._upto(self._held("records", lambda: list(self.history.recent)))

    @cached_property
    def full(self) -> list[Record]:
        """Recent records with the full statistics, oldest first."""
        return self._upto(self._held("full", lambda: list(self.history.full)))

    @cached_property
    def new(self) -> list[Record]:
        """Full records the rules have not judged yet (the newest ones: scanned from the end)."""
        out = []
        for r in reversed(self.full):
            if r.n <= self.since_n:
                break
            out.append(r)
        return out[::-1]

    @property
    def first(self) -> list[Record]:
        return self.history.first

    def _ends(self, which: int) -> list[Record]:
        """``[oldest]`` (0) or ``[latest]`` (-1) full record, ``[]`` if none."""
        return [self.full[which]] if self.full else []

    def tail(self, record: Record, count: int, keep=None) -> list[Record]:
        """The last ``count`` full records up to and including ``record`` (oldest first) for
        which ``keep(record)`` is true; looks back at most :data:`LOOKBACK` records from
        ``record`` (so the answer does not depend on how many newer ones are held)."""
        full = self.full
        ns = self._held("full_n", lambda: [r.n for r in self.history.full])
        end = min(bisect.bisect_right(ns, record.n), len(full))  # full[:end]: n <= record.n
        recent = full[max(end - min(count, LOOKBACK), 0): end]
        if keep is None or all(map(keep, recent)):  # the usual case: the last `count` qualify
            return recent
        out = []
        for i in range(end - 1, max(end - 1 - LOOKBACK, -1), -1):
            r = full[i]
            if keep(r):
                out.append(r)
                if len(out) == count:
                    break
        return out[::-1]

    def previous(self, record: Record) -> Record | None:
        """The record observed just before ``record`` (full or not), if still held."""
        for r in reversed(self.records):
            if r.n == record.n - 1:
                return r
            if r.n < record.n - 1:
                break
        return None

    def reported(self, kind: str) -> list[Finding]:
        return [f for (k, _), f in self.findings.items() if k == kind]

    # ------------------------------------------------------------------------------ loss
    @cached_property
    def loss_series(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(n, steps, losses)`` of the recent records with a finite loss (up to ``upto_n``)."""
        n, steps, losses = self._held("loss_series", self._finite_losses)
        if self.upto_n is not None:
            end = int(np.searchsorted(n, self.upto_n, side="right"))
            n, steps, losses = n[:end], steps[:end], losses[:end]
        return n, steps, losses

    def _finite_losses(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n, steps, losses = self.history.loss_window()
        keep = np.isfinite(losses)
        if keep.all():  # the usual case: no copies
            return n, steps, losses
        return n[keep], steps[keep], losses[keep]

    def loss_of(self, n: int) -> float:
        """The loss at observation ``n`` (NaN if unknown or not finite)."""
        ns, _, losses = self.loss_series
        i = int(np.searchsorted(ns, n))
        return float(losses[i]) if i < len(ns) and ns[i] == n else math.nan

    def recent_loss(self, upto_n: int, count: int = 3) -> float:
        """Median of the last ``count`` finite losses up to observation ``upto_n``."""
        ns, _, losses = self.loss_series
        end = int(np.searchsorted(ns, upto_n, side="right"))  # ns increases
        return median(losses[max(end - count, 0): end].tolist())

    def initial_loss(self, upto_n: int, window: int = BASELINE_STEPS) -> float:
        """Where the loss started, as seen from observation ``upto_n``: the median of the first
        ``window`` finite losses observed *before* it (the very first loss at the start)."""
        key = (min(upto_n, FIRST_KEEP), window)
        # kept across evaluations: the records before upto_n were all observed already
        known = self.memo.setdefault("initial_loss", {})
        cached = known.get(key)
        if cached is None:
            values = [r.loss for r in self.first if r.loss_finite and r.n < max(upto_n, 1)]
            cached = known[key] = median(values[:window])
        return cached

    def suggested_lr(self, record: Record) -> tuple[float | None, float]:
        """``(new_lr, factor)``: one LR every finding suggests, from the measured steps.

        The factor brings the median update/weight ratio to ~1e-2 (10× CS231n's 1e-3, safe for
        Adam too), and is at least ÷10 and at most ÷1000; ÷10 when no ratio is known. Decided
        once, at the first finding that asks, so every finding quotes the same number.
        """
        if "suggested_lr" in self.memo:
            return self.memo["suggested_lr"][:2]
        ratios = {}
        for r in self.tail(record, 3, lambda r: bool(self.update_ratios(r)[0])):
            ratios = self.update_ratios(r)[0]
        level = median(ratios.values()) if ratios else math.nan
        factor = min(max(1e-2 / level, 1e-3), 0.1) if level > 0 else 0.1
        lr = self.lr_at(record)
        self.memo["suggested_lr"] = (nice(lr * factor) if lr else None), factor, lr
        return self.memo["suggested_lr"][:2]

    # ------------------------------------------------------------------------------ model
    @cached_property
    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        # shapes come with a parameter's first observation: those of the first records are
        # read once (kept in memo when the first records are complete), the oldest full one
        # may add a parameter that appeared later
        shapes = self.memo.get("param_shapes")
        if shapes is None:
            shapes = _shapes(self.first, {})
            if len(self.first) >= FIRST_KEEP:
                self.memo["param_shapes"] = shapes
        return _shapes(self._ends(0), dict(shapes))

    def is_weight(self, name: str) -> bool:
        """A weight (matrix or kernel), not a bias or a scale vector."""
        known = self._weights.get(name)
        if known is not None:
            return known
        shape = self.param_shapes.get(name)
        if shape is not None:
            known = math.prod(shape) > max(shape, default=1)
        else:
            last = name.rsplit(".", 1)[-1].lower()
            known = not (last.startswith("b") or "bias" in last or last.startswith("db"))
        self._weights[name] = known
        return known

    @cached_property
    def _weights(self) -> dict[str, bool]:
        return {}

    def weights(self, record: Record, role: str = "grad") -> list[str]:
        """Names of the weights that ``record`` has ``role`` entries for, in forward order."""
        return [name for name, _ in record.role(role) if self.is_weight(name)]

    @staticmethod
    def layer(name: str) -> str:
        """The layer a parameter belongs to: ``dense1.weight`` -> ``dense1``; ``W1`` stays."""
        return name.rsplit(".", 1)[0] if "." in name else name

    def activation_kind(self, name: str) -> str | None:
        """The kind the caller gave or the first one the values revealed."""
        for record in chain(self.first, self.full):
            entry = record.get("act", name)
            if entry is not None:
                kind = entry.get("kind") or infer_activation_kind(entry)
                if kind:
                    return kind
        return None

    def activation_kinds(self) -> set[str]:
        names = {name for r in self.first + self._ends(-1) for name, _ in r.role("act")}
        return {k for k in (self.activation_kind(n) for n in names) if k}

    @cached_property
    def classes(self) -> int | None:
        """Number of classes: given, else the width of one-hot labels, of the last
        pre-activation (the logits), or of a final softmax."""
        if self.num_classes:
            return self.num_classes
        for record in self.first + self._ends(-1):
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
        """The last activation when it looks like the network's output (softmax, a single unit,
        narrower than the one before it, or as wide as the number of classes): not judged as a
        hidden layer."""
        for record in self.first[-1:] + self._ends(-1):
            acts = list(record.role("act"))
            if not acts:
                continue
            name, entry = acts[-1]
            if self.activation_kind(name) == "softmax" or entry.get("width") == 1:
                return name  # a softmax, or a single unit: a binary classifier's output
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
        for r in reversed(self.records):
            if r.n <= record.n and r.lr is not None:
                return r.lr
        return None

    def update_ratios(self, record: Record) -> tuple[dict[str, float], bool]:
        """``‖Δw‖ / ‖w‖`` per weight at ``record``, and whether it was *estimated*.

        Measured from ``update/`` entries when present; otherwise, for a trace with only norms,
        estimated as ``lr · ‖g‖ / ‖w‖`` (exact for plain SGD, said so in the evidence).
        """
        cached = record.cache.get("ratios")
        if cached is not None:
            return cached
        record.cache["ratios"] = result = self._update_ratios(record)
        return result

    def _update_ratios(self, record: Record) -> tuple[dict[str, float], bool]:
        ratios: dict[str, float] = {}
        for name, entry in record.role("update"):
            param = record.get("param", name)
            if param and self.is_weight(name) and param["norm"] > 0:
                ratios[name] = entry["norm"] / param["norm"]
        if ratios or record.n == 0:
            return ratios, False
        lr = self.lr_at(record)
        if lr is None or record.role("update"):
            return ratios, False
        for name, entry in record.role("grad"):
            param = record.get("param", name)
            if param and self.is_weight(name) and param["norm"] > 0:
                ratios[name] = abs(lr) * entry["norm"] / param["norm"]
        return ratios, True

    def step_samples(self, upto: Record, count: int) -> list[dict[str, float]]:
        """The last ``count`` records up to ``upto`` with update dot products, one sample each:
        ``step``, ``dloss`` (loss change over the step), ``p_end`` = Σ⟨g_t, Δw⟩,
        ``p_start`` = Σ⟨g_{t−1}, Δw⟩ (NaN if unknown), ``p`` (their mean), ``ratio`` (median
        update/weight ratio)."""
        key = ("step_samples", upto.n, count)  # several rules ask for the same window
        samples = self.shared.get(key)
        if samples is None:
            records = self.tail(upto, count, lambda r: self.sample(r) is not None)
            samples = self.shared[key] = [self.sample(r) for r in records]
        return samples

    def sample(self, record: Record) -> dict[str, float] | None:
        sample = record.cache.get("sample", _UNKNOWN)
        if sample is not _UNKNOWN:
            return sample
        sample = None
        entries = [e for _, e in record.role("update") if "dot_grad" in e]
        before = self.loss_of(record.n - 1) if entries else math.nan
        if entries and record.loss_finite and math.isfinite(before):
            p_end = sum(e["dot_grad"] for e in entries)
            starts = [e.get("dot_prev_grad") for e in entries]
            p_start = sum(starts) if None not in starts else math.nan
            p = p_end if math.isnan(p_start) else 0.5 * (p_start + p_end)
            ratios, _ = self.update_ratios(record)
            sample = {"step": record.step, "dloss": record.loss - before, "p_end": p_end,
                      "p_start": p_start, "p": p,
                      "ratio": median(ratios.values())}
        record.cache["sample"] = sample
        return sample


_UNKNOWN = object()  # not computed yet (None is an answer)


def _observation(record: Record) -> int:
    return record.n


def _shapes(records: list[Record], shapes: dict[str, tuple[int, ...]]) -> dict[str, tuple]:
    """``shapes`` plus the parameter shapes first seen in ``records``."""
    for record in records:
        for name, entry in record.role("param"):
            if "shape" in entry and name not in shapes:
                shapes[name] = tuple(entry["shape"])
    return shapes
