"""The look every plot shares: Agg canvas, sizes, a colour-blind-safe palette, the markers for
findings, guard actions and non-finite values.

Figures are made with :class:`matplotlib.figure.Figure` on an explicit Agg canvas, never through
``pyplot``: no display is needed and the caller's own matplotlib backend is left alone.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.transforms import blended_transform_factory

from netmedic.doctor.finding import Finding

#: Okabe & Ito (2008), "Color Universal Design": distinguishable with every common colour
#: vision deficiency. Blue, orange, bluish green, reddish purple, sky blue, vermillion, black.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000")
LINESTYLES = ("-", "--", "-.", ":")  # cycled after the palette, so 28 lines stay apart
SEVERITY_COLOURS = {"error": "#D55E00", "warning": "#E69F00", "info": "#0072B2"}
SEVERITY_LINES = {"error": "-", "warning": "--", "info": ":"}  # not by colour alone
GUARD_MARKERS = {"skip_step": ("x", "#CC79A7"), "rollback": ("<", "#009E73"),
                 "set_lr": ("v", "#0072B2"), "clip_grad_norm": ("s", "#E69F00"),
                 "stop": ("X", "#D55E00")}
NONFINITE_COLOUR = "#D55E00"
DPI = 110  # 10-inch-wide figures: 1100 pixels, sharp on a laptop screen at 100% width
WIDTH = 10.0
RC = {"font.size": 10, "axes.titlesize": 12, "axes.titleweight": "bold", "axes.labelsize": 10,
      "legend.fontsize": 8.5, "xtick.labelsize": 9, "ytick.labelsize": 9,
      "axes.grid": True, "grid.alpha": 0.3, "grid.linewidth": 0.6,
      "axes.spines.top": False, "axes.spines.right": False, "legend.framealpha": 0.9}


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def linestyle(i: int) -> str:
    return LINESTYLES[(i // len(PALETTE)) % len(LINESTYLES)]


@contextmanager
def figure(height: float, width: float = WIDTH, layout: str | None = "constrained",
           **kwargs: Any) -> Iterator[Figure]:
    """A figure (constrained layout unless told) on its own Agg canvas, drawn under the
    report's style."""
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(width, height), dpi=DPI, layout=layout, **kwargs)
        FigureCanvasAgg(fig)
        yield fig


def png(fig: Figure) -> bytes:
    """The figure as PNG bytes (no timestamp in the metadata: same run, same bytes)."""
    buf = io.BytesIO()
    with matplotlib.rc_context(RC):
        fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None},
                    facecolor="white")
    return buf.getvalue()


def finite_positive(values: np.ndarray) -> np.ndarray:
    """A boolean mask of the values a log axis can show."""
    with np.errstate(invalid="ignore"):
        return np.isfinite(values) & (values > 0)


def use_log_scale(values: np.ndarray, decades: float = 1.5) -> bool:
    """Log y when the positive finite values span more than ``decades`` and none is ≤ 0."""
    finite = values[np.isfinite(values)]
    if not finite.size or finite.min() <= 0:
        return False
    return bool(np.log10(finite.max() / finite.min()) > decades)


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def mark_nonfinite(ax: Any, steps: np.ndarray, what: str, colour: str = NONFINITE_COLOUR,
                   y: float = 0.97) -> None:
    """Where ``what`` was NaN/Inf: a hatched band over each run of consecutive steps, and a ×
    above each step along the top (so that one step among thousands still shows)."""
    steps = np.unique(np.asarray(steps, dtype=float))
    if not len(steps):
        return
    breaks = np.flatnonzero(np.diff(steps) > 1)
    starts = np.concatenate([[steps[0]], steps[breaks + 1]])
    ends = np.concatenate([steps[breaks], [steps[-1]]])
    label = f"{what} NaN/Inf ({plural(len(steps), 'step')})"
    for i, (start, end) in enumerate(zip(starts, ends, strict=True)):
        ax.axvspan(start - 0.5, end + 0.5, facecolor=colour, alpha=0.12, hatch="///",
                   edgecolor=colour, linewidth=0, zorder=0, label=label if i == 0 else None)
    transform = blended_transform_factory(ax.transData, ax.transAxes)
    ax.scatter(steps, np.full(len(steps), y), transform=transform, marker="x", s=28,
               color=colour, linewidths=1.5, zorder=6, clip_on=False)


def mark_findings(ax: Any, numbered: Sequence[tuple[int, Finding]], legend: bool) -> None:
    """A vertical line at each finding's step, tagged with its number at the top; with
    ``legend``, one legend entry per finding: ``[2] step 7: nonfinite at dense3``."""
    transform = blended_transform_factory(ax.transData, ax.transAxes)
    tagged: dict[int, list[str]] = {}
    for number, finding in numbered:
        if finding.step is None:
            continue
        sev = finding.severity
        ax.axvline(finding.step, color=SEVERITY_COLOURS[sev], linestyle=SEVERITY_LINES[sev],
                   linewidth=1.2, alpha=0.9, zorder=3,
                   label=(f"[{number}] step {finding.step}: {finding.kind} at {finding.where}"
                          if legend else None))
        tagged.setdefault(finding.step, []).append(str(number))
    for step, numbers in tagged.items():
        ax.text(step, 0.90, ",".join(numbers), transform=transform, ha="center", va="top",
                fontsize=8, fontweight="bold", zorder=6,
                bbox={"boxstyle": "round,pad=0.2", "facecolor": "white",
                      "edgecolor": "#555555", "linewidth": 0.6})


def mark_guard(ax: Any, actions: Sequence[dict[str, Any]]) -> None:
    """A marker per guard action in a band at the bottom of the axes, one legend entry per
    kind of action with its count."""
    transform = blended_transform_factory(ax.transData, ax.transAxes)
    by_action: dict[str, list[float]] = {}
    for action in actions:
        step = action.get("step")
        if isinstance(step, int | float):
            by_action.setdefault(str(action.get("action")), []).append(float(step))
    for i, (name, steps) in enumerate(by_action.items()):
        marker, colour_ = GUARD_MARKERS.get(name, ("o", "#000000"))
        ax.scatter(steps, np.full(len(steps), 0.04 + 0.05 * (i % 3)), transform=transform,
                   marker=marker, s=42, color=colour_, zorder=6, clip_on=False,
                   label=f"guard: {name} ({len(steps)}×)")


def legend_outside(ax: Any, **kwargs: Any) -> None:
    """The legend to the right of the axes (constrained layout makes room for it)."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  borderaxespad=0.0, **kwargs)


def no_data(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="#555555")
    ax.set_xticks([])
    ax.set_yticks([])
