"""Batch normalization, one channel at a time (the formulas are in
:func:`minitorch_cv.reference.batchnorm_forward`).

Each channel's values are read in order while still in the cache: the sums first (in
float64, so that a float32 channel of 65,536 values loses nothing), then the output.
Arrays are (N, C, L) with L = H*W (1 for (N, C)); a call handles the channels
``c0 .. c1-1``, so that threads can share them out. Each kernel checks once, on entry, that
its arrays and channel range fit together (ValueError).
"""

import math

import numpy as np

from ._jit import compile_kernel

__all__ = ["batchnorm_train_forward_loops", "batchnorm_train_forward_compiled",
           "batchnorm_train_backward_loops", "batchnorm_train_backward_compiled",
           "batchnorm_affine_loops", "batchnorm_affine_compiled"]


def check_batchnorm_arrays(x, out, other, v1, v2, v3, v4, v5, c0, c1):
    """Raise a ValueError unless ``out`` and ``other`` have x's (N, C, L) shape, the
    vectors ``v1..v5`` C entries, and ``0 <= c0 <= c1 <= C``."""
    if out.shape != x.shape or other.shape != x.shape:
        raise ValueError("batch norm: the (N, C, L) arrays must have one shape")
    channels = x.shape[1]
    if v1.shape[0] != channels or v2.shape[0] != channels or v3.shape[0] != channels \
            or v4.shape[0] != channels or v5.shape[0] != channels:
        raise ValueError("batch norm: the per-channel arrays must have C entries")
    if c0 < 0 or c1 < c0 or c1 > channels:
        raise ValueError("batch norm: the channel range must lie in [0, C]")


def batchnorm_train_forward_loops(x, gamma, beta, eps, out, x_hat, mean, var, inv_std, c0, c1):
    """x, out, x_hat (N, C, L); gamma, beta, mean, var, inv_std (C,). Fills the last five."""
    check_batchnorm_arrays(x, out, x_hat, gamma, beta, mean, var, inv_std, c0, c1)
    n_images, _channels, length = x.shape
    m = n_images * length
    for c in range(c0, c1):
        total = np.float64(0.0)
        for n in range(n_images):
            for i in range(length):
                total += x[n, c, i]
        mu = total / m
        squares = np.float64(0.0)
        for n in range(n_images):
            for i in range(length):
                d = x[n, c, i] - mu
                squares += d * d
        v = squares / m
        inv = 1.0 / math.sqrt(v + eps)
        mean[c], var[c], inv_std[c] = mu, v, inv
        scale, shift = gamma[c], beta[c]
        for n in range(n_images):
            for i in range(length):
                xh = (x[n, c, i] - mu) * inv
                x_hat[n, c, i] = xh
                out[n, c, i] = xh * scale + shift
    return out


def batchnorm_train_backward_loops(dout, x_hat, gamma, inv_std, dx, dgamma, dbeta, c0, c1):
    """dout, x_hat, dx (N, C, L); gamma, inv_std, dgamma, dbeta (C,). Fills the last three."""
    check_batchnorm_arrays(dout, x_hat, dx, gamma, inv_std, dgamma, dbeta, dbeta, c0, c1)
    n_images, _channels, length = dout.shape
    m = n_images * length
    for c in range(c0, c1):
        sum_dout = np.float64(0.0)
        sum_dout_xhat = np.float64(0.0)
        for n in range(n_images):
            for i in range(length):
                sum_dout += dout[n, c, i]
                sum_dout_xhat += dout[n, c, i] * np.float64(x_hat[n, c, i])
        dbeta[c], dgamma[c] = sum_dout, sum_dout_xhat
        mean_dout, mean_dout_xhat = sum_dout / m, sum_dout_xhat / m
        scale = gamma[c] * inv_std[c]
        for n in range(n_images):
            for i in range(length):
                dx[n, c, i] = scale * (dout[n, c, i] - mean_dout - x_hat[n, c, i] * mean_dout_xhat)
    return dx


check_batchnorm_arrays = compile_kernel(check_batchnorm_arrays)   # called by the kernels
batchnorm_train_forward_compiled = compile_kernel(batchnorm_train_forward_loops)
batchnorm_train_backward_compiled = compile_kernel(batchnorm_train_backward_loops)


def batchnorm_affine_loops(x, scale, shift, out):
    """out[n, c, i] = x[n, c, i] * scale[c] + shift[c]; x, out (N, C, L), scale, shift (C,)."""
    check_batchnorm_arrays(x, out, out, scale, shift, shift, shift, shift, 0, x.shape[1])
    n_images, channels, length = x.shape
    for n in range(n_images):
        for c in range(channels):
            a, b = scale[c], shift[c]
            for i in range(length):
                out[n, c, i] = x[n, c, i] * a + b
    return out


batchnorm_affine_compiled = compile_kernel(batchnorm_affine_loops)
