"""Build a run's report: the plots (PNG bytes) and the self-contained HTML page, then write them.

::

    from netmedic.report import write_report
    path = write_report("runs/latest")   # runs/latest/report.html and its PNGs
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from netmedic import atomic
from netmedic.doctor import present
from netmedic.doctor.finding import Finding
from netmedic.errors import BadInputError
from netmedic.report import series
from netmedic.report.rundata import RunData, load_run

REPORT = "report.html"


@dataclass
class Plot:
    """One figure of the report: its file name, title, how to read it, and its PNG (``None``
    when the run does not hold what it needs: ``missing`` says what)."""

    name: str
    title: str
    caption: str
    png: bytes | None
    missing: str = ""


@dataclass
class Report:
    run: RunData
    findings: list[tuple[int, Finding]]  # numbered as on the plots: errors first, then by step
    plots: list[Plot]
    html: str

    @property
    def verdict(self) -> str:
        """The doctor's one line: ``"no findings"``, ``"1 error: nonfinite at dense3 (step 7)"``."""
        return present.verdict(f for _, f in self.findings)

    @property
    def images(self) -> list[Plot]:
        return [p for p in self.plots if p.png is not None]


CAPTIONS = {
    "loss": "Light line: the loss of each minibatch; dark lines: the epoch means and the "
            "validation loss. Numbered vertical lines: the doctor's findings, numbered as in the "
            "list above (solid: error, dashed: warning, dotted: info). Markers along the bottom: "
            "what the guard did. Hatched bands and × along the top: steps where the loss was NaN "
            "or infinite.",
    "grad_norms": "‖∂loss/∂w‖ of every parameter at the doctor's full steps (every 50th step "
                  "of netmedic train, every step of the first 50, and wherever the loss or the "
                  "norm jumped; log scale; biases dashed; a long run is drawn as the geometric "
                  "mean of every few steps, its range as a band), and in grey the global norm "
                  "√Σ‖g‖² at every step. "
                  "Healthy: lines roughly level or slowly falling, within a few decades of each "
                  "other. Exploding: lines climbing by decades. Vanishing: the first layers "
                  "decades below the last.",
    "update_ratio": "How far each step moves every weight, relative to its size, measured every "
                    "stride-th step. CS231n's rule of thumb is about 1e-3 (green line); well "
                    "above the band the learning rate is too high, well below it too low.",
    "activations": "How each layer's outputs are spread at a few chosen steps: the start, the "
                   "end of the first epoch, the middle, the end, and steps where the doctor "
                   "raised an alarm. Each panel has its own value range (read the axis: a "
                   "blow-up shows as a range growing by decades); exact zeros are counted in "
                   "the share written in the panel, not drawn. A ReLU layer with nearly all "
                   "values at 0 is dying; a "
                   "sigmoid or tanh layer piled at its ends is saturated; a spike at 0 that "
                   "narrows from step to step is a signal that vanishes.",
    "samples": "Test images as the trained model sees them, with its prediction above each; "
               "the misclassified ones are framed and marked ✗ with the true class.",
}


def build_report(run: RunData | str | Path) -> Report:
    """The plots and the HTML page of a run (a :class:`RunData` or its directory)."""
    from netmedic.report import plots  # matplotlib is imported only when a report is made
    from netmedic.report.html import render

    if not isinstance(run, RunData):
        run = load_run(run)
    numbered = list(enumerate(present.ordered(run.findings), start=1))
    records = run.records or []
    trace_note = run.notes.get("trace", "")
    ratios = series.update_ratios(records)
    figures = [
        Plot("loss.png", "Loss", CAPTIONS["loss"],
             plots.plot_loss(series.loss_per_step(records), run.metrics, numbered,
                             run.guard_actions),
             "metrics.json has no train_loss/val_loss and there is no trace"),
        Plot("grad_norms.png", "Gradient norm per layer", CAPTIONS["grad_norms"],
             plots.plot_grad_norms(series.grad_norms(records), numbered,
                                   series.global_grad_norm(records)),
             trace_note or "the trace has no gradient norms"),
        Plot("update_ratio.png", "Update/weight ratio per layer", CAPTIONS["update_ratio"],
             plots.plot_update_ratios(ratios, numbered),
             trace_note or "the trace has no update/weight measurements (the doctor makes "
             "them every stride-th step when it is given the parameters)"),
        Plot("activations.png", "Activation histograms", CAPTIONS["activations"],
             None if run.histograms is None else plots.plot_activations(run.histograms),
             run.notes.get("activations", "activations.npz holds no histogram")),
        Plot("samples.png", "Test images and predictions", CAPTIONS["samples"],
             None if run.samples is None else plots.plot_samples(run.samples),
             run.notes.get("samples", "samples.npz holds no image")),
    ]
    return Report(run, numbered, figures, render(run, numbered, figures))


def write_report(run_dir: str | Path, *, out_dir: str | Path | None = None) -> Path:
    """Build the report of the run in ``run_dir`` and write ``report.html`` and its PNGs into
    ``out_dir`` (default: ``run_dir``), each atomically. Returns the page's path.

    Raises :class:`BadInputError` when ``run_dir`` holds no readable ``metrics.json`` or the
    report cannot be written there.
    """
    return save_report(build_report(run_dir), out_dir if out_dir is not None else run_dir)


def save_report(report: Report, out_dir: str | Path) -> Path:
    """Write ``report.html`` and the PNGs of ``report`` into ``out_dir``, each atomically."""
    target = Path(out_dir)
    page = target / REPORT
    try:
        for plot in report.images:
            atomic.write_bytes(target / plot.name, plot.png)
        atomic.write_text(page, report.html)
    except OSError as err:
        raise BadInputError(f"cannot write the report into {target}: {err.strerror or err}; "
                            "pass a folder you can write to") from err
    return page
