"""netmedic vs PyTorch (CPU) training the same MLP on the same data, in one run.

784-256-128-10 ReLU, SGD with momentum 0.9, float32, batch 128 and 512, same thread count.
netmedic runs through its real trainer with its default features on: the doctor's every-step
checks and the guard. PyTorch is written as an expert would: tensors made once, no DataLoader,
``torch.set_num_threads`` equal to NumPy's BLAS threads, the default ``torch.optim.SGD``.
Both report the median samples/s over the epochs (evaluation excluded).

    python bench/train_mlp.py [--epochs 6] [--data fashion-mnist] [--json out.json]

Also measured: float32 GEMM peak on this machine (a 2048² matmul), and from it the physical
limit of ~1.0 MFLOP per sample (forward, weight gradients, input gradients of layers 2 and 3).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _common import blas_description, clean_blas_environment, numpy_threads, write_json  # noqa: E402

removed_vars = clean_blas_environment()

import numpy as np  # noqa: E402

SIZES = (784, 256, 128, 10)
LR = 0.01


def flops_per_sample() -> float:
    """2 flops per multiply-add: forward, weight gradients, input gradients of layers 2..L."""
    macs = [a * b for a, b in zip(SIZES[:-1], SIZES[1:], strict=True)]
    return 2.0 * (2 * sum(macs) + sum(macs[1:]))


def gemm_peak(n: int = 2048, repeats: int = 5) -> float:
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    b = a.T.copy()
    a @ b
    best = min(_time(lambda: a @ b) for _ in range(repeats))
    return 2 * n**3 / best


def _time(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def ensure_fashion_mnist() -> str:
    """The full Fashion-MNIST from Debian's package, installing it when possible."""
    from netmedic.data import load

    try:
        load("fashion-mnist", download=False, progress=False)
        return "fashion-mnist"
    except Exception:  # noqa: BLE001 - not installed: try to install, else fall back
        pass
    if shutil.which("apt-get"):
        print("installing Debian's dataset-fashion-mnist for the benchmark data…", flush=True)
        subprocess.run("apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist",
                       shell=True, check=False, stdout=subprocess.DEVNULL)
        try:
            load("fashion-mnist", download=False, progress=False)
            return "fashion-mnist"
        except Exception:  # noqa: BLE001
            pass
    print("Fashion-MNIST not available: benchmarking on mnist-mini", flush=True)
    return "mnist-mini"


def bench_netmedic(data: str, batch: int, epochs: int) -> float:
    from rich.console import Console

    from netmedic.train import TrainConfig, run_training

    config = TrainConfig(
        data=data, model="mlp:" + "-".join(map(str, SIZES)) + ":relu", optimizer="momentum",
        lr=LR, schedule="constant", augment=0, epochs=epochs, batch_size=batch, patience=0,
        out="/tmp/netmedic-bench-train",
    )
    result = run_training(config, console=Console(quiet=True), progress=False)
    speeds = [h["samples_per_s"] for h in result.trainer.history]
    return statistics.median(speeds[1:] if len(speeds) > 2 else speeds)


def bench_torch(x: np.ndarray, y: np.ndarray, batch: int, epochs: int, threads: int) -> float:
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    layers = []
    for i, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:], strict=True)):
        layers.append(torch.nn.Linear(a, b))
        if i < len(SIZES) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(0)
    speeds = []
    for _ in range(epochs):
        order = torch.randperm(len(ty), generator=gen)
        start = time.perf_counter()
        for i in range(0, len(ty), batch):
            idx = order[i : i + batch]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(tx[idx]), ty[idx])
            loss.backward()
            opt.step()
        speeds.append(len(ty) / (time.perf_counter() - start))
    return statistics.median(speeds[1:] if len(speeds) > 2 else speeds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6, help="epochs per side (median taken)")
    parser.add_argument("--data", default=None, help="default: fashion-mnist, else mnist-mini")
    parser.add_argument("--batches", default="128,512")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args()

    from netmedic.data import fit_normalizer, load

    data = args.data or ensure_fashion_mnist()
    ds = load(data, progress=False)
    x = fit_normalizer(ds.x_train, "unit").apply(ds.x_train, np.float32)
    x = x.reshape(len(x), -1)
    # the trainer holds out 10% for validation: time PyTorch on the same number of examples
    n = int(round(len(x) * 0.9))
    x, y = x[:n], ds.y_train[:n]
    threads = numpy_threads()
    peak = gemm_peak()
    limit = peak / flops_per_sample()
    print(f"data {data}: {n} training examples; BLAS: {blas_description()}")
    if removed_vars:
        print(f"unset for this run (both sides): {', '.join(removed_vars)}")
    print(f"float32 GEMM peak {peak / 1e9:.0f} GFLOP/s -> limit {limit:,.0f} samples/s "
          f"at {flops_per_sample() / 1e6:.2f} MFLOP/sample")
    rows = []
    for batch in (int(b) for b in args.batches.split(",")):
        mine = bench_netmedic(data, batch, args.epochs)
        theirs = bench_torch(x, y, batch, args.epochs, threads)
        rows.append({"batch": batch, "netmedic_samples_per_s": mine,
                     "torch_samples_per_s": theirs, "ratio": mine / theirs,
                     "fraction_of_limit": mine / limit})
    print(f"\n{'batch':>6} {'netmedic/s':>12} {'pytorch/s':>12} {'ratio':>7} {'of limit':>9}")
    for r in rows:
        print(f"{r['batch']:>6} {r['netmedic_samples_per_s']:>12,.0f} "
              f"{r['torch_samples_per_s']:>12,.0f} {r['ratio']:>7.2f} "
              f"{r['fraction_of_limit']:>9.1%}")
    import torch

    write_json(args.json, {
        "data": data, "examples": n, "threads": threads, "blas": blas_description(),
        "unset": removed_vars, "torch": torch.__version__, "numpy": np.__version__,
        "gemm_peak_flops": peak, "flops_per_sample": flops_per_sample(),
        "limit_samples_per_s": limit, "rows": rows,
    })


if __name__ == "__main__":
    main()
