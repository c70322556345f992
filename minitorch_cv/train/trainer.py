"""Trainer: the training loop of the seed report, with checkpoints that survive interruption.

As the TDT4265 starter code, it validates every ``len(train_loader) //
validations_per_epoch`` steps, stops early when the first of the last ``early_stop_count``
validation losses is the smallest, and keeps the best weights for the final evaluation.
A scheduler steps once per epoch (``ReduceLROnPlateau``: after every validation, with its
loss, so its ``patience`` counts validations). Each validation logs the mean loss of the
training steps since the previous one (not a moving average) and records in
``history["val"]["lr"]`` the lr of each parameter group those steps used.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from .. import nn
from .._files import atomic_write_bytes, atomic_write_json
from .._module_state import kept_as_found
from ..io import save_npz
from ..optim.lr_scheduler import ReduceLROnPlateau
from . import checkpoint
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint

__all__ = ["FAILED_STOPS", "Trainer", "atomic_write_bytes", "atomic_write_json",
           "evaluate"]


def evaluate(model, loader, loss_fn=None, progress=False, desc="evaluate"):
    """Mean loss and accuracy of ``model`` (in eval mode, under no_grad) over ``loader``,
    averaged over images (not batches); the model's mode is put back, also on errors."""
    from tqdm.auto import tqdm

    loss_fn = loss_fn or nn.CrossEntropyLoss()
    total_loss, correct, count = 0.0, 0, 0
    with kept_as_found(model), nn.no_grad():
        model.eval()
        for x, y in tqdm(loader, desc=desc, disable=not progress, leave=False,
                         dynamic_ncols=True):
            logits = model(x)
            total_loss += loss_fn(logits, y) * len(y)
            correct += int((logits.argmax(axis=1) == y).sum())
            count += len(y)
    if count == 0:
        raise ValueError("evaluate: the loader yielded no images")
    return total_loss / count, correct / count


# history["stop_kind"] of a run that did not end as planned (no checkpoint is written then)
FAILED_STOPS = ("diverged", "bad_input")


def _non_finite(a):
    return "NaN" if np.isnan(a).any() else "inf"


def _generators(model):
    """The numpy Generators the model draws from (Dropout masks), by module name."""
    return {name: m.__dict__["rng"] for name, m in model.named_modules()
            if isinstance(m.__dict__.get("rng"), np.random.Generator)}


class _Clock:
    """Images, seconds and the sum of training losses since the last validation."""

    def __init__(self):
        self.restart()

    def restart(self):
        self.seen, self.t0, self.loss_sum, self.steps = 0, time.perf_counter(), 0.0, 0

    def elapsed(self):
        return time.perf_counter() - self.t0


