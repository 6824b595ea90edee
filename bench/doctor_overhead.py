"""What the training doctor costs per step, measured on the trainer's real step, in one run.

784-256-128-10 ReLU MLP, batch 128, SGD momentum 0.9, float32, on Fashion-MNIST (mnist-mini when
it is not installed). One trainer takes every step, through its own shuffled batches; the sides
differ only in the hook attached during their blocks (separate trainers of the same model differ
by up to ~2% in speed on this machine, with the memory their arrays happen to sit in):

  (a) no doctor; (a') no doctor again, whose difference from (a) is the resolution of the run;
  (b) the doctor as ``netmedic train`` wires it (``train/probe.py``'s ``DoctorHook``): loss and
      non-finite checks every step, the full statistics every 50th step (and wherever the loss
      or the gradient norm jumps), the rules judging them in batches every 50 steps (at once
      on the first 10 steps and on any non-finite step or jump);
  (b+) the same, also writing what ``netmedic train`` writes for its report by default
      (``--out runs/latest``): the doctor's trace, one JSON line a step, and the activation
      histograms of a few steps;
  (b10) the same as (b) with the full statistics every 10th step;
  (c) the doctor with ``stride=1``: every statistic of every tensor on every step, judged by
      the rules on the same cadence as (b).

All run with the guard off, so the trainer itself checks the global gradient norm for
NaN/Inf each step (``--no-guard`` stops there); the doctor reads that same norm, as it does the
guard's with the guard on. For comparison, the same MLP in PyTorch (threads = NumPy's BLAS
threads) with and without ``torch.autograd.set_detect_anomaly(True)``.

Blocks of ``--block`` steps of each side alternate (the order rotating each round) so a slow
patch of a shared machine does not land on one side; reported: the median step time of each
side, and the overhead as the median over rounds of the ratio of a side's block to (a)'s block
of the same round. The PyTorch pair is timed the same way in a second phase, so that neither
library's idle worker threads spin beside the other's blocks.

    python bench/doctor_overhead.py [--rounds 100] [--block 50] [--threads N] [--data NAME]
                                    [--no-torch] [--json out.json]

``--threads`` limits the BLAS threads of both libraries (default: what NumPy's BLAS uses); on a
machine whose cores are busy with other work, ``--threads 1`` gives steadier figures.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _common import blas_description, clean_blas_environment, numpy_threads, write_json  # noqa: E402

removed_vars = clean_blas_environment()

import numpy as np  # noqa: E402
from _sides import ensure_fashion_mnist  # noqa: E402

SIZES = (784, 256, 128, 10)
SPEC = "mlp:" + "-".join(map(str, SIZES)) + ":relu"
BATCH = 128
LR = 0.01
WARMUP_STEPS = 200  # per side: past the first `stride` all-full observations, caches warm


class SharedTrainer:
    """One trainer whose real step (``Trainer._step``) every NumPy side drives in turn, on
    batches gathered as ``Trainer.train_epoch`` gathers them: the sides differ only in the hook
    attached during their blocks, not in the memory their arrays happen to sit in (separate
    trainers of the same model differ by up to ~2% in speed on this machine)."""

    def __init__(self, data) -> None:
        from netmedic.train import TrainConfig, Trainer

        config = TrainConfig(data=data.name, model=SPEC, optimizer="momentum", lr=LR,
                             schedule="constant", augment=0, epochs=10**6, batch_size=BATCH,
                             patience=0, guard=False)
        self.trainer = Trainer(config, data)
        self.trainer.start()
        x = self.trainer.arrays.x_train
        self.buffer = np.empty((BATCH, *x.shape[1:]), self.trainer.dtype)
        self.order = np.zeros(0, np.int64)
        self.at = 0

    def run(self, steps: int) -> float:
        """Seconds per step over ``steps`` steps."""
        trainer, arrays = self.trainer, self.trainer.arrays
        start = time.perf_counter()
        for _ in range(steps):
            if self.at + BATCH > len(self.order):
                self.order = trainer.streams.shuffle.permutation(len(arrays.y_train))
                self.at = 0
            idx = self.order[self.at : self.at + BATCH]
            self.at += BATCH
            x = np.take(arrays.x_train, idx, axis=0, out=self.buffer, mode="clip")
            trainer._step(x, arrays.y_train[idx])
        return (time.perf_counter() - start) / steps


class TrainerSide:
    """The shared trainer with this side's hook (or none) attached for its blocks. A doctor
    watches only its own blocks: at a block's first step its probe has no ⟨g_{t−1}, Δw⟩ (it
    computed one for a step another side took); Δw is the optimizer's last step either way."""

    def __init__(self, shared: SharedTrainer, hook=None) -> None:
        self.shared, self.hook = shared, hook
        if hook is not None:
            hook.on_train_start(shared.trainer)

    def run(self, steps: int) -> float:
        self.shared.trainer.hooks = [] if self.hook is None else [self.hook]
        return self.shared.run(steps)


