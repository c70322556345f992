"""Training loop with the seed's validation cadence, early stopping and checkpoints."""

from .trainer import Trainer, atomic_write_bytes, atomic_write_json, evaluate

__all__ = ["Trainer", "atomic_write_bytes", "atomic_write_json", "evaluate"]
