"""Atomic writes: a temp file in the target's folder, fsync, then ``os.replace``.

A crash or Ctrl-C mid-write leaves the previous file intact, never a half-written one.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np


def _write_atomically(path: Path, write: Callable[[IO[bytes]], None]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes 0600: reports and metrics are meant to be read
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_bytes(path: Path, data: bytes) -> Path:
    return _write_atomically(path, lambda fh: fh.write(data))


def write_text(path: Path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, doc: Any) -> Path:
    """Strict JSON (RFC 8259): NaN and ±Inf become ``null``; NumPy scalars become numbers."""
    return write_text(path, json.dumps(json_safe(doc), indent=2, allow_nan=False) + "\n")


def savez(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """``np.savez_compressed`` atomically; everything in it loads with ``allow_pickle=False``."""
    return _write_atomically(path, lambda fh: np.savez_compressed(fh, **arrays))


def json_safe(value: Any) -> Any:
    """``value`` with non-finite floats as ``None`` and NumPy types as Python ones."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
