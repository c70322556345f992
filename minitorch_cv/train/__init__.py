"""Training loop with the seed's validation cadence, early stopping and checkpoints."""

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .trainer import Trainer, atomic_write_bytes, atomic_write_json, evaluate

__all__ = ["CheckpointError", "Trainer", "atomic_write_bytes", "atomic_write_json",
           "evaluate", "load_checkpoint", "save_checkpoint"]
