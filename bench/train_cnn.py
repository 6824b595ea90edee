"""netmedic vs PyTorch (CPU) training the default CNN of API.md on the same data, in one run.

conv 5×5 32 pad 2 → ReLU → maxpool 2 → conv 5×5 64 pad 2 → ReLU → maxpool 2 → fc 3136→128 →
ReLU → fc 10; float32, batch 64, SGD momentum 0.9, same thread count, tensors made once. netmedic
runs its real trainer with the doctor and the guard on; epochs alternate between the sides and
each reports its median samples/s. Also printed: the memory netmedic holds for a step (layer
buffers, parameters, gradients, optimizer state).

    python bench/train_cnn.py [--rounds 3] [--examples 4000] [--json out.json]
"""

from __future__ import annotations

import argparse
import sys

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _common import blas_description, clean_blas_environment, numpy_threads, write_json  # noqa: E402

removed_vars = clean_blas_environment()

import numpy as np  # noqa: E402
from _sides import NetmedicSide, TorchSide, interleaved  # noqa: E402

LR = 0.01
BATCH = 64


def cnn_torch(torch):
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10),
    )


def step_memory(trainer) -> int:
    """Bytes netmedic holds for training: layer buffers, params, grads, optimizer state."""
    model = trainer.model
    buffers = sum(b.nbytes for layer in model.layers
                  for b in getattr(layer, "_buffers", {}).values())
    state = sum(np.asarray(v).nbytes for v in trainer.optimizer.state_dict().values())
    return buffers + model.flat_params.nbytes + model.flat_grads.nbytes + state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--examples", type=int, default=4000,
                        help="training examples per epoch (a subset of mnist-mini)")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args()

    from netmedic.data import Dataset, fit_normalizer, load

    full = load("mnist-mini", progress=False)
    n = args.examples
    ds = Dataset(full.x_train[:n], full.y_train[:n], full.x_test, full.y_test, "mnist-mini",
                 10, full.source)
    x = fit_normalizer(ds.x_train, "unit").apply(ds.x_train, np.float32)
    m = int(round(n * 0.9))  # the trainer keeps 10% for validation: same count for PyTorch
    threads = numpy_threads()
    print(f"default CNN, batch {BATCH}, {m} examples an epoch; BLAS: {blas_description()}")
    if removed_vars:
        print(f"unset for this run (both sides): {', '.join(removed_vars)}")
    mine = NetmedicSide(ds, "cnn", BATCH, LR)
    sides = {"netmedic": mine, "torch": TorchSide(cnn_torch, x[:m], ds.y_train[:m], BATCH, LR,
                                                   threads)}
    speed = interleaved(sides, args.rounds)
    memory = step_memory(mine.trainer)
    ratio = speed["netmedic"] / speed["torch"]
    print(f"\n{'netmedic/s':>11} {'pytorch/s':>10} {'ratio':>6} {'netmedic memory':>16}")
    print(f"{speed['netmedic']:>11,.0f} {speed['torch']:>10,.0f} {ratio:>6.2f} "
          f"{memory / 2**20:>12.0f} MiB")
    import torch

    write_json(args.json, {"batch": BATCH, "examples": m, "threads": threads,
                           "blas": blas_description(), "unset": removed_vars,
                           "torch": torch.__version__, "netmedic_samples_per_s": speed["netmedic"],
                           "torch_samples_per_s": speed["torch"], "ratio": ratio,
                           "netmedic_step_memory_bytes": memory})


if __name__ == "__main__":
    main()
