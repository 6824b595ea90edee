"""Per-layer plots over the steps: gradient norms (log scale) and update/weight ratios against
the CS231n band."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from netmedic.doctor.finding import Finding
from netmedic.doctor.rules.lr import UPDATE_RATIO_HIGH, UPDATE_RATIO_LOW
from netmedic.report import series as series_module
from netmedic.report.plots import style
from netmedic.report.series import Series

CS231N_RATIO = 1e-3  # CS231n: a healthy ‖Δw‖/‖w‖ is about 1e-3 per step
BAND = (1e-4, 1e-2)  # ...within a factor of 10 either way: the shaded band
SHORT = 60  # a line this short also gets a marker at each point


def _numbered_note(numbered: Sequence[tuple[int, Finding]]) -> str:
    return " (numbered lines: the findings)" if any(f.step is not None for _, f in numbered) \
        else ""


def plot_grad_norms(series: Sequence[Series], numbered: Sequence[tuple[int, Finding]],
                    total: Series | None = None) -> bytes | None:
    """PNG of ‖grad‖ per parameter at the measured steps (biases dashed, thinner) and of the
    global norm ``total`` at every step (grey, behind them)."""
    if not series and total is None:
        return None
    with style.figure(4.8) as fig:
        ax = fig.add_subplot()
        drawn = 0
        if total is not None and style.finite_positive(total.values).any():
            line = total.thinned()
            shown = np.where(style.finite_positive(line.values), line.values, np.nan)
            ax.plot(line.steps, shown, color="#888888", linewidth=0.8, alpha=0.9, zorder=1,
                    label=f"{total.label} (every step)")
            drawn = 1
        drawn += _lines(ax, series, "‖grad‖")
        if drawn:
            ax.set_yscale("log")
        every = [*series, *([total] if total is not None else [])]
        _finish(ax, every, numbered, drawn, "a gradient", "optimizer step",
                "gradient L2 norm ‖∂loss/∂w‖ (log scale)", "Gradient norm per parameter",
                "no finite positive gradient norm to draw")
        style.legend_outside(ax, ncols=1 if len(series) <= 14 else 2)
        return style.png(fig)


def plot_update_ratios(series: Sequence[Series],
                       numbered: Sequence[tuple[int, Finding]]) -> bytes | None:
    """PNG of ‖Δw‖/‖w‖ per weight at the measured steps, against the healthy band."""
    if not series:
        return None
    with style.figure(4.8) as fig:
        ax = fig.add_subplot()
        ax.axhspan(*BAND, color="#009E73", alpha=0.12, zorder=0,
                   label=f"healthy: {BAND[0]:g} – {BAND[1]:g}")
        ax.axhline(CS231N_RATIO, color="#009E73", linewidth=1.4, zorder=1,
                   label=f"CS231n target ≈ {CS231N_RATIO:g}")
        for level, name in ((UPDATE_RATIO_HIGH, "lr_too_high"), (UPDATE_RATIO_LOW,
                                                                 "lr_too_low")):
            ax.axhline(level, color="#555555", linestyle=":", linewidth=1.0, zorder=1,
                       label=f"doctor's {name} threshold {level:g}")
        drawn = _lines(ax, series, "‖Δw‖/‖w‖", marker=".")
        ax.set_yscale("log")
        _finish(ax, series, numbered, drawn, "an update or weight",
                "optimizer step (measured every stride-th step)",
                "update / weight ratio ‖Δw‖/‖w‖ per step (log scale)",
                "Update/weight ratio per weight", "no finite update/weight ratio to draw")
        style.legend_outside(ax)
        return style.png(fig)


def _finish(ax, series: Sequence[Series], numbered: Sequence[tuple[int, Finding]], drawn: int,
            what: str, xlabel: str, ylabel: str, title: str, empty: str) -> None:
    """The common frame of a per-layer plot: non-finite steps, findings, labels, an empty
    plot's note."""
    style.mark_nonfinite(ax, np.unique(np.concatenate([s.nonfinite_steps for s in series])),
                         what)
    style.mark_findings(ax, numbered, legend=False)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title + _numbered_note(numbered), loc="left")
    if not drawn:
        style.no_data(ax, empty)


def _lines(ax, series: Sequence[Series], what: str, marker: str | None = None) -> int:
    """Draw the positive finite part of each series; weights solid, biases dashed and thin.
    A long series is drawn per bucket of steps: its geometric mean as the line, its range as a
    light band (weights only). Returns how many series had something to draw."""
    drawn, summarized = 0, 0
    weights = [s for s in series if s.weight]
    for s in series:
        keep = style.finite_positive(s.values)
        zeros = int(np.count_nonzero(s.values == 0))
        label = s.label + (f" ({zeros} steps at 0)" if zeros else "")
        if not keep.any():
            ax.plot([], [], color="#999999", label=f"{label}: no finite value > 0")
            continue
        drawn += 1
        slot = weights.index(s) if s.weight else _layer_slot(s, weights)
        look = dict(color=style.colour(slot), linewidth=1.5 if s.weight else 0.9,
                    linestyle=style.linestyle(slot) if s.weight else (0, (3, 2)),
                    alpha=0.95 if s.weight else 0.8)
        buckets = series_module.bucketed(s)
        if buckets is not None:
            if s.weight:
                ax.fill_between(buckets.steps, buckets.low, buckets.high, color=look["color"],
                                alpha=0.15, linewidth=0)
            ax.plot(buckets.steps, buckets.mean, label=label, **look)
            summarized = max(summarized, round(len(s.steps) / len(buckets.steps)))
            continue
        line = s.thinned()
        shown = np.where(style.finite_positive(line.values), line.values, np.nan)
        ax.plot(line.steps, shown, label=label, markersize=3,
                marker=marker or ("o" if len(line.steps) <= SHORT else None), **look)
    if summarized:
        ax.plot([], [], " ", label=f"lines: geometric mean of every ~{summarized} steps;\n"
                "bands: their min–max (weights)")
    return drawn


def _layer_slot(bias: Series, weights: Sequence[Series]) -> int:
    """The colour slot of the weight of the same layer (``dense1.bias`` → ``dense1.weight``,
    ``b2`` → ``W2``), so a layer's weight and bias share a colour."""
    prefix = bias.label.rsplit(".", 1)[0] if "." in bias.label else bias.label.lstrip("bdB")
    for i, w in enumerate(weights):
        other = w.label.rsplit(".", 1)[0] if "." in w.label else w.label.lstrip("WwdK")
        if other == prefix:
            return i
    return len(weights)
