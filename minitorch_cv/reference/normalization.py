"""Batch normalization, the textbook way, with the backward pass derived step by step.

Statistics per channel (axis 1) over the ``m`` values of the other axes (N, or N*H*W).
"""

import numpy as np

from ..checks import check_grad
from ..functional.normalization import check_batchnorm_arrays

__all__ = ["batchnorm_forward", "batchnorm_backward"]


def _axes(x):
    """Axes to average over, and the shape that broadcasts a (C,) vector against ``x``."""
    return (0,) + tuple(range(2, x.ndim)), (1, x.shape[1]) + (1,) * (x.ndim - 2)


def batchnorm_forward(x, gamma, beta, running_mean, running_var, training=True,
                      momentum=0.1, eps=1e-5):
    """Normalize each channel, then scale by ``gamma`` and shift by ``beta``.

    ``training`` normalizes with the batch's statistics, else with the running ones (the
    running statistics are updated in place when training). ``gamma``, ``beta`` None:
    affine=False (ones and zeros); ``running_mean``, ``running_var`` None:
    track_running_stats=False (batch statistics, also in evaluation). The cache is
    ``(x_hat, inv_std, gamma, True, None)`` in training,
    ``(None, inv_std, gamma, False, (x, running_mean))`` in evaluation.

    Shape
    -----
    x (N, C), (N, C, L) or (N, C, H, W) -> out of x's shape; gamma, beta and the running
    statistics (C,).

    Training mode::

        mu    = mean(x)              var = mean((x - mu)**2)         (biased: / m)
        x_hat = (x - mu) / sqrt(var + eps)         out = gamma * x_hat + beta
        running_mean = (1 - momentum) * running_mean + momentum * mu
        running_var  = (1 - momentum) * running_var  + momentum * var * m / (m - 1)

    Backward
    --------
    ``dx = inv_std * (g - mean(g) - x_hat * mean(g * x_hat))`` with ``g = dout * gamma``,
    derived step by step in :func:`batchnorm_backward`.
    """
    check_batchnorm_arrays(x, gamma, beta, running_mean, running_var)   # as the fast path
    c = x.shape[1]
    gamma = np.ones(c, dtype=x.dtype) if gamma is None else gamma
    beta = np.zeros(c, dtype=x.dtype) if beta is None else beta
    if running_mean is None:           # nothing to track: these are filled in and dropped
        training, running_mean, running_var = True, np.zeros(c, x.dtype), np.ones(c, x.dtype)
    axes, shape = _axes(x)
    if not training:
        inv_std = 1 / np.sqrt(running_var + eps)
        x_hat = (x - running_mean.reshape(shape)) * inv_std.reshape(shape)
        out = gamma.reshape(shape) * x_hat + beta.reshape(shape)
        return out, (None, inv_std, gamma, False, (x, running_mean.copy()))
    m = x.size // x.shape[1]
    if m < 2:
        raise ValueError(f"batch norm: expected more than 1 value per channel when "
                         f"training, got input shape {x.shape}")
    mu = x.mean(axis=axes)
    var = ((x - mu.reshape(shape)) ** 2).mean(axis=axes)             # biased
    inv_std = 1 / np.sqrt(var + eps)
    x_hat = (x - mu.reshape(shape)) * inv_std.reshape(shape)
    out = gamma.reshape(shape) * x_hat + beta.reshape(shape)
    running_mean[:] = (1 - momentum) * running_mean + momentum * mu
    running_var[:] = (1 - momentum) * running_var + momentum * var * m / (m - 1)  # unbiased
    return out, (x_hat, inv_std, gamma, True, None)


def batchnorm_backward(dout, cache, *, layer="batchnorm_backward"):
    """Gradients of :func:`batchnorm_forward`, by the chain rule through its lines.

    Shape
    -----
    dout (the shape of x) -> dx (the same), dgamma and dbeta (C,).

    Backward
    --------
    Training mode, sums and means over the ``m`` values of each channel, ``x - mu``
    recovered from the cache as ``x_hat / inv_std``::

        dbeta  = sum(dout)                  dgamma = sum(dout * x_hat)
        dx_hat = dout * gamma
        dvar   = sum(dx_hat * (x - mu)) * (-1/2) * (var + eps)**(-3/2)
        dmu    = -sum(dx_hat) * inv_std     (+ dvar * mean(-2 (x - mu)), which is 0)
        dx     = dx_hat * inv_std + dvar * 2 (x - mu) / m + dmu / m

    Evaluation mode (the statistics are constants): ``dx = dout * gamma * inv_std``.
    """
    x_hat, inv_std, gamma, batch_stats, eval_input = cache
    if gamma is None:                     # a fast-path cache of a layer with affine=False
        gamma = np.ones(inv_std.shape, dtype=inv_std.dtype)
    like = x_hat if batch_stats else eval_input[0]                  # what forward returned
    dout = check_grad(dout, like.shape, like.dtype, layer)
    axes, shape = _axes(dout)
    if not batch_stats:
        x, mean = eval_input
        x_hat = (x - mean.reshape(shape)) * inv_std.reshape(shape)
        dx = dout * (gamma * inv_std).reshape(shape)
        return dx, (dout * x_hat).sum(axis=axes), dout.sum(axis=axes)
    m = dout.size // dout.shape[1]
    dbeta = dout.sum(axis=axes)
    dgamma = (dout * x_hat).sum(axis=axes)
    dx_hat = dout * gamma.reshape(shape)
    centered = x_hat / inv_std.reshape(shape)                       # x - mu
    dvar = (dx_hat * centered).sum(axis=axes) * -0.5 * inv_std ** 3
    dmu = -dx_hat.sum(axis=axes) * inv_std
    dx = (dx_hat * inv_std.reshape(shape) + dvar.reshape(shape) * 2 * centered / m
          + dmu.reshape(shape) / m)
    return dx, dgamma, dbeta
