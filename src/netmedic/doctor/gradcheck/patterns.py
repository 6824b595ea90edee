"""Classify one parameter's gradient: ok, sign_flipped, scaled, transposed, zero, shape, wrong.

Every hypothesis is a linear map ``T`` of the user's gradient ``g`` (identity, transpose, a sum
over a batch axis, a reshape) and a factor ``k``; it holds when ``⟨T(g), v⟩ = k·⟨∇L, v⟩`` along
every measured direction ``v`` within a tolerance plus each direction's own error bar. The
hypotheses are tried from the most to the least specific, so a correct gradient is never called
"scaled with k = 1.00001".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from netmedic.doctor.gradcheck.numerical import Sketch

#: Relative error below which a gradient is right; CS231n (gradient checks): "1e-4 > relative
#: error is usually okay for objectives with kinks", 1e-2 and more "probably wrong".
OK_TOL = 1e-4
#: Looser tolerance for naming a bug's pattern (its size is then irrelevant, its shape is not).
PATTERN_TOL = 1e-3
#: A fitted factor within this distance of ±1 is not called "scaled" (it is a small error).
UNIT_BAND = 0.01
#: The numerical gradient is "flat" (loss does not measurably change) below this many error bars.
SIGNIFICANCE = 3.0

PATTERNS = ("ok", "sign_flipped", "scaled", "transposed", "zero", "shape", "wrong")


@dataclass
class Verdict:
    """The classification of one parameter's gradient and the numbers behind it."""

    pattern: str
    scale: float | None = None
    rel_error: float = math.nan
    aligned: np.ndarray | None = None  # the user's gradient mapped onto the parameter's shape
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Measured:
    """Normalised measurements: each direction rescaled so a projection is ~‖x‖·N(0,1)."""

    directions: list[np.ndarray]
    weights: np.ndarray
    numerical: np.ndarray
    errors: np.ndarray
    jumps: np.ndarray

    @classmethod
    def from_sketch(cls, sketch: Sketch, size: int) -> _Measured:
        idx = sketch.usable()
        probes = [sketch.probes[i] for i in idx]
        weights = np.array([math.sqrt(size / max(p.support, 1)) for p in probes])
        jumps = [
            abs(p.jump) if sketch.status[i] == "kink" else 0.0
            for i, p in zip(idx, probes, strict=True)
        ]
        return cls(
            [sketch.directions[i] for i in idx],
            weights,
            np.array([p.value for p in probes]) * weights,
            np.array([p.error for p in probes]) * weights,
            np.array(jumps) * weights,
        )

    def project(self, x: np.ndarray) -> np.ndarray:
        return np.array([np.vdot(x, v) for v in self.directions]) * self.weights

    @property
    def flat(self) -> bool:
        """The loss does not measurably change along any direction."""
        return _rms(self.numerical) <= SIGNIFICANCE * _rms(self.errors)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x)))) if x.size else 0.0


def fit(c: np.ndarray, m: _Measured, k: float | None, tol: float) -> tuple[bool, float, float]:
    """Does ``c ≈ k·numerical`` hold? Returns (holds, k, relative residual); k fitted when None."""
    y = m.numerical
    if k is None:
        denom = float(np.dot(y, y))
        k = float(np.dot(c, y) / denom) if denom > 0 else 0.0
    scale = max(_rms(c), abs(k) * _rms(y))
    residual = np.abs(c - k * y)
    allowed = tol * scale + SIGNIFICANCE * abs(k) * m.errors + abs(k) * m.jumps
    holds = bool(np.all(residual <= allowed)) and len(y) > 0
    return holds, k, (_rms(c - k * y) / scale if scale > 0 else 0.0)


def shape_candidates(
    g: np.ndarray, shape: tuple[int, ...]
) -> tuple[str, list[tuple[str, np.ndarray]]]:
    """How ``g`` can be mapped onto ``shape``: ("same" | "transposed" | "other", candidates)."""
    squeeze = tuple(d for d in shape if d != 1)
    if g.shape == shape or (
        g.size == int(np.prod(shape)) and tuple(d for d in g.shape if d != 1) == squeeze
    ):
        same = g.reshape(shape)
        if len(shape) == 2 and shape[0] == shape[1] > 1:
            return "same", [("same", same), ("transpose", same.T)]
        return "same", [("same", same)]
    if len(shape) == 2 and g.shape == shape[::-1]:
        return "transposed", [("transpose", g.T)]
    candidates = []
    if g.ndim == len(shape) and all(a == b or b == 1 for a, b in zip(g.shape, shape, strict=True)):
        axes = tuple(i for i, (a, b) in enumerate(zip(g.shape, shape, strict=True)) if a != b)
        candidates.append((f"sum:{','.join(map(str, axes))}", g.sum(axis=axes, keepdims=True)))
    elif g.ndim == len(shape) + 1:
        for axis in range(g.ndim):
            reduced = g.sum(axis=axis)
            if reduced.shape == shape:
                candidates.append((f"sum:{axis}", reduced))
    if g.size == int(np.prod(shape)):
        candidates.append(("reshape", g.reshape(shape)))
    return "other", candidates


