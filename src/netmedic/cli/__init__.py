"""``netmedic`` command line: thin argument parsing over the library.

Each command is a module of this package with ``add_parser(subparsers)`` and ``run(args) -> int``.
Errors netmedic raises on purpose (:class:`netmedic.errors.NetmedicError`) are printed as one
paragraph with their exit code, never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from rich.console import Console
from rich.text import Text

from netmedic.errors import NetmedicError

#: command name -> module under netmedic.cli
COMMANDS = {
    "train": "train",
    "lr-find": "lr_find",
    "data": "data",
    "gradcheck": "gradcheck",
    "doctor": "doctor",
    "clinic": "clinic",
    "report": "report",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="netmedic",
        description="Find out why your network's training blows up, and fix it.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in COMMANDS.values():
        importlib.import_module(f"netmedic.cli.{module_name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # bad flags: argparse prints usage and exits 2
    try:
        return int(args.run(args))
    except NetmedicError as err:
        message = Text(f"netmedic {args.command}: ", style="bold red") + Text(str(err))
        Console(stderr=True, highlight=False).print(message, soft_wrap=True)
        return err.exit_code
    except KeyboardInterrupt:
        Console(stderr=True).print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
