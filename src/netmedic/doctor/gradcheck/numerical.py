"""Numerical derivatives of the user's loss: random directions, Richardson steps, kink detection.

A naive check perturbs every entry (2 loss calls per weight: 47,000 for a 784-30-10 net). We
measure instead the *directional derivative* ``⟨∇L, v⟩`` along a few random Gaussian directions
``v`` per parameter (4 loss calls each) and compare it with ``⟨g, v⟩`` from the user's gradient
``g``. For a Gaussian ``v``, ``⟨g − ∇L, v⟩`` is distributed as ``‖g − ∇L‖·N(0, 1)``: an error of
relative size ε is missed by *all* of ``m`` independent directions only with probability about
``(τ/ε)^m`` for a tolerance τ (a chi-square tail), i.e. below 1e-6 for ε = 10τ and m = 6.

Each directional derivative uses central differences at steps ``h`` and ``h/2`` combined by
Richardson extrapolation (error O(h⁴)); ``|D(h) − D(h/2)|/3`` plus a round-off model gives its
error bar. One-sided differences at the same points reveal kinks (ReLU at 0, max-pool ties):
across a kink the right and left derivatives differ by a jump that does not shrink with ``h``,
while for a smooth loss their extrapolated difference is O(h³). A kinked or noisy direction is
retried with a new direction, a smaller support and a smaller (or, when round-off dominates, a
larger) step, rather than being reported as a mismatch.

Error bars need the loss's own noise: 8 calls at the start measure it (a float32 forward pass
is ~1e-7 relative, not float64's 1e-16), see :meth:`LossCounter.estimate_noise`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from netmedic.doctor.gradcheck._usercode import as_loss_value, call_user, loss_epsilon

#: Round-off of one loss evaluation, in units of eps·|L|: a loss is a sum of many rounded terms
#: (Higham, "Accuracy and Stability of Numerical Algorithms", §4: error grows with the term count).
ROUNDOFF_ULPS = 4.0
#: First step, relative to the parameter's RMS entry; Richardson central differences in float64
#: are most accurate near eps^(1/5) ≈ 7e-4 of the curvature scale (Numerical Recipes §5.7).
DEFAULT_REL_STEP = 1e-4
#: Steps never leave this range (relative to the parameter's RMS entry).
MIN_REL_STEP, MAX_REL_STEP = 1e-10, 1.0
#: Noise probe: relative change of each parameter (above float32's 6e-8 resolution, small
#: enough that a quartic term is negligible) and a safety factor on the largest σ measured
#: (two estimates both below σ/5 happen with probability 2.5%).
NOISE_STEP, NOISE_SAFETY = 1e-6, 5.0
#: Loss calls spent on the noise probe (two directions, four points each).
NOISE_POINTS = 8
#: How much a retry changes the step: one decade per retry.
STEP_FACTOR = 10.0
#: A kinked direction is retried on 1/8 of the entries: fewer units can cross their kink.
SUPPORT_SHRINK = 8
#: A direction is trusted when its error bar is below this fraction of its magnitude; it is a
#: tenth of the "ok" tolerance so a trusted direction cannot produce a false alarm.
RELIABLE_TOL = 1e-5
#: Directions per parameter (see the module docstring for the miss probability).
DIRECTIONS = 6
#: Single entries checked per parameter by central differences (evidence shown to the user).
ENTRIES = 2
#: Untrusted probes (kinks, noise) tolerated per parameter before giving up on this point
#: (the call budget usually stops the retries first).
MAX_RETRIES = 8
#: Without trusted probes, those within this factor of the best relative error are used.
FALLBACK_SPREAD = 3.0


class LossCounter:
    """The user's ``loss`` evaluated at the base point with one parameter moved; calls counted.

    ``base`` holds float64 copies; a perturbed parameter is a fresh array, the others are the
    base arrays themselves (cheap: no copy of the whole model per call).
    """

    def __init__(self, loss: Callable[[dict[str, np.ndarray]], Any], base: dict[str, np.ndarray]):
        self.loss = loss
        self.base = base
        self.calls = 0
        raw = self._call(dict(base))
        self.eps = loss_epsilon(raw)
        self.value0 = as_loss_value(raw, "params0")
        self.measured_noise = 0.0

    def noise(self, *values: float) -> float:
        """Absolute noise of one loss value near ``values``: round-off model or measured, larger."""
        return max(ROUNDOFF_ULPS * self.eps * max(abs(v) for v in values), self.measured_noise)

    def estimate_noise(self, rng: np.random.Generator) -> None:
        """Measure the loss's own noise (a float32 forward pass, say) with ``NOISE_POINTS`` calls.

        Every nonzero parameter is scaled by ``1 + t·NOISE_STEP·u``, t = 0…4, along random
        directions ``u``. The fourth difference of the five values cancels any cubic, so for a
        smooth loss it is pure round-off: ``σ·√70`` for noise σ (the table-of-differences idea
        of Moré & Wild, "Estimating computational noise", SIAM J. Sci. Comput. 2011). The step
        changes every float32 rounding, so a float32 forward pass shows its full noise; the
        points are one-sided because rounding parameters to float32 is odd in t and a symmetric
        stencil would cancel it. Zeros stay zero, so no ReLU at exactly 0 is crossed. A loss
        value that is exactly a float32 number (not a short one like 0.5) also sets float32's
        epsilon: a float64 result is one with probability 2**-29.
        """
        if _is_float32_number(self.value0):
            self.eps = max(self.eps, float(np.finfo(np.float32).eps))
        for _ in range(NOISE_POINTS // 4):
            u = {n: rng.standard_normal(p.shape) for n, p in self.base.items()}
            values = {0: self.value0}
            for t in (1, 2, 3, 4):
                params = {n: p * (1 + t * NOISE_STEP * u[n]) for n, p in self.base.items()}
                with np.errstate(all="ignore"):
                    values[t] = as_loss_value(self._call(params), "a point near params0")
            fourth = values[0] - 4 * values[1] + 6 * values[2] - 4 * values[3] + values[4]
            if math.isfinite(fourth):
                sigma = abs(fourth) / math.sqrt(70.0)
                self.measured_noise = max(self.measured_noise, NOISE_SAFETY * sigma)

    def _call(self, params: dict[str, np.ndarray]) -> Any:
        self.calls += 1
        return call_user(self.loss, params, what="loss(params)")

    def at(self, name: str, delta: np.ndarray) -> float:
        """The loss with ``params[name] + delta``; NaN when the loss is not finite there."""
        params = dict(self.base)
        params[name] = self.base[name] + delta
        with np.errstate(all="ignore"):
            value = as_loss_value(self._call(params), f"a perturbed {name}")
        return value if math.isfinite(value) else math.nan


def _is_float32_number(x: float) -> bool:
    """Exactly a float32 value, but not a short number (one float16 can hold: 0.5, 3.0...)."""
    if not math.isfinite(x):
        return False
    with np.errstate(over="ignore"):
        return float(np.float32(x)) == x and float(np.float16(x)) != x


@dataclass(frozen=True)
class Probe:
    """One directional derivative ``⟨∇L, v⟩``: value, error bar, kink jump, how it was taken."""

    value: float
    truncation: float
    roundoff: float
    jump: float
    step: float
    support: int

    @property
    def error(self) -> float:
        return self.truncation + self.roundoff

    @property
    def finite(self) -> bool:
        return math.isfinite(self.value) and math.isfinite(self.jump)

    @property
    def kink_noise(self) -> float:
        """What the jump estimate can be from round-off and truncation alone."""
        return 12.0 * self.roundoff + 3.0 * self.truncation


def directional(counter: LossCounter, name: str, v: np.ndarray, step: float) -> Probe:
    """``⟨∇L, v⟩`` for parameter ``name`` from 4 loss calls at ±step·v and ±step/2·v."""
    l0 = counter.value0
    lp1 = counter.at(name, step * v)
    lm1 = counter.at(name, -step * v)
    lp2 = counter.at(name, 0.5 * step * v)
    lm2 = counter.at(name, -0.5 * step * v)
    support = int(np.count_nonzero(v))
    values = (l0, lp1, lm1, lp2, lm2)
    if not all(math.isfinite(x) for x in values):
        return Probe(math.nan, math.inf, math.inf, math.nan, step, support)
    d1 = (lp1 - lm1) / (2 * step)
    d2 = (lp2 - lm2) / step
    value = (4 * d2 - d1) / 3
    # One-sided derivatives, each extrapolated to h → 0; equal for a smooth loss.
    right = 2 * (lp2 - l0) / (0.5 * step) - (lp1 - l0) / step
    left = 2 * (l0 - lm2) / (0.5 * step) - (l0 - lm1) / step
    noise = counter.noise(*values)
    return Probe(value, abs(d1 - d2) / 3, 3 * noise / step, right - left, step, support)


def draw_direction(rng: np.random.Generator, shape: tuple[int, ...], support: int) -> np.ndarray:
    """A standard Gaussian direction on ``support`` random entries (all when support ≥ size)."""
    size = int(np.prod(shape))
    if support >= size:
        return rng.standard_normal(shape)
    v = np.zeros(size)
    v[rng.choice(size, size=support, replace=False)] = rng.standard_normal(support)
    return v.reshape(shape)


#: Probe verdicts whose values are used as they are (with their error bars).
_USABLE = ("clean", "null", "rough")


@dataclass
class Sketch:
    """The directions tried for one parameter and what was measured along each."""

    directions: list[np.ndarray] = field(default_factory=list)
    probes: list[Probe] = field(default_factory=list)
    #: clean | null | rough (round-off limited at the largest step) | kink | noisy | nonfinite
    status: list[str] = field(default_factory=list)
    rel_step: float = DEFAULT_REL_STEP
    #: The smallest step that was too large (kink or truncation): never grow back up to it.
    ceiling: float = math.inf

    def usable(self) -> list[int]:
        """Indices of the directions to classify with: the trusted ones, else the most precise.

        Without a trusted probe (kinks or noise everywhere), the probes whose relative error bar
        is within ``FALLBACK_SPREAD`` of the best one are used, with their error bars.
        """
        good = [i for i, s in enumerate(self.status) if s in _USABLE]
        if good:
            return good
        finite = [i for i, p in enumerate(self.probes) if p.finite]
        if not finite:
            return []
        rel = {i: self.probes[i].error / (abs(self.probes[i].value) or math.inf) for i in finite}
        best = min(rel.values())
        return [i for i in finite if rel[i] <= FALLBACK_SPREAD * best]

    @property
    def kinked(self) -> bool:
        return "kink" in self.status

    @property
    def trusted(self) -> int:
        """How many probes are usable as they are."""
        return sum(s in _USABLE for s in self.status)


def judge(probe: Probe, analytic: float, reference: float, can_grow: bool) -> str:
    """Trust verdict for one probe; ``reference`` is the magnitude expected along it.

    ``can_grow`` says a larger step is still allowed: a probe drowned in round-off is then
    "noisy" (retry with a larger step) rather than "null" (nothing to resolve).
    """
    if not probe.finite:
        return "nonfinite"
    scale = max(abs(analytic), abs(probe.value), reference)
    at_noise = abs(analytic) <= probe.error and abs(probe.value) <= 3 * probe.error
    if at_noise and (not can_grow or probe.truncation > probe.roundoff):
        return "null"  # both at noise level: the loss does not measurably depend on it here
    if at_noise:
        return "noisy"
    if abs(probe.jump) > max(RELIABLE_TOL * scale, probe.kink_noise):
        return "kink"
    if probe.error > RELIABLE_TOL * scale:
        return "noisy" if can_grow or probe.truncation > probe.roundoff else "rough"
    return "clean"


def sketch_parameter(
    counter: LossCounter,
    name: str,
    reference: np.ndarray | None,
    rng: np.random.Generator,
    scale: float,
    rel_step: float,
    call_limit: int,
) -> Sketch:
    """Measure ``DIRECTIONS`` trusted directional derivatives of parameter ``name``.

    ``reference`` is the user's gradient aligned to the parameter's shape (or None); it only
    sets the magnitude a probe must resolve. Stops early at ``call_limit`` total loss calls.
    """
    shape = counter.base[name].shape
    size = counter.base[name].size
    support = size
    ref_norm = float(np.linalg.norm(reference)) if reference is not None else 0.0
    sketch = Sketch(rel_step=rel_step)
    while sketch.trusted < DIRECTIONS:
        if counter.calls + 4 > call_limit or len(sketch.status) - sketch.trusted >= MAX_RETRIES:
            break
        v = draw_direction(rng, shape, support)
        probe = directional(counter, name, v, sketch.rel_step * scale)
        analytic = float(np.vdot(reference, v)) if reference is not None else 0.0
        expected = (
            0.3 * math.sqrt(min(support, size) / size) * max(ref_norm, _norm_estimate(sketch, size))
        )
        can_grow = sketch.rel_step * STEP_FACTOR < min(sketch.ceiling, MAX_REL_STEP * 1.0001)
        status = judge(probe, analytic, expected, can_grow)
        sketch.directions.append(v)
        sketch.probes.append(probe)
        sketch.status.append(status)
        if status == "kink":
            support = max(1, support // SUPPORT_SHRINK)
        if status in ("kink", "nonfinite") or (
            status == "noisy" and probe.truncation > probe.roundoff
        ):
            sketch.ceiling = min(sketch.ceiling, sketch.rel_step)
            sketch.rel_step = max(MIN_REL_STEP, sketch.rel_step / STEP_FACTOR)
        elif status == "noisy":
            sketch.rel_step = min(MAX_REL_STEP, sketch.rel_step * STEP_FACTOR)
    return sketch


def _norm_estimate(sketch: Sketch, size: int) -> float:
    """‖∇L‖ estimated from the trusted probes so far (each is ‖∇L‖·N(0,1)·√(support/size))."""
    values = [
        p.value * math.sqrt(size / max(p.support, 1))
        for p, s in zip(sketch.probes, sketch.status, strict=True)
        if s == "clean"
    ]
    return 0.0 if not values else float(np.sqrt(np.mean(np.square(values))))
