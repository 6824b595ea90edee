"""Everything measured at one point: directions, verdicts and sampled entries per parameter."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from netmedic.doctor.gradcheck.numerical import (
    DIRECTIONS,
    ENTRIES,
    LossCounter,
    Sketch,
    sketch_parameter,
)
from netmedic.doctor.gradcheck.patterns import Verdict, classify, shape_candidates

#: Step scale for a parameter that is all zeros (biases at init) when no other one is nonzero.
FALLBACK_SCALE = 1.0


class Point:
    """Everything measured at one point: the loss counter, the user's gradients, the verdicts."""

    def __init__(
        self,
        counter: LossCounter,
        analytic: dict[str, np.ndarray],
        fallback: float,
        scales: dict[str, float] | None = None,
    ):
        self.counter, self.analytic, self.fallback = counter, analytic, fallback
        self.scales = scales or {}
        self.sketches: dict[str, Sketch | None] = {}
        self.verdicts: dict[str, Verdict] = {}
        self.evidence: dict[str, list[EntryCheck]] = {}

    def scale(self, name: str) -> float:
        """The parameter's RMS entry (the unit of its steps), or the fallback when all zero."""
        if name in self.scales:
            return self.scales[name]
        p = self.counter.base[name]
        return float(np.sqrt(np.mean(np.square(p)))) if p.size and np.any(p) else self.fallback

    def check(self, name: str, rng: np.random.Generator, rel_step: float, limit: int) -> float:
        """Measure and classify parameter ``name``; returns the relative step to start the next."""
        p, g = self.counter.base[name], self.analytic[name]
        _, candidates = shape_candidates(g, p.shape)
        sketch = None
        if candidates and np.all(np.isfinite(g)):
            sketch = sketch_parameter(
                self.counter,
                name,
                candidates[0][1],
                rng,
                self.scale(name),
                rel_step,
                limit - 2 * ENTRIES,
            )
            rel_step = sketch.rel_step
        self.sketches[name] = sketch
        self.verdicts[name] = classify(g, p, sketch)
        if sketch is not None:
            self.evidence[name] = check_entries(
                self.counter,
                name,
                self.verdicts[name].aligned,
                rng,
                sketch.rel_step * self.scale(name),
            )
        return rel_step

    def needs_recheck(self, name: str) -> bool:
        """Kinks got in the way: too few trusted directions, or a mismatch seen across kinks."""
        sketch = self.sketches.get(name)
        if sketch is None or not sketch.kinked:
            return False
        return sketch.trusted < DIRECTIONS or self.verdicts[name].pattern != "ok"

    def adopt(self, other: Point, name: str) -> None:
        """Take ``other``'s measurements of ``name`` (the re-check off the kinks)."""
        self.sketches[name] = other.sketches[name]
        self.verdicts[name] = other.verdicts[name]
        self.verdicts[name].details["moved_off_kinks"] = True
        self.evidence[name] = other.evidence.get(name, [])


@dataclass(frozen=True)
class EntryCheck:
    """A single entry's central difference: ``index`` into the parameter, both values."""

    index: tuple[int, ...]
    analytic: float
    numerical: float
    error: float


def check_entries(
    counter: LossCounter,
    name: str,
    aligned: np.ndarray | None,
    rng: np.random.Generator,
    step: float,
) -> list[EntryCheck]:
    """Central differences on ``ENTRIES`` entries, chosen among random ones by largest |g|."""
    base = counter.base[name]
    pool = rng.choice(base.size, size=min(base.size, 256), replace=False)
    if aligned is not None:
        pool = pool[np.argsort(-np.abs(aligned.reshape(-1)[pool]), kind="stable")]
    checks = []
    for flat in pool[:ENTRIES]:
        delta = np.zeros(base.size)
        delta[flat] = step
        delta = delta.reshape(base.shape)
        plus, minus = counter.at(name, delta), counter.at(name, -delta)
        numerical = (plus - minus) / (2 * step)
        error = 3 * counter.noise(plus, minus, counter.value0) / step
        index = tuple(int(i) for i in np.unravel_index(int(flat), base.shape))
        analytic = float(aligned.reshape(-1)[flat]) if aligned is not None else math.nan
        checks.append(EntryCheck(index, analytic, numerical, error))
    return checks


def fallback_scale(base: dict[str, np.ndarray]) -> float:
    """Typical entry size of the nonzero parameters: the step scale for all-zero ones."""
    scales = [float(np.sqrt(np.mean(np.square(p)))) for p in base.values() if p.size and np.any(p)]
    return float(np.median(scales)) if scales else FALLBACK_SCALE


def format_entries(name: str, checks: list[EntryCheck]) -> str:
    parts = []
    for c in checks:
        index = ", ".join(map(str, c.index))
        parts.append(f"{name}[{index}]: yours {c.analytic:+.4e}, numerical {c.numerical:+.4e}")
    return "; ".join(parts)