class TorchSide:
    """The same MLP and optimizer in PyTorch, tensors made once; ``anomaly``: each block runs
    under ``torch.autograd.set_detect_anomaly(True)``."""

    def __init__(self, x: np.ndarray, y: np.ndarray, threads: int, anomaly: bool) -> None:
        import torch

        torch.set_num_threads(threads)
        torch.manual_seed(0)
        layers = []
        for i, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:], strict=True)):
            layers.append(torch.nn.Linear(a, b))
            if i < len(SIZES) - 2:
                layers.append(torch.nn.ReLU())
        self.torch, self.anomaly = torch, anomaly
        self.model = torch.nn.Sequential(*layers)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=LR, momentum=0.9)
        self.x, self.y = torch.from_numpy(x), torch.from_numpy(y)
        self.gen = torch.Generator().manual_seed(0)
        self.order = torch.zeros(0, dtype=torch.int64)
        self.at = 0

    def run(self, steps: int) -> float:
        torch, n = self.torch, len(self.y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Anomaly Detection has been enabled..."
            torch.autograd.set_detect_anomaly(self.anomaly)
        try:
            start = time.perf_counter()
            for _ in range(steps):
                if self.at + BATCH > n:
                    self.order = torch.randperm(n, generator=self.gen)
                    self.at = 0
                idx = self.order[self.at : self.at + BATCH]
                self.at += BATCH
                self.opt.zero_grad()
                loss = torch.nn.functional.cross_entropy(self.model(self.x[idx]), self.y[idx])
                loss.backward()
                self.opt.step()
            return (time.perf_counter() - start) / steps
        finally:
            torch.autograd.set_detect_anomaly(False)


def interleaved_blocks(sides: dict, rounds: int, block: int) -> dict[str, list[float]]:
    """Per side, seconds per step of each round's block; the order of the sides rotates."""
    names = list(sides)
    for side in sides.values():
        side.run(WARMUP_STEPS)
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(rounds):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            times[name].append(sides[name].run(block))
    return times


def overhead(times: dict[str, list[float]], side: str, reference: str) -> float:
    """Median over rounds of side/reference − 1 (paired: same round, same machine state)."""
    return statistics.median(s / r for s, r in zip(times[side], times[reference], strict=True)) - 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100, help="blocks per side (median taken)")
    parser.add_argument("--block", type=int, default=50,
                        help="steps per block (a multiple of 50: each holds as many full steps "
                             "and as many judgements by the rules as the next)")
    parser.add_argument("--data", default=None, help="default: fashion-mnist, else mnist-mini")
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS threads for both libraries (default: NumPy's)")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args()

    from netmedic.data import fit_normalizer, load
    from netmedic.doctor import Doctor
    from netmedic.train.probe import ENGINE_JUDGE_EVERY, ENGINE_STRIDE, DoctorHook

    data = args.data or ensure_fashion_mnist()
    ds = load(data, progress=False)
    if args.threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=args.threads, user_api="blas")
    threads = numpy_threads()
    print(f"data {data}; {SPEC}, batch {BATCH}, SGD momentum, float32; BLAS: {blas_description()}")
    if removed_vars:
        print(f"unset for this run (every side): {', '.join(removed_vars)}")
    def doctor(stride: int) -> DoctorHook:
        return DoctorHook(Doctor(stride=stride, judge_every=ENGINE_JUDGE_EVERY,
                                 num_classes=ds.num_classes))

    shared = SharedTrainer(ds)
    with tempfile.TemporaryDirectory() as out:
        sides = {"a": TrainerSide(shared), "a2": TrainerSide(shared),
                 "b": TrainerSide(shared, DoctorHook()),
                 "b+": TrainerSide(shared, DoctorHook(out_dir=Path(out))),
                 "b10": TrainerSide(shared, doctor(10)), "c": TrainerSide(shared, doctor(1))}
        times = interleaved_blocks(sides, args.rounds, args.block)
        sides["b+"].hook.doctor.close()
    if not args.no_torch:
        x = fit_normalizer(ds.x_train, "unit").apply(ds.x_train, np.float32)
        x, y = x.reshape(len(x), -1), ds.y_train
        torch_sides = {"torch": TorchSide(x, y, threads, anomaly=False),
                       "anomaly": TorchSide(x, y, threads, anomaly=True)}
        times.update(interleaved_blocks(torch_sides, args.rounds, args.block))
    ms = {name: 1e3 * statistics.median(t) for name, t in times.items()}
    labels = {
        "a": "(a) trainer step, no doctor",
        "a2": "(a') the same again: the resolution of this run",
        "b": f"(b) + doctor, defaults (full statistics every {ENGINE_STRIDE}th step)",
        "b+": "(b+) the same, writing its trace (netmedic train --out)",
        "b10": "(b10) + doctor, full statistics every 10th step",
        "c": "(c) + doctor, every statistic every step",
        "torch": "PyTorch, same MLP",
        "anomaly": "PyTorch + set_detect_anomaly(True)",
    }
    rows = []
    for name, reference in (("a", None), ("a2", "a"), ("b", "a"), ("b+", "a"), ("b10", "a"),
                            ("c", "a"), ("torch", None), ("anomaly", "torch")):
        if name not in times:
            continue
        cost = overhead(times, name, reference) if reference else None
        rows.append({"side": name, "label": labels[name], "ms_per_step": ms[name],
                     "overhead": cost, "vs": reference})
    print(f"\n{args.rounds} rounds of {args.block}-step blocks, interleaved; medians")
    print(f"{'':62} {'ms/step':>8} {'overhead':>9}")
    for r in rows:
        cost = "" if r["overhead"] is None else f"{r['overhead']:+9.1%}"
        print(f"{r['label']:62} {r['ms_per_step']:>8.3f} {cost:>9}")
    doctor_us = {k: 1e3 * (ms[k] - ms["a"]) for k in ("b", "b+", "b10", "c")}
    print(f"\ndoctor per step: (b) {doctor_us['b']:.0f} µs, (b+) {doctor_us['b+']:.0f} µs, "
          f"(b10) {doctor_us['b10']:.0f} µs, (c) {doctor_us['c']:.0f} µs (difference of "
          "medians); targets (issue 4): (b) <= 2%, (c) <= 15%")
    if "anomaly" in ms:
        print(f"PyTorch detect_anomaly: ×{ms['anomaly'] / ms['torch']:.2f} the plain step")
    import torch

    write_json(args.json, {
        "data": data, "model": SPEC, "batch": BATCH, "threads": threads,
        "blas": blas_description(), "unset": removed_vars, "numpy": np.__version__,
        "torch": torch.__version__, "rounds": args.rounds, "block": args.block,
        "engine_stride": ENGINE_STRIDE, "judge_every": ENGINE_JUDGE_EVERY, "rows": rows,
        "block_seconds_per_step": times,
    })


if __name__ == "__main__":
    main()
