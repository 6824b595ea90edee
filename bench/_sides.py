"""The two sides of a training benchmark, timed epoch by epoch in alternation."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import time

import numpy as np


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


class NetmedicSide:
    """netmedic's real trainer with its default watchers: the doctor's probe and the guard."""

    def __init__(self, data, spec: str, batch: int, lr: float, watched: bool = True) -> None:
        from netmedic.train import TrainConfig, Trainer
        from netmedic.train.guard_hook import GuardHook
        from netmedic.train.probe import DoctorHook

        config = TrainConfig(
            data=data.name, model=spec,
            optimizer="momentum", lr=lr, schedule="constant", augment=0, epochs=10**6,
            batch_size=batch, patience=0, guard=watched, doctor=watched,
        )
        doctor = DoctorHook() if watched else None
        hooks = [doctor, GuardHook(doctor)] if watched else []
        self.trainer = Trainer(config, data, hooks=hooks)
        self.trainer.start()

    def epoch(self) -> float:
        return self.trainer.train_epoch()["samples_per_s"]


class TorchSide:
    """PyTorch as an expert writes it: tensors made once, no DataLoader, default torch.optim."""

    def __init__(self, build, x: np.ndarray, y: np.ndarray, batch: int, lr: float,
                 threads: int) -> None:
        import torch

        torch.set_num_threads(threads)
        torch.manual_seed(0)
        self.torch, self.batch = torch, batch
        self.model = build(torch)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=lr, momentum=0.9)
        self.x, self.y = torch.from_numpy(x), torch.from_numpy(y)
        self.gen = torch.Generator().manual_seed(0)

    def epoch(self) -> float:
        torch, n = self.torch, len(self.y)
        order = torch.randperm(n, generator=self.gen)
        start = time.perf_counter()
        for i in range(0, n, self.batch):
            idx = order[i : i + self.batch]
            self.opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(self.model(self.x[idx]), self.y[idx])
            loss.backward()
            self.opt.step()
        return n / (time.perf_counter() - start)


def interleaved(sides: dict, rounds: int) -> dict[str, float]:
    """One epoch of each side per round, after one warm-up round; median samples/s per side.

    Alternating keeps a slow patch of a shared machine from landing on one side only."""
    speeds: dict[str, list[float]] = {name: [] for name in sides}
    for round_ in range(rounds + 1):
        for name, side in sides.items():
            speed = side.epoch()
            if round_:
                speeds[name].append(speed)
    return {name: statistics.median(values) for name, values in speeds.items()}
