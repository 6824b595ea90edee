"""``netmedic clinic list`` / ``netmedic clinic run NAME [--fix] [--out DIR] [--trace PATH]``.

The seeds' broken trainings, re-created, diagnosed by the doctor (and the gradient checker where
the seed wrote its own backprop) and, with ``--fix``, repaired by applying the findings'
remedies. ``clinic run`` exits 0 when the scenario ran as designed, whatever it diagnosed; 1 when
``--fix`` was asked and the fixed run missed its target accuracy; 2 for an unknown scenario.
"""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "clinic", help="the seed users' broken trainings: re-created, diagnosed, fixed",
        description="Re-create a real user's broken training, show what the doctor finds, "
                    "and (--fix) apply the remedies and train the fixed network.")
    sub = p.add_subparsers(dest="clinic_command", metavar="SUBCOMMAND", required=True)
    sub.add_parser("list", help="the scenarios: name, the user's question, what is re-created")
    run_p = sub.add_parser("run", help="run one scenario: the broken training and its diagnosis",
                         description="Run the scenario's broken training under the doctor and "
                                     "print the findings (and the gradient check of hand-written "
                                     "backprop). Exit 0 when it ran as designed.")
    run_p.add_argument("name", metavar="NAME",
                     help="a scenario name from `netmedic clinic list` (or its seed: 000)")
    run_p.add_argument("--fix", action="store_true",
                     help="apply the findings' remedies and train the fixed network on "
                          "mnist-mini; report its test accuracy")
    run_p.add_argument("--out", metavar="DIR", default=None,
                     help="write the broken run (metrics.json, trace.jsonl, report.html), "
                          "clinic.json and, with --fix, the fixed run in DIR/fixed")
    run_p.add_argument("--trace", metavar="PATH", default=None,
                     help="write the doctor's trace of the broken run (.jsonl: statistics; a "
                          "folder: .npz arrays); `netmedic doctor PATH` replays it")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from netmedic import clinic

    console = Console(highlight=False)
    if args.clinic_command == "list":
        show_list(clinic.scenarios(), console)
        return 0
    scenario = clinic.get(args.name)  # BadInputError (exit 2) names the scenarios
    result = clinic.run_scenario(scenario, fix_it=args.fix, out=args.out, trace=args.trace,
                                 console=console, progress=console.is_terminal)
    if args.out is not None:
        console.print(f"wrote {args.out}/clinic.json", highlight=False)
    return 1 if args.fix and not result.reached_target else 0


def show_list(scenarios: list, console: Console) -> None:
    """One row per scenario: its name, the seed's question, what is re-created."""
    table = Table(title="netmedic clinic: the seeds' broken trainings", show_lines=True)
    table.add_column("scenario", no_wrap=True)
    table.add_column("the user asked")
    table.add_column("re-created")
    for s in scenarios:
        table.add_row(s.name, s.question, s.recreates)
    console.print(table)
    console.print("run one: netmedic clinic run NAME [--fix] [--out DIR] [--trace PATH]")
