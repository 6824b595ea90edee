"""Stratified splits: every class keeps (almost exactly) its share on both sides."""

from __future__ import annotations

import numpy as np

#: The share held out as a test set when a file has no test split of its own (API.md: 80/20).
DEFAULT_TEST_FRACTION = 0.2


def stratified_split(
    y: np.ndarray, test_size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a stratified split of labels ``y`` with exactly ``test_size`` test examples.

    Each class gives ``test_size * n_class / N`` examples to the test side, rounded by the
    largest-remainder method so the total is exact. Within a class the examples are drawn by
    ``rng``; both index arrays come back shuffled (classes interleaved).

    Parameters
    ----------
    y : (N,) int64 class indices
    test_size : number of test examples, 0 < test_size < N
    rng : the generator all random draws come from

    Returns
    -------
    (train_idx, test_idx) : int64 index arrays of lengths N - test_size and test_size
    """
    y = np.asarray(y)
    n = len(y)
    if not 0 < test_size < n:
        raise ValueError(f"test_size must be in (0, {n}); got {test_size}")
    classes, counts = np.unique(y, return_counts=True)
    share = counts * (test_size / n)
    take = np.floor(share).astype(np.int64)
    # largest remainder: the classes closest to rounding up get the leftover examples
    leftover = test_size - int(take.sum())
    order = np.argsort(-(share - take), kind="stable")
    take[order[:leftover]] += 1
    train_parts, test_parts = [], []
    for cls, k in zip(classes, take, strict=True):
        members = rng.permutation(np.flatnonzero(y == cls))
        test_parts.append(members[:k])
        train_parts.append(members[k:])
    train_idx = rng.permutation(np.concatenate(train_parts))
    test_idx = rng.permutation(np.concatenate(test_parts))
    return train_idx, test_idx


def holdout_size(n: int, fraction: float = DEFAULT_TEST_FRACTION) -> int:
    """Number of test examples for a fraction of ``n``, at least 1 and at most ``n - 1``."""
    return min(max(int(round(n * fraction)), 1), n - 1)
