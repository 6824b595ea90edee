"""Training: the loop that wires the engine to the doctor (ARCHITECTURE.md)."""

from netmedic.train.config import TrainConfig
from netmedic.train.run import RunResult, run_training
from netmedic.train.trainer import Trainer

__all__ = ["TrainConfig", "RunResult", "Trainer", "run_training"]
