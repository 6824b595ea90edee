"""``netmedic train``: train a model with a progress bar, the doctor watching, the guard on."""

from __future__ import annotations

import argparse
import time

from rich.console import Console

from netmedic.doctor import present
from netmedic.nn.optim import OPTIMIZER_NAMES
from netmedic.nn.schedules import SCHEDULE_NAMES
from netmedic.train import TrainConfig, run_training
from netmedic.train.config import DTYPES, NORMALIZE_MODES

DEFAULTS = TrainConfig()


def add_train_options(p: argparse.ArgumentParser) -> None:
    """The training flags (shared with ``lr-find``). Defaults are ``None`` so that with
    ``--resume`` only the flags given on the command line override the saved run's."""
    d = DEFAULTS
    data = p.add_argument_group("data")
    data.add_argument("--data", help=f"dataset name (mnist-mini, mnist, fashion-mnist) or a path "
                      f"(IDX folder, .npz, .h5, .csv); default {d.data}")
    data.add_argument("--data-dir", help="folder holding the IDX files of a named dataset")
    data.add_argument("--normalize", choices=NORMALIZE_MODES,
                      help=f"input scaling from the training split; default {d.normalize}")
    data.add_argument("--augment", type=int, metavar="PIXELS",
                      help=f"random shifts of training images up to PIXELS; 0 = off; "
                      f"default {d.augment}")
    data.add_argument("--val-fraction", type=float, metavar="F",
                      help=f"training data held out for validation; default {d.val_fraction}")
    model = p.add_argument_group("model")
    model.add_argument("--model", metavar="SPEC",
                       help=f"mlp:784-256-128-10:relu, or a .json spec; default {d.model}")
    model.add_argument("--init", help="he_normal, he_uniform, glorot_normal, glorot_uniform, "
                       "lecun_normal, uniform(a,b), normal(std), zeros; default by activation")
    model.add_argument("--loss", choices=("cross_entropy", "mse", "bce"),
                       help="default: the model spec's, cross_entropy")
    model.add_argument("--dtype", choices=DTYPES, help=f"default {d.dtype}")
    opt = p.add_argument_group("optimization")
    opt.add_argument("--epochs", type=int, help=f"default {d.epochs}")
    opt.add_argument("--batch-size", type=int, help=f"default {d.batch_size}")
    opt.add_argument("--lr", type=float, help=f"learning rate; default {d.lr}")
    opt.add_argument("--optimizer", choices=OPTIMIZER_NAMES, help=f"default {d.optimizer}")
    opt.add_argument("--schedule", choices=SCHEDULE_NAMES, help=f"default {d.schedule}")
    opt.add_argument("--warmup-epochs", type=float, help="linear LR warm-up; default 0")
    opt.add_argument("--clip-norm", type=float, metavar="X", help="clip the global grad norm")
    opt.add_argument("--clip-value", type=float, metavar="X", help="clip each gradient element")
    opt.add_argument("--weight-decay", type=float, metavar="X",
                     help="L2 in the gradient (decoupled for adamw); default 0")
    opt.add_argument("--l1", type=float, metavar="X", help="L1 penalty on the weights")
    opt.add_argument("--l2", type=float, metavar="X", help="L2 penalty (X/2·Σw²) on the weights")
    opt.add_argument("--patience", type=int,
                     help=f"early stopping after N epochs without a better validation loss; "
                     f"0 = never; default {d.patience}")
    opt.add_argument("--seed", type=int, help=f"default {d.seed}")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model, with the doctor watching",
                       description="Train a model with a progress bar; print the doctor's "
                       "findings and the test accuracy; write metrics.json and checkpoint.npz.")
    add_train_options(p)
    run_group = p.add_argument_group("run")
    run_group.add_argument("--guard", action=argparse.BooleanOptionalAction,
                           help="repair a diverging run (skip, roll back, lower LR, clip); "
                           "default on")
    run_group.add_argument("--strict", action="store_true", default=None,
                           help="exit 1 on any warning or error finding")
    run_group.add_argument("--resume", metavar="DIR", help="continue the run saved in DIR")
    run_group.add_argument("--out", metavar="DIR", help=f"output folder; default {d_out()}")
    run_group.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def d_out() -> str:
    return DEFAULTS.out


def config_overrides(args: argparse.Namespace) -> dict:
    """The training options given on the command line (``None`` = not given)."""
    names = [f for f in TrainConfig.__dataclass_fields__ if hasattr(args, f)]
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def run(args: argparse.Namespace) -> int:
    console = Console(highlight=False)
    overrides = config_overrides(args)
    started = time.perf_counter()
    if args.resume:
        result = run_training(None, resume=args.resume, overrides=overrides, console=console,
                              progress=not args.no_progress)
    else:
        result = run_training(TrainConfig(**overrides), console=console,
                              progress=not args.no_progress)
    summarize(console, result, time.perf_counter() - started)
    return result.exit_code


def summarize(console: Console, result, seconds: float) -> None:
    m, trainer = result.metrics, result.trainer
    if result.findings:
        present.render(result.findings, console, title="the doctor's findings")
    if trainer.stop_reason:
        console.print(f"[bold red]training stopped:[/] {trainer.stop_reason}")
    elif trainer.early_stopped:
        console.print(f"early stopping after epoch {m['epochs']}: no better validation loss in "
                      f"{trainer.config.patience} epochs; reporting the best epoch's parameters")
    test = "n/a" if m["test_accuracy"] is None else f"{m['test_accuracy']:.2%}"
    val = "n/a" if m["val_accuracy"] is None else f"{m['val_accuracy']:.2%}"
    console.print(f"[bold]test accuracy {test}[/]  (validation {val})  "
                  f"{m['samples_per_s']:,.0f} samples/s  {seconds:.1f} s")
    written = ["metrics.json", "checkpoint.npz"] + (["report.html"] if result.report else [])
    console.print(f"wrote {', '.join(str(result.out_dir / name) for name in written)}",
                  soft_wrap=True)
    if not result.findings:
        console.print(f"doctor: {result.verdict}")
