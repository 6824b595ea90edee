"""One `netmedic train` run: data, trainer, hooks, checkpoints, ``metrics.json``, verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from netmedic import atomic
from netmedic.data import load
from netmedic.doctor import present
from netmedic.doctor.finding import Finding
from netmedic.train import checkpoint
from netmedic.train.checkup import run_preflight
from netmedic.train.config import TrainConfig
from netmedic.train.guard_hook import GuardHook
from netmedic.train.probe import DoctorHook
from netmedic.train.progress import TrainingProgress
from netmedic.train.trainer import Trainer

METRICS = "metrics.json"


@dataclass
class RunResult:
    trainer: Trainer
    metrics: dict[str, Any]
    out_dir: Path
    findings: list[Finding] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return present.verdict(self.findings)

    @property
    def exit_code(self) -> int:
        """API.md: 1 when stopped by an error finding, or any alarm under ``--strict``."""
        if self.trainer.stop_reason is not None:
            return 1
        if self.trainer.config.strict and any(f.is_alarm for f in self.findings):
            return 1
        return 0


class _CheckpointWriter:
    """Hook: after every epoch, the checkpoint and the metrics so far, both atomically."""

    def __init__(self, out_dir: Path, metrics: Any) -> None:
        self.out_dir, self.metrics = out_dir, metrics

    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> None:
        checkpoint.save(trainer, self.out_dir)
        atomic.write_json(self.out_dir / METRICS, self.metrics(trainer))


def run_training(config: TrainConfig | None, *, resume: str | Path | None = None,
                 overrides: dict[str, Any] | None = None, console: Console | None = None,
                 progress: bool = True, hooks: list[Any] = ()) -> RunResult:
    """Train as ``netmedic train`` does; with ``resume``, continue the run saved in that folder
    (``overrides``: options to change, e.g. ``{"epochs": 30}``). ``progress=False``: no live
    bar, only one line per epoch."""
    console = console or Console()
    saved = None
    if resume is not None:
        saved = checkpoint.read(Path(resume))
        config = checkpoint.config_of(saved[0], **(overrides or {}))
    out_dir = Path(config.out)
    dataset = load(config.data, data_dir=config.data_dir, seed=config.seed)
    for note in getattr(dataset, "notes", []):
        console.print(f"[dim]data: {note}[/]")

    doctor = DoctorHook(console=console) if config.doctor else None
    guard = GuardHook(doctor, console=console) if config.guard else None
    preflight: list[Finding] = []

    def findings() -> list[Finding]:
        """Preflight's and the doctor's, one per (kind, where), the first occurrence kept."""
        merged: dict[tuple[str, str], Finding] = {}
        for finding in preflight + (doctor.findings() if doctor is not None else []):
            merged.setdefault((finding.kind, finding.where), finding)
        return list(merged.values())

    def metrics(trainer: Trainer) -> dict[str, Any]:
        return build_metrics(trainer, findings(), guard.actions if guard is not None else [])

    watchers = [hook for hook in (doctor, guard) if hook is not None]
    trainer = Trainer(config, dataset,
                      hooks=[*hooks, *watchers, _CheckpointWriter(out_dir, metrics)])
    if saved is not None:
        checkpoint.restore(trainer, *saved)
        console.print(f"resuming {resume} after epoch {trainer.epoch} (step {trainer.step})")
    elif config.doctor:
        preflight = run_preflight(trainer)
        if doctor is not None:
            doctor.known = {(f.kind, f.where) for f in preflight}  # said once is enough
        if preflight:
            present.render(preflight, console, title="preflight (before training)")
    console.print(
        f"training {config.model} on {dataset.name} ({len(trainer.arrays.y_train)} train, "
        f"{len(trainer.arrays.y_val)} validation, {len(trainer.arrays.y_test)} test) "
        f"with {config.optimizer} lr {config.lr:g}, {config.schedule} schedule, "
        f"{config.epochs} epochs, batch {config.batch_size}, {config.dtype}, seed {config.seed}",
        highlight=False, soft_wrap=True,
    )
    try:
        trainer.fit(TrainingProgress(console, bar=progress))
    except KeyboardInterrupt:
        console.print(f"interrupted; the last finished epoch is saved: resume with "
                      f"`netmedic train --resume {out_dir}`")
        raise
    result = RunResult(trainer, metrics(trainer), out_dir, findings())
    atomic.write_json(out_dir / METRICS, result.metrics)
    return result


def build_metrics(trainer: Trainer, findings: list[Finding],
                  guard_actions: list[dict[str, Any]]) -> dict[str, Any]:
    """``metrics.json`` as API.md defines it, plus the per-epoch history."""
    history = trainer.history
    return {
        "test_accuracy": trainer.test_accuracy,
        "val_accuracy": trainer.val_accuracy,
        "train_loss": [h["train_loss"] for h in history],
        "val_loss": [h["val_loss"] for h in history],
        "val_accuracy_history": [h["val_accuracy"] for h in history],
        "lr": [h["lr"] for h in history],
        "samples_per_s": trainer.samples_per_s,
        "epochs": trainer.epoch,
        "steps": trainer.step,
        "seed": trainer.config.seed,
        "early_stopped": trainer.early_stopped,
        "stop_reason": trainer.stop_reason,
        "findings": [f.to_dict() for f in findings],
        "guard_actions": guard_actions,
        "history": history,
        "config": trainer.config.to_dict(),
    }
