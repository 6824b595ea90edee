"""The progress bar of ``netmedic train``: loss, accuracy and samples/s as it goes, and one line
per finished epoch."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

#: redraw at most every this many steps: a rich update costs ~20 µs, a step ~1 ms
UPDATE_EVERY = 20


class TrainingProgress:
    """``bar=False`` (``--no-progress``) keeps only the per-epoch lines."""

    def __init__(self, console: Console, bar: bool = True) -> None:
        self.console = console
        self.bar = bar
        self._bar = Progress(
            TextColumn("[bold]epoch {task.fields[epoch]}/{task.fields[epochs]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.4f}  {task.fields[speed]:,.0f} samples/s"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self._task = None
        self._since = 0.0
        self._seen = 0

    def start(self, trainer: Any) -> None:
        if not self.bar:
            return
        self._bar.start()
        self._task = self._bar.add_task(
            "train", total=trainer.steps_per_epoch, epoch=trainer.epoch + 1,
            epochs=trainer.config.epochs, loss=float("nan"), speed=0.0,
        )
        self._since = time.perf_counter()

    def advance(self, trainer: Any, state: Any) -> None:
        if not self.bar:
            return
        self._seen += len(state.y)
        if (state.step + 1) % UPDATE_EVERY:
            return
        now = time.perf_counter()
        speed = self._seen / max(now - self._since, 1e-9)
        self._since, self._seen = now, 0
        self._bar.update(self._task, advance=UPDATE_EVERY, loss=state.loss, speed=speed)

    def epoch_end(self, trainer: Any, record: dict[str, Any]) -> None:
        if self.bar:
            self._bar.reset(self._task, epoch=min(trainer.epoch + 1, trainer.config.epochs),
                            epochs=trainer.config.epochs, loss=record["train_loss"], speed=0.0)
            self._since, self._seen = time.perf_counter(), 0
        self.console.print(
            f"epoch {record['epoch']:>3}  loss {record['train_loss']:.4f}  "
            f"train acc {record['train_accuracy']:.2%}  val loss {record['val_loss']:.4f}  "
            f"val acc {record['val_accuracy']:.2%}  lr {record['lr']:.2e}  "
            f"{record['samples_per_s']:,.0f} samples/s",
            highlight=False,
            soft_wrap=True,
        )

    def stop(self) -> None:
        if self.bar:
            self._bar.stop()
