"""The default MLP on the full Fashion-MNIST (60k/10k) for 10 epochs: test accuracy and time.

    python bench/fashion_mnist.py [--epochs 10] [--seeds 0] [--model cnn] [--json out.json]

Installs Debian's ``dataset-fashion-mnist`` when it is missing and apt-get is there; otherwise
netmedic's own loader finds the files in the cache or downloads them.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _common import blas_description, clean_blas_environment, write_json  # noqa: E402

removed_vars = clean_blas_environment()

from train_mlp import ensure_fashion_mnist  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--model", default=None, help="default: netmedic train's (an MLP)")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args()

    from rich.console import Console

    from netmedic.train import TrainConfig, run_training

    data = ensure_fashion_mnist()
    if data != "fashion-mnist":
        sys.exit("Fashion-MNIST is not available here: install dataset-fashion-mnist")
    print(f"BLAS: {blas_description()}" + (f"; unset {removed_vars}" if removed_vars else ""))
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        options = {"model": args.model} if args.model else {}
        config = TrainConfig(data=data, epochs=args.epochs, seed=seed,
                             out=f"/tmp/netmedic-bench-fashion-{seed}", **options)
        start = time.perf_counter()
        result = run_training(config, console=Console(quiet=True), progress=False)
        seconds = time.perf_counter() - start
        rows.append({"seed": seed, "test_accuracy": result.metrics["test_accuracy"],
                     "epochs": result.metrics["epochs"], "seconds": seconds,
                     "samples_per_s": result.metrics["samples_per_s"]})
        print(f"seed {seed}: test accuracy {rows[-1]['test_accuracy']:.2%} after "
              f"{rows[-1]['epochs']} epochs, {seconds:.0f} s, "
              f"{rows[-1]['samples_per_s']:,.0f} samples/s", flush=True)
    median = statistics.median(r["test_accuracy"] for r in rows)
    target = "90% within 3 epochs" if config.model.startswith("cnn") else "88% within 10 epochs"
    print(f"median test accuracy {median:.2%} (target >= {target})")
    write_json(args.json, {"data": data, "config": config.to_dict(),
                           "rows": rows, "median_test_accuracy": median})


if __name__ == "__main__":
    main()
