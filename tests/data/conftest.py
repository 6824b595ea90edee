"""Shared fixtures for the data-layer tests: synthetic MNIST-like arrays, an isolated cache,
IDX folders, and a local HTTP mirror on 127.0.0.1 (the tests never touch the internet)."""

from __future__ import annotations

import functools
import http.server
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from netmedic.data import registry
from netmedic.data.idx import write_idx

IDX_NAMES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own cache, no Debian files, and a mirror that cannot be reached."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("NETMEDIC_CACHE", str(cache))
    monkeypatch.setenv("NETMEDIC_MIRROR", "http://127.0.0.1:9/")  # discard port: fails fast
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setattr(registry, "DEBIAN_DATASETS_DIR", tmp_path / "no-debian")
    return cache


def _images(n: int, rng: np.random.Generator, num_classes: int = 10) -> tuple:
    y = np.arange(n) % num_classes
    rng.shuffle(y)
    x = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    return x, y.astype(np.uint8)


@pytest.fixture
def arrays() -> dict[str, np.ndarray]:
    """Small MNIST-like splits: x (N, 28, 28) uint8, y (N,) uint8 with 10 balanced classes."""
    rng = np.random.default_rng(123)
    x_train, y_train = _images(60, rng)
    x_test, y_test = _images(20, rng)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


@pytest.fixture
def write_idx_folder(arrays: dict[str, np.ndarray]) -> Callable[..., Path]:
    """``write_idx_folder(folder, gz=True, stems=IDX_NAMES)`` writes the four IDX files."""

    def write(folder: Path, gz: bool = True, stems: dict[str, str] = IDX_NAMES) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        for role, stem in stems.items():
            write_idx(folder / (stem + (".gz" if gz else "")), arrays[role])
        return folder

    return write


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def http_mirror(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Serve ``tmp_path / "www"`` on 127.0.0.1 (port 0); ``url(sub)`` gives a base URL."""
    root = tmp_path / "www"
    root.mkdir(exist_ok=True)
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    port = server.server_address[1]
    try:
        yield lambda sub: f"http://127.0.0.1:{port}/{sub.strip('/')}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def flat(text: str) -> str:
    """Collapse the line wrapping rich adds, so messages can be matched as one line."""
    return re.sub(r"\s+", " ", text)


@pytest.fixture
def squash() -> Callable[[str], str]:
    return flat
