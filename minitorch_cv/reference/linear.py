"""The fully connected layer, the textbook way."""

from ..checks import check_grad
from ..functional.linear import check_linear_arrays

__all__ = ["linear_forward", "linear_backward"]


def linear_forward(x, w, b=None):
    """``out = x @ w.T + b`` (``b`` may be None); the cache is ``(x, w, has_bias)``.

    Shape
    -----
    x (N, in_features), w (out_features, in_features), b (out_features,)
    -> out (N, out_features).

    Backward
    --------
    ``dx = dout @ w``, ``dw = dout.T @ x``, ``db = dout.sum(axis=0)`` (:func:`linear_backward`).
    """
    check_linear_arrays(x, w, b)                 # what the fast path refuses, refused alike
    out = x @ w.T
    if b is not None:
        out = out + b
    return out, (x, w, b is not None)


def linear_backward(dout, cache, need_dx=True, need_dw=True, *, layer="linear_backward"):
    """Gradients of :func:`linear_forward` (db is None without a bias).

    Shape
    -----
    dout (N, out_features) -> dx (N, in_features), dw (out_features, in_features).

    Backward
    --------
    ``dx = dout @ w``, ``dw = dout.T @ x``, ``db = sum over n of dout[n]``.
    """
    x, w, has_bias = cache
    dout = check_grad(dout, (x.shape[0], w.shape[0]), x.dtype, layer)
    dx, dw, db = dout @ w, dout.T @ x, dout.sum(axis=0) if has_bias else None
    return (dx if need_dx else None), (dw if need_dw else None), (db if need_dw else None)
