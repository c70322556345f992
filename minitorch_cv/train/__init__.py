"""Training loop with the seed's validation cadence, early stopping and checkpoints, and the
library's recorded full runs."""

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .recorded_runs import RECORDED_RUNS, recorded_run, reference_accuracies
from .trainer import Trainer, atomic_write_bytes, atomic_write_json, evaluate

__all__ = ["CheckpointError", "RECORDED_RUNS", "Trainer", "atomic_write_bytes",
           "atomic_write_json", "evaluate", "load_checkpoint", "recorded_run",
           "reference_accuracies", "save_checkpoint"]
