"""netmedic vs PyTorch (CPU): forward + backward of the default CNN, layer by layer.

The default CNN of API.md (conv 5×5 32 pad 2 → ReLU → maxpool 2 → conv 5×5 64 pad 2 → ReLU →
maxpool 2 → fc 3136→128 → ReLU → fc 10) at batch 64, float32, one fused softmax cross-entropy,
no optimizer step: this isolates the layers. PyTorch is written as an expert would: tensors made
once, ``torch.set_num_threads`` equal to NumPy's BLAS threads, ``zero_grad(set_to_none=True)``.
The two sides alternate round by round so that a noisy machine slows both alike; each reports
its median step time. netmedic's per-layer table shows where the time goes (the im2col path).

    python bench/conv_layers.py [--threads N] [--batch 64] [--rounds 7] [--steps 5]
                                [--dtype float32] [--json out.json]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _common import blas_description, clean_blas_environment, numpy_threads, write_json  # noqa: E402

removed_vars = clean_blas_environment()

import numpy as np  # noqa: E402

SPEC = "cnn"


def conv_net_flops(batch: int) -> float:
    """Flops of one forward + backward (2 per multiply-add): forward, weight gradients, and input
    gradients of every GEMM layer but the first (its dx is skipped)."""
    macs = [28 * 28 * 32 * 25 * 1, 14 * 14 * 64 * 25 * 32, 3136 * 128, 128 * 10]
    return 2.0 * batch * (2 * sum(macs) + sum(macs[1:]))


def netmedic_side(batch: int, dtype: np.dtype):
    from netmedic import nn

    rng = np.random.default_rng(0)
    model = nn.build_model(SPEC).init(rng, dtype)
    x = rng.random((batch, 1, 28, 28), dtype=np.float32).astype(dtype)
    y = rng.integers(0, 10, size=batch)
    loss_fn = nn.SoftmaxCrossEntropy()
    per_layer = {layer.name: [0.0, 0.0] for layer in model.layers}

    def step(profile: bool = False) -> None:
        if not profile:
            loss_fn.forward(model.forward(x), y)
            model.backward(loss_fn.backward())
            return
        out = x
        for layer in model.layers:
            start = time.perf_counter()
            out = layer.forward(out, True)
            per_layer[layer.name][0] += time.perf_counter() - start
        loss_fn.forward(out, y)
        dout = loss_fn.backward()
        for layer in reversed(model.layers):
            start = time.perf_counter()
            dout = layer.backward(dout)
            per_layer[layer.name][1] += time.perf_counter() - start
            if dout is None:
                break

    return model, step, per_layer


def torch_side(batch: int, dtype: np.dtype, threads: int):
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    t = torch.nn
    model = t.Sequential(
        t.Conv2d(1, 32, 5, padding=2), t.ReLU(), t.MaxPool2d(2),
        t.Conv2d(32, 64, 5, padding=2), t.ReLU(), t.MaxPool2d(2), t.Flatten(),
        t.Linear(3136, 128), t.ReLU(), t.Linear(128, 10),
    ).to(torch.float64 if dtype == np.float64 else torch.float32)
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.random((batch, 1, 28, 28)).astype(dtype))
    y = torch.tensor(rng.integers(0, 10, size=batch))

    def step() -> None:
        model.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()

    return step


def timed(step, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=None, help="default: NumPy's BLAS threads")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=5, help="steps per round and side")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)

    from threadpoolctl import threadpool_limits

    threads = args.threads or numpy_threads()
    threadpool_limits(threads)
    dtype = np.dtype(args.dtype)
    model, nm_step, per_layer = netmedic_side(args.batch, dtype)
    th_step = torch_side(args.batch, dtype, threads)
    for _ in range(3):  # warm-up: buffers allocated, oneDNN primitives created
        nm_step()
        th_step()
    nm_times, th_times = [], []
    for _ in range(args.rounds):
        nm_times.append(timed(nm_step, args.steps))
        th_times.append(timed(th_step, args.steps))
    for _ in range(args.rounds * args.steps):
        nm_step(profile=True)
    nm, th = statistics.median(nm_times), statistics.median(th_times)
    profiled = args.rounds * args.steps
    buffers = sum(buf.nbytes for layer in model.layers
                  for buf in layer.__dict__.get("_buffers", {}).values())

    print(f"default CNN ({SPEC}), batch {args.batch}, {args.dtype}, forward + backward, "
          f"{threads} threads; BLAS: {blas_description()}")
    if removed_vars:
        print(f"(unset {', '.join(removed_vars)} for both sides)")
    print(f"\n{'netmedic layer':16s}{'forward ms':>12s}{'backward ms':>13s}")
    for name, (fwd, bwd) in per_layer.items():
        print(f"{name:16s}{fwd / profiled * 1e3:12.2f}{bwd / profiled * 1e3:13.2f}")
    flops = conv_net_flops(args.batch)
    print(f"\n{'':10s}{'ms/step':>10s}{'samples/s':>12s}{'GFLOP/s':>10s}")
    for name, sec in (("netmedic", nm), ("torch", th)):
        print(f"{name:10s}{sec * 1e3:10.2f}{args.batch / sec:12.0f}{flops / sec / 1e9:10.1f}")
    print(f"\nratio netmedic/torch speed: {th / nm:.2f}  "
          f"(netmedic layer buffers: {buffers / 2**20:.1f} MiB)")
    figures = {
        "spec": SPEC, "batch": args.batch, "dtype": args.dtype, "threads": threads,
        "blas": blas_description(), "netmedic_ms": nm * 1e3, "torch_ms": th * 1e3,
        "netmedic_samples_per_s": args.batch / nm, "torch_samples_per_s": args.batch / th,
        "ratio": th / nm, "netmedic_buffer_mib": buffers / 2**20,
        "per_layer_ms": {k: {"forward": f / profiled * 1e3, "backward": b / profiled * 1e3}
                         for k, (f, b) in per_layer.items()},
        "rounds_ms": {"netmedic": [t * 1e3 for t in nm_times],
                      "torch": [t * 1e3 for t in th_times]},
    }
    write_json(args.json, figures)
    return figures


if __name__ == "__main__":
    main()
