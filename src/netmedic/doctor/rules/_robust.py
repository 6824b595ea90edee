"""Robust statistics and number formatting shared by the rules (NumPy only, NaN-safe)."""

from __future__ import annotations

import functools
import math

import numpy as np


def finite(values: np.ndarray) -> np.ndarray:
    return values[np.isfinite(values)]


def median(values) -> float:
    """Median of the finite values (NaN if none); pure Python, fast for the short lists rules
    use (np.median costs ~20 µs per call)."""
    v = sorted(x for x in values if math.isfinite(x))
    if not v:
        return math.nan
    mid = len(v) // 2
    return float(v[mid]) if len(v) % 2 else 0.5 * (v[mid - 1] + v[mid])


def share(flags) -> float:
    """Fraction of true values (0 for none)."""
    flags = list(map(bool, flags))
    return sum(flags) / len(flags) if flags else 0.0


def up_fraction(values: np.ndarray) -> float:
    """Kendall-style trend: of all pairs i < j with different values, the fraction with v_j > v_i.

    0.5 for noise without trend, 1 for a strictly rising series. For n values of pure noise its
    standard deviation is about 0.5·sqrt(2(2n+5) / (9n(n−1))): 0.05 for n = 50.
    """
    v = finite(np.asarray(values, dtype=float))
    if v.size < 3:
        return math.nan
    i, j = _pairs(v.size)
    d = v[j] - v[i]
    moved = np.count_nonzero(d)
    return float(np.count_nonzero(d > 0)) / moved if moved else 0.5


def up_fraction_sd(n: int) -> float:
    """Standard deviation of :func:`up_fraction` for ``n`` values of pure noise (Kendall's τ
    has variance 2(2n+5) / (9n(n−1)); the share of rising pairs is (τ + 1) / 2)."""
    return 0.5 * math.sqrt(2 * (2 * n + 5) / (9 * n * (n - 1))) if n > 1 else math.inf


def slope(steps: np.ndarray, values: np.ndarray) -> float:
    """Theil–Sen slope: the median of the pairwise slopes (one outlier batch cannot move it)."""
    keep = np.isfinite(values)
    t, v = np.asarray(steps, dtype=float)[keep], np.asarray(values, dtype=float)[keep]
    if t.size < 2:
        return math.nan
    i, j = _pairs(t.size)
    dt = t[j] - t[i]
    ok = dt != 0
    return float(np.median((v[j] - v[i])[ok] / dt[ok])) if np.any(ok) else math.nan


@functools.lru_cache(maxsize=16)
def _pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(i, j)`` of every pair ``i < j < n`` (built once per length: the rules ask
    for the same few window lengths over and over; int32 and 16 lengths: ≤ 16 MB)."""
    i, j = (k.astype(np.int32) for k in np.triu_indices(n, k=1))
    i.flags.writeable = j.flags.writeable = False
    return i, j


def fmt(x: float | None) -> str:
    """3 significant digits; scientific notation outside [1e-3, 1e4): 0.0123, 4.1e+07."""
    if x is None:
        return "n/a"
    if not math.isfinite(x):
        return "NaN" if math.isnan(x) else ("Inf" if x > 0 else "-Inf")
    if x == 0:
        return "0"
    if 1e-3 <= abs(x) < 1e4:
        text = f"{x:.3g}"
        return f"{x:.0f}" if "e" in text else text  # 1000, not 1e+03
    return f"{x:.1e}"


def pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def nice(x: float) -> float:
    """The nearest (in ratio) of 1, 2, 5 × 10^k: a learning rate a person would type."""
    if not (x > 0 and math.isfinite(x)):
        return x
    exponent = math.floor(math.log10(x))
    candidates = [m * 10.0**e for e in (exponent, exponent + 1) for m in (1, 2, 5)]
    best = min(candidates, key=lambda c: abs(math.log(c / x)))
    return float(f"{best:.12g}")
