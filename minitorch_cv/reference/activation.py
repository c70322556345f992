"""ReLU, the textbook way."""

import numpy as np

from ..checks import check_grad, check_input

__all__ = ["relu_forward", "relu_backward"]


def relu_forward(x, inplace=False):
    """``out = max(x, 0)``, element by element (NaN stays NaN); written into ``x`` itself
    when ``inplace``.

    Returns
    -------
    out : ndarray, the shape of ``x`` (any shape)
    cache : ``out`` itself: ``x > 0`` exactly where ``out > 0``

    Backward
    --------
    ``dx = dout * [out > 0]`` (:func:`relu_backward`; at NaN the gradient passes).
    """
    check_input(x, np.ndim(x), "relu")
    out = np.maximum(x, 0, out=x if inplace else None)
    return out, out


def relu_backward(dout, out, *, layer="relu_backward"):
    """``dx = 0 where out <= 0, else dout`` (the derivative of max(x, 0) is [x > 0]; a NaN
    output passes its gradient through, as in PyTorch, since NaN is not ``<= 0``).

    ``out`` is the cache (the forward output). Shape: any -> the same.

    Backward
    --------
    ``dx = dout * [out > 0]``, written with ``np.where`` so an infinite ``dout`` where
    the unit is off gives 0, not NaN.
    """
    dout = check_grad(dout, out.shape, out.dtype, layer)
    return np.where(out <= 0, 0, dout)
