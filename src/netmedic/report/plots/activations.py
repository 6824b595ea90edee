"""Activation histograms: one panel per layer, one outline per chosen step (early: light,
late: dark), the share of exact zeros and of NaN/Inf in the legend."""

from __future__ import annotations

import math

import numpy as np
from matplotlib import colormaps

from netmedic.report.plots import style

COLUMNS = 3
PANEL_HEIGHT = 3.0
STEP_LINES = ("-", "--", "-.", ":")  # with the colour ramp: steps apart without colour too


def plot_activations(hist: dict[str, np.ndarray]) -> bytes | None:
    """PNG of the histograms in ``activations.npz`` (see :class:`HistogramRecorder`)."""
    steps, layers = hist["steps"].tolist(), [str(n) for n in hist["layers"]]
    if not steps or not layers:
        return None
    columns = min(COLUMNS, len(layers))
    rows = math.ceil(len(layers) / columns)
    # cividis: a sequential ramp readable with colour vision deficiencies (Nuñez et al. 2018)
    ramp = colormaps["cividis"]
    colours = [ramp(0.85 - 0.85 * i / max(len(steps) - 1, 1)) for i in range(len(steps))]
    with style.figure(PANEL_HEIGHT * rows + 0.6) as fig:
        axes = fig.subplots(rows, columns, squeeze=False).ravel()
        for j, name in enumerate(layers):
            ax = axes[j]
            kind = str(hist["kinds"][j]) if j < len(hist["kinds"]) else ""
            drawn = 0
            for i, step in enumerate(steps):
                size = int(hist["size"][i, j])
                if size == 0:
                    continue
                counts, edges = hist["counts"][i, j], hist["edges"][i, j]
                label = f"step {step}" + _shares(hist, i, j)
                share = counts / size  # of all values, zeros and NaN/Inf included
                if counts.sum():
                    ax.stairs(share, edges, color=colours[i], linewidth=1.5,
                              linestyle=STEP_LINES[i % len(STEP_LINES)], label=label)
                    drawn += 1
                else:
                    ax.plot([], [], color=colours[i], label=label + ", nothing else")
            ax.set_title(f"{name}" + (f" ({kind})" if kind else ""), loc="left", fontsize=11)
            ax.set_xlabel("activation value")
            ax.set_ylabel("share of the batch's values")
            if not drawn:
                ax.text(0.5, 0.5, "no finite nonzero value", transform=ax.transAxes,
                        ha="center", va="center", color="#555555")
            ax.legend(loc="upper right", fontsize=7.5)
        for ax in axes[len(layers):]:
            ax.set_visible(False)
        fig.suptitle("Activation histograms per layer at chosen steps (exact zeros not drawn: "
                     "their share is in the legend)", fontsize=12, fontweight="bold", x=0.01,
                     ha="left")
        return style.png(fig)


def _shares(hist: dict[str, np.ndarray], i: int, j: int) -> str:
    parts = []
    zeros, bad = float(hist["zero_fraction"][i, j]), float(hist["nonfinite_fraction"][i, j])
    if zeros >= 0.005:
        parts.append(f"{zeros:.0%} zeros")
    if bad > 0:
        parts.append(f"{bad:.0%} NaN/Inf" if bad >= 0.005 else "some NaN/Inf")
    return f" ({', '.join(parts)})" if parts else ""
