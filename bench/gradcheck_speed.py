"""How fast is ``check_gradients`` on a 784-256-128-10 tanh MLP (≈235k parameters), batch 32?

Reference: a naive per-element central difference (2 loss calls per parameter entry), timed on a
random sample of entries in the same run and extrapolated to all entries.

    .venv/bin/python bench/gradcheck_speed.py [--json PATH] [--threads N] [--repeat R]

Small matrix products (32 × 784) are fastest on one BLAS thread and multi-threaded BLAS stalls
on a busy machine, so BLAS is limited to ``--threads`` (default 1) when threadpoolctl is
installed; the figures say which setting produced them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import time
from pathlib import Path

import numpy as np

from netmedic.doctor.gradcheck import check_gradients

#: The issue's target: ≤ 300 loss + grads evaluations and < 2 s for this network.
MAX_EVALS_TARGET, SECONDS_TARGET = 300, 2.0
#: Entries timed for the naive reference (2 loss calls each).
NAIVE_SAMPLE = 200
SIZES, BATCH = (784, 256, 128, 10), 32


def build_mlp(seed: int = 0):
    """``(loss, grads, params)`` of a tanh MLP with softmax cross-entropy (mean over the batch)."""
    rng = np.random.default_rng(seed)
    x = rng.random((BATCH, SIZES[0]))  # MNIST-like pixels in [0, 1)
    y = np.eye(SIZES[-1])[rng.integers(0, SIZES[-1], BATCH)]
    params = {}
    for i, (fan_in, fan_out) in enumerate(zip(SIZES[:-1], SIZES[1:], strict=True), start=1):
        params[f"W{i}"] = rng.normal(0, 1 / np.sqrt(fan_in), (fan_in, fan_out))
        params[f"b{i}"] = np.zeros(fan_out)
    layers = len(SIZES) - 1

    def forward(p):
        acts = [x]
        for i in range(1, layers):
            acts.append(np.tanh(acts[-1] @ p[f"W{i}"] + p[f"b{i}"]))
        z = acts[-1] @ p[f"W{layers}"] + p[f"b{layers}"]
        z = z - z.max(axis=1, keepdims=True)
        prob = np.exp(z)
        return acts, prob / prob.sum(axis=1, keepdims=True)

    def loss(p):
        prob = forward(p)[1]
        return float(-np.mean(np.sum(y * np.log(prob), axis=1)))

    def grads(p):
        acts, prob = forward(p)
        delta = (prob - y) / BATCH
        out = {}
        for i in range(layers, 0, -1):
            out[f"W{i}"] = acts[i - 1].T @ delta
            out[f"b{i}"] = delta.sum(axis=0)
            if i > 1:
                delta = (delta @ p[f"W{i}"].T) * (1 - acts[i - 1] ** 2)
        return out

    return loss, grads, params


def naive_reference(loss, params, rng: np.random.Generator) -> dict[str, float]:
    """Time per-element central differences on ``NAIVE_SAMPLE`` entries; extrapolate to all."""
    names = list(params)
    sizes = np.array([params[n].size for n in names])
    total = int(sizes.sum())
    picks = rng.choice(total, size=NAIVE_SAMPLE, replace=False)
    start = time.perf_counter()
    for flat in picks:
        which = int(np.searchsorted(np.cumsum(sizes), flat, side="right"))
        name, offset = names[which], int(flat - (sizes[:which].sum() if which else 0))
        for sign in (1.0, -1.0):
            moved = dict(params)
            moved[name] = params[name].copy()
            moved[name].reshape(-1)[offset] += sign * 1e-5
            loss(moved)
    per_call = (time.perf_counter() - start) / (2 * NAIVE_SAMPLE)
    return {"loss_calls": 2 * total, "seconds": per_call * 2 * total, "seconds_per_call": per_call}


def measure(repeat: int) -> dict[str, object]:
    loss, grads, params = build_mlp()
    n_params = sum(p.size for p in params.values())
    check_gradients(loss, grads, params)  # warm-up: imports, caches, BLAS buffers
    best = None
    for _ in range(repeat):
        report = check_gradients(loss, grads, params, batch_size=BATCH)
        if best is None or report.seconds < best.seconds:
            best = report
    naive = naive_reference(loss, params, np.random.default_rng(1))
    return {
        "network": "784-256-128-10 tanh MLP, softmax cross-entropy, batch 32",
        "parameters": n_params,
        "ok": best.ok,
        "loss_calls": best.loss_calls,
        "grads_calls": best.grads_calls,
        "evaluations": best.evaluations,
        "seconds": best.seconds,
        "naive_loss_calls": naive["loss_calls"],
        "naive_seconds_extrapolated": naive["seconds"],
        "naive_seconds_per_call": naive["seconds_per_call"],
        "speedup": naive["seconds"] / best.seconds,
        "targets": {"evaluations": MAX_EVALS_TARGET, "seconds": SECONDS_TARGET},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=None, help="write the figures to this file")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs; the best is kept")
    args = parser.parse_args()
    limiter = contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits

        limiter = threadpool_limits(args.threads)
        threads = str(args.threads)
    except ImportError:
        threads = "library default (threadpoolctl not installed)"
    with limiter:
        figures = measure(args.repeat)
    figures["blas_threads"] = threads
    figures["machine"] = (
        f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}"
    )
    rows = [
        ("method", "parameters", "loss calls", "grads calls", "seconds"),
        (
            "netmedic check_gradients",
            f"{figures['parameters']:,}",
            str(figures["loss_calls"]),
            str(figures["grads_calls"]),
            f"{figures['seconds']:.3f}",
        ),
        (
            "naive central differences*",
            f"{figures['parameters']:,}",
            f"{figures['naive_loss_calls']:,}",
            "0",
            f"{figures['naive_seconds_extrapolated']:.1f}",
        ),
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    print(figures["network"], f"(BLAS threads: {threads})")
    for row in rows:
        print(
            "  ".join(
                cell.rjust(w) if i else cell.ljust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    print(
        f"* extrapolated from {NAIVE_SAMPLE} entries timed in this run "
        f"({figures['naive_seconds_per_call'] * 1e3:.2f} ms per loss call)"
    )
    print(
        f"speed-up {figures['speedup']:,.0f}×; all gradients ok: {figures['ok']}; "
        f"targets: ≤ {MAX_EVALS_TARGET} evaluations ({figures['evaluations']}), "
        f"< {SECONDS_TARGET} s ({figures['seconds']:.3f} s)"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
