"""Inverted dropout, the textbook way (the same random draws from ``rng`` as functional's)."""

import numpy as np

from ..checks import check_grad
from ..functional.dropout import check_dropout_arguments

__all__ = ["dropout_forward", "dropout_backward"]


def dropout_forward(x, p, rng, channelwise=False):
    """Zero each element with probability ``p``; scale the survivors by ``1 / (1 - p)``.

    ``p`` in [0, 1] is the probability of DROPPING; ``channelwise`` (Dropout2d) draws once
    per (image, channel), zeroing whole feature maps. The cache is ``(mask, x.shape)``:
    ``mask = [u >= p] / (1 - p)``, ``u ~ U[0, 1)`` drawn from the Generator ``rng``.
    Shape: x (any shape; (N, C, ...) for ``channelwise``) -> out of x's shape.

    Backward
    --------
    ``dx = dout * mask`` (:func:`dropout_backward`). Thanks to the ``1 / (1 - p)`` scale the
    expected output equals ``x``, so evaluation mode is simply the identity.
    """
    p = check_dropout_arguments(x, p, channelwise)
    mask_shape = x.shape[:2] + (1,) * (x.ndim - 2) if channelwise else x.shape
    if p >= 1:
        mask = np.zeros(mask_shape, dtype=x.dtype)                  # everything dropped
    else:
        u = rng.random(mask_shape, dtype=np.float32 if x.dtype == np.float32 else np.float64)
        mask = (u >= p).astype(x.dtype) * x.dtype.type(1 / (1 - p))
    return x * mask, (mask, x.shape)


def dropout_backward(dout, cache, *, layer="dropout_backward"):
    """``dx = dout * mask`` (``out = x * mask`` is linear in ``x``): dropped elements get no
    gradient, kept ones are scaled. Shape: dout (the shape of x) -> dx (the same)."""
    mask, x_shape = cache
    return check_grad(dout, x_shape, mask.dtype, layer) * mask
