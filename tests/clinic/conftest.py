"""Each scenario runs once per test session (broken run with a trace, gradient check, remedies,
fixed run); the tests read the cached results. The fixed runs are the costly part."""

from __future__ import annotations

import pytest

from netmedic import clinic


class _Runs:
    """scenario name -> ClinicResult (diagnosed with a trace, and fixed), computed on demand;
    ``trace(name)``: where its trace was written."""

    def __init__(self, folder) -> None:
        self.folder = folder
        self.cache: dict[str, object] = {}

    def trace(self, name: str):
        return self.folder / f"{name}.jsonl"

    def __call__(self, name: str):
        if name not in self.cache:
            self.cache[name] = clinic.run_scenario(name, fix_it=True, trace=self.trace(name))
        return self.cache[name]


@pytest.fixture(scope="session")
def runs(tmp_path_factory) -> _Runs:
    return _Runs(tmp_path_factory.mktemp("clinic"))


@pytest.fixture
def wide_console(monkeypatch):
    """Rich wraps at 80 columns when not on a terminal: widen it so messages stay on one line."""
    monkeypatch.setenv("COLUMNS", "250")


try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - threadpoolctl is a test dependency
    threadpool_limits = None


@pytest.fixture(autouse=True, scope="session")
def _one_blas_thread():
    """One BLAS thread: on two shared cores, two threads per GEMM spin against other work
    (measured: the 784-30-10 fixed run took 4 s to 54 s with two threads, depending on load)."""
    if threadpool_limits is None:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield
