"""Activation layers (formulas in :mod:`minitorch_cv.functional.activation`)."""

import numpy as np

from .._dispatch import functional as F
from ..checks import check_int, check_real
from .module import _FunctionalLayer, is_grad_enabled

__all__ = ["ReLU", "LeakyReLU", "Tanh", "Sigmoid", "Softmax"]


class ReLU(_FunctionalLayer):
    """``max(x, 0)``; backward ``dout * [x > 0]`` (at NaN the gradient passes, as in
    PyTorch). Shape: any -> same.

    ``inplace=True`` overwrites the input under :func:`~minitorch_cv.nn.no_grad` only: with
    gradients on, another layer's cache may hold the input (docs/layers.md).
    """

    _forward, _backward = F.relu_forward, F.relu_backward

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        if (self.inplace and not is_grad_enabled() and isinstance(x, np.ndarray)
                and x.flags.writeable):
            return F.relu_forward(x, inplace=True)[0]
        return super().forward(x)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class Tanh(_FunctionalLayer):
    """``tanh(x)``; backward ``dout * (1 - out^2)``. Shape: any -> same."""

    _forward, _backward = F.tanh_forward, F.tanh_backward


class Sigmoid(_FunctionalLayer):
    """``1 / (1 + exp(-x))``; backward ``dout * out * (1 - out)``. Shape: any -> same."""

    _forward, _backward = F.sigmoid_forward, F.sigmoid_backward


class LeakyReLU(_FunctionalLayer):
    """``x if x > 0 else negative_slope * x``; backward scales dout the same way."""

    _forward, _backward = F.leaky_relu_forward, F.leaky_relu_backward
    _fields = ("negative_slope",)

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope = check_real(negative_slope, "negative_slope", "LeakyReLU")


class Softmax(_FunctionalLayer):
    """``exp(x_i) / sum_j exp(x_j)`` along ``dim``.

    Backward: ``dx = out * (dout - sum_j dout_j * out_j)``. For training, feed logits to
    :class:`~minitorch_cv.nn.CrossEntropyLoss` instead (it applies log-softmax itself).
    """

    _forward, _backward = F.softmax_forward, F.softmax_backward
    _fields = ("dim",)

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = check_int(dim, "dim", "Softmax")
