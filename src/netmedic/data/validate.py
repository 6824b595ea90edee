"""Checks on loaded arrays, each failing with a message that says what, where, and what to do.

Every loader funnels its raw arrays through :func:`build_dataset`, so the rules (labels are
``(N,)`` int64 class indices, inputs are finite numbers, images are ``(N, C, H, W)``) live here
once.
"""

from __future__ import annotations

import numpy as np

from netmedic.data.dataset import Dataset
from netmedic.data.split import DEFAULT_TEST_FRACTION, holdout_size, stratified_split
from netmedic.errors import BadInputError

#: Flat row lengths that are images in disguise: 784 = MNIST/Fashion-MNIST 28×28 grayscale,
#: 3072 = CIFAR-10 rows (1024 red, then green, then blue values, i.e. channel-major).
KNOWN_IMAGE_SHAPES: dict[int, tuple[int, int, int]] = {784: (1, 28, 28), 3072: (3, 32, 32)}

#: Channel counts we recognise when deciding between NCHW and NHWC (gray, RGB, RGBA).
_CHANNEL_COUNTS = (1, 3, 4)

#: A label this large is an ID or a value, not a class index (and bincount would need GBs).
MAX_CLASS_INDEX = 100_000


def check_inputs(x: np.ndarray, where: str, file: str) -> np.ndarray:
    """Validate one split's inputs: numeric, at least one example, no NaN/Inf.

    Parameters
    ----------
    x : (N, ...) array
    where : ``"train"`` or ``"test"``, for messages
    file : the file (or dataset name) to name in messages
    """
    x = np.asarray(x)
    if x.dtype == np.bool_:
        x = x.astype(np.uint8)
    if x.dtype.kind not in "iuf":
        raise BadInputError(
            f"{file}: {where} inputs must be numbers; found dtype {x.dtype}. Save the pixels or "
            "features as an integer or float array."
        )
    if x.ndim == 0 or x.shape[0] == 0:
        raise BadInputError(
            f"{file}: the {where} set is empty (inputs of shape {x.shape}). Expected at least "
            "one example; check the file was written completely."
        )
    if x.ndim == 1:
        raise BadInputError(
            f"{file}: {where} inputs have shape {x.shape}; expected (N, D) rows or (N, C, H, W) "
            "images. If this is one feature per example, reshape to (N, 1)."
        )
    if x.dtype.kind == "f":
        bad = ~np.isfinite(x)
        if bad.any():
            rows = np.flatnonzero(bad.reshape(len(x), -1).any(axis=1))
            raise BadInputError(
                f"{file}: {int(bad.sum())} NaN/Inf values in the {where} inputs, in "
                f"{len(rows)} examples (first: row {rows[0]}). Remove or impute those examples "
                "before training; the network cannot learn from them."
            )
    return x


def to_class_indices(
    y: np.ndarray, where: str, file: str, notes: list[str]
) -> np.ndarray:
    """Labels as ``(N,)`` int64 class indices; ``(N, 1)`` and one-hot ``(N, C)`` are converted.

    Appends to ``notes`` what was converted. Raises :class:`BadInputError` for non-integer,
    negative or non-finite labels and for 2-D labels that are not one-hot.
    """
    y = np.asarray(y)
    if y.dtype == np.bool_:
        y = y.astype(np.int64)
    if y.dtype.kind not in "iuf":
        raise BadInputError(
            f"{file}: {where} labels must be integers; found dtype {y.dtype}. Map class names "
            "to indices 0 … C-1 first."
        )
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    elif y.ndim == 2:
        rows, cols = y.shape
        y = _from_one_hot(y, where, file)
        notes.append(
            f"{where} labels were one-hot ({rows}, {cols}); converted to class indices with argmax"
        )
    elif y.ndim != 1:
        raise BadInputError(
            f"{file}: {where} labels have shape {y.shape}; expected (N,) class indices, (N, 1), "
            "or one-hot (N, C)."
        )
    if y.dtype.kind == "f":
        nonfinite = np.flatnonzero(~np.isfinite(y))
        if len(nonfinite):
            raise BadInputError(
                f"{file}: labels must be integers; found {y[nonfinite[0]]} in {where} labels "
                f"(row {nonfinite[0]}). Drop or fix the unlabelled examples."
            )
        fractional = np.flatnonzero(y != np.round(y))
        if len(fractional):
            raise BadInputError(
                f"{file}: labels must be integers; found {y[fractional[0]]:g} in {where} labels "
                f"(row {fractional[0]}). Are these probabilities or regression targets? netmedic "
                "trains classifiers: give class indices 0 … C-1."
            )
        notes.append(f"{where} labels were stored as {y.dtype}; converted to int64")
    negative = np.flatnonzero(y < 0)
    if len(negative):
        raise BadInputError(
            f"{file}: labels must be integers >= 0; found {y[negative[0]]:g} in {where} labels "
            f"(row {negative[0]}). Shift them so classes are numbered 0 … C-1 (-1 often marks "
            "'unlabelled': drop those rows)."
        )
    too_big = np.flatnonzero(y > MAX_CLASS_INDEX)
    if len(too_big):
        raise BadInputError(
            f"{file}: found label {y[too_big[0]]:g} in {where} labels (row {too_big[0]}); class "
            f"indices above {MAX_CLASS_INDEX:,} look like IDs or values, not classes. Is the "
            "label in the first column?"
        )
    return y.astype(np.int64)


