"""The LR range test (Smith 2017): train with a rising learning rate, watch the validation loss.

Each step multiplies the LR by a constant factor from ``start`` to ``end``; after each step the
loss on a fixed validation batch is measured (the decision is made on the validation split, never
the test set). The test stops once that loss is non-finite or :data:`BLOW_UP` × its best. The
suggested LR is a tenth of the LR at the lowest smoothed loss (fastai's "min / 10" rule: the
minimum itself sits at the edge of instability).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from netmedic import atomic
from netmedic.data import Dataset
from netmedic.train.config import TrainConfig
from netmedic.train.trainer import Trainer

BLOW_UP = 4.0  # stop when the smoothed loss is 4× its best: the LR is past any useful value
SMOOTHING = 0.7  # exponential smoothing of the per-step losses (fastai uses 0.98 on train loss)
VAL_BATCH = 512  # validation examples measured after every step
SUGGEST_FRACTION = 0.1  # suggested LR = 0.1 × LR at the minimum (fastai's min/10)


@dataclass
class LRFindResult:
    lrs: list[float]
    losses: list[float]  # smoothed validation loss after each step
    suggested: float | None
    best_lr: float | None
    stopped_early: bool

    def to_dict(self) -> dict:
        return {"lrs": self.lrs, "losses": self.losses, "suggested_lr": self.suggested,
                "lr_at_min_loss": self.best_lr, "stopped_early": self.stopped_early}


def lr_find(config: TrainConfig, dataset: Dataset, *, start: float = 1e-6, end: float = 10.0,
            steps: int = 100) -> LRFindResult:
    """Run the range test on a fresh model built from ``config`` (its weights are discarded)."""
    trainer = Trainer(config, dataset)
    arrays, model, loss_fn = trainer.arrays, trainer.model, trainer.loss_fn
    x_val, y_val = arrays.x_val[:VAL_BATCH], arrays.y_val[:VAL_BATCH]
    rng = trainer.streams.shuffle
    factor = (end / start) ** (1.0 / max(steps - 1, 1))
    lrs, losses = [], []
    smooth, best = None, np.inf
    with np.errstate(all="ignore"):
        for i in range(steps):
            idx = rng.integers(0, len(arrays.y_train), size=config.batch_size)
            loss_fn.forward(model.forward(arrays.x_train[idx]), arrays.y_train[idx])
            model.backward(loss_fn.backward())
            trainer.optimizer.lr = start * factor**i
            trainer.optimizer.step()
            value = loss_fn.forward(model.forward(x_val, training=False), y_val)
            smooth = value if smooth is None else SMOOTHING * smooth + (1 - SMOOTHING) * value
            lrs.append(start * factor**i)
            losses.append(float(smooth))
            if not np.isfinite(smooth) or smooth > BLOW_UP * best:
                break
            best = min(best, smooth)
    finite = [i for i, v in enumerate(losses) if np.isfinite(v)]
    best_i = min(finite, key=losses.__getitem__) if finite else None
    best_lr = lrs[best_i] if best_i is not None else None
    suggested = best_lr * SUGGEST_FRACTION if best_lr is not None else None
    return LRFindResult(lrs, losses, suggested, best_lr, len(lrs) < steps)


def save(result: LRFindResult, out_dir: Path) -> tuple[Path, Path]:
    """``lr_find.json`` and ``lr_find.png`` (loss against LR, log scale), atomically."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    json_path = atomic.write_json(out_dir / "lr_find.json", result.to_dict())
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    lrs, losses = np.array(result.lrs), np.array(result.losses)
    ok = np.isfinite(losses)
    ax.plot(lrs[ok], losses[ok], color="#0072B2", lw=2, label="validation loss (smoothed)")
    if result.suggested:
        ax.axvline(result.suggested, color="#009E73", ls="--",
                   label=f"suggested lr {result.suggested:.2g}")
        ax.axvline(result.best_lr, color="#D55E00", ls=":",
                   label=f"lowest loss at lr {result.best_lr:.2g}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("validation loss")
    ax.set_title("LR range test: loss after one step at each learning rate")
    ax.legend(frameon=False)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png")
    plt.close(fig)
    png_path = atomic.write_bytes(out_dir / "lr_find.png", png.getvalue())
    return json_path, png_path
