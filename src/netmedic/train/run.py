"""One `netmedic train` run: data, trainer, hooks, checkpoints, ``metrics.json``, verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.markup import escape

from netmedic import atomic
from netmedic.data import load
from netmedic.doctor import present
from netmedic.doctor.finding import Finding
from netmedic.report.record import clear_run_files, save_samples
from netmedic.report.rundata import SAMPLES
from netmedic.train import checkpoint
from netmedic.train.checkup import run_preflight
from netmedic.train.config import TrainConfig
from netmedic.train.guard_hook import GuardHook
from netmedic.train.probe import DoctorHook
from netmedic.train.progress import TrainingProgress
from netmedic.train.trainer import Trainer

METRICS = "metrics.json"
SAMPLE_POOL = 500  # test examples predicted once at the end for the report's image grid


@dataclass
class RunResult:
    trainer: Trainer
    metrics: dict[str, Any]
    out_dir: Path
    findings: list[Finding] = field(default_factory=list)
    report: Path | None = None  # report.html, when it could be written

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

    if saved is None:
        clear_run_files(out_dir)  # an earlier run's trace must not end up in this run's report
    doctor = DoctorHook(console=console, out_dir=out_dir) if config.doctor else None
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
    if saved is None:
        checkpoint.save(trainer, out_dir)  # the initial state: a healthy checkpoint from step 0
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
    finally:
        if doctor is not None:
            doctor.save()
    _save_samples(trainer, out_dir)
    result = RunResult(trainer, metrics(trainer), out_dir, findings())
    atomic.write_json(out_dir / METRICS, result.metrics)
    result.report = _write_report(out_dir, console)
    return result


def _save_samples(trainer: Trainer, out_dir: Path) -> None:
    """``samples.npz`` for the report: the model's predictions on the first test images."""
    if not trainer.dataset.is_image:
        return
    n = min(SAMPLE_POOL, len(trainer.arrays.y_test))
    with np.errstate(all="ignore"):
        scores = trainer.model.forward(trainer.arrays.x_test[:n], training=False)
    save_samples(out_dir / SAMPLES, trainer.dataset.x_test[:n], trainer.arrays.y_test[:n],
                 scores, class_names=trainer.dataset.class_names)


def _write_report(out_dir: Path, console: Console) -> Path | None:
    """``report.html`` and its plots; a failure is said, and loses none of the run's files."""
    from netmedic.report import write_report  # imports matplotlib: only when a report is made

    try:
        page = write_report(out_dir)
    except Exception as err:  # the trained model and metrics are already saved: say it, go on
        console.print(f"[yellow]report not written:[/] {escape(str(err))}", soft_wrap=True)
        return None
    console.print(f"report: {escape(str(page))}", soft_wrap=True)
    return page


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
