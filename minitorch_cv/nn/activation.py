"""Activation layers (formulas in :mod:`minitorch_cv.functional.activation`)."""

import numpy as np

from .._dispatch import functional as F
from ..checks import check_int, check_real
from .module import Module, is_grad_enabled

__all__ = ["ReLU", "LeakyReLU", "Tanh", "Sigmoid", "Softmax"]


class _Elementwise(Module):
    _forward = None
    _backward = None

    def forward(self, x):
        out, cache = type(self)._forward(x)
        self._store(cache)
        return out

    def backward(self, dout):
        return type(self)._backward(dout, self._take_cache(),
                                    layer=f"{type(self).__name__}.backward")


class ReLU(_Elementwise):
    """``max(x, 0)``; backward ``dout * [x > 0]`` (at NaN the gradient passes, as in
    PyTorch). Shape: any -> same.

    ``inplace=True`` overwrites the input under :func:`~minitorch_cv.nn.no_grad`
    (inference: no second array of activations, as in PyTorch). When gradients are on, a
    new array is returned all the same: the input may be held in another layer's cache,
    which PyTorch guards with version counters and this library does not have.
    """

    _forward = staticmethod(F.relu_forward)
    _backward = staticmethod(F.relu_backward)

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        if self.inplace and not is_grad_enabled() and isinstance(x, np.ndarray) \
                and x.flags.writeable:
            return F.relu_forward(x, inplace=True)[0]
        return super().forward(x)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class Tanh(_Elementwise):
    """``tanh(x)``; backward ``dout * (1 - out^2)``. Shape: any -> same."""

    _forward = staticmethod(F.tanh_forward)
    _backward = staticmethod(F.tanh_backward)


class Sigmoid(_Elementwise):
    """``1 / (1 + exp(-x))``; backward ``dout * out * (1 - out)``. Shape: any -> same."""

    _forward = staticmethod(F.sigmoid_forward)
    _backward = staticmethod(F.sigmoid_backward)


class LeakyReLU(Module):
    """``x if x > 0 else negative_slope * x``; backward scales dout the same way."""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope = check_real(negative_slope, "negative_slope", "LeakyReLU")

    def forward(self, x):
        out, cache = F.leaky_relu_forward(x, self.negative_slope)
        self._store(cache)
        return out

    def backward(self, dout):
        return F.leaky_relu_backward(dout, self._take_cache(), layer="LeakyReLU.backward")

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class Softmax(Module):
    """``exp(x_i) / sum_j exp(x_j)`` along ``dim``.

    Backward: ``dx = out * (dout - sum_j dout_j * out_j)``. For training, feed logits to
    :class:`~minitorch_cv.nn.CrossEntropyLoss` instead (it applies log-softmax itself).
    """

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = check_int(dim, "dim", "Softmax")

    def forward(self, x):
        out, cache = F.softmax_forward(x, self.dim)
        self._store(cache)
        return out

    def backward(self, dout):
        return F.softmax_backward(dout, self._take_cache(), layer="Softmax.backward")

    def extra_repr(self):
        return f"dim={self.dim}"