def classify(g: np.ndarray, param: np.ndarray, sketch: Sketch | None) -> Verdict:
    """The pattern of ``g`` against the numerical gradient measured in ``sketch``."""
    if not np.all(np.isfinite(g)):
        bad = int(np.count_nonzero(~np.isfinite(g)))
        return Verdict("wrong", rel_error=math.nan, details={"nonfinite": bad})
    kind, candidates = shape_candidates(g, param.shape)
    if sketch is None or not candidates:
        return Verdict("shape", details={"kind": kind})
    m = _Measured.from_sketch(sketch, param.size)
    details: dict[str, Any] = {
        "flat": m.flat,
        "kinked": sketch.kinked,
        "directions": len(m.numerical),
    }
    if len(m.numerical) == 0:
        return Verdict("wrong", details={**details, "unmeasurable": True})
    if kind == "same":
        return _classify_same(candidates, param, m, details)
    if kind == "transposed":
        return _classify_transposed(candidates[0][1], m, details)
    return _classify_other(candidates, m, details)


def _classify_same(
    candidates: list[tuple[str, np.ndarray]],
    param: np.ndarray,
    m: _Measured,
    details: dict[str, Any],
) -> Verdict:
    same = candidates[0][1]
    if not np.any(same):
        return Verdict(
            "ok" if m.flat else "zero",
            rel_error=0.0 if m.flat else 1.0,
            aligned=same,
            details=details,
        )
    c = m.project(same)
    holds, _, rel = fit(c, m, 1.0, OK_TOL)
    if holds:
        return Verdict("ok", rel_error=rel, aligned=same, details=details)
    if m.flat:
        return Verdict("wrong", rel_error=rel, aligned=same, details=details)
    if fit(c, m, -1.0, OK_TOL)[0]:
        return Verdict("sign_flipped", rel_error=rel, aligned=same, details=details)
    transposed = m.project(candidates[1][1]) if len(candidates) > 1 else None
    if transposed is not None and fit(transposed, m, 1.0, OK_TOL)[0]:
        return Verdict(
            "transposed", rel_error=rel, aligned=same, details={**details, "square": True}
        )
    holds, k, _ = fit(c, m, None, PATTERN_TOL)
    if holds and abs(abs(k) - 1) > UNIT_BAND and k != 0:
        return Verdict("scaled", scale=k, rel_error=rel, aligned=same, details=details)
    if transposed is not None:
        holds, kt, _ = fit(transposed, m, None, PATTERN_TOL)
        if holds and kt != 0:
            return Verdict(
                "transposed",
                rel_error=rel,
                aligned=same,
                details={**details, "square": True, "factor": kt},
            )
    l2 = _l2_term(c, m.project(param), m)
    if l2 is not None:
        details["l2"] = l2
    denom = float(np.linalg.norm(c) * np.linalg.norm(m.numerical))
    details["cosine"] = float(np.dot(c, m.numerical) / denom) if denom > 0 else 0.0
    return Verdict("wrong", rel_error=rel, aligned=same, details=details)


def _l2_term(c: np.ndarray, p: np.ndarray, m: _Measured) -> float | None:
    """λ when ``g = ∇L − λ·W`` (an L2 term's gradient left out, or added when λ < 0)."""
    denom = float(np.dot(p, p))
    if denom <= 0:
        return None
    lam = float(np.dot(m.numerical - c, p) / denom)
    residual = np.abs(m.numerical - c - lam * p)
    scale = max(_rms(c), _rms(m.numerical))
    if abs(lam) * _rms(p) < 10 * OK_TOL * scale:
        return None
    ok = np.all(residual <= PATTERN_TOL * scale + SIGNIFICANCE * m.errors + m.jumps)
    return lam if ok else None


def _classify_transposed(aligned: np.ndarray, m: _Measured, details: dict[str, Any]) -> Verdict:
    c = m.project(aligned)
    holds, _, rel = fit(c, m, 1.0, OK_TOL)
    details = {**details, "square": False}
    if holds:
        return Verdict("transposed", rel_error=rel, aligned=aligned, details=details)
    if m.flat:
        return Verdict(
            "wrong", rel_error=rel, aligned=aligned, details={**details, "transposed_shape": True}
        )
    holds, k, _ = fit(c, m, None, PATTERN_TOL)
    if holds and k != 0:
        return Verdict(
            "transposed", rel_error=rel, aligned=aligned, details={**details, "factor": k}
        )
    return Verdict(
        "wrong", rel_error=rel, aligned=aligned, details={**details, "transposed_shape": True}
    )


def _classify_other(
    candidates: list[tuple[str, np.ndarray]], m: _Measured, details: dict[str, Any]
) -> Verdict:
    for label, aligned in candidates:
        c = m.project(aligned)
        holds, _, rel = fit(c, m, 1.0, OK_TOL)
        if holds:
            return Verdict(
                "shape", rel_error=rel, aligned=aligned, details={**details, "match": label}
            )
        if m.flat:
            break
        holds, k, _ = fit(c, m, None, PATTERN_TOL)
        if holds and k != 0:
            return Verdict(
                "shape",
                rel_error=rel,
                aligned=aligned,
                details={**details, "match": label, "factor": k},
            )
    return Verdict("shape", details={**details, "kind": "other"})
