"""The report's PNG plots (matplotlib on an Agg canvas): each function returns PNG bytes, or
``None`` when the run holds nothing to draw."""

from netmedic.report.plots.activations import plot_activations
from netmedic.report.plots.layers import plot_grad_norms, plot_update_ratios
from netmedic.report.plots.loss import plot_loss
from netmedic.report.plots.samples import plot_samples

__all__ = ["plot_activations", "plot_grad_norms", "plot_loss", "plot_samples",
           "plot_update_ratios"]