def _from_one_hot(y: np.ndarray, where: str, file: str) -> np.ndarray:
    is_binary = (y == 0) | (y == 1)
    row_sums = y.sum(axis=1) if is_binary.all() else None
    if row_sums is None or not np.all(row_sums == 1):
        if row_sums is None:
            row = int(np.flatnonzero(~is_binary.all(axis=1))[0])
            what = f"row {row} holds {y[row][~is_binary[row]][0]:g}"
        else:
            row = int(np.flatnonzero(row_sums != 1)[0])
            what = f"row {row} has {row_sums[row]:g} ones"
        raise BadInputError(
            f"{file}: {where} labels have shape {y.shape} but are not one-hot ({what}). "
            "Expected (N,) class indices, or (N, C) with exactly one 1 per row."
        )
    return np.argmax(y, axis=1)


def check_label_range(y: np.ndarray, num_classes: int, where: str, file: str) -> None:
    """Raise when a label is outside ``[0, num_classes)``, naming the row and a likely cause."""
    bad = np.flatnonzero((y < 0) | (y >= num_classes))
    if len(bad) == 0:
        return
    hint = "Is the dataset the one you meant?"
    if y.min() >= 1 and y.max() == num_classes:
        hint = f"They look 1-based (1 … {num_classes}): subtract 1."
    raise BadInputError(
        f"{file}: labels must be integers in [0, {num_classes - 1}]; found {y[bad[0]]} in "
        f"{where} labels (row {bad[0]}). {hint}"
    )


def to_example_layout(x: np.ndarray, where: str, file: str, notes: list[str]) -> np.ndarray:
    """Images as ``(N, C, H, W)``, tabular data as ``(N, D)``; conversions are noted.

    ``(N, 784)`` becomes ``(N, 1, 28, 28)`` (see :data:`KNOWN_IMAGE_SHAPES`), ``(N, H, W)``
    gains a channel axis, and ``(N, H, W, C)`` with C in (1, 3, 4) is transposed to NCHW.
    """
    if x.ndim == 2 and x.shape[1] in KNOWN_IMAGE_SHAPES:
        shape = KNOWN_IMAGE_SHAPES[x.shape[1]]
        notes.append(
            f"{where} rows of {x.shape[1]} values read as {'×'.join(map(str, shape))} images "
            f"(N, C, H, W); flatten with x.reshape(len(x), -1) for an MLP"
        )
        return x.reshape(len(x), *shape)
    if x.ndim == 3:
        notes.append(f"{where} images {x.shape[1:]} given a channel axis: (N, 1, H, W)")
        return x[:, None, :, :]
    if x.ndim == 4 and x.shape[1] not in _CHANNEL_COUNTS and x.shape[3] in _CHANNEL_COUNTS:
        notes.append(f"{where} images were channels-last (N, H, W, C); transposed to (N, C, H, W)")
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    if x.ndim > 4:
        raise BadInputError(
            f"{file}: {where} inputs have shape {x.shape}; expected (N, D) or (N, C, H, W)."
        )
    return x


