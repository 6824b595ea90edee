"""``netmedic data PATH|NAME``: what a dataset holds and what looks wrong with it."""

from __future__ import annotations

import argparse

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from netmedic.data import Dataset, load
from netmedic.doctor.check_data import check_data
from netmedic.doctor.finding import Finding

_SEVERITY_STYLE = {"info": "cyan", "warning": "yellow", "error": "bold red"}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "data",
        help="show a dataset's shapes, ranges, class counts and data problems",
        description="Load a dataset by name (mnist-mini, mnist, fashion-mnist) or from a file "
        "(.npz, .h5, .csv, IDX or a folder of IDX files) and report shapes, dtypes, value "
        "ranges, class counts and check_data findings.",
    )
    p.add_argument("source", metavar="PATH|NAME", help="dataset name or path")
    p.add_argument("--data-dir", metavar="DIR", default=None,
                   help="folder holding the IDX files of a named dataset")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the 80/20 split for files without a test set (default 0)")
    p.add_argument("--no-download", dest="download", action="store_false",
                   help="never download; fail if the files are not found locally")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    console = Console(highlight=False)
    dataset = load(args.source, data_dir=args.data_dir, seed=args.seed,
                   download=args.download, progress=True)
    print_dataset(dataset, console)
    return 0


def print_dataset(dataset: Dataset, console: Console) -> None:
    """Print the summary, class counts, notes and findings of ``dataset``."""
    console.print(f"[bold]{escape(dataset.name)}[/]  source: {escape(dataset.source)}",
                  soft_wrap=True)
    console.print(_splits_table(dataset))
    console.print(_class_table(dataset))
    if dataset.notes:
        console.print("[bold]notes[/]")
        for note in dataset.notes:
            console.print(f"  • {escape(note)}", soft_wrap=True)
    train = check_data(dataset.x_train, dataset.y_train, dataset.num_classes)
    seen = {f.kind for f in train}
    test = [f for f in check_data(dataset.x_test, dataset.y_test, dataset.num_classes)
            if f.kind not in seen]
    if not train and not test:
        console.print("[bold]findings[/]: none, the data looks healthy")
        return
    console.print(f"[bold]findings[/] ({len(train) + len(test)})")
    for split, findings in (("train", train), ("test", test)):
        for finding in findings:
            _print_finding(console, split, finding)
    if "unscaled_input" in seen:
        console.print("  [dim](netmedic train scales inputs by default: --normalize unit)[/]",
                      soft_wrap=True)


def _splits_table(dataset: Dataset) -> Table:
    table = Table(title=None, show_edge=False)
    table.add_column("")
    table.add_column("train")
    table.add_column("test")
    xs = (dataset.x_train, dataset.x_test)
    table.add_row("examples", *(f"{len(x):,}" for x in xs))
    table.add_row("x shape", *(str(x.shape) for x in xs))
    table.add_row("x dtype", *(str(x.dtype) for x in xs))
    table.add_row("x range", *(f"{_fmt(x.min())} … {_fmt(x.max())}" for x in xs))
    with np.errstate(all="ignore"):
        table.add_row("x mean", *(f"{float(np.mean(x, dtype=np.float64)):.4g}" for x in xs))
    table.add_row("y", *(f"{y.shape} {y.dtype}" for y in (dataset.y_train, dataset.y_test)))
    return table


def _class_table(dataset: Dataset) -> Table:
    table = Table(title=f"{dataset.num_classes} classes", show_edge=False)
    table.add_column("class", justify="right")
    if dataset.class_names:
        table.add_column("name")
    table.add_column("train", justify="right")
    table.add_column("test", justify="right")
    train, test = dataset.class_counts("train"), dataset.class_counts("test")
    for c in range(dataset.num_classes):
        name = [dataset.class_names[c]] if dataset.class_names else []
        table.add_row(str(c), *name, f"{train[c]:,}", f"{test[c]:,}")
    return table


def _print_finding(console: Console, split: str, finding: Finding) -> None:
    style = _SEVERITY_STYLE[finding.severity]
    console.print(
        f"  [{style}]{finding.severity}[/] {finding.kind} ({split} {finding.where}): "
        f"{escape(finding.evidence)}", soft_wrap=True)
    console.print(f"      fix: {escape(finding.fix)}", soft_wrap=True)


def _fmt(value: np.generic) -> str:
    return f"{float(value):.4g}"
