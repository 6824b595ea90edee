"""What the doctor remembers: one :class:`Record` per observed step, in bounded memory.

Four views of the run, each bounded whatever its length:

- ``recent``: the last ``capacity`` records (a ring buffer), and ``full``: the last ``capacity``
  records that carry the full statistics (every ``stride``-th) — the rules' windows; the loss of
  every recent step is also kept as arrays (:meth:`History.loss_window`);
- ``first``: the first :data:`FIRST_KEEP` records — baselines (initial loss, gradient norms at
  init, the initial weights);
- ``thinned``: records spread over the whole run for plots: every record until ``capacity`` is
  reached, then every 2nd, every 4th… (the spacing doubles each time the list fills up).
"""

from __future__ import annotations

import math
from array import array
from collections import deque
from typing import Any

import numpy as np

FIRST_KEEP = 10  # baselines use at most the first 5 steps; 10 leaves room for a warm-up


class Record:
    """One step: ``tensors`` maps ``"role/name"`` (``"grad/W1"``, ``"act/h1"``) to an entry.

    ``n`` is the 0-based index of the observation (the order of ``observe`` calls); ``step`` is
    the caller's step number. ``loss`` is NaN when not finite and ``None`` when not given.
    ``grad_norm``: the global gradient norm the caller gave on a step without per-tensor
    statistics (``observe(grad_norm=…)``), else ``None`` (see :meth:`global_grad_norm`).
    ``finite``: the loss and every statistic are finite (no NaN/Inf anywhere in the step).
    """

    __slots__ = ("n", "step", "loss", "lr", "batch", "tensors", "cache", "grad_norm", "finite")

    def __init__(self, n: int, step: int, loss: float | None, lr: float | None,
                 batch: int | None, tensors: dict[str, dict[str, Any]],
                 grad_norm: float | None = None, finite: bool = True) -> None:
        self.n, self.step, self.loss, self.lr = n, step, loss, lr
        self.batch, self.tensors, self.grad_norm, self.finite = batch, tensors, grad_norm, finite
        self.cache: dict[str, Any] = {}  # values the rules derive from this record, computed once

    def role(self, role: str) -> list[tuple[str, dict[str, Any]]]:
        """``(name, entry)`` for every tensor of ``role``, in the order they were given."""
        roles = self.cache.get("roles")
        if roles is None:
            roles = {}
            for key, entry in self.tensors.items():
                kind, _, name = key.partition("/")
                roles.setdefault(kind, []).append((name, entry))
            self.cache["roles"] = roles
        return roles.get(role, [])

    def layout(self) -> tuple[tuple[str, Any], ...]:
        """The activations, pre-activations and labels it carries, by key, with their widths:
        what the rules read the network's shape from (the classes, the output layer)."""
        layout = self.cache.get("layout")
        if layout is None:
            layout = self.cache["layout"] = tuple(
                (key, entry.get("width")) for key, entry in self.tensors.items()
                if key.startswith(("act/", "preact/", "label/")))
        return layout

    def get(self, role: str, name: str) -> dict[str, Any] | None:
        return self.tensors.get(f"{role}/{name}")

    @property
    def loss_finite(self) -> bool:
        return self.loss is not None and math.isfinite(self.loss)

    def global_grad_norm(self) -> float | None:
        """√Σ‖g‖² over every gradient: the caller's ``grad_norm`` when given, else from the
        per-tensor norms; ``None`` when the record has neither."""
        if self.grad_norm is not None:
            return self.grad_norm
        norms = [entry["norm"] for _, entry in self.role("grad")]
        return math.sqrt(sum(x * x for x in norms)) if norms else None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"step": self.step, "loss": self.loss}
        if self.lr is not None:
            out["lr"] = self.lr
        if self.batch is not None:
            out["batch"] = self.batch
        if self.grad_norm is not None:
            out["grad_norm"] = self.grad_norm
        out["tensors"] = self.tensors
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Record):
            return NotImplemented
        return _same(self.to_dict(), other.to_dict()) and self.n == other.n

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Record(step={self.step}, loss={self.loss}, tensors={len(self.tensors)})"


