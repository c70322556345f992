"""Losses as modules: ``loss_fn(input, target)`` returns a float (an array of per-sample
losses for ``reduction="none"``), ``loss_fn.backward(dloss=1.0)`` dL/d(input). The math is
in :mod:`minitorch_cv.functional.loss`; usage in docs/layers.md.
"""

import math

import numpy as np

from .._dispatch import functional as F
from ..checks import check_int, check_real
from ..functional.loss import check_class_weight, check_reduction
from .module import Module

__all__ = ["CrossEntropyLoss", "MSELoss", "L1Loss"]


class _Loss(Module):
    _forward = _backward = None                   # functional functions (set by subclasses)
    _input_name = "The input contains"            # what the non-finite message blames

    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = check_reduction(reduction, type(self).__name__)

    def _arguments(self):
        return {}

    def _nan_by_definition(self, cache):
        """True when a NaN loss is the defined answer, not a sign of divergence."""
        return False

    def forward(self, input, target):
        loss, cache = type(self)._forward(input, target, self.reduction, **self._arguments())
        if (self.reduction != "none" and not math.isfinite(loss)
                and not self._nan_by_definition(cache)):
            raise FloatingPointError(
                f"{type(self).__name__}: the loss is {loss} (non-finite). {self._input_name} "
                "NaN/inf -- training has probably diverged; try a smaller learning rate.")
        self._store(cache)
        return loss

    def backward(self, dloss=1.0):
        """dL/d(input); ``dloss`` is dL/d(loss) (the loss's shape for ``reduction="none"``)."""
        return type(self)._backward(self._take_cache(), dloss,
                                    layer=f"{type(self).__name__}.backward")

    def extra_repr(self):
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class CrossEntropyLoss(_Loss):
    """Cross-entropy of logits (N, K) against integer labels (N,), PyTorch's options included.

    Parameters
    ----------
    weight : array (K,), optional
        A weight per class (a buffer: in ``state_dict`` as ``"weight"``, cast by ``to``).
    ignore_index : int
        Samples with this label count for nothing: no loss, no gradient, not in the mean.
    reduction : "mean", "sum" or "none"
        Also accepted as the first positional argument (the earlier signature).
    label_smoothing : float in [0, 1]
        ``e``: the target becomes ``t = (1 - e) * onehot(y) + e / K``.

    Shape: (N, K) and (N,) -> a number, or (N,) for ``reduction="none"``.

    Without options, ``loss = -(1/N) sum_n log softmax(z_n)[y_n]``. With them, sample n
    costs ``l_n = -sum_k w[k] t_n[k] log softmax(z_n)[k]`` (0 when ignored); "mean"
    divides ``sum_n l_n`` by ``sum_n w[y_n]`` over the samples not ignored (all ignored:
    NaN, as in PyTorch, and a zero gradient). Details in docs/layers.md.

    Backward
    --------
    ``dL/dz = (softmax(z) - onehot(y)) / N`` without options; with them
    ``dl_n/dz_n = (sum_k w[k] t_n[k]) softmax(z_n) - w * t_n``, divided like the loss.

    Raises
    ------
    ValueError, TypeError
        Labels that are not integers in [0, K) (or ``ignore_index``), or not one per row.
    FloatingPointError
        The loss is not finite although some sample counts (diverged training, NaN inputs).
    """

    _forward, _backward = F.cross_entropy_forward, F.cross_entropy_backward
    _input_name = "The logits contain"

    def __init__(self, weight=None, *, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        if isinstance(weight, str):                # CrossEntropyLoss("sum"): the old order
            weight, reduction = None, weight
        super().__init__(reduction)
        self.ignore_index = check_int(ignore_index, "ignore_index", "CrossEntropyLoss")
        self.label_smoothing = check_real(label_smoothing, "label_smoothing",
                                          "CrossEntropyLoss", 0.0, 1.0)
        if weight is not None:
            weight = np.asarray(weight)
            check_class_weight(weight, weight.shape[0] if weight.ndim == 1 else -1,
                               "CrossEntropyLoss")
            floating = np.issubdtype(weight.dtype, np.floating)
            weight = weight.astype(weight.dtype if floating else np.float32)   # a copy
        self.register_buffer("weight", weight)

    def _arguments(self):
        if self.weight is None and self.ignore_index == -100 and not self.label_smoothing:
            return {}                                              # the plain loss
        return {"weight": self.weight, "ignore_index": self.ignore_index,
                "label_smoothing": self.label_smoothing}

    def _nan_by_definition(self, cache):
        return len(cache) > 3 and cache[3][4] == 0       # every sample ignored: 0/0

    def extra_repr(self):
        parts = [] if self.weight is None else [f"weight=array of {len(self.weight)}"]
        options = (("ignore_index", -100), ("reduction", "mean"), ("label_smoothing", 0.0))
        parts += [f"{name}={getattr(self, name)!r}" for name, default in options
                  if getattr(self, name) != default]
        return ", ".join(parts)


class MSELoss(_Loss):
    """Mean squared error between predictions and targets of one shape (no broadcasting):
    ``loss = mean((x - t)^2)`` over all elements (``reduction``: "mean", "sum" or "none").

    Shape: (*) and (*) -> a number, or (*) for ``reduction="none"``.

    Backward
    --------
    ``dL/dx = 2 (x - t) / x.size`` for "mean" (no ``/ x.size`` for "sum"; times ``dloss``).
    A non-finite loss raises FloatingPointError.
    """

    _forward, _backward = F.mse_loss_forward, F.mse_loss_backward


class L1Loss(_Loss):
    """Mean absolute error ``loss = mean(|x - t|)``; parameters, shapes, errors as :class:`MSELoss`.

    Backward
    --------
    ``dL/dx = sign(x - t) / x.size`` for "mean", and 0 where ``x == t`` (``sign(0) = 0``,
    PyTorch's choice at the kink).
    """

    _forward, _backward = F.l1_loss_forward, F.l1_loss_backward
