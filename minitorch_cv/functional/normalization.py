"""Batch normalization, for BatchNorm1d (N, C) / (N, C, L) and BatchNorm2d (N, C, H, W).

The formulas, forward and backward, in training and evaluation mode, are the textbook
version's (:func:`minitorch_cv.reference.batchnorm_forward`). float32/float64 batches run
the loops of :mod:`minitorch_cv.kernels.batchnorm`; the NumPy lines below handle any other
dtype (and are what the tests hold the kernels to).
"""

import numpy as np

from ..checks import check_grad, check_input
from ..kernels.batchnorm import (
    batchnorm_affine_compiled,
    batchnorm_train_backward_compiled,
    batchnorm_train_forward_compiled,
)
from ..kernels.parallel import parallel_over, parallel_over_batch

__all__ = ["batchnorm_forward", "batchnorm_backward", "check_batchnorm_arrays"]


def _as_ncl(a):
    """(N, C), (N, C, L) or (N, C, H, W) as a contiguous (N, C, L) array (a view if it can)."""
    return np.ascontiguousarray(a).reshape(a.shape[0], a.shape[1], -1)


def _per_channel(v, c, dtype, default):
    """``v`` as a contiguous (C,) array, or ``default`` C times when ``v`` is None."""
    return np.full(c, default, dtype=dtype) if v is None else np.ascontiguousarray(v, dtype=dtype)


def _train_forward_compiled(x, gamma, beta, eps):
    """Training-mode forward by the kernels, channels shared out among the threads: out,
    x_hat, inv_std and the float64 batch mean and var."""
    c = x.shape[1]
    x3 = _as_ncl(x)
    out, x_hat = np.empty_like(x3), np.empty_like(x3)
    mean, var = np.empty(c), np.empty(c)
    inv_std = np.empty(c, dtype=x.dtype)
    g, b = _per_channel(gamma, c, x.dtype, 1), _per_channel(beta, c, x.dtype, 0)
    parallel_over(lambda c0, c1: batchnorm_train_forward_compiled(
        x3, g, b, eps, out, x_hat, mean, var, inv_std, c0, c1), c, size=x.size)
    return out.reshape(x.shape), x_hat.reshape(x.shape), inv_std, mean, var


def _train_forward_numpy(x, gamma, beta, eps):
    """The same as :func:`_train_forward_compiled`, written with NumPy reductions."""
    axes, shape = _shape_for_channels(x)
    mu = x.mean(axis=axes)
    centered = x - mu.reshape(shape)
    var = np.mean(np.square(centered), axis=axes)
    inv_std = (1.0 / np.sqrt(var + eps)).astype(x.dtype)
    x_hat = centered
    x_hat *= inv_std.reshape(shape)
    out = x_hat * gamma.reshape(shape) if gamma is not None else x_hat.copy()
    if beta is not None:
        out += beta.reshape(shape)
    return out, x_hat, inv_std, mu, var


def _shape_for_channels(x):
    """Axes to reduce over and the broadcast shape of per-channel vectors."""
    return (0,) + tuple(range(2, x.ndim)), (1, x.shape[1]) + (1,) * (x.ndim - 2)


def check_batchnorm_arrays(x, gamma, beta, running_mean, running_var):
    """x (N, C, ...) floating; the per-channel vectors (C,), gamma and beta of x's dtype."""
    check_input(x, np.ndim(x), "batch norm")
    if x.ndim not in (2, 3, 4):
        raise ValueError(f"batch norm: expected input (N, C), (N, C, L) or (N, C, H, W), "
                         f"got shape {x.shape}")
    c = x.shape[1]
    for name, v in (("gamma", gamma), ("beta", beta), ("running_mean", running_mean),
                    ("running_var", running_var)):
        if v is None:
            continue
        check_input(v, 1, f"batch norm ({name})", c, channel_axis=0, expected=f"({c},)")
        if name in ("gamma", "beta") and v.dtype != x.dtype:
            raise TypeError(f"batch norm: the input is {x.dtype} but {name} is {v.dtype}; "
                            f"convert one of them (x.astype(np.{v.dtype}))")
    if (running_mean is None) != (running_var is None):
        raise ValueError("batch norm: give both running_mean and running_var, or neither")


