"""Build (or check) ``src/netmedic/data/mnist_mini.npz`` from the official MNIST test set.

    python tools/build_mnist_mini.py                 # rebuild from /work/shared/data/mnist
    python tools/build_mnist_mini.py --source DIR    # DIR holds t10k-*-ubyte.gz and MD5SUMS
    python tools/build_mnist_mini.py --check         # verify the shipped file (and the rebuild)

Steps: verify the two ``t10k-*.gz`` files against ``MD5SUMS`` (and ``SHA256SUMS`` when present)
in the source folder, read them, draw a stratified 8,000 / 2,000 split with
``numpy.random.default_rng(0)``, and compare the sha256 of the array bytes with
``netmedic.data.mini.MNIST_MINI_SHA256``. Exit 0 when everything matches, 1 otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from netmedic.data import mini  # noqa: E402
from netmedic.data.idx import read_idx  # noqa: E402
from netmedic.data.split import stratified_split  # noqa: E402

DEFAULT_SOURCE = Path("/work/shared/data/mnist")
OUTPUT = ROOT / "src" / "netmedic" / "data" / mini.MNIST_MINI_FILE
IMAGES, LABELS = "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"


def verify_sums(source: Path) -> None:
    """Check the t10k files against MD5SUMS (required) and SHA256SUMS (when present)."""
    for sums_name, algorithm in (("MD5SUMS", "md5"), ("SHA256SUMS", "sha256")):
        sums_file = source / sums_name
        if not sums_file.is_file():
            if algorithm == "md5":
                sys.exit(f"{sums_file} not found; cannot verify the source files.")
            continue
        expected = dict(reversed(line.split()) for line in sums_file.read_text().splitlines()
                        if line.strip())
        for name in (IMAGES, LABELS):
            found = hashlib.new(algorithm, (source / name).read_bytes()).hexdigest()
            if found != expected.get(name):
                sys.exit(f"{source / name}: {algorithm} {found} != {expected.get(name)}")
            print(f"{name}: {algorithm} ok ({found})")


def build(source: Path) -> dict[str, np.ndarray]:
    """The four mnist-mini arrays from the t10k files in ``source``."""
    verify_sums(source)
    images = read_idx(source / IMAGES)[:, None]  # (10000, 1, 28, 28) uint8
    labels = read_idx(source / LABELS).astype(np.int64)
    rng = np.random.default_rng(mini.MNIST_MINI_SEED)
    train_idx, test_idx = stratified_split(labels, mini.MNIST_MINI_TEST, rng)
    return {
        "x_train": images[train_idx], "y_train": labels[train_idx],
        "x_test": images[test_idx], "y_test": labels[test_idx],
    }


def report(arrays: dict[str, np.ndarray]) -> str:
    digest = mini.arrays_sha256(*(arrays[k] for k in ("x_train", "y_train", "x_test", "y_test")))
    for role, array in arrays.items():
        print(f"{role}: {array.shape} {array.dtype}")
    print("train class counts:", np.bincount(arrays["y_train"], minlength=10).tolist())
    print("test class counts: ", np.bincount(arrays["y_test"], minlength=10).tolist())
    print(f"sha256 of array bytes: {digest}")
    print(f"recorded in package:   {mini.MNIST_MINI_SHA256}")
    return digest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--check", action="store_true", help="verify, write nothing")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)

    if args.check:
        ok = True
        shipped = mini.load_mnist_mini(args.output)  # raises if its hash is wrong
        print(f"{args.output}: {args.output.stat().st_size:,} bytes, sha256 of arrays ok")
        if (args.source / IMAGES).is_file():
            arrays = build(args.source)
            ok = report(arrays) == mini.MNIST_MINI_SHA256
            ok &= all(np.array_equal(arrays[k], getattr(shipped, k)) for k in arrays)
        print("OK" if ok else "MISMATCH")
        return 0 if ok else 1

    arrays = build(args.source)
    digest = report(arrays)
    np.savez_compressed(args.output, **arrays)
    print(f"wrote {args.output} ({args.output.stat().st_size:,} bytes)")
    if digest != mini.MNIST_MINI_SHA256:
        print("MISMATCH: update MNIST_MINI_SHA256 in src/netmedic/data/mini.py if this change "
              "is intended")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
