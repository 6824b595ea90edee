"""`netmedic train` with its defaults on mnist-mini, seeds 0, 1, 2: median test accuracy and time.

    python bench/mnist_mini.py [--seeds 0,1,2] [--model cnn] [--epochs N] [--json out.json]

Target (the foundation issue): >= 97.5% median test accuracy in <= 60 s a run on 2 cores.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _common import blas_description, clean_blas_environment, write_json  # noqa: E402

removed_vars = clean_blas_environment()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--model", default=None, help="default: netmedic train's (an MLP)")
    parser.add_argument("--epochs", type=int, default=None, help="default: netmedic train's")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args()

    from rich.console import Console

    from netmedic.train import TrainConfig, run_training

    print(f"BLAS: {blas_description()}" + (f"; unset {removed_vars}" if removed_vars else ""))
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        start = time.perf_counter()
        options = {k: v for k, v in (("model", args.model), ("epochs", args.epochs)) if v}
        config = TrainConfig(seed=seed, out=f"/tmp/netmedic-bench-mini-{seed}", **options)
        result = run_training(config, console=Console(quiet=True), progress=False)
        seconds = time.perf_counter() - start
        m = result.metrics
        rows.append({"seed": seed, "test_accuracy": m["test_accuracy"], "epochs": m["epochs"],
                     "seconds": seconds, "samples_per_s": m["samples_per_s"],
                     "findings": len(m["findings"])})
        print(f"seed {seed}: test accuracy {m['test_accuracy']:.2%}, {m['epochs']} epochs, "
              f"{seconds:.1f} s, {m['samples_per_s']:,.0f} samples/s, "
              f"{len(m['findings'])} findings", flush=True)
    median = statistics.median(r["test_accuracy"] for r in rows)
    target = "98.5%" if config.model.startswith("cnn") else "97.5%"
    print(f"\nmedian test accuracy {median:.2%} (target >= {target}); "
          f"slowest run {max(r['seconds'] for r in rows):.1f} s (target <= 60 s)")
    write_json(args.json, {"config": config.to_dict(), "rows": rows,
                           "median_test_accuracy": median})


if __name__ == "__main__":
    main()
