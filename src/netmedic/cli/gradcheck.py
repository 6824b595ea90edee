"""``netmedic gradcheck FILE.py``: run the user's file and check the gradients it defines.

FILE defines ``params0`` (a dict of arrays), ``loss(params) -> float`` and
``grads(params) -> dict``, and optionally ``batch_size``. Exit codes: 0 every gradient right,
1 a mismatch, 2 missing file or names, 3 the user's code raised (shown as theirs).
"""

from __future__ import annotations

import argparse
import contextlib
import runpy
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from netmedic.doctor.gradcheck import check_gradients
from netmedic.doctor.gradcheck._usercode import user_traceback
from netmedic.errors import BadInputError, NetmedicError, UserCodeError

#: The names a gradcheck file must define.
REQUIRED = ("params0", "loss", "grads")


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "gradcheck",
        help="check hand-written gradients: which one is wrong, how, and where",
        description=(
            "Run FILE.py, which defines params0 (dict of arrays), loss(params) -> float and "
            "grads(params) -> dict (and optionally batch_size), and compare grads with numerical "
            "gradients of loss. Exit 0: all right; 1: a mismatch; 2: bad file; 3: your code raised."
        ),
    )
    p.add_argument("file", metavar="FILE.py", help="the Python file defining params0, loss, grads")
    p.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="examples per batch in the loss, to name a factor k = N (default: the "
        "file's batch_size, if any)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the random directions (default 0)")
    p.set_defaults(run=run)


def load_user_file(path: Path) -> dict[str, Any]:
    """Execute the user's file (not as ``__main__``) and return its globals."""
    if not path.is_file():
        raise BadInputError(
            f"{path}: no such file; pass the Python file that defines {', '.join(REQUIRED)}"
        )
    sys.path.insert(0, str(path.resolve().parent))  # so their own imports resolve
    try:
        return runpy.run_path(str(path), run_name="__netmedic_gradcheck__")
    except SystemExit as exc:
        raise UserCodeError(f"{path} called sys.exit({exc.code}) while being loaded") from exc
    except Exception as exc:  # their file raised while it was loading: theirs
        raise UserCodeError(
            f"{path} raised {type(exc).__name__} while being loaded: {exc}\n\n{user_traceback(exc)}"
        ) from exc
    finally:
        with contextlib.suppress(ValueError):  # their file may have edited sys.path itself
            sys.path.remove(str(path.resolve().parent))


def run(args: argparse.Namespace) -> int:
    console = Console(highlight=False)
    errors = Console(stderr=True, highlight=False)
    path = Path(args.file)
    try:
        namespace = load_user_file(path)
        missing = [name for name in REQUIRED if name not in namespace]
        if missing:
            raise BadInputError(
                f"{path} does not define {', '.join(missing)}. A gradcheck file defines params0 "
                "(a dict of NumPy arrays), loss(params) -> float and grads(params) -> dict with "
                "the same keys (optionally batch_size)"
            )
        not_callable = [n for n in ("loss", "grads") if not callable(namespace[n])]
        if not_callable:
            raise BadInputError(f"{path}: {', '.join(not_callable)} must be a function of params")
        batch_size = args.batch_size if args.batch_size is not None else namespace.get("batch_size")
        report = check_gradients(
            namespace["loss"],
            namespace["grads"],
            namespace["params0"],
            batch_size=batch_size,
            seed=args.seed,
        )
    except NetmedicError as err:
        errors.print(f"netmedic gradcheck: {err}", markup=False)
        return err.exit_code
    console.print(report)
    return 0 if report.ok else 1
