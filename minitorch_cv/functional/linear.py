"""Fully connected layer: ``out = x @ W.T + b``.

Shapes: x (N, in_features), W (out_features, in_features), b (out_features,)
-> out (N, out_features).

Backward::  dx = dout @ W     dW = dout.T @ x     db = sum_n dout[n]

The products run with single-threaded BLAS: they are small, and a multithreaded BLAS
product would leave its worker threads spinning on the cores that the next layer's
threads need (see :mod:`minitorch_cv.kernels.parallel`).
"""

from ..kernels.parallel import single_threaded_blas

__all__ = ["linear_forward", "linear_backward"]


def linear_forward(x, w, b=None):
    """Returns ``(out, cache)``; the cache keeps ``x`` (for dW) and ``W`` (for dx)."""
    with single_threaded_blas():
        out = x @ w.T
    if b is not None:
        out += b
    return out, (x, w, b is not None)


def linear_backward(dout, cache, need_dx=True, need_dw=True):
    """Returns ``(dx, dw, db)``; an unneeded gradient is None."""
    x, w, has_bias = cache
    with single_threaded_blas():
        dx = dout @ w if need_dx else None
        dw = dout.T @ x if need_dw else None
    db = dout.sum(axis=0) if (need_dw and has_bias) else None
    return dx, dw, db
