"""Checkpoints: everything a run needs to continue bit for bit, in one ``.npz`` (no pickle).

Arrays: ``params/<name>`` (parameters and BatchNorm buffers), ``best/<name>``,
``opt/<slot>/<name>``, ``opt/steps``; the rest (config,
counters, history, the random streams' states) is one JSON document stored as a string array.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from netmedic import atomic
from netmedic.errors import BadInputError
from netmedic.train.config import TrainConfig

CHECKPOINT = "checkpoint.npz"
FORMAT = 1


def save(trainer: Any, out_dir: Path) -> Path:
    """Write ``out_dir/checkpoint.npz`` atomically with the trainer's whole state."""
    arrays = {f"params/{k}": v for k, v in trainer.model.state().items()}
    arrays.update({f"opt/{k}": np.asarray(v) for k, v in trainer.optimizer.state_dict().items()})
    if trainer.best_params is not None:
        arrays.update({f"best/{k}": v for k, v in trainer.best_params.items()})
    state = {
        "format": FORMAT,
        "config": trainer.config.to_dict(),
        "epoch": trainer.epoch,
        "step": trainer.step,
        "lr_scale": trainer.lr_scale,
        "clip_norm": trainer.clip_norm,
        "best_val_loss": trainer.best_val_loss,
        "stale_epochs": trainer.stale_epochs,
        "train_seconds": trainer.train_seconds,
        "train_samples": trainer.train_samples,
        "history": trainer.history,
        "streams": {name: getattr(trainer.streams, name).bit_generator.state
                    for name in ("shuffle", "augment")},
        "layer_rngs": trainer.model.rng_states(),
    }
    # best_val_loss may be inf before the first finite validation: keep it as a string
    state["best_val_loss"] = repr(float(trainer.best_val_loss))
    arrays["state"] = np.array(json.dumps(state))
    return atomic.savez(Path(out_dir) / CHECKPOINT, arrays)


def read(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``(state, arrays)`` of a checkpoint file or of the folder holding one."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT
    if not path.exists():
        raise BadInputError(
            f"--resume: no checkpoint at {path}; pass the --out folder of an earlier "
            "`netmedic train` run (it holds checkpoint.npz)"
        )
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        state = json.loads(str(arrays.pop("state")))
    except (OSError, ValueError, KeyError) as err:
        raise BadInputError(
            f"--resume: {path} is not a netmedic checkpoint ({err}); it may be truncated — "
            "start a new run or resume from another folder"
        ) from None
    if state.get("format") != FORMAT:
        raise BadInputError(f"--resume: {path} has checkpoint format {state.get('format')}, "
                            f"this netmedic reads format {FORMAT}")
    return state, arrays


def config_of(state: dict[str, Any], **overrides: Any) -> TrainConfig:
    values = dict(state["config"])
    values.update({k: v for k, v in overrides.items() if v is not None})
    return TrainConfig.from_dict(values)


def restore(trainer: Any, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Put a freshly built trainer (same config) into the checkpoint's state."""
    trainer.model.load_state({k[7:]: v for k, v in arrays.items() if k.startswith("params/")})
    trainer.model.set_rng_states(state["layer_rngs"])
    trainer.optimizer.load_state_dict({k[4:]: v for k, v in arrays.items() if k.startswith("opt/")})
    best = {k[5:]: v for k, v in arrays.items() if k.startswith("best/")}
    trainer.best_params = best or None
    trainer.epoch = state["epoch"]
    trainer.step = state["step"]
    trainer.lr_scale = state["lr_scale"]
    trainer.clip_norm = state["clip_norm"]
    trainer.best_val_loss = float(state["best_val_loss"])
    trainer.stale_epochs = state["stale_epochs"]
    trainer.train_seconds = state["train_seconds"]
    trainer.train_samples = state["train_samples"]
    trainer.history = state["history"]
    for name, bit_state in state["streams"].items():
        getattr(trainer.streams, name).bit_generator.state = bit_state
