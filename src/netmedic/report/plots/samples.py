"""A grid of test images with the model's predictions; wrong ones framed and marked ✗."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.patches import Rectangle

from netmedic.report.plots import style

COLUMNS = 8
CELL = 1.2  # inches per image
WRONG = "#D55E00"
TITLE = 0.65  # inches above the grid for the two-line title
CELL_TITLE = 0.3  # inches for a cell's own two-line title


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
    height = CELL * 1.15 * rows + TITLE + CELL_TITLE
    # no layout engine and no axis decorations: 32 small axes stay cheap to draw
    with style.figure(height, width=CELL * columns + 0.4, layout=None) as fig:
        top = 1 - (TITLE + CELL_TITLE) / height
        fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=top, wspace=0.15,
                            hspace=0.45)
        axes = fig.subplots(rows, columns, squeeze=False).ravel()
        for k, ax in enumerate(axes):
            ax.set_axis_off()
            if k >= n:
                continue
            ax.imshow(_displayable(images[k]), cmap="gray_r", interpolation="nearest")
            true, pred = _name(labels[k], names), _name(preds[k], names)
            if wrong[k]:
                ax.set_title(f"✗ {pred}\ntrue {true}", fontsize=8.5, color=WRONG,
                             fontweight="bold", linespacing=1.1)
                ax.add_patch(Rectangle((0, 0), 1, 1, transform=ax.transAxes, fill=False,
                                       edgecolor=WRONG, linewidth=2.5, clip_on=False))
            else:
                ax.set_title(pred, fontsize=10.5)
        pool = int(samples["pool"]) if "pool" in samples else n
        first = int(samples["first"]) if "first" in samples else n
        fig.suptitle(_title(n, first, int(wrong.sum()), pool), fontsize=11, x=0.01, ha="left",
                     y=1 - 0.1 / height, va="top", fontweight="bold", linespacing=1.4)
        return style.png(fig)


def _title(n: int, first: int, wrong: int, pool: int) -> str:
    extra = n - first
    which = f"the first {first}" + (f" and {extra} misclassified from the first {pool}"
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
