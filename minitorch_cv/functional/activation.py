"""Element-wise activations and softmax, each with its derivative.

=========  ====================================  ===================================
name       forward                               backward (dx =)
=========  ====================================  ===================================
ReLU       max(x, 0)                             dout * [x > 0]
LeakyReLU  x if x > 0 else a * x                 dout * (1 if x > 0 else a)
Tanh       tanh(x)                               dout * (1 - out^2)
Sigmoid    1 / (1 + exp(-x))                     dout * out * (1 - out)
Softmax    exp(x_i) / sum_j exp(x_j)             out * (dout - sum_j dout_j * out_j)
=========  ====================================  ===================================
"""

import numpy as np

from ..kernels.activation import relu_backward_compiled
from ..kernels.parallel import parallel_over_batch

__all__ = ["relu_forward", "relu_backward", "leaky_relu_forward", "leaky_relu_backward",
           "tanh_forward", "tanh_backward", "sigmoid_forward", "sigmoid_backward",
           "softmax_forward", "softmax_backward", "log_softmax"]


def relu_forward(x, inplace=False):
    """Returns ``(out, cache)``; the cache is ``out`` itself, since ``x > 0`` exactly where
    ``out > 0`` (PyTorch's ReLU saves its output too). Modifying ``out`` in place before
    the backward pass would change the gradient. NaN stays NaN, as in PyTorch.

    ``inplace=True`` writes the result into ``x`` (a writeable array) and returns it.
    """
    zero = x.dtype.type(0)
    if x.ndim == 0:
        return (np.maximum(x, zero),) * 2
    out = x if inplace else np.empty_like(x)      # large batches: one slice per thread
    parallel_over_batch(lambda x_s, out_s: np.maximum(x_s, zero, out=out_s), (x, out))
    return out, out


def relu_backward(dout, out):
    """``dx = dout where out > 0, else 0`` (one pass, :mod:`~minitorch_cv.kernels.activation`)."""
    dout = np.ascontiguousarray(dout)
    out = np.ascontiguousarray(out, dtype=dout.dtype)
    if dout.ndim == 0:                             # a scalar: nothing to share out
        return np.where(out > 0, dout, dout.dtype.type(0))
    dx = np.empty_like(dout)
    parallel_over_batch(relu_backward_compiled, (dout, out, dx))
    return dx


def leaky_relu_forward(x, negative_slope=0.01):
    positive = x > 0
    return np.where(positive, x, x * x.dtype.type(negative_slope)), (positive, negative_slope)


def leaky_relu_backward(dout, cache):
    positive, negative_slope = cache
    return np.where(positive, dout, dout * dout.dtype.type(negative_slope))


def tanh_forward(x):
    out = np.tanh(x)
    return out, out


def tanh_backward(dout, out):
    return dout * (1 - out * out)


def sigmoid_forward(x):
    # exp(-|x|) never overflows: 1/(1+e^-x) for x >= 0, e^x/(1+e^x) for x < 0
    e = np.exp(-np.abs(x))
    out = np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)
    return out, out


def sigmoid_backward(dout, out):
    return dout * out * (1 - out)


def log_softmax(x, axis=-1):
    """``x - logsumexp(x)``, computed after subtracting the maximum (no overflow)."""
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax_forward(x, axis=-1):
    out = np.exp(log_softmax(x, axis))
    return out, (out, axis)


def softmax_backward(dout, cache):
    out, axis = cache
    return out * (dout - np.sum(dout * out, axis=axis, keepdims=True))
