"""Reports of training runs: PNG plots and one self-contained HTML page per run.

::

    from netmedic.report import write_report
    write_report("runs/latest")        # -> runs/latest/report.html (+ loss.png, ...)

A run directory holds ``metrics.json`` (required) and, optionally, ``trace.jsonl``,
``activations.npz`` and ``samples.npz`` (:mod:`netmedic.report.rundata` describes them); the
writers a training loop of your own can use are :func:`write_metrics`,
:class:`HistogramRecorder`, :func:`save_samples` and ``Doctor(trace="RUN/trace.jsonl")``.
Importing this package does not import matplotlib; building a report does.
"""

from netmedic.report.build import REPORT, Plot, Report, build_report, write_report
from netmedic.report.record import HistogramRecorder, commit_trace, save_samples, write_metrics
from netmedic.report.rundata import RunData, load_run

__all__ = ["REPORT", "HistogramRecorder", "Plot", "Report", "RunData", "build_report",
           "commit_trace", "load_run", "save_samples", "write_metrics", "write_report"]
