"""Learning-rate schedulers, step for step as torch.optim.lr_scheduler (docs/layers.md).

A scheduler changes the ``"lr"`` of each parameter group; call ``step()`` once per epoch,
after the epoch's optimizer steps (ReduceLROnPlateau: ``step(val_loss)``). ``last_epoch``
counts the ``step()`` calls (the constructor makes the first, to epoch 0). As in torch, each
step updates the lr from the current one, so a change made by hand in between carries on;
``step(epoch)`` jumps with the closed form. To continue a run, build the scheduler, then load
the optimizer's state and the scheduler's.
"""

from __future__ import annotations

import math
import numbers
import warnings
from bisect import bisect_right
from collections import Counter

from .optimizer import Optimizer

__all__ = ["LRScheduler", "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR",
           "ReduceLROnPlateau"]

_EPOCH_DEPRECATION = ("The epoch parameter in scheduler.step() was deprecated in PyTorch; "
                      "call scheduler.step() without it once per epoch")


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value):
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and math.isfinite(value))


def _check_optimizer(optimizer):
    _check(isinstance(optimizer, Optimizer), f"{type(optimizer).__name__} is not an Optimizer "
           "(a scheduler takes the optimizer whose learning rates it changes)", TypeError)


def _check(ok, message, error=ValueError):
    if not ok:
        raise error(message)


def _check_gamma(scheduler, gamma):
    _check(_is_real(gamma) and gamma > 0, f"{scheduler}: gamma must be a number > 0, got "
           f"{gamma!r}")


class LRScheduler:
    """Base class of the epoch-based schedulers: each group gets ``"initial_lr"`` (its lr
    now, in ``base_lrs``); a ``last_epoch`` other than -1 continues a schedule whose groups
    hold it (from a loaded optimizer state)."""

    def __init__(self, optimizer, last_epoch=-1):
        _check_optimizer(optimizer)
        _check(_is_int(last_epoch) and last_epoch >= -1, f"{type(self).__name__}: last_epoch "
               f"must be an int >= -1, got {last_epoch!r}")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                _check("initial_lr" in group, f"param 'initial_lr' is not specified in "
                       f"param_groups[{i}] when resuming a scheduler with last_epoch >= 0: load "
                       "the optimizer's state first, or start with last_epoch=-1", KeyError)
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self._is_initial = True              # the constructor's step, to last_epoch + 1
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_last_lr(self):
        """The learning rate of each parameter group after the last ``step()``."""
        return list(self._last_lr)

    def get_lr(self):
        """The next learning rate of each group (inside ``step()``)."""
        raise NotImplementedError

    def step(self, epoch=None):
        """Advance one epoch (``epoch``, deprecated in torch, jumps there, and warns)."""
        self._step_count += 1
        self._get_lr_called_within_step = True
        try:
            if epoch is None:
                self.last_epoch += 1
                values = self.get_lr()
            else:
                warnings.warn(_EPOCH_DEPRECATION, UserWarning, stacklevel=2)
                _check(_is_int(epoch), f"epoch must be an int, got {epoch!r}", TypeError)
                self.last_epoch = epoch
                values = self._get_closed_form_lr()
        finally:
            self._get_lr_called_within_step = False
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = self._current_lrs()

    def _get_closed_form_lr(self):
        return self.get_lr()

    def _current_lrs(self):
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self):
        """Everything but the optimizer, under torch's keys, as numbers and lists."""
        return {key: (Counter(value) if isinstance(value, Counter) else
                      list(value) if isinstance(value, list) else value)
                for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict):
        """Continue from a :meth:`state_dict` (also through JSON); an unfit one changes nothing."""
        name = f"{type(self).__name__}.load_state_dict"
        _check(isinstance(state_dict, dict), f"{name}: expected a dict, as state_dict() "
               f"returns, got a {type(state_dict).__name__}", TypeError)
        unknown = sorted(set(state_dict) - set(self.state_dict()))
        _check(not unknown, f"{name}: unknown keys {unknown} (a state of another scheduler?)")
        groups = len(self.optimizer.param_groups)
        for key in ("base_lrs", "_last_lr", "min_lrs"):
            value = state_dict.get(key)
            _check(value is None or (isinstance(value, list) and len(value) == groups),
                   f"{name}: {key} should list one value per parameter group ({groups}), "
                   f"got {value!r}")
        for key in ("last_epoch", "_step_count"):
            _check(key not in state_dict or _is_int(state_dict[key]),
                   f"{name}: {key} should be an int, got {state_dict.get(key)!r}")
        self.__dict__.update({k: (list(v) if isinstance(v, list) else v)
                              for k, v in state_dict.items()})


