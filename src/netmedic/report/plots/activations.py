"""Activation histograms: a row per layer, a column per chosen step, each panel on its own
value range (a blow-up spans dozens of decades: one shared axis would flatten the early steps
into a spike), with the share of exact zeros and of NaN/Inf written in the panel."""

from __future__ import annotations

import numpy as np
from matplotlib.ticker import MaxNLocator

from netmedic.report.plots import style

MAX_ROWS = 10  # layers drawn; a deeper network's others are named in the title
ROW_HEIGHT = 1.9
ZERO_NOTE = 0.005  # a share of exact zeros below this is not worth a word


def plot_activations(hist: dict[str, np.ndarray]) -> bytes | None:
    """PNG of the histograms in ``activations.npz`` (see :class:`HistogramRecorder`)."""
    steps, layers = hist["steps"].tolist(), [str(n) for n in hist["layers"]]
    if not steps or not layers:
        return None
    shown = layers[:MAX_ROWS]
    with style.figure(ROW_HEIGHT * len(shown) + 0.7) as fig:
        axes = fig.subplots(len(shown), len(steps), squeeze=False)
        for j, name in enumerate(shown):
            kind = str(hist["kinds"][j]) if j < len(hist["kinds"]) else ""
            colour = style.colour(j)
            for i, step in enumerate(steps):
                ax = axes[j, i]
                _panel(ax, hist, i, j, colour)
                if j == 0:
                    ax.set_title(f"step {step}", fontsize=10.5)
                if i == 0:
                    ax.set_ylabel(f"{name}" + (f"\n({kind})" if kind else "") + "\nshare",
                                  fontsize=9.5)
                if j == len(shown) - 1:
                    ax.set_xlabel("activation value", fontsize=9)
        more = f"; {len(layers) - len(shown)} more layers not shown" if len(layers) > \
            len(shown) else ""
        fig.suptitle(f"Activation histograms: a row per layer, a column per chosen step{more}",
                     fontsize=12, fontweight="bold", x=0.01, ha="left")
        return style.png(fig)


def _panel(ax, hist: dict[str, np.ndarray], i: int, j: int, colour: str) -> None:
    size = int(hist["size"][i, j])
    ax.tick_params(labelsize=7.5)
    ax.xaxis.set_major_locator(MaxNLocator(3))
    ax.yaxis.set_major_locator(MaxNLocator(3))
    ax.xaxis.get_offset_text().set_fontsize(7.5)
    if size == 0:
        style.no_data(ax, "not measured")
        return
    counts, edges = hist["counts"][i, j], hist["edges"][i, j]
    if counts.sum():
        # the share of all the batch's values in each bin (zeros and NaN/Inf included)
        ax.stairs(counts / size, edges, fill=True, color=colour, alpha=0.75, linewidth=0)
        ax.stairs(counts / size, edges, color=colour, linewidth=1.0)
    notes = []
    zeros, bad = float(hist["zero_fraction"][i, j]), float(hist["nonfinite_fraction"][i, j])
    if zeros >= ZERO_NOTE:
        notes.append(f"{zeros:.0%} zeros")
    if bad > 0:
        notes.append(f"{bad:.0%} NaN/Inf" if bad >= ZERO_NOTE else "some NaN/Inf")
    if not counts.sum():
        notes.append("no finite nonzero value")
    if notes:
        ax.text(0.97, 0.95, "\n".join(notes), transform=ax.transAxes, ha="right", va="top",
                fontsize=8, color=style.NONFINITE_COLOUR if bad > 0 else "#222222",
                bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "alpha": 0.85,
                      "edgecolor": "none"})
