"""``netmedic report DIR``: the run's ``report.html`` (self-contained) and its PNG plots."""

from __future__ import annotations

import argparse
import time

from rich.console import Console
from rich.markup import escape

from netmedic.report import build_report
from netmedic.report.build import save_report


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write DIR/report.html and PNG plots of a training run",
                       description="Build the report of a run directory (the --out folder of "
                       "`netmedic train`): the verdict, the findings, the guard's actions, the "
                       "key numbers and the plots, in one self-contained HTML page (images "
                       "inline, no network), plus each plot as a PNG. Needs DIR/metrics.json; "
                       "plots whose data (trace.jsonl, activations.npz, samples.npz) is "
                       "missing are left out with a note.")
    p.add_argument("dir", metavar="DIR", help="run directory holding metrics.json")
    p.add_argument("--out", metavar="DIR", help="write the report there instead of into DIR")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    console = Console(highlight=False)
    started = time.perf_counter()
    report = build_report(args.dir)
    page = save_report(report, args.out if args.out is not None else args.dir)
    seconds = time.perf_counter() - started
    console.print(f"verdict: {escape(report.verdict)}", soft_wrap=True)
    for plot in report.plots:
        if plot.png is None:
            console.print(f"[dim]not drawn: {plot.title} — {escape(plot.missing)}[/]",
                          soft_wrap=True)
    drawn = len(report.images)
    console.print(f"wrote {escape(str(page))} ({page.stat().st_size / 1024:,.0f} KB, "
                  f"{drawn} plot{'' if drawn == 1 else 's'}, {seconds:.1f} s)", soft_wrap=True)
    return 0