class Trainer:
    """Train a model with validation, early stopping and checkpoints.

    ``train_loader`` is a :class:`~minitorch_cv.data.BatchIterator` (anything with
    ``len()``, ``get_state()`` and ``set_state()``). ``out_dir`` receives ``best.npz`` and,
    at every validation, ``checkpoint.npz``; ``resume=True`` continues exactly from the
    latter (an unsafe or unfit one raises :class:`~minitorch_cv.train.CheckpointError`,
    changing nothing; a completed run trains on to a larger ``epochs``).
    """

    def __init__(self, model, optimizer, train_loader, val_loader, test_loader=None, *,
                 loss_fn=None, epochs=10, early_stop_count=4, out_dir=None, resume=False,
                 validations_per_epoch=2, progress=True, log=print, scheduler=None):
        if epochs <= 0:
            raise ValueError(f"epochs must be positive, got {epochs}")
        if early_stop_count < 1:
            raise ValueError(f"early_stop_count must be >= 1, got {early_stop_count}")
        if len(train_loader) == 0:
            raise ValueError("the training loader yields no batches (fewer images than "
                             "one batch with drop_last?)")
        if scheduler is not None and getattr(scheduler, "optimizer", None) is not optimizer:
            raise ValueError("the scheduler was built on another optimizer than the "
                             "Trainer's: build it with the optimizer you pass to the Trainer")
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.train_loader, self.val_loader, self.test_loader = train_loader, val_loader, test_loader
        self.loss_fn = loss_fn or nn.CrossEntropyLoss()
        self.epochs, self.early_stop_count = epochs, early_stop_count
        self.steps_per_val = max(1, len(train_loader) // validations_per_epoch)
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.progress, self.log = progress, log
        self.history = {"train": {"step": [], "loss": [], "accuracy": []},
                        "val": {"step": [], "loss": [], "accuracy": [], "lr": []},
                        "steps_per_epoch": len(train_loader), "images_seen": 0,
                        "train_seconds": 0.0,
                        "stop_reason": None, "stop_kind": None, "stop_step": None}
        self.global_step, self.epoch, self.batch_in_epoch = 0, 0, 0
        self.best_val_loss, self.best_state = math.inf, None
        self.checkpoint_step = None          # the step of the last checkpoint written
        if resume:
            self._resume()

    @property
    def best_path(self):
        return self.out_dir / "best.npz" if self.out_dir else None

    @property
    def checkpoint_path(self):
        return self.out_dir / checkpoint.CHECKPOINT_NAME if self.out_dir else None

    def _save_checkpoint(self):
        if self.out_dir is not None:
            save_checkpoint(self.checkpoint_path, *self._checkpoint_contents())
            self.checkpoint_step = self.global_step

    def _checkpoint_contents(self):
        """(arrays, meta): everything a resume needs, as :func:`save_checkpoint` takes it."""
        arrays = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        meta = {
            "optimizer": {"type": type(self.optimizer).__name__, **self.optimizer.state_dict()},
            "scheduler": None if self.scheduler is None else {
                "type": type(self.scheduler).__name__, "state": self.scheduler.state_dict()},
            "history": self.history, "loader": self.train_loader.get_state(),
            **{k: getattr(self, k) for k in ("global_step", "epoch", "batch_in_epoch",
                                             "best_val_loss")},
            "generators": {k: g.bit_generator.state
                           for k, g in _generators(self.model).items()},
            "best_state": self.best_state,
        }
        return arrays, meta

    def _resume(self):
        path = self.checkpoint_path
        if path is None or not path.exists():
            legacy = self.out_dir / checkpoint.LEGACY_CHECKPOINT_NAME if self.out_dir else None
            if legacy is not None and legacy.exists():
                raise CheckpointError(checkpoint.legacy_checkpoint_message(legacy))
            self.log(f"resume: no checkpoint in {self.out_dir}, starting from scratch")
            return
        arrays, meta = load_checkpoint(path)
        saved = self._checkpoint_contents()
        try:
            self._load_checkpoint(arrays, meta)
        except BaseException as err:
            self._load_checkpoint(*saved)            # a refused checkpoint changes nothing
            unfit = (KeyError, TypeError, ValueError, IndexError, AttributeError)
            if isinstance(err, unfit) and not isinstance(err, CheckpointError):
                raise CheckpointError(f"{path} does not fit this run ({type(err).__name__}: "
                                      f"{err})") from None
            raise
        self.checkpoint_step = self.global_step
        self.log(f"resumed from {path}: step {self.global_step}, "
                 f"epoch {self.epoch}, batch {self.batch_in_epoch}")
        if (self.history.get("stop_reason") == "completed all epochs"
                and self.epoch < self.epochs):          # resumed with more epochs: extend
            self.history["stop_reason"] = self.history["stop_kind"] = None
            self.log(f"resume: training on to {self.epochs} epochs")

    def _load_checkpoint(self, arrays, meta):
        """Apply a checkpoint's contents (KeyError, TypeError or ValueError if unfit)."""
        opt, scheduler = meta["optimizer"], meta["scheduler"] or {"type": "no scheduler"}
        for theirs, ours in ((opt["type"], self.optimizer), (scheduler["type"], self.scheduler)):
            ours = "no scheduler" if ours is None else type(ours).__name__
            if theirs != ours:
                raise CheckpointError(f"{self.checkpoint_path}: written with {theirs}, this "
                                      f"run uses {ours}")
        model_state = {k[len("model."):]: v for k, v in arrays.items() if k.startswith("model.")}
        best_state = meta["best_state"]
        if best_state is not None and (
                list(best_state) != list(model_state)
                or any(best_state[k].shape != v.shape for k, v in model_state.items())):
            raise ValueError("the best weights do not match the model's keys and shapes")
        history = meta["history"]
        if not (isinstance(history, dict) and {"train", "val"} <= set(history)):
            raise ValueError("the history is not a dict with 'train' and 'val'")
        counters = [meta[k] for k in ("global_step", "epoch", "batch_in_epoch")]
        if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0
                   for c in counters):
            raise ValueError(f"step, epoch and batch must be non-negative ints, got {counters}")
        best_val_loss = float(meta["best_val_loss"])

        self.model.load_state_dict(model_state)
        self.optimizer.load_state_dict(opt)
        if self.scheduler is not None:
            self.scheduler.load_state_dict(scheduler["state"])
        self.train_loader.set_state(meta["loader"])
        generators = _generators(self.model)
        for name, state in meta["generators"].items():
            generators[name].bit_generator.state = state
        self.history, self.best_val_loss, self.best_state = history, best_val_loss, best_state
        self.global_step, self.epoch, self.batch_in_epoch = counters

    def should_early_stop(self) -> bool:
        """True when the first of the last ``early_stop_count`` validation losses is least."""
        recent = self.history["val"]["loss"][-self.early_stop_count:]
        return len(recent) == self.early_stop_count and recent[0] == min(recent)

    def train_step(self, x, y):
        """Forward, loss, backward, optimizer step; returns (loss, correct count). Non-finite
        logits or loss raise FloatingPointError before any parameter changes."""
        logits = self.model(x)
        if not np.isfinite(logits).all():
            raise FloatingPointError(f"the logits hold {_non_finite(logits)}")
        try:
            loss = self.loss_fn(logits, y)
        except FloatingPointError:
            raise FloatingPointError("the loss is not finite") from None
        if not math.isfinite(loss):
            raise FloatingPointError(f"the loss is {loss}")
        self.model.backward(self.loss_fn.backward())
        self.optimizer.step()
        self.optimizer.zero_grad()
        return loss, int((logits.argmax(axis=1) == y).sum())

    def validate(self):
        """Evaluate, record and keep the best weights (FloatingPointError if not finite)."""
        try:
            loss, acc = evaluate(self.model, self.val_loader, self.loss_fn,
                                 progress=self.progress, desc="validation")
        except FloatingPointError:
            raise FloatingPointError("the validation loss is not finite") from None
        if not math.isfinite(loss):
            raise FloatingPointError(f"the validation loss is {loss}")
        lrs = [group["lr"] for group in self.optimizer.param_groups]
        for key, value in (("step", self.global_step), ("loss", loss), ("accuracy", acc),
                           ("lr", lrs)):
            self.history["val"][key].append(value)
        if isinstance(self.scheduler, ReduceLROnPlateau):
            self.scheduler.step(loss)
        if loss < self.best_val_loss:
            self.best_val_loss = loss
            self.best_state = self.model.state_dict()
            if self.best_path is not None:
                save_npz(self.best_path, self.best_state)
        return loss, acc

    def fit(self):
        """Train until ``epochs`` are done or early stopping; returns the history. A
        non-finite loss or a bad batch ends training without an exception: the history
        records ``stop_reason``, ``stop_step`` and ``stop_kind`` ("diverged", "bad_input",
        "completed", "early_stop"), and the last good checkpoint is kept."""
        stop = self.history["stop_reason"]
        with kept_as_found(self.model):      # mode and needs_input_grad flags put back
            self.model.train()
            self.model.needs_input_grad = False     # only parameter gradients are needed
            try:
                while stop is None and self.epoch < self.epochs:
                    stop = self._train_epoch()
            except KeyboardInterrupt:
                saved = (f"the last checkpoint (step {self.checkpoint_step}) is in "
                         f"{self.out_dir}" if self.checkpoint_step is not None
                         else "no checkpoint was written")
                self.log(f"interrupted at step {self.global_step}; {saved}")
                raise
            self.history["epochs_run"] = self.global_step / len(self.train_loader)
            if not self.failed:              # a failed run keeps its last good checkpoint
                self.history["stop_reason"] = stop or "completed all epochs"
                self.history["stop_kind"] = ("completed" if stop in (None, "completed all epochs")
                                             else "early_stop")
                self._save_checkpoint()
        return self.history

    def _train_epoch(self):
        """Train (the rest of) an epoch; returns why training stops, or None."""
        from tqdm.auto import tqdm
        bar = tqdm(total=len(self.train_loader), initial=self.batch_in_epoch,
                   disable=not self.progress, leave=False, dynamic_ncols=True,
                   desc=f"epoch {self.epoch + 1}/{self.epochs}")
        clock = _Clock()
        try:
            for x, y in self.train_loader:
                stop = self._train_batch(x, y, clock, bar)
                if stop is not None:
                    return stop
            self.history["train_seconds"] += clock.elapsed()
            if self.batch_in_epoch:              # the epoch ended between two validations
                self._end_epoch()
            return None
        finally:
            bar.close()

    def _train_batch(self, x, y, clock, bar):
        """One step, and a validation when it is time; returns why training stops, or None."""
        step = self.global_step + 1
        batch = f"the input batch at step {step}"
        if len(y) == 0:
            self.history["train_seconds"] += clock.elapsed()
            return self._stop_failed("bad_input", step, f"{batch} is empty")
        try:
            loss, correct = self.train_step(x, y)
        except FloatingPointError as err:
            self.history["train_seconds"] += clock.elapsed()
            return self._failure(step, [(batch, x)], f"non-finite loss at step {step} ({err})")
        self.global_step, self.batch_in_epoch = self.global_step + 1, self.batch_in_epoch + 1
        for key, value in (("step", self.global_step), ("loss", loss),
                           ("accuracy", correct / len(y))):
            self.history["train"][key].append(value)
        self.history["images_seen"] += len(y)
        clock.seen, clock.loss_sum, clock.steps = (clock.seen + len(y), clock.loss_sum + loss,
                                                   clock.steps + 1)
        elapsed = clock.elapsed()
        bar.update(1)
        bar.set_postfix(mean_loss=f"{clock.loss_sum / clock.steps:.3f}",
                        img_s=f"{clock.seen / elapsed:.0f}", refresh=False)
        if self.global_step % self.steps_per_val:
            return None
        self.history["train_seconds"] += elapsed
        clock.restart()
        return self._validate_and_checkpoint()

    def _validate_and_checkpoint(self):
        """Validate, log, count a finished epoch, checkpoint; returns why training stops."""
        t, v = self.history["train"], self.history["val"]     # steps since the last validation
        start = int(np.searchsorted(t["step"], v["step"][-1] if v["step"] else 0, "right"))
        first, mean_loss = t["step"][start], float(np.mean(t["loss"][start:]))
        steps = (f"step {first}" if first == self.global_step else
                 f"mean of steps {first}-{self.global_step}")
        try:
            vloss, vacc = self.validate()
        except FloatingPointError:
            last = f" (the last training loss was {t['loss'][-1]:.4g})" if t["loss"] else ""
            batches = ((f"validation batch {i + 1}", x) for i, (x, _) in
                       enumerate(self.val_loader))
            return self._failure(self.global_step, batches, "non-finite validation loss "
                                 f"after step {self.global_step}{last}")
        self.log(f"step {self.global_step} (epoch {self.global_step / len(self.train_loader):.2f}"
                 f"): train loss {mean_loss:.4f} ({steps}), val loss {vloss:.4f}, val acc "
                 f"{vacc:.4f}")
        stop = (f"early stop: the last {self.early_stop_count - 1} validations did not improve "
                "the validation loss") if self.should_early_stop() else None
        if self.batch_in_epoch == len(self.train_loader):
            self._end_epoch()
        self._save_checkpoint()
        if stop:
            self.log(stop)
        return stop

    def _end_epoch(self):
        """Count the epoch and step an epoch-based scheduler (before the checkpoint that
        follows, so that a resume continues with the same lr)."""
        self.epoch, self.batch_in_epoch = self.epoch + 1, 0
        if self.scheduler is not None and not isinstance(self.scheduler, ReduceLROnPlateau):
            self.scheduler.step()

    @property
    def failed(self):
        """True when training stopped because of a non-finite loss or a bad batch."""
        return self.history.get("stop_kind") in FAILED_STOPS

    @property
    def best_step(self):
        """The step whose validation gave the best weights (None without them)."""
        val = self.history["val"]
        if self.best_state is not None and val["loss"]:
            return val["step"][int(np.argmin(val["loss"]))]
        return None

    def _stop_failed(self, kind, step, reason):
        """Record why training stops and say it in one line, with what is kept."""
        self.history.update(stop_reason=reason, stop_step=step, stop_kind=kind)
        if self.best_state is not None:
            where = f" in {self.best_path}" if self.best_path is not None else ""
            kept = (f"the best weights so far (step {self.best_step}, val loss "
                    f"{self.best_val_loss:.4f}) are kept{where}")
        else:
            kept = "no validation finished before, so there are no best weights"
        self.log(f"stopping: {reason}; {kept}")
        return reason

    def _failure(self, step, batches, what):
        """Stop as "bad_input" if one of ``batches`` ((name, x) pairs) is not finite, else
        as "diverged" (``what`` names the non-finite loss)."""
        for name, x in batches:
            x = np.asarray(x)
            if not np.isfinite(x).all():
                return self._stop_failed("bad_input", step, f"{name} holds {_non_finite(x)}")
        return self._stop_failed("diverged", step, f"training diverged: {what}; try a "
                                 "smaller learning rate")

    def restore_best(self):
        """Load the weights with the lowest validation loss (if any validation ran)."""
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)

    def final_evaluation(self, train_eval_loader=None):
        """Best weights on train (if given), validation and test: {"split": [loss, acc]};
        ``{}`` after a failed run (:attr:`failed`) without best weights."""
        if self.failed and self.best_state is None:
            return {}
        self.restore_best()
        results = {}
        for name, loader in (("train", train_eval_loader), ("val", self.val_loader),
                             ("test", self.test_loader)):
            if loader is not None:
                results[name] = list(evaluate(self.model, loader, self.loss_fn,
                                              progress=self.progress, desc=name))
        return results
