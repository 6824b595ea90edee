"""``netmedic doctor TRACE``: diagnose a training run written as a trace by any program.

TRACE is a JSON-lines file of per-tensor statistics (``*.jsonl``, ``*.jsonl.gz``) or a folder of
one ``.npz`` of raw arrays per step (format: README, "Traces"). The findings are those the live
``Doctor`` would have made: the same rules on the same statistics.
"""

from __future__ import annotations

import argparse
import json

from rich.console import Console

from netmedic.doctor import present
from netmedic.doctor.trace import diagnose_trace


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "doctor", help="diagnose a training run written as a trace (any language)",
        description="Diagnose a training run from its trace: a .jsonl file of per-tensor "
                    "statistics or a folder of per-step .npz arrays (see the README).")
    p.add_argument("trace", metavar="TRACE", help="a .jsonl(.gz) file or a folder of .npz files")
    p.add_argument("--strict", action="store_true",
                   help="exit 1 if there is any alarm (a warning or an error)")
    p.add_argument("--num-classes", type=int, default=None,
                   help="number of classes (for the initial-loss and label checks)")
    p.add_argument("--batch-axis", type=int, default=None,
                   help="axis of the arrays that indexes examples (npz traces; default 0)")
    p.add_argument("--stride", type=int, default=None,
                   help="override the stride recorded in the trace")
    p.add_argument("--json", action="store_true", help="print the findings as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    doctor = diagnose_trace(args.trace, num_classes=args.num_classes,
                            batch_axis=args.batch_axis, stride=args.stride)
    findings = doctor.findings
    if args.json:
        print(json.dumps({"verdict": present.verdict(findings),
                          "findings": [f.to_dict() for f in present.ordered(findings)]}, indent=2))
    else:
        steps = len(doctor.history)
        present.render(findings, Console(highlight=False),
                       title=f"netmedic doctor: {args.trace} ({steps} steps)")
    return 1 if args.strict and any(f.is_alarm for f in findings) else 0