class StepLR(LRScheduler):
    """Multiply each group's lr by ``gamma`` every ``step_size`` epochs.

    ``lr = initial_lr * gamma ** (epoch // step_size)``: with lr 0.1, step_size 5 and
    gamma 0.1, epochs 0-4 use 0.1, epochs 5-9 use 0.01, ..."""

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        _check(_is_int(step_size) and step_size >= 1,
               f"StepLR: step_size must be an int >= 1, got {step_size!r}")
        _check_gamma("StepLR", gamma)
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size)
                for base_lr in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply each group's lr by ``gamma`` at each milestone epoch.

    ``lr = initial_lr * gamma ** (number of milestones <= epoch)``: with milestones
    [5, 8], epochs 0-4 use lr, 5-7 lr * gamma, 8 on lr * gamma ** 2 (a milestone given
    twice decays twice)."""

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        try:
            milestones = list(milestones)
        except TypeError:
            raise ValueError(f"MultiStepLR: milestones must be a list of epochs, got "
                             f"{milestones!r}") from None
        _check(all(_is_int(m) and m >= 0 for m in milestones),
               f"MultiStepLR: milestones must be ints >= 0, got {milestones}")
        _check_gamma("MultiStepLR", gamma)
        self.milestones, self.gamma = Counter(milestones), gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch not in self.milestones:
            return self._current_lrs()
        return [group["lr"] * self.gamma ** self.milestones[self.last_epoch]
                for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        milestones = sorted(self.milestones.elements())
        return [base_lr * self.gamma ** bisect_right(milestones, self.last_epoch)
                for base_lr in self.base_lrs]

    def load_state_dict(self, state_dict):
        """As :meth:`LRScheduler.load_state_dict` (milestones may have string keys)."""
        if isinstance(state_dict, dict) and isinstance(state_dict.get("milestones"), dict):
            try:
                milestones = Counter({int(k): int(v)
                                      for k, v in state_dict["milestones"].items()})
            except (TypeError, ValueError):
                raise ValueError("MultiStepLR.load_state_dict: milestones should map epochs "
                                 f"to counts, got {state_dict['milestones']!r}") from None
            state_dict = {**state_dict, "milestones": milestones}
        super().load_state_dict(state_dict)


class ExponentialLR(LRScheduler):
    """Multiply each group's lr by ``gamma`` (e.g. 0.9) every epoch: ``lr = initial_lr *
    gamma ** epoch``."""

    def __init__(self, optimizer, gamma, last_epoch=-1):
        _check_gamma("ExponentialLR", gamma)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial:      # resuming: the constructor's step leaves the lr as it is
            return self._current_lrs()
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        return [base_lr * self.gamma ** self.last_epoch for base_lr in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Lower each group's lr along half a cosine, from ``initial_lr`` at epoch 0 to
    ``eta_min`` at epoch ``T_max``::

        lr = eta_min + (initial_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2

    The recursive update equals this up to rounding; after ``T_max`` the lr rises again."""

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        _check(_is_int(T_max) and T_max >= 1,
               f"CosineAnnealingLR: T_max must be an int >= 1, got {T_max!r}")
        _check(_is_real(eta_min) and eta_min >= 0,
               f"CosineAnnealingLR: eta_min must be a number >= 0, got {eta_min!r}")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        eta_min, t_max, epoch = self.eta_min, self.T_max, self.last_epoch
        if self._is_initial:
            return self._current_lrs()
        if self._step_count == 1 and epoch > 0:
            return self._get_closed_form_lr()
        if (epoch - 1 - t_max) % (2 * t_max) == 0:
            return [group["lr"] + (base_lr - eta_min) * (1 - math.cos(math.pi / t_max)) / 2
                    for base_lr, group in zip(self.base_lrs, self.optimizer.param_groups)]
        return [(1 + math.cos(math.pi * epoch / t_max))
                / (1 + math.cos(math.pi * (epoch - 1) / t_max))
                * (group["lr"] - eta_min) + eta_min
                for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        return [self.eta_min + (base_lr - self.eta_min)
                * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
                for base_lr in self.base_lrs]


class ReduceLROnPlateau(LRScheduler):
    """Multiply each group's lr by ``factor`` when a metric stops improving.

    ``step(metric)`` after each evaluation: when more than ``patience`` evaluations in a
    row do not beat the best (``metric < best * (1 - threshold)`` in ``mode`` "min",
    ``> best * (1 + threshold)`` in "max"; ``threshold_mode="abs"``: ``best -/+
    threshold``), every lr becomes ``max(lr * factor, min_lr)`` (unless the change is below
    ``eps``) and the next ``cooldown`` evaluations are not counted."""

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0, eps=1e-8):
        _check_optimizer(optimizer)
        _check(_is_real(factor) and factor < 1.0,
               f"Factor should be < 1.0 (the lr is multiplied by it), got {factor!r}")
        _check(factor >= 0, f"ReduceLROnPlateau: factor must be >= 0, got {factor!r}")
        for name, value, kind in (("patience", patience, "an int"),
                                  ("cooldown", cooldown, "an int"),
                                  ("threshold", threshold, "a number"), ("eps", eps, "a number")):
            ok = _is_int(value) if kind == "an int" else _is_real(value)
            _check(ok and value >= 0,
                   f"ReduceLROnPlateau: {name} must be {kind} >= 0, got {value!r}")
        groups = len(optimizer.param_groups)
        if isinstance(min_lr, (list, tuple)):
            _check(len(min_lr) == groups, f"expected {groups} min_lrs, got {len(min_lr)}")
            min_lrs, default_min_lr = list(min_lr), None
        else:
            min_lrs, default_min_lr = [min_lr] * groups, min_lr
        _check(all(_is_real(m) and m >= 0 for m in min_lrs),
               f"ReduceLROnPlateau: min_lr must be numbers >= 0, got {min_lr!r}")
        self.optimizer, self.factor = optimizer, factor
        self.default_min_lr, self.min_lrs = default_min_lr, min_lrs
        self.patience, self.cooldown, self.eps = patience, cooldown, eps
        self.last_epoch = 0
        self._last_lr = self._current_lrs()
        self._init_is_better(mode, threshold, threshold_mode)
        self.best, self.cooldown_counter, self.num_bad_epochs = self.mode_worse, 0, 0

    def _init_is_better(self, mode, threshold, threshold_mode):
        _check(mode in ("min", "max"), f"mode {mode!r} is unknown! (use 'min' or 'max')")
        _check(threshold_mode in ("rel", "abs"),
               f"threshold mode {threshold_mode!r} is unknown! (use 'rel' or 'abs')")
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.mode, self.threshold, self.threshold_mode = mode, threshold, threshold_mode

    @property
    def in_cooldown(self):
        return self.cooldown_counter > 0

    def _is_better(self, a, best):
        """Whether metric ``a`` improves on ``best`` under ``mode`` and ``threshold``."""
        rel = self.threshold_mode == "rel"
        if self.mode == "min":
            return a < (best * (1.0 - self.threshold) if rel else best - self.threshold)
        return a > (best * (self.threshold + 1.0) if rel else best + self.threshold)

    def step(self, metrics=None, epoch=None):
        """Count one evaluation of ``metrics`` (a number) and lower the lr when it is due."""
        try:
            current = float(metrics)
        except (TypeError, ValueError):
            raise TypeError(f"ReduceLROnPlateau.step needs the metric it watches (e.g. "
                            f"the validation loss), got {metrics!r}") from None
        if epoch is None:
            epoch = self.last_epoch + 1
        else:
            warnings.warn(_EPOCH_DEPRECATION, UserWarning, stacklevel=2)
        self.last_epoch = epoch
        if self._is_better(current, self.best):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0            # bad evaluations in the cooldown don't count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = self._current_lrs()

    def _reduce_lr(self):
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            _check(self.default_min_lr is not None, f"the optimizer has {len(groups)} "
                   f"parameter groups, ReduceLROnPlateau was given {len(self.min_lrs)} "
                   "min_lrs; set scheduler.min_lrs to one per group", RuntimeError)
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, min_lr)
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr

    def load_state_dict(self, state_dict):
        """As :meth:`LRScheduler.load_state_dict`; also checks the modes."""
        before = dict(self.__dict__)
        super().load_state_dict(state_dict)
        try:
            self._init_is_better(self.mode, self.threshold, self.threshold_mode)
        except ValueError:
            self.__dict__.clear()
            self.__dict__.update(before)
            raise
