"""From a :class:`~netmedic.data.Dataset` to the arrays a model trains on.

The training set is split into train and validation (stratified, by the run's split generator);
the normalizer's statistics come from the train part only; images keep their raw copy when they
are augmented (shifts happen on raw pixels, then the epoch's batch is normalized).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from netmedic.data import Dataset
from netmedic.data.normalize import fit_normalizer
from netmedic.data.split import stratified_split
from netmedic.errors import BadInputError


@dataclass
class TrainingArrays:
    """Float arrays shaped ``(N, *model.input_shape)``, plus raw train images for augmentation."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    raw_train: np.ndarray | None  # (N, C, H, W) as stored, kept only when augmenting
    normalizer: object


def prepare(dataset: Dataset, input_shape: tuple[int, ...], *, val_fraction: float,
            normalize: str, dtype: np.dtype, augment: int,
            rng: np.random.Generator) -> TrainingArrays:
    """Split off validation, fit the normalizer on the rest, cast and reshape everything."""
    features = int(np.prod(input_shape))
    if dataset.num_features != features:
        raise BadInputError(
            f"data {dataset.name!r} has examples of shape {dataset.example_shape} "
            f"({dataset.num_features} values) but the model expects {features} inputs "
            f"(input shape {input_shape}); change the model's first size to {dataset.num_features}"
            " or pick data of the right size"
        )
    if augment and not dataset.is_image:
        raise BadInputError(
            f"--augment shifts images, but {dataset.name!r} is tabular {dataset.example_shape}; "
            "use --augment 0"
        )
    n = len(dataset.y_train)
    val_size = min(max(int(round(n * val_fraction)), 1), n - 1)
    train_idx, val_idx = stratified_split(dataset.y_train, val_size, rng)
    raw_train = dataset.x_train[train_idx]
    normalizer = fit_normalizer(raw_train, normalize)

    def cast(x: np.ndarray) -> np.ndarray:
        return normalizer.apply(x, dtype).reshape((len(x), *input_shape))

    return TrainingArrays(
        x_train=cast(raw_train),
        y_train=dataset.y_train[train_idx],
        x_val=cast(dataset.x_train[val_idx]),
        y_val=dataset.y_train[val_idx],
        x_test=cast(dataset.x_test),
        y_test=dataset.y_test,
        raw_train=raw_train if augment else None,
        normalizer=normalizer,
    )
