"""Real small training runs (tiny synthetic digits), made once per session for the report tests."""

from __future__ import annotations

import pytest
from rich.console import Console

from netmedic.train import TrainConfig, run_training
from tests._tiny import write_tiny_npz

QUIET = Console(quiet=True)

#: name -> TrainConfig overrides: a healthy run; a diverging one the guard repairs (a finding
#: and guard actions); one that blows up to Inf with the guard off (an error finding, a stop).
RUNS = {
    "healthy": dict(lr=0.01, epochs=3),
    "guarded": dict(optimizer="sgd", lr=20.0, schedule="constant", epochs=4, patience=0),
    "blown": dict(optimizer="sgd", lr=1e30, schedule="constant", epochs=2, guard=False),
}


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    return write_tiny_npz(tmp_path_factory.mktemp("data") / "tiny.npz")


@pytest.fixture(scope="session")
def trained(tmp_path_factory, tiny_data):
    """``trained(name)`` -> the RunResult of one of :data:`RUNS` (trained once, then cached)."""
    cache = {}

    def get(name):
        if name not in cache:
            values = dict(data=str(tiny_data), model="mlp:64-32-10:relu", batch_size=32,
                          augment=0, out=str(tmp_path_factory.mktemp(name)))
            values.update(RUNS[name])
            cache[name] = run_training(TrainConfig(**values), console=QUIET, progress=False)
        return cache[name]

    return get
