"""Element-wise activations and softmax, each with its derivative (each function's docstring
gives its formula; the table is in the Activations section of ``docs/layers.md``).

At NaN the derivatives are PyTorch's: ReLU passes ``dout`` through (NaN is not ``<= 0``),
LeakyReLU scales it by ``a`` (NaN is not ``> 0``). Every ``*_backward`` checks ``dout``
against what its forward returned (shape; another float dtype is converted to forward's).
"""

import numpy as np

from ..checks import check_grad, check_input
from ..kernels.activation import relu_backward_compiled
from ..kernels.parallel import parallel_over_batch

__all__ = ["relu_forward", "relu_backward", "leaky_relu_forward", "leaky_relu_backward",
           "tanh_forward", "tanh_backward", "sigmoid_forward", "sigmoid_backward",
           "softmax_forward", "softmax_backward", "log_softmax"]


def relu_forward(x, inplace=False):
    """Returns ``(out, out)``: ``x > 0`` exactly where ``out > 0``, so the cache is ``out``
    itself (modifying it before backward changes the gradient). ``inplace=True`` writes
    the result into ``x``."""
    check_input(x, np.ndim(x), "relu")
    zero = x.dtype.type(0)
    if x.ndim == 0:
        return (np.maximum(x, zero),) * 2
    out = x if inplace else np.empty_like(x)      # large batches: one slice per thread
    parallel_over_batch(lambda x_s, out_s: np.maximum(x_s, zero, out=out_s), (x, out))
    return out, out


def relu_backward(dout, out, *, layer="relu_backward"):
    """``dx = 0 where out <= 0, else dout`` (at NaN ``dout`` passes, as in PyTorch)."""
    dout = np.ascontiguousarray(check_grad(dout, out.shape, out.dtype, layer))
    out = np.ascontiguousarray(out)
    if dout.ndim == 0 or out.dtype not in (np.float32, np.float64):   # NumPy: any float
        return np.where(out <= 0, dout.dtype.type(0), dout)
    dx = np.empty_like(dout)
    parallel_over_batch(relu_backward_compiled, (dout, out, dx))
    return dx


def leaky_relu_forward(x, negative_slope=0.01):
    """``out = x where x > 0, else negative_slope * x``; returns ``(out, cache)``."""
    check_input(x, np.ndim(x), "leaky_relu")
    positive = x > 0
    out = np.where(positive, x, x * x.dtype.type(negative_slope))
    return out, (positive, negative_slope, out.dtype)


def leaky_relu_backward(dout, cache, *, layer="leaky_relu_backward"):
    """``dx = dout where x > 0, else negative_slope * dout``."""
    positive, negative_slope, dtype = cache
    dout = check_grad(dout, positive.shape, dtype, layer)
    return np.where(positive, dout, dout * dout.dtype.type(negative_slope))


def tanh_forward(x):
    """``out = tanh(x)``; returns ``(out, out)`` (the backward needs only ``out``)."""
    check_input(x, np.ndim(x), "tanh")
    out = np.tanh(x)
    return out, out


def tanh_backward(dout, out, *, layer="tanh_backward"):
    """``dx = dout * (1 - out**2)``."""
    dout = check_grad(dout, out.shape, out.dtype, layer)
    return dout * (1 - out * out)


def sigmoid_forward(x):
    """``out = 1 / (1 + exp(-x))``, without overflow; returns ``(out, out)``."""
    check_input(x, np.ndim(x), "sigmoid")
    # exp(-|x|) never overflows: 1/(1+e^-x) for x >= 0, e^x/(1+e^x) for x < 0
    e = np.exp(-np.abs(x))
    out = np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)
    return out, out


def sigmoid_backward(dout, out, *, layer="sigmoid_backward"):
    """``dx = dout * out * (1 - out)``."""
    dout = check_grad(dout, out.shape, out.dtype, layer)
    return dout * out * (1 - out)


def log_softmax(x, axis=-1):
    """``x - logsumexp(x)``, computed after subtracting the maximum (no overflow)."""
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax_forward(x, axis=-1):
    """``out = exp(x) / sum(exp(x))`` along ``axis``; returns ``(out, (out, axis))``."""
    check_input(x, np.ndim(x), "softmax")
    out = np.exp(log_softmax(x, axis))
    return out, (out, axis)


def softmax_backward(dout, cache, *, layer="softmax_backward"):
    """``dx = out * (dout - sum(dout * out))``, the sum along the softmax axis."""
    out, axis = cache
    dout = check_grad(dout, out.shape, out.dtype, layer)
    return out * (dout - np.sum(dout * out, axis=axis, keepdims=True))