class History:
    """Bounded memory of the run; see the module docstring. ``capacity`` ≥ 16."""

    def __init__(self, capacity: int = 512) -> None:
        if capacity < 16:
            raise ValueError(f"history must keep at least 16 steps; got {capacity}")
        self.capacity = capacity
        #: light steps noted in passing, ``(n, step, loss, lr, grad_norm)`` (plain numbers):
        #: made records, in order, before anything reads or appends (Doctor.observe_light)
        self.pending: list[tuple] = []
        self._recent: deque[Record] = deque(maxlen=capacity)
        self._full: deque[Record] = deque(maxlen=capacity)
        # n, step and loss of the recent records: C arrays (a store costs what a list store
        # does, a third of a NumPy scalar store, and this runs every step), read by the rules
        # as NumPy arrays without converting element by element
        self._ring_n = array("q", [0] * capacity)
        self._ring_step = array("q", [0] * capacity)
        self._ring_loss = array("d", [math.nan] * capacity)
        self._first: list[Record] = []
        self._thinned: list[Record] = []
        self._thin_every = 1
        self._count = 0

    def settle(self) -> None:
        """Make the steps noted in :attr:`pending` records (light ones: no tensors)."""
        pending, self.pending = self.pending, []
        for n, step, loss, lr, norm in pending:
            self._keep(Record(n, step, float(loss), None if lr is None else float(lr), None,
                              {}, grad_norm=float(norm)), False)

    def _settled(self, held):
        """``held`` (one of the containers below, changed in place), once nothing is pending."""
        if self.pending:
            self.settle()
        return held

    @property
    def recent(self) -> deque[Record]:
        """The last ``capacity`` records."""
        return self._settled(self._recent)

    @property
    def full(self) -> deque[Record]:
        """The last ``capacity`` records with the full statistics."""
        return self._settled(self._full)

    @property
    def first(self) -> list[Record]:
        """The first :data:`FIRST_KEEP` records."""
        return self._settled(self._first)

    @property
    def count(self) -> int:
        """Records kept so far (the run's length)."""
        return self._count + len(self.pending)

    def append(self, record: Record, full: bool = True) -> None:
        """Keep ``record``; ``full``: it carries the full statistics (not only gradient norms)."""
        if self.pending:
            self.settle()
        self._keep(record, full)

    def _keep(self, record: Record, full: bool) -> None:
        self._recent.append(record)
        if full:
            self._full.append(record)
        at = self._count % self.capacity
        self._ring_n[at] = record.n
        self._ring_step[at] = record.step
        self._ring_loss[at] = math.nan if record.loss is None else record.loss
        if len(self._first) < FIRST_KEEP:
            self._first.append(record)
        if record.n % self._thin_every == 0:
            self._thinned.append(record)
            if len(self._thinned) > self.capacity:
                self._thin_every *= 2
                self._thinned = [r for r in self._thinned if r.n % self._thin_every == 0]
        self._count += 1

    def loss_window(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(n, steps, losses)`` of the recent records, oldest first (NaN: missing/non-finite);
        read-only arrays (copies: the rings go on turning)."""
        if self.pending:
            self.settle()
        count = self._count
        at = count % self.capacity  # the oldest sits where the next one goes
        out = []
        for ring in (self._ring_n, self._ring_step, self._ring_loss):
            values = np.frombuffer(ring, dtype=np.int64 if ring.typecode == "q" else np.float64)
            if count <= self.capacity:
                window = values[:count].copy()
            else:
                window = np.concatenate((values[at:], values[:at]))
            window.flags.writeable = False
            out.append(window)
        return out[0], out[1], out[2]

    def __len__(self) -> int:
        return self.count

    @property
    def records(self) -> list[Record]:
        """Every record still held (thinned over the whole run, dense over the recent part)."""
        seen: dict[int, Record] = {r.n: r for r in self.first}  # (settles what is pending)
        seen.update((r.n, r) for r in self._thinned)
        seen.update((r.n, r) for r in self.recent)
        return [seen[n] for n in sorted(seen)]

    @property
    def complete(self) -> bool:
        """True while every record of the run is still held."""
        return self.count <= self.capacity

    def losses(self) -> tuple[np.ndarray, np.ndarray]:
        """``(steps, losses)`` for plots; NaN where the loss was missing or not finite."""
        records = self.records
        steps = np.array([r.step for r in records], dtype=np.int64)
        values = np.array([np.nan if r.loss is None else r.loss for r in records], dtype=float)
        return steps, values

    def series(self, key: str, field: str = "norm") -> tuple[np.ndarray, np.ndarray]:
        """``(steps, values)`` of one statistic of one tensor: ``series("grad/W1", "norm")``.

        ``field`` is any entry field, or a derived one: ``rms`` (norm / √size), ``max_abs``
        (max(|min|, |max|)), and for ``update/NAME`` keys ``ratio`` (‖Δw‖ / ‖w‖). Steps where
        it was not measured (the costlier statistics come every ``stride`` steps) are left out.
        """
        pairs = [(r.step, value) for r in self.records
                 if (value := _field(r, key, field)) is not None]
        steps = np.array([p[0] for p in pairs], dtype=np.int64)
        return steps, np.array([p[1] for p in pairs], dtype=float)

    def keys(self) -> list[str]:
        """Every ``role/name`` seen, in first-seen order."""
        keys: dict[str, None] = {}
        for record in self.records:
            keys.update(dict.fromkeys(record.tensors))
        return list(keys)

    def __repr__(self) -> str:
        return f"History({self.count} steps, keeping {len(self.records)})"


def _field(record: Record, key: str, field: str) -> float | None:
    entry = record.tensors.get(key)
    if entry is None:
        return None
    if field in entry:
        return entry[field]
    if field == "rms" and entry.get("size"):
        return entry["norm"] / math.sqrt(entry["size"])
    if field == "max_abs" and "min" in entry and "max" in entry:
        return max(abs(entry["min"]), abs(entry["max"]))
    if field == "ratio" and key.startswith("update/"):
        param = record.tensors.get("param/" + key[len("update/"):])
        if param and param["norm"] > 0:
            return entry["norm"] / param["norm"]
    return None


def _same(a: Any, b: Any) -> bool:
    """Equality that treats NaN as equal to NaN (for round-trip checks)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b
