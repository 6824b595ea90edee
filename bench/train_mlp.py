"""netmedic vs PyTorch (CPU) training the same MLP on the same data, in one run.

784-256-128-10 ReLU, SGD with momentum 0.9, float32, batch 128 and 512, same thread count.
netmedic runs through its real trainer with its default features on: the doctor's every-step
checks and the guard. PyTorch is written as an expert would: tensors made once, no DataLoader,
``torch.set_num_threads`` equal to NumPy's BLAS threads, the default ``torch.optim.SGD``.
Epochs of the sides alternate (a shared machine's speed drifts); each side reports its median
samples/s over the timed epochs (evaluation excluded). The same trainer with both watchers off
("bare") shows what the doctor's every-step checks cost.

    python bench/train_mlp.py [--rounds 5] [--data fashion-mnist] [--json out.json]

Also measured: float32 GEMM peak on this machine (a 2048² matmul), and from it the physical
limit of ~1.0 MFLOP per sample (forward, weight gradients, input gradients of layers 2 and 3).
"""

from __future__ import annotations

import argparse
import sys
import time

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _common import blas_description, clean_blas_environment, numpy_threads, write_json  # noqa: E402

removed_vars = clean_blas_environment()

import numpy as np  # noqa: E402
from _sides import NetmedicSide, TorchSide, ensure_fashion_mnist, interleaved  # noqa: E402

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


def mlp_torch(torch):
    layers = []
    for i, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:], strict=True)):
        layers.append(torch.nn.Linear(a, b))
        if i < len(SIZES) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5,
                        help="timed epochs per side, interleaved (median taken)")
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
        spec = "mlp:" + "-".join(map(str, SIZES)) + ":relu"
        sides = {"netmedic": NetmedicSide(ds, spec, batch, LR),
                 "bare": NetmedicSide(ds, spec, batch, LR, watched=False),
                 "torch": TorchSide(mlp_torch, x, y, batch, LR, threads)}
        speed = interleaved(sides, args.rounds)
        rows.append({"batch": batch, "netmedic_samples_per_s": speed["netmedic"],
                     "netmedic_bare_samples_per_s": speed["bare"],
                     "torch_samples_per_s": speed["torch"],
                     "ratio": speed["netmedic"] / speed["torch"],
                     "fraction_of_limit": speed["netmedic"] / limit})
    print("\nnetmedic = trainer with the doctor and the guard on (the default); bare = both off")
    print(f"{'batch':>6} {'netmedic/s':>12} {'bare/s':>10} {'pytorch/s':>11} "
          f"{'ratio':>7} {'of limit':>9}")
    for r in rows:
        print(f"{r['batch']:>6} {r['netmedic_samples_per_s']:>12,.0f} "
              f"{r['netmedic_bare_samples_per_s']:>10,.0f} {r['torch_samples_per_s']:>11,.0f} "
              f"{r['ratio']:>7.2f} {r['fraction_of_limit']:>9.1%}")
    import torch

    write_json(args.json, {
        "data": data, "examples": n, "threads": threads, "blas": blas_description(),
        "unset": removed_vars, "torch": torch.__version__, "numpy": np.__version__,
        "gemm_peak_flops": peak, "flops_per_sample": flops_per_sample(),
        "limit_samples_per_s": limit, "rows": rows,
    })


if __name__ == "__main__":
    main()
