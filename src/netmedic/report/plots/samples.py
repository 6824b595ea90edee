"""A grid of test images with the model's predictions; wrong ones framed and marked ✗."""

from __future__ import annotations

import math

import numpy as np

from netmedic.report.plots import style

COLUMNS = 8
CELL = 1.2  # inches per image
WRONG = "#D55E00"


def plot_samples(samples: dict[str, np.ndarray]) -> bytes | None:
    """PNG of ``samples.npz`` (see :func:`~netmedic.report.record.save_samples`)."""
    images, labels, preds = samples["images"], samples["labels"], samples["predictions"]
    n = len(images)
    if not n:
        return None
    names = [str(c) for c in samples["class_names"]] if "class_names" in samples else None
    columns = min(COLUMNS, n)
    rows = math.ceil(n / columns)
    wrong = preds != labels
    with style.figure(CELL * rows + 0.9, width=CELL * columns + 0.4) as fig:
        axes = fig.subplots(rows, columns, squeeze=False).ravel()
        for k, ax in enumerate(axes):
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            if k >= n:
                ax.set_visible(False)
                continue
            ax.imshow(_displayable(images[k]), cmap="gray_r", interpolation="nearest")
            true, pred = _name(labels[k], names), _name(preds[k], names)
            if wrong[k]:
                ax.set_title(f"✗ {pred} (true {true})", fontsize=8.5, color=WRONG,
                             fontweight="bold")
                for spine in ax.spines.values():
                    spine.set_visible(True)
                    spine.set_color(WRONG)
                    spine.set_linewidth(2.5)
            else:
                ax.set_title(f"{pred}", fontsize=9)
                for spine in ax.spines.values():
                    spine.set_visible(False)
        pool = int(samples["pool"]) if "pool" in samples else n
        first = (int(np.count_nonzero(samples["index"] == np.arange(n))) if "index" in samples
                 else n)
        fig.suptitle(_title(n, first, int(wrong.sum()), pool), fontsize=11, x=0.01, ha="left",
                     fontweight="bold", linespacing=1.4)
        return style.png(fig)


def _title(n: int, first: int, wrong: int, pool: int) -> str:
    extra = n - first
    which = f"the first {first}" + (f" and {extra} misclassified ones from the first {pool}"
                                    if extra else "")
    verdict = (f"{wrong} wrong: framed, marked ✗ with the true class" if wrong
               else "all predicted right")
    return f"Test images with the model's prediction above each\n{which}; {verdict}"


def _name(label: object, names: list[str] | None) -> str:
    i = int(label)
    return names[i] if names is not None and 0 <= i < len(names) else str(i)


def _displayable(image: np.ndarray) -> np.ndarray:
    """uint8 as stored; anything else scaled to [0, 1] by its own range (NaN shown as 0)."""
    if image.dtype == np.uint8:
        return image
    with np.errstate(all="ignore"):
        x = np.nan_to_num(image.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        lo, hi = x.min(), x.max()
        return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)
