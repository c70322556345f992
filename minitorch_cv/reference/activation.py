"""ReLU, the textbook way."""

import numpy as np

from ..checks import check_grad, check_input

__all__ = ["relu_forward", "relu_backward"]


def relu_forward(x, inplace=False):
    """``out = max(x, 0)``, element by element (NaN stays NaN); written into ``x`` itself
    when ``inplace``. Shape: any -> the same. The cache is ``out`` itself: ``x > 0`` exactly
    where ``out > 0``.

    Backward
    --------
    ``dx = dout * [out > 0]`` (:func:`relu_backward`; at NaN the gradient passes).
    """
    check_input(x, np.ndim(x), "relu")
    out = np.maximum(x, 0, out=x if inplace else None)
    return out, out


def relu_backward(dout, out, *, layer="relu_backward"):
    """``dx = dout * [out > 0]``, the derivative of max(x, 0) being [x > 0], from the cache
    ``out`` (the forward output). Shape: any -> the same.

    Written ``dx = 0 where out <= 0, else dout`` with ``np.where``: an infinite ``dout``
    where the unit is off gives 0, not NaN, and a NaN output passes its gradient through,
    as in PyTorch, since NaN is not ``<= 0``.
    """
    dout = check_grad(dout, out.shape, out.dtype, layer)
    return np.where(out <= 0, 0, dout)