def build_dataset(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray | None,
    y_test: np.ndarray | None,
    *,
    name: str,
    source: str,
    seed: int = 0,
    num_classes: int | None = None,
    class_names: tuple[str, ...] | None = None,
    notes: list[str] | None = None,
) -> Dataset:
    """Validate raw arrays and assemble a :class:`Dataset`; split 80/20 when there is no test set.

    ``source`` names the file in every message. ``num_classes``, when known (named datasets),
    bounds the labels; otherwise it is ``max label + 1``.
    """
    notes = list(notes or [])
    file = source
    one_hot_width = max(_one_hot_width(y_train), _one_hot_width(y_test))
    x_train = to_example_layout(check_inputs(x_train, "train", file), "train", file, notes)
    y_train = to_class_indices(y_train, "train", file, notes)
    _check_lengths(x_train, y_train, "train", file)
    if x_test is None:
        x_train, y_train, x_test, y_test = _split(x_train, y_train, seed, notes, file)
    else:
        x_test = to_example_layout(check_inputs(x_test, "test", file), "test", file, notes)
        y_test = to_class_indices(y_test, "test", file, notes)
        _check_lengths(x_test, y_test, "test", file)
    if x_train.shape[1:] != x_test.shape[1:]:
        raise BadInputError(
            f"{file}: train examples have shape {x_train.shape[1:]} but test examples "
            f"{x_test.shape[1:]}; both splits must hold the same kind of example."
        )
    if num_classes is None:  # one-hot labels also tell C when the last classes are absent
        num_classes = max(int(max(y_train.max(), y_test.max())) + 1, one_hot_width)
    for y, where in ((y_train, "train"), (y_test, "test")):
        check_label_range(y, num_classes, where, file)
    unseen = np.setdiff1d(np.unique(y_test), np.unique(y_train))
    if len(unseen):
        notes.append(f"test labels include classes never seen in training: {unseen.tolist()}")
    return Dataset(
        x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test, name=name,
        num_classes=num_classes, source=source, notes=notes, class_names=class_names,
    )


def _one_hot_width(y: np.ndarray | None) -> int:
    shape = np.shape(y) if y is not None else ()
    return shape[1] if len(shape) == 2 and shape[1] > 1 else 0


def _check_lengths(x: np.ndarray, y: np.ndarray, where: str, file: str) -> None:
    if len(x) != len(y):
        raise BadInputError(
            f"{file}: {where} inputs have {len(x):,} examples but {where} labels have "
            f"{len(y):,}; they must match one to one. Were they saved from different "
            "subsets, or is one of them transposed (examples in columns)?"
        )


def _split(
    x: np.ndarray, y: np.ndarray, seed: int, notes: list[str], file: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if len(y) < 2:
        raise BadInputError(
            f"{file}: only {len(y)} example and no test set; need at least 2 examples to split "
            "80/20, or save a test set as x_test, y_test."
        )
    test_size = holdout_size(len(y))
    train_idx, test_idx = stratified_split(y, test_size, np.random.default_rng(seed))
    share = round(100 * DEFAULT_TEST_FRACTION)
    notes.append(
        f"no test set in the file: split {100 - share}/{share} stratified with seed {seed} "
        f"({len(train_idx):,} train / {len(test_idx):,} test)"
    )
    return x[train_idx], y[train_idx], x[test_idx], y[test_idx]


def check_input_size(
    dataset: Dataset, expected_features: int | tuple[int, ...], model_spec: str
) -> None:
    """Raise a clear :class:`BadInputError` when the model's input size does not fit the data.

    Parameters
    ----------
    dataset : the loaded data
    expected_features : the model's input: a feature count (MLP, compared with the flattened
        example) or an example shape ``(C, H, W)`` (CNN)
    model_spec : the user's ``--model`` text, quoted in the message
    """
    shape = dataset.example_shape
    expected = expected_features
    if isinstance(expected, int):
        if expected == dataset.num_features:
            return
        found = f"{dataset.num_features} values per example ({'×'.join(map(str, shape))})"
        want = f"{expected} input features"
        fix = f"make the model's first size {dataset.num_features}"
        if model_spec.startswith("mlp:"):
            rest = model_spec[4:].split("-", 1)
            tail = rest[1] if len(rest) > 1 else "…"
            fix += f": --model mlp:{dataset.num_features}-{tail}"
    else:
        if tuple(expected) == shape:
            return
        found = f"examples of shape {shape}"
        want = f"inputs of shape {tuple(expected)}"
        fix = "use data of that shape, or an MLP (--model mlp:…) for tabular data"
    raise BadInputError(
        f"model {model_spec!r} expects {want} but {dataset.name} has {found}; {fix}."
    )
