"""``netmedic lr-find``: the LR range test with the training options, a suggestion and a plot."""

from __future__ import annotations

import argparse

from rich.console import Console

from netmedic.cli.train import add_train_options, config_overrides
from netmedic.data import load
from netmedic.train import TrainConfig
from netmedic.train.lr_find import lr_find, save


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lr-find", help="LR range test: loss against a rising LR, a suggested LR",
                       description="Train a fresh model for a few steps with a learning rate "
                       "rising from --start to --end; measure the validation loss after each "
                       "step; suggest a tenth of the LR with the lowest loss; plot it.")
    add_train_options(p)
    p.add_argument("--start", type=float, default=1e-6, help="first LR (1e-6)")
    p.add_argument("--end", type=float, default=10.0, help="last LR (10)")
    p.add_argument("--steps", type=int, default=100, help="number of steps (100)")
    p.add_argument("--out", metavar="DIR", default="runs/lr-find",
                   help="where lr_find.png and lr_find.json go (runs/lr-find)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    console = Console(highlight=False)
    config = TrainConfig(**{**config_overrides(args), "out": args.out})
    dataset = load(config.data, data_dir=config.data_dir, seed=config.seed)
    console.print(f"LR range test of {config.model} ({config.optimizer}) on {dataset.name}: "
                  f"lr {args.start:g} → {args.end:g} over {args.steps} steps", soft_wrap=True)
    result = lr_find(config, dataset, start=args.start, end=args.end, steps=args.steps)
    json_path, png_path = save(result, config.out)
    if result.suggested is None:
        console.print("[bold red]no finite validation loss at any LR[/]: check the data and "
                      "the model (`netmedic data`, `netmedic train --lr 1e-4`)")
        return 1
    stop = "stopped when the loss blew up" if result.stopped_early else "reached the last LR"
    console.print(f"lowest validation loss {min(result.losses):.4g} at lr {result.best_lr:.3g} "
                  f"({stop} after {len(result.lrs)} steps)")
    console.print(f"[bold]suggested: --lr {result.suggested:.2g}[/]  (a tenth of that LR)")
    console.print(f"wrote {png_path} and {json_path}")
    return 0