def batchnorm_forward(x, gamma, beta, running_mean, running_var, training=True,
                      momentum=0.1, eps=1e-5):
    """Normalize each channel (axis 1) of ``x``; updates the running statistics in place.
    The textbook version, with the parameters, cache and formulas:
    :func:`minitorch_cv.reference.batchnorm_forward`. Raises TypeError or ValueError for a
    non-float input, per-channel vectors of another length, gamma/beta of another dtype
    than ``x``, or one value per channel in training.

    Shape
    -----
    x (N, C), (N, C, L) or (N, C, H, W) -> out of x's shape; the per-channel vectors (C,).
    """
    check_batchnorm_arrays(x, gamma, beta, running_mean, running_var)
    use_batch_stats = training or running_mean is None
    if use_batch_stats:
        m = x.size // x.shape[1]
        if m < 2 and training:
            raise ValueError(f"batch norm: expected more than 1 value per channel when "
                             f"training, got input shape {x.shape}")
        if x.dtype in (np.float32, np.float64):
            out, x_hat, inv_std, mu, var = _train_forward_compiled(x, gamma, beta, eps)
        else:
            out, x_hat, inv_std, mu, var = _train_forward_numpy(x, gamma, beta, eps)
        if training and running_mean is not None:
            running_mean *= 1 - momentum
            running_mean += (momentum * mu).astype(running_mean.dtype)
            running_var *= 1 - momentum
            running_var += (momentum * var * (m / (m - 1))).astype(running_var.dtype)
        return out, (x_hat, inv_std, gamma, True, None)
    # Evaluation: one affine map per channel, as PyTorch computes it; backward rebuilds x_hat
    # out = x * scale + shift with scale = gamma / sqrt(var + eps), shift = beta - mean * scale
    c = x.shape[1]
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.result_type(x.dtype, np.float32))
    inv_std64 = 1.0 / np.sqrt(running_var.astype(np.float64) + eps)
    scale64 = inv_std64 * (1.0 if gamma is None else gamma.astype(np.float64))
    shift64 = (0.0 if beta is None else beta.astype(np.float64)) - running_mean * scale64
    scale = np.ascontiguousarray(np.broadcast_to(scale64, (c,)), dtype=x.dtype)
    shift = np.ascontiguousarray(np.broadcast_to(shift64, (c,)), dtype=x.dtype)
    x3 = _as_ncl(x)
    out = np.empty_like(x3)
    parallel_over_batch(lambda x_s, out_s: batchnorm_affine_compiled(x_s, scale, shift, out_s),
                        (x3, out))
    inv_std = inv_std64.astype(x.dtype)
    return out.reshape(x.shape), (None, inv_std, gamma, False, (x, running_mean.copy()))


def batchnorm_backward(dout, cache, *, layer="batchnorm_backward"):
    """Gradients of :func:`batchnorm_forward`: ``(dx, dgamma, dbeta)`` (formulas:
    :func:`minitorch_cv.reference.batchnorm_backward`);
    ``dout`` is checked against forward's output (ValueError naming ``layer``)."""
    x_hat, inv_std, gamma, batch_stats, eval_input = cache
    like = x_hat if batch_stats else eval_input[0]      # what forward returned: its shape
    dout = check_grad(dout, like.shape, like.dtype, layer)
    if batch_stats and dout.dtype in (np.float32, np.float64):      # other floats: NumPy
        c = dout.shape[1]
        dout3 = _as_ncl(dout)
        dx = np.empty_like(dout3)
        dgamma, dbeta = np.empty(c, dtype=dout.dtype), np.empty(c, dtype=dout.dtype)
        g = _per_channel(gamma, c, dout.dtype, 1)
        parallel_over(lambda c0, c1: batchnorm_train_backward_compiled(
            dout3, _as_ncl(x_hat), g, inv_std, dx, dgamma, dbeta, c0, c1), c, size=dout.size)
        return dx.reshape(dout.shape), dgamma, dbeta
    axes, shape = _shape_for_channels(dout)
    if not batch_stats:                                 # evaluation: backward rebuilds x_hat
        x, mean = eval_input
        x_hat = (x - mean.reshape(shape).astype(x.dtype)) * inv_std.reshape(shape)
    dbeta = dout.sum(axis=axes)
    dgamma = np.sum(dout * x_hat, axis=axes)
    scale = inv_std if gamma is None else inv_std * gamma
    if not batch_stats:                                 # constant statistics: dx = dout * scale
        return dout * scale.reshape(shape), dgamma, dbeta
    m = dout.size // dout.shape[1]
    # g = dout * gamma; dx = inv_std * (g - mean(g) - x_hat * mean(g * x_hat))
    dx = dout - (dbeta / m).reshape(shape)
    dx -= x_hat * (dgamma / m).reshape(shape)
    dx *= scale.reshape(shape)
    return dx, dgamma, dbeta
