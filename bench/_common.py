"""What every benchmark here does first: a clean BLAS environment, and saying which BLAS it is."""

from __future__ import annotations

import os
import sys
from pathlib import Path

#: set on some machines, they make OpenBLAS pick a slow kernel; unset for BOTH sides of a bench
SLOW_BLAS_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def clean_blas_environment() -> list[str]:
    """Re-execute this script without the variables above (they are read when OpenBLAS loads,
    so they cannot be changed from inside). Returns the names that were removed."""
    removed = [v for v in SLOW_BLAS_VARIABLES if v in os.environ]
    if removed:
        env = {k: v for k, v in os.environ.items() if k not in SLOW_BLAS_VARIABLES}
        env["NETMEDIC_BENCH_UNSET"] = ",".join(removed)
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    return [v for v in os.environ.get("NETMEDIC_BENCH_UNSET", "").split(",") if v]


def blas_description() -> str:
    from threadpoolctl import threadpool_info

    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    return "; ".join(
        f"{i.get('internal_api')} {i.get('version')} kernel {i.get('architecture')} "
        f"{i.get('num_threads')} threads" for i in blas
    ) or "no BLAS reported"


def numpy_threads() -> int:
    from threadpoolctl import threadpool_info

    counts = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
    return max(counts) if counts else 1


def write_json(path: str | None, figures: dict) -> None:
    if path:
        from netmedic import atomic

        atomic.write_json(Path(path), figures)
        print(f"wrote {path}")
