"""A tiny learnable dataset for training tests: fast, seeded, real enough to learn."""

import numpy as np


def write_tiny_npz(path):
    """A learnable 10-class problem of 8×8 uint8 'images' (600 train, 200 test)."""
    rng = np.random.default_rng(0)
    prototypes = rng.integers(0, 256, size=(10, 1, 8, 8))

    def draw(n):
        y = rng.integers(0, 10, size=n)
        noise = rng.normal(scale=40, size=(n, 1, 8, 8))
        return np.clip(prototypes[y] + noise, 0, 255).astype(np.uint8), y

    x_train, y_train = draw(600)
    x_test, y_test = draw(200)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path
