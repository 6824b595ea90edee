"""The loss curve: per step (from the trace) and per epoch (train mean, validation), with the
doctor's findings and the guard's actions marked where they happened."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.transforms import blended_transform_factory

from netmedic.doctor.finding import Finding
from netmedic.report.plots import style
from netmedic.report.series import Series, epoch_points

LEGEND_FINDINGS = 12  # findings named in the legend; the rest are numbered on the plot only
SHORT = 60  # a per-step line this short also gets a marker at each point


def plot_loss(step_loss: Series | None, metrics: dict[str, Any],
              numbered: Sequence[tuple[int, Finding]],
              guard_actions: Sequence[dict[str, Any]]) -> bytes | None:
    """PNG of the loss curve, or ``None`` when the run has no loss at all."""
    epochs = epoch_points(metrics)
    if step_loss is not None and epochs is not None and not epochs["on_steps"]:
        epochs = None  # per-epoch values without their steps cannot share the step axis
    if step_loss is None and epochs is None:
        return None
    on_steps = step_loss is not None or (epochs is not None and epochs["on_steps"])
    with style.figure(4.8) as fig:
        ax = fig.add_subplot()
        values = []
        if step_loss is not None:
            line = step_loss.thinned()
            shown = np.where(np.isfinite(line.values), line.values, np.nan)
            ax.plot(line.steps, shown, color=style.PALETTE[4], linewidth=0.8, alpha=0.8,
                    marker="o" if len(line.steps) <= SHORT else None, markersize=3,
                    label="training loss, each step (minibatch)")
            style.mark_nonfinite(ax, step_loss.nonfinite_steps, "loss")
            values.append(step_loss.values)
        if epochs is not None:
            _epoch_lines(ax, epochs)
            values += [epochs["train"], epochs["val"]]
        everything = np.concatenate(values) if values else np.zeros(0)
        if style.use_log_scale(everything):
            ax.set_yscale("log")
        if on_steps:
            style.mark_findings(ax, numbered[:LEGEND_FINDINGS], legend=True)
            style.mark_findings(ax, numbered[LEGEND_FINDINGS:], legend=False)
            if len(numbered) > LEGEND_FINDINGS:
                ax.plot([], [], " ", label=f"… {len(numbered) - LEGEND_FINDINGS} more findings: "
                        "see the list above")
            style.mark_guard(ax, guard_actions)
            ax.set_xlabel("optimizer step")
            spe = epochs["steps_per_epoch"] if epochs is not None else None
            if spe:
                top = ax.secondary_xaxis("top", functions=(lambda s: s / spe,
                                                           lambda e: e * spe))
                top.set_xlabel("epoch")
        else:
            ax.set_xlabel("epoch")
        ax.set_ylabel("loss (mean per example" + (", log scale)" if ax.get_yscale() == "log"
                                                   else ")"))
        marked = [what for what, there in (("the doctor's findings", numbered),
                                           ("the guard's actions", guard_actions)) if there]
        ax.set_title("Loss" + (" with " + " and ".join(marked) if marked else ""), loc="left")
        style.legend_outside(ax)
        return style.png(fig)


def _epoch_lines(ax: Any, epochs: dict[str, Any]) -> None:
    for key, label, colour, marker in (("train", "training loss, epoch mean", style.PALETTE[0],
                                        "o"),
                                       ("val", "validation loss, end of epoch",
                                        style.PALETTE[1], "s")):
        x, y = epochs[f"{key}_x"], epochs[key]
        if not len(y):
            continue
        finite = np.isfinite(y)
        ax.plot(x, np.where(finite, y, np.nan), color=colour, marker=marker, markersize=4,
                linewidth=1.8, label=label)
        if not finite.all():
            bad = x[~finite]
            transform = blended_transform_factory(ax.transData, ax.transAxes)
            ax.scatter(bad, np.full(len(bad), 0.92), transform=transform, marker=marker,
                       facecolors="none", edgecolors=colour, s=36, zorder=6, clip_on=False,
                       label=f"{label.split(',')[0]} NaN/Inf ({style.plural(len(bad), 'epoch')})")
