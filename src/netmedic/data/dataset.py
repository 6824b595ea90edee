"""The :class:`Dataset` every loader returns: train and test arrays plus where they came from."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Dataset:
    """A classification dataset split into train and test.

    Attributes
    ----------
    x_train : (N, C, H, W) images or (N, D) tabular rows, dtype as stored (uint8 for MNIST)
    y_train : (N,) int64 class indices in [0, num_classes)
    x_test, y_test : the same for the test split
    name : short name (``"mnist-mini"``, or the file's name)
    num_classes : number of classes C
    source : where the arrays came from, in words (a path, a URL, "embedded in netmedic")
    notes : what the loader changed or decided, for the user to read ("labels were one-hot,
        converted to class indices")
    class_names : names of the classes when known (Fashion-MNIST), else ``None``
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    name: str
    num_classes: int
    source: str
    notes: list[str] = field(default_factory=list)
    class_names: tuple[str, ...] | None = None

    @property
    def is_image(self) -> bool:
        """True for ``(N, C, H, W)`` images, False for ``(N, D)`` tabular rows."""
        return self.x_train.ndim == 4

    @property
    def example_shape(self) -> tuple[int, ...]:
        """Shape of one example: ``(C, H, W)`` or ``(D,)``."""
        return tuple(self.x_train.shape[1:])

    @property
    def num_features(self) -> int:
        """Number of input values per example once flattened (784 for MNIST)."""
        return int(np.prod(self.example_shape, dtype=np.int64))

    def class_counts(self, split: str = "train") -> np.ndarray:
        """(num_classes,) int64 number of examples of each class in ``"train"`` or ``"test"``."""
        y = self.y_train if split == "train" else self.y_test
        return np.bincount(y, minlength=self.num_classes)

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, train={self.x_train.shape} {self.x_train.dtype}, "
            f"test={self.x_test.shape}, num_classes={self.num_classes}, source={self.source!r})"
        )
